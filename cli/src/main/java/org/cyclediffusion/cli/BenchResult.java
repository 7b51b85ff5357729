package org.cyclediffusion.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Arrays;
import java.util.List;

/**
 * What {@code bench} measured for one configuration at one image size, in one JVM: load time, RSS
 * after load and the peak RSS (KiB), and per phase the median over the timed edits (ms); each
 * step's time is the median of that step over the runs. Also the line a child JVM prints.
 */
record BenchResult(String name, String description, int size, double loadMs, long rssAfterLoadKb, long peakRssKb, double promptMs,
        double encodeMs, double[] stepMs, double decodeMs, double safetyMs, double editMs, double schedulerShare) {

    static final String LINE_PREFIX = "bench-result ";
    private static final ObjectMapper JSON = new ObjectMapper();

    double meanStepMs() {
        return Arrays.stream(stepMs).average().orElse(0);
    }

    String toLine() {
        try {
            return LINE_PREFIX + JSON.writeValueAsString(this);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static BenchResult fromLine(String line) {
        try {
            return JSON.readValue(line.substring(LINE_PREFIX.length()), BenchResult.class);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("unreadable result from a bench JVM: " + line, e);
        }
    }

    /** The median of each figure over rounds (step by step for the step times). */
    static BenchResult median(List<BenchResult> rounds) {
        BenchResult first = rounds.get(0);
        int steps = first.stepMs().length;
        double[] step = new double[steps];
        for (int i = 0; i < steps; i++) {
            int k = i;
            step[i] = median(rounds.stream().mapToDouble(r -> r.stepMs()[k]).toArray());
        }
        return new BenchResult(first.name(), first.description(), first.size(),
                median(rounds.stream().mapToDouble(BenchResult::loadMs).toArray()),
                (long) median(rounds.stream().mapToDouble(BenchResult::rssAfterLoadKb).toArray()),
                (long) median(rounds.stream().mapToDouble(BenchResult::peakRssKb).toArray()),
                median(rounds.stream().mapToDouble(BenchResult::promptMs).toArray()),
                median(rounds.stream().mapToDouble(BenchResult::encodeMs).toArray()), step,
                median(rounds.stream().mapToDouble(BenchResult::decodeMs).toArray()),
                median(rounds.stream().mapToDouble(BenchResult::safetyMs).toArray()),
                median(rounds.stream().mapToDouble(BenchResult::editMs).toArray()),
                median(rounds.stream().mapToDouble(BenchResult::schedulerShare).toArray()));
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
