// minigpt/config.hpp — the hyper-parameters: how big the model is.
//
// Chapter idea: 매개변수 (parameters) and the scaling law. A GPT is fixed by a handful of
// numbers: how many layers (n_layer), how wide each token's vector is (n_embd = C), how many
// attention heads share that width (n_head = H, so each head sees hs = C / H numbers), how
// many tokens it reads at once (n_positions, the block size) and how many token ids it knows
// (vocab_size = V). From them follows the parameter count: GPT-2 small has 124,439,808;
// GPT-3, with 96 layers of 96 heads x 128 = 12,288 dims, has 174,604,259,328.
//
// The fields are listed once, in GPTConfig::for_each_field; equality and the Hugging Face
// `config.json` file (config_file.hpp: read, written, validated with an error naming the file
// and the field) follow from that table. A decoder block is handed only what it needs
// (block_config.hpp), so the math headers never include this one.
//
// Shapes in: none.  Shapes out: none.
#pragma once

#include "block_config.hpp"
#include "detail/checked.hpp"
#include "detail/fields.hpp"
#include "error.hpp"
#include "token_id.hpp"

#include <cmath>
#include <string>

namespace minigpt {

struct GPTConfig {
  Index n_layer = 12;        // decoder blocks stacked
  Index n_head = 12;         // H
  Index n_embd = 768;        // C
  Index n_positions = 1024;  // block size: the longest context, maxT
  Index vocab_size = 50257;  // V
  double layer_norm_epsilon = 1e-5;
  std::string activation_function = "gelu_new";
  bool tie_word_embeddings = true;  // LM head shares the token embedding (GPT-2 does)
  // Dropout probabilities, used only in training mode (0 = off).
  double embd_pdrop = 0.0, attn_pdrop = 0.0, resid_pdrop = 0.0;

  // THE field table: every field under its config.json name, and whether config.json must
  // give it (else the default above stands). See detail/fields.hpp.
  template <typename F, typename... Self>
  static void for_each_field(F&& field, Self&... c) {
    using detail::optional;
    using detail::required;
    field("n_layer", required, c.n_layer...);
    field("n_head", required, c.n_head...);
    field("n_embd", required, c.n_embd...);
    field("n_positions", detail::FieldSpec{true, "n_ctx"}, c.n_positions...);  // older files: n_ctx
    field("vocab_size", required, c.vocab_size...);
    field("layer_norm_epsilon", optional, c.layer_norm_epsilon...);
    field("activation_function", optional, c.activation_function...);
    field("tie_word_embeddings", optional, c.tie_word_embeddings...);
    field("embd_pdrop", optional, c.embd_pdrop...);
    field("attn_pdrop", optional, c.attn_pdrop...);
    field("resid_pdrop", optional, c.resid_pdrop...);
  }

  Index head_size() const { return n_embd / n_head; }  // hs

  // What each decoder block needs to know (block_config.hpp).
  BlockConfig block_config() const { return {n_head, layer_norm_epsilon, activation()}; }

  Activation activation() const {
    if (activation_function == "gelu_new" || activation_function == "gelu_pytorch_tanh" ||
        activation_function == "gelu_fast")
      return Activation::gelu_tanh;
    if (activation_function == "gelu") return Activation::gelu_erf;
    throw ArgumentError("activation_function '" + activation_function +
                        "' is not known (gelu_new, gelu_pytorch_tanh, gelu_fast, gelu)");
  }

  // Throws an error naming `where` (a file, or "GPTConfig") and the field at fault.
  void validate(const std::string& where = "GPTConfig") const;

  // Exact number of weights. The tied LM head adds nothing; an untied one adds V*C.
  //   per layer: 12 C^2 + 13 C  (Q,K,V,out: 4C^2+4C; MLP: 8C^2+5C; two norms: 4C)
  //   plus wte V*C, wpe n_positions*C, final norm 2C.
  Index parameter_count() const;

