package org.cyclediffusion.libtorch;

import java.util.Set;

/**
 * Keys every transformers {@code PretrainedConfig} may save (generation defaults, label maps,
 * bookkeeping) that never change a CLIP forward pass. Older transformers versions wrote all of
 * them into nested configs such as the SD 1.x safety checker's {@code vision_config}; reading them
 * silently keeps the unknown-key warning for keys that could matter.
 */
final class PretrainedConfigKeys {
    static final Set<String> GENERIC = Set.of("return_dict", "output_hidden_states", "output_attentions", "torchscript", "torch_dtype",
            "use_bfloat16", "tf_legacy_loss", "pruned_heads", "tie_word_embeddings", "chunk_size_feed_forward", "is_encoder_decoder",
            "is_decoder", "cross_attention_hidden_size", "add_cross_attention", "tie_encoder_decoder", "max_length", "min_length",
            "do_sample", "early_stopping", "num_beams", "num_beam_groups", "diversity_penalty", "temperature", "top_k", "top_p",
            "typical_p", "repetition_penalty", "length_penalty", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids",
            "num_return_sequences", "output_scores", "return_dict_in_generate", "forced_bos_token_id", "forced_eos_token_id",
            "remove_invalid_values", "exponential_decay_length_penalty", "suppress_tokens", "begin_suppress_tokens", "architectures",
            "finetuning_task", "id2label", "label2id", "tokenizer_class", "prefix", "bos_token_id", "pad_token_id", "eos_token_id",
            "sep_token_id", "decoder_start_token_id", "task_specific_params", "problem_type", "transformers_version", "model_type",
            "name_or_path", "initializer_range", "initializer_factor", "attention_dropout", "dropout", "projection_dim");

    private PretrainedConfigKeys() {
    }
}
