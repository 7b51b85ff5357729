package org.cyclediffusion.core.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.fakes.FakeModels;
import org.cyclediffusion.core.testing.fakes.ToyDdimScheduler;
import org.junit.jupiter.api.Test;

/** One text-encoder pass per model and clip skip, over distinct prompts, each list given back as its own pass would give it. */
class PromptBatchTest {
    private final FakeModels a = new FakeModels();
    private final FakeModels b = new FakeModels();
    private final DiffusionModel modelA = TwoModelPipelineTest.model("a", a, ToyDdimScheduler.factory());
    private final DiffusionModel modelB = TwoModelPipelineTest.model("b", b, ToyDdimScheduler.factory());

    private static long textPasses(FakeModels m) {
        return m.events.stream().filter("text"::equals).count();
    }

    @Test
    void oneModelOnePassPerClipSkipWithTheRowsOfSeparatePasses() {
        List<String> source = List.of("a horse", "a cat");
        List<String> target = List.of("a zebra", "a cat");
        PromptBatch batch = new PromptBatch().add(modelA, 0, source).add(modelA, 0, target).add(modelA, 0, List.of(""))
                .add(modelA, 2, List.of("a zebra"));
        FloatTensor src = batch.get(modelA, 0, source);
        FloatTensor tgt = batch.get(modelA, 0, target);
        FloatTensor negative = batch.get(modelA, 0, List.of(""));
        FloatTensor skipped = batch.get(modelA, 2, List.of("a zebra"));
        assertEquals(2, textPasses(a), "clip skip 0 (4 distinct prompts) and clip skip 2");
        assertArrayEquals(modelA.encodePrompts(source, 0).data(), src.data());
        assertArrayEquals(modelA.encodePrompts(target, 0).data(), tgt.data());
        assertArrayEquals(modelA.encodePrompts(List.of(""), 0).data(), negative.data());
        assertArrayEquals(modelA.encodePrompts(List.of("a zebra"), 2).data(), skipped.data());
        assertArrayEquals(new int[] {2, 77, FakeModels.HIDDEN}, tgt.shape());
    }

    @Test
    void twoModelsEncodeThroughTheirOwnEncoders() {
        PromptBatch batch = new PromptBatch().add(modelA, 0, List.of("a horse", "")).add(modelB, 0, List.of("a zebra", ""));
        batch.get(modelB, 0, List.of("a zebra"));
        assertEquals(1, textPasses(a));
        assertEquals(1, textPasses(b));
        assertArrayEquals(modelA.encodePrompts(List.of("a horse"), 0).data(), batch.get(modelA, 0, List.of("a horse")).data());
    }

    @Test
    void aListNotAddedBeforeIsRefused() {
        PromptBatch batch = new PromptBatch().add(modelA, 0, List.of("a horse"));
        assertThrows(IllegalStateException.class, () -> batch.get(modelA, 0, List.of("a zebra")));
        assertThrows(IllegalStateException.class, () -> batch.get(modelB, 0, List.of("a horse")));
        batch.get(modelA, 0, List.of("a horse"));
        assertThrows(IllegalStateException.class, () -> batch.add(modelA, 0, List.of("later")));
    }
}