  // ---- presets (GPT-2's layout; vocabulary 50,257 unless noted) ----
  static GPTConfig gpt2() { return make(12, 12, 768, 1024, 50257); }           // 124M
  static GPTConfig gpt2_medium() { return make(24, 16, 1024, 1024, 50257); }   // 355M
  static GPTConfig gpt2_large() { return make(36, 20, 1280, 1024, 50257); }    // 774M
  static GPTConfig gpt2_xl() { return make(48, 25, 1600, 1024, 50257); }       // 1.56B
  // GPT-1's sizes (12 x 768, context 512, vocabulary 40,478). GPT-1 normalised after each
  // sub-layer rather than before; this preset keeps GPT-2's layout and is for counting.
  static GPTConfig gpt1() { return make(12, 12, 768, 512, 40478); }
  // GPT-3 175B: 96 layers, 96 heads x 128 = 12,288 dims, context 2,048.
  static GPTConfig gpt3_175b() { return make(96, 96, 12288, 2048, 50257); }
  // By name: "gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "gpt1", "gpt3-175b".
  static GPTConfig preset(const std::string& name);

  static GPTConfig make(Index n_layer, Index n_head, Index n_embd, Index n_positions,
                        Index vocab_size) {
    GPTConfig c;
    c.n_layer = n_layer;
    c.n_head = n_head;
    c.n_embd = n_embd;
    c.n_positions = n_positions;
    c.vocab_size = vocab_size;
    return c;
  }
};

inline bool operator==(const GPTConfig& a, const GPTConfig& b) { return detail::fields_equal(a, b); }
inline bool operator!=(const GPTConfig& a, const GPTConfig& b) { return !(a == b); }

inline void GPTConfig::validate(const std::string& where) const {
  auto positive = [&](const char* field, Index v) {
    if (v <= 0) throw FileError(where, field, "must be a positive integer, got " + std::to_string(v));
  };
  positive("n_layer", n_layer);
  positive("n_head", n_head);
  positive("n_embd", n_embd);
  positive("n_positions", n_positions);
  positive("vocab_size", vocab_size);
  if (n_embd % n_head != 0)
    throw FileError(where, "n_embd", "n_embd " + std::to_string(n_embd) +
                                         " is not divisible by n_head " + std::to_string(n_head));
  if (!(layer_norm_epsilon > 0.0) || !std::isfinite(layer_norm_epsilon))
    throw FileError(where, "layer_norm_epsilon", "must be a positive finite number");
  try {
    (void)activation();
  } catch (const ArgumentError& e) {
    throw FileError(where, "activation_function", e.what());
  }
  auto probability = [&](const char* field, double p) {
    if (!(p >= 0.0 && p < 1.0)) throw FileError(where, field, "must be in [0, 1)");
  };
  probability("embd_pdrop", embd_pdrop);
  probability("attn_pdrop", attn_pdrop);
  probability("resid_pdrop", resid_pdrop);
  try {
    (void)parameter_count();
    // The largest single buffer the forward pass allocates is (n_positions, 4C) or (V, C).
    (void)detail::checked_mul(detail::checked_mul(n_positions, 4, "n_positions"), n_embd, "n_embd");
  } catch (const ArgumentError& e) {
    throw FileError(where, "n_embd", e.what());
  }
}

inline Index GPTConfig::parameter_count() const {
  using detail::checked_add;
  using detail::checked_mul;
  const Index C = n_embd, V = vocab_size;
  const Index per_layer = checked_add(checked_mul(12, checked_mul(C, C, "C*C"), "12*C*C"),
                                      checked_mul(13, C, "13*C"), "layer");
  Index n = checked_mul(n_layer, per_layer, "n_layer*layer");
  n = checked_add(n, checked_mul(V, C, "V*C"), "wte");
  n = checked_add(n, checked_mul(n_positions, C, "n_positions*C"), "wpe");
  n = checked_add(n, checked_mul(2, C, "2*C"), "ln_f");
  if (!tie_word_embeddings) n = checked_add(n, checked_mul(V, C, "V*C"), "lm_head");
  return n;
}

inline GPTConfig GPTConfig::preset(const std::string& name) {
  if (name == "gpt2") return gpt2();
  if (name == "gpt2-medium") return gpt2_medium();
  if (name == "gpt2-large") return gpt2_large();
  if (name == "gpt2-xl") return gpt2_xl();
  if (name == "gpt1") return gpt1();
  if (name == "gpt3-175b") return gpt3_175b();
  throw ArgumentError("unknown preset '" + name +
                      "' (gpt2, gpt2-medium, gpt2-large, gpt2-xl, gpt1, gpt3-175b)");
}

}  // namespace minigpt
