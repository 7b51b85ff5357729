package org.cyclediffusion.libtorch.unet;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** What {@link UNet2DConditionModel#build} rejects, and that its messages name file, field or tensor, expected and found. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class UNetValidationTest {
    private static final Path CONFIG = Fixtures.model("tiny-sd").resolve("unet/config.json");
    private Map<String, Tensor> weights;

    @BeforeAll
    void load() {
        weights = UNetTestTensors.load(Fixtures.model("tiny-sd").resolve("unet/diffusion_pytorch_model.safetensors"));
    }

    @AfterAll
    void release() {
        UNetTestTensors.closeAll(weights);
    }

    @Test
    void missingTensorIsListed() {
        Map<String, Tensor> w = new LinkedHashMap<>(weights);
        w.remove("mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight");
        w.remove("conv_norm_out.bias");
        String msg = assertThrows(ConfigException.class, () -> UNet2DConditionModel.build(JsonConfig.read(CONFIG), w)).getMessage();
        assertContains(msg, CONFIG.toString(), "missing 2 of", "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight",
                "conv_norm_out.bias");
    }

    @Test
    void wrongShapeIsNamedWithTheConfig() {
        Map<String, Tensor> w = new LinkedHashMap<>(weights);
        try (Tensor transposed = weights.get("down_blocks.1.attentions.0.proj_in.weight").transpose(0, 1)
                .reshape(64, 64, 1, 1).narrow(0, 0, 32)) {
            w.put("down_blocks.1.attentions.0.proj_in.weight", transposed);
            String msg = assertThrows(ConfigException.class, () -> UNet2DConditionModel.build(JsonConfig.read(CONFIG), w)).getMessage();
            assertContains(msg, CONFIG.toString(), "down_blocks.1.attentions.0.proj_in.weight", "[32, 64, 1, 1]", "[64, 64, 1, 1]");
        }
    }

    @Test
    void unexpectedTensorIsListed() {
        Map<String, Tensor> w = new LinkedHashMap<>(weights);
        w.put("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.bias", weights.get("conv_in.bias"));
        String msg = assertThrows(ConfigException.class, () -> UNet2DConditionModel.build(JsonConfig.read(CONFIG), w)).getMessage();
        assertContains(msg, CONFIG.toString(), "unexpected 1 tensors", "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.bias");
    }

    /** A JSON value for one field of the tiny SD config that diffusers accepts (or rejects) and we do not implement. */
    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = '|', value = {
        "class_embed_type|\"timestep\"",
        "num_class_embeds|10",
        "addition_embed_type|\"text_time\"",
        "encoder_hid_dim|768",
        "time_embedding_type|\"fourier\"",
        "resnet_time_scale_shift|\"scale_shift\"",
        "attention_type|\"gated\"",
        "mid_block_type|\"UNetMidBlock2DSimpleCrossAttn\"",
        "mid_block_type|null",
        "down_block_types|[\"CrossAttnDownBlock2D\", \"AttnDownBlock2D\", \"DownBlock2D\"]",
        "up_block_types|[\"UpBlock2D\", \"SimpleCrossAttnUpBlock2D\", \"CrossAttnUpBlock2D\"]",
        "num_attention_heads|8",
        "only_cross_attention|true",
        "dual_cross_attention|true",
        "act_fn|\"mish\"",
        "time_embedding_act_fn|\"silu\"",
        "time_cond_proj_dim|256",
        "class_embeddings_concat|true",
        "conv_in_kernel|4",
        "transformer_layers_per_block|[[1, 2], [1, 2], [1, 2]]",
    })
    void unsupportedConfigValueIsNamed(String field, String json) throws Exception {
        JsonConfig config = JsonConfig.read(CONFIG);
        config.node().set(field, new ObjectMapper().readTree(json));
        String msg = assertThrows(ConfigException.class, () -> UNet2DConditionModel.build(config, weights)).getMessage();
        assertContains(msg, CONFIG.toString(), field, "not supported", "expected");
    }

    @Test
    void groupsThatDoNotDivideTheChannelsAreRejected() {
        JsonConfig config = JsonConfig.read(CONFIG);
        config.node().put("norm_num_groups", 24);
        String msg = assertThrows(ConfigException.class, () -> UNet2DConditionModel.expectedShapes(config)).getMessage();
        assertContains(msg, CONFIG.toString(), "24 groups", "norm_num_groups");
    }

    @Test
    void perBlockListsMustHaveOneEntryPerBlock() {
        JsonConfig config = JsonConfig.read(CONFIG);
        config.node().putArray("attention_head_dim").add(2).add(4);
        String msg = assertThrows(ConfigException.class, () -> UNet2DConditionModel.expectedShapes(config)).getMessage();
        assertContains(msg, CONFIG.toString(), "attention_head_dim", "one per down block (3)");
    }

    private static void assertContains(String message, String... parts) {
        for (String part : parts) {
            assertTrue(message.contains(part), "message should mention '" + part + "': " + message);
        }
    }
}
