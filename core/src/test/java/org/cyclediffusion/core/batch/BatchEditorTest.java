package org.cyclediffusion.core.batch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.fakes.FakeModels;
import org.cyclediffusion.core.testing.fakes.ToyDdimScheduler;
import org.cyclediffusion.core.tokenizer.ClipTokenizer;
import org.junit.jupiter.api.Test;

/** Rows that share a source half encode once, on analytic fakes: same images, fewer UNet calls. */
class BatchEditorTest {
    private static final int STEPS = 10;

    private static BatchItem row(int line, String id, String prompt, long seed) {
        return new BatchItem(line, id, "a.png", prompt, "An astronaut riding a horse", 1.0, STEPS, 2.0, 1.0, 0.1, seed, 1, null, null);
    }

    private static RgbImage image() {
        byte[] px = new byte[64 * 64 * 3];
        for (int i = 0; i < px.length; i++) {
            px[i] = (byte) (i * 31 + (i / 192) * 7);
        }
        return new RgbImage(64, 64, px);
    }

    private static List<List<RgbImage>> run(boolean share, FakeModels models, AtomicInteger reads, List<BatchItem> items, List<String> order) {
        ClipTokenizer tokenizer = ClipTokenizer.load(Fixtures.model("tiny-sd").resolve("tokenizer"));
        try (CycleDiffusionPipeline pipeline = new CycleDiffusionPipeline(models, ToyDdimScheduler::factory, tokenizer, null, models)) {
            BatchEditor editor = new BatchEditor(pipeline, null, "test", "fake", false, share);
            List<List<RgbImage>> out = new ArrayList<>();
            for (BatchItem item : editor.plan(items, i -> i.image())) {
                order.add(item.id());
                BatchEditor.Edited e = editor.edit(item, item.image(), () -> {
                    reads.incrementAndGet();
                    return image();
                }, item.seed(), null);
                assertEquals(share && !item.id().equals("alone"), e.sharedSource(), item.id());
                out.add(e.images());
            }
            return out;
        }
    }

    @Test
    void rowsOfOneSourceKeyEncodeOnceAndGiveTheImagesOfSeparateEdits() {
        List<BatchItem> items = List.of(row(1, "elephant", "An astronaut riding an elephant", 0), row(2, "alone", "A cat", 5),
                row(3, "camel", "An astronaut riding a camel", 0), row(4, "zebra", "An astronaut riding a zebra", 0));
        FakeModels shared = new FakeModels();
        AtomicInteger sharedReads = new AtomicInteger();
        List<String> sharedOrder = new ArrayList<>();
        List<List<RgbImage>> a = run(true, shared, sharedReads, items, sharedOrder);
        FakeModels separate = new FakeModels();
        AtomicInteger separateReads = new AtomicInteger();
        List<String> separateOrder = new ArrayList<>();
        List<List<RgbImage>> b = run(false, separate, separateReads, items, separateOrder);

        // The rows of one key run together, at the place of the first; without sharing the manifest order stays.
        assertEquals(List.of("elephant", "camel", "zebra", "alone"), sharedOrder);
        assertEquals(List.of("elephant", "alone", "camel", "zebra"), separateOrder);
        for (int i = 0; i < 4; i++) {
            int j = separateOrder.indexOf(sharedOrder.get(i));
            assertArrayEquals(b.get(j).get(0).rgb(), a.get(i).get(0).rgb(), sharedOrder.get(i) + ": shared and separate differ");
        }
        // Separate: 4 edits × 10 steps, one stacked call each. Shared: the key of 3 rows encodes once (10 calls) and
        // decodes 3 times (30), the lone row is one edit (10): 50 calls instead of 40, but of half the batch each.
        assertEquals(4 * STEPS, separate.unetCalls.get());
        assertEquals(STEPS + 3 * STEPS + STEPS, shared.unetCalls.get());
        assertEquals(4, separateReads.get());
        assertEquals(2, sharedReads.get(), "the image is read for the encode only");
        assertTrue(shared.openConditionings.get() == 0 && separate.openConditionings.get() == 0);
    }

    @Test
    void rowsWithoutASeedShareNothing() {
        BatchItem r = new BatchItem(1, "x", "a.png", "p", "s", 1.0, STEPS, 2.0, 1.0, 0.1, null, 1, null, null);
        assertEquals(null, SourceKey.of(r, "a.png"));
        assertFalse(SourceKey.of(row(1, "a", "p", 0), "a.png").equals(SourceKey.of(row(1, "a", "p", 1), "a.png")));
        assertEquals(SourceKey.of(row(1, "a", "p", 0), "a.png"), SourceKey.of(row(2, "b", "q", 0), "a.png"));
    }
}
