// minigpt/model_sizes.hpp — GPT-1, GPT-2 and GPT-3 in numbers: the sizes the chapter quotes,
// computed from the configurations.
//
// Chapter idea: GPT-3 splits each token's 12,288 numbers among 96 heads of 128, and stacks
// 96 layers, so every token goes through 96 × 96 = 9,216 attention computations. From the
// few numbers of a configuration (config.hpp) follow all the others:
//
//   parameters N          exact: per layer 12 C² + 13 C, plus V·C + n_ctx·C + 2C
//   attention per token   L · H: one attention map row per head per layer
//   training FLOPs        ≈ 6 N per token: 2 N forward (a multiply and an add per weight),
//                          4 N backward (Kaplan et al. 2020, "Scaling laws", section 2.1)
//   inference FLOPs       ≈ 2 N + 4 · L · n_ctx · C per token at a full context of n_ctx:
//                          2 N for the weights, and in each layer the token's query against
//                          n_ctx keys (Q Kᵀ: 2 · n_ctx · C) and its weighted sum of n_ctx
//                          values (att V: 2 · n_ctx · C), as Hoffmann et al. 2022 (appendix F)
//                          count them. (The embedding lookup costs nothing, but the tied LM
//                          head multiplies by the same V·C weights, so 2 N counts them once.)
//   KV cache per token    2 (K and V) · L · C numbers, 2 bytes each in fp16 (4 in float)
//
// In: a GPTConfig. Out: a ModelSizes (whole numbers, exact; FLOPs fit in 64 bits up to
// ~10¹⁸ per token).
//
// Example:
//     ModelSizes s = model_sizes(GPTConfig::gpt3_175b());
//     s.parameters           // 174,604,259,328
//     s.attention_per_token  // 9,216 = 96 layers × 96 heads
//     s.head_size            // 128, and 96 × 128 = 12,288 = d_model
//     s.kv_cache_bytes_fp16  // 4,718,592 bytes (4.5 MiB) for every token kept
#pragma once

#include "config.hpp"
#include "detail/checked.hpp"
#include "tensor.hpp"

#include <string>
#include <vector>

namespace minigpt {

struct ModelSizes {
  Index layers = 0, heads = 0, head_size = 0, d_model = 0, context = 0, vocab = 0;
  Index parameters = 0;                // N, exact
  Index non_embedding_parameters = 0;  // N without wte and wpe (the N of Kaplan et al.'s fits)
  Index attention_per_token = 0;       // L · H
  Index train_flops_per_token = 0;     // 6 N
  Index inference_flops_per_token = 0; // 2 N + 4 · L · n_ctx · C
  Index kv_cache_bytes_fp16 = 0;       // 2 · L · C · 2 bytes
};

inline ModelSizes model_sizes(const GPTConfig& c) {
  using detail::checked_add;
  using detail::checked_mul;
  c.validate();
  ModelSizes s;
  s.layers = c.n_layer;
  s.heads = c.n_head;
  s.head_size = c.head_size();
  s.d_model = c.n_embd;
  s.context = c.n_positions;
  s.vocab = c.vocab_size;
  s.parameters = c.parameter_count();
  s.non_embedding_parameters =
      s.parameters - checked_mul(c.vocab_size + c.n_positions, c.n_embd, "(V + n_ctx) * C") -
      (c.tie_word_embeddings ? 0 : c.vocab_size * c.n_embd);
  s.attention_per_token = checked_mul(c.n_layer, c.n_head, "L * H");
  s.train_flops_per_token = checked_mul(6, s.parameters, "6 N");
  const Index attention = checked_mul(checked_mul(4 * c.n_layer, c.n_positions, "4 L n_ctx"), c.n_embd, "4 L n_ctx C");
  s.inference_flops_per_token = checked_add(checked_mul(2, s.parameters, "2 N"), attention, "2 N + attention");
  s.kv_cache_bytes_fp16 = checked_mul(4 * c.n_layer, c.n_embd, "2 L C * 2 bytes");
  return s;
}

// The chapter's models, oldest first: GPT-1, GPT-2 (small, medium, large, XL), GPT-3 175B,
// with the preset names GPTConfig::preset() knows.
inline std::vector<std::pair<std::string, std::string>> chapter_models() {
  return {{"GPT-1", "gpt1"},          {"GPT-2", "gpt2"},       {"GPT-2 medium", "gpt2-medium"},
          {"GPT-2 large", "gpt2-large"}, {"GPT-2 XL", "gpt2-xl"}, {"GPT-3 175B", "gpt3-175b"}};
}

}  // namespace minigpt
