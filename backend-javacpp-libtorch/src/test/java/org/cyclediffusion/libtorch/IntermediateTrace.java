package org.cyclediffusion.libtorch;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.cyclediffusion.core.pipeline.EditObserver;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Golden;
import org.cyclediffusion.core.testing.TensorAssert;

/**
 * Records every intermediate an edit reports, under the goldens' names, and finds the first one (in
 * the order the pipeline computes them) that left diffusers' by more than a threshold: where a
 * difference starts when an end-to-end case misses.
 */
final class IntermediateTrace implements EditObserver {
    private static final List<String> BEFORE_LOOP = List.of("image_input", "prompt_embeds", "source_prompt_embeds",
            "negative_prompt_embeds", "vae_mean", "vae_logvar", "clean_latents", "init_latents");
    private static final List<String> AFTER_LOOP = List.of("final_latents", "vae_decode_input", "decoded");
    private static final String[] STEP_NAMES = {"step_unet_out", "step_source_latents", "step_noise", "step_latents"};

    private final Map<String, FloatTensor> tensors = new LinkedHashMap<>();
    private final List<FloatTensor[]> steps = new ArrayList<>();

    @Override
    public void tensor(String name, FloatTensor value) {
        tensors.put(name, value);
    }

    @Override
    public void step(int index, int timestep, FloatTensor unetOut, FloatTensor sourceLatents, FloatTensor noise, FloatTensor latents) {
        steps.add(new FloatTensor[] {unetOut, sourceLatents, noise, latents});
    }

    /** A recorded tensor outside the loop ({@code clean_latents}, {@code decoded}, ...), or null. */
    FloatTensor tensor(String name) {
        return tensors.get(name);
    }

    /** Step {@code i}'s {@code step_unet_out}, {@code step_source_latents}, {@code step_noise}, {@code step_latents}. */
    FloatTensor[] step(int i) {
        return steps.get(i);
    }

    int steps() {
        return steps.size();
    }

    /** The first intermediate that differs from the golden's by more than {@code threshold}, as a sentence. */
    String firstDivergence(Golden g, double threshold) {
        for (String name : BEFORE_LOOP) {
            String r = compare(name, tensors.get(name), g, name, -1, threshold);
            if (r != null) {
                return r;
            }
        }
        for (int i = 0; i < steps.size(); i++) {
            for (int k = 0; k < STEP_NAMES.length; k++) {
                String r = compare(STEP_NAMES[k] + "[" + i + "]", steps.get(i)[k], g, STEP_NAMES[k], i, threshold);
                if (r != null) {
                    return r;
                }
            }
        }
        for (String name : AFTER_LOOP) {
            String r = compare(name, tensors.get(name), g, name, -1, threshold);
            if (r != null) {
                return r;
            }
        }
        return "every intermediate is within " + threshold + " of diffusers'; the difference starts in post-processing";
    }

    private static String compare(String label, FloatTensor actual, Golden g, String golden, int step, double threshold) {
        if (actual == null || !g.has(golden)) {
            return null;
        }
        FloatTensor expected = step < 0 ? g.f32(golden) : g.f32(golden).row(step);
        if (golden.equals("step_unet_out") && actual.dim(0) < expected.dim(0)) {
            // a step without the source's ∅ rows (source_guidance_scale 1): diffusers' rows less the first block
            expected = expected.rows(expected.dim(0) - actual.dim(0), expected.dim(0));
        }
        if (expected.size() != actual.size()) {
            return "first divergence: " + label + " has " + actual + ", diffusers' " + expected;
        }
        double[] d = TensorAssert.diffStats(actual.data(), expected.data());
        return d[0] > threshold ? String.format(Locale.ROOT, "first divergence: %s max |d| %.3e mean %.3e", label, d[0], d[1]) : null;
    }
}
