package org.cyclediffusion.core.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.cyclediffusion.core.tensor.FloatTensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class StepRowsTest {
    /** A chain tensor in chain layout whose rows carry their block's label: 10·tag + row. */
    private static FloatTensor chain(int uncondTag, int condTag, boolean guided, int batch) {
        FloatTensor c = labelled(condTag, batch);
        return guided ? FloatTensor.cat(labelled(uncondTag, batch), c) : c;
    }

    private static FloatTensor labelled(int tag, int batch) {
        float[] d = new float[batch * 2];
        for (int r = 0; r < batch; r++) {
            d[2 * r] = 10 * tag + r;
            d[2 * r + 1] = 10 * tag + r;
        }
        return new FloatTensor(d, new int[] {batch, 2});
    }

    private static float[] firstColumn(FloatTensor t) {
        float[] out = new float[t.dim(0)];
        for (int r = 0; r < out.length; r++) {
            out[r] = t.data()[2 * r];
        }
        return out;
    }

    /** Blocks 1..4 are diffusers' (source ∅, target ∅, source c, target c); a chain without guidance loses its ∅ block. */
    @ParameterizedTest(name = "source guided {0}, target guided {1}")
    @CsvSource({"true, true, '1,2,3,4'", "false, true, '2,3,4'", "true, false, '1,3,4'", "false, false, '3,4'"})
    void stepIsDiffusersLayoutLessTheUnguidedBlocks(boolean sourceGuided, boolean targetGuided, String blocks) {
        int batch = 2;
        StepRows rows = new StepRows(sourceGuided, targetGuided, batch);
        FloatTensor source = chain(1, 3, sourceGuided, batch);
        FloatTensor target = chain(2, 4, targetGuided, batch);
        FloatTensor step = rows.stack(source, target);
        String[] tags = blocks.split(",");
        assertEquals(tags.length * batch, rows.rows());
        float[] expected = new float[tags.length * batch];
        for (int b = 0; b < tags.length; b++) {
            for (int r = 0; r < batch; r++) {
                expected[b * batch + r] = 10 * Integer.parseInt(tags[b]) + r;
            }
        }
        assertArrayEquals(expected, firstColumn(step));
        assertArrayEquals(source.data(), rows.source(step).data(), "source chain read back");
        assertArrayEquals(target.data(), rows.target(step).data(), "target chain read back");
    }

    @ParameterizedTest(name = "guided {0}")
    @CsvSource({"true", "false"})
    void predictionGuidesOnlyAGuidedChain(boolean guided) {
        FloatTensor out = chain(1, 3, guided, 1);
        FloatTensor p = StepRows.prediction(out, guided, 2.5);
        // u + g·(c − u) = 10 + 2.5·20 = 60 when guided; c = 30 when not
        assertArrayEquals(new float[] {guided ? 60f : 30f, guided ? 60f : 30f}, p.data());
    }

    @ParameterizedTest(name = "source guided {0}")
    @CsvSource({"true", "false"})
    void wrongRowCountsAreRefused(boolean sourceGuided) {
        StepRows rows = new StepRows(sourceGuided, true, 2);
        assertThrows(IllegalArgumentException.class, () -> rows.stack(labelled(1, 5), chain(2, 4, true, 2)));
        assertThrows(IllegalArgumentException.class, () -> rows.source(labelled(1, rows.rows() + 1)));
    }
}
