// minigpt/gpt.hpp — the whole model: GPT (Generative Pre-trained Transformer), decoder only.
//
// Chapter idea: text -> tokens -> embeddings -> a stack of decoder blocks (masked multi-head
// self-attention + feed-forward) -> a final norm -> a score for every token of the vocabulary
// at every position. The score at position t predicts token t+1. That is all of GPT's
// forward pass; pre-training (사전 학습) only adjusts the parameters so those predictions
// improve (see loss.hpp), and generation feeds each prediction back in (see generation.hpp).
//
//     x      = wte[ids] + wpe[positions]          (B*T, C)    embedding.hpp
//     x      = block_l(x)    for l = 0 .. L-1     (B*T, C)    decoder_block.hpp
//     logits = ln_f(x) · wteᵀ                     (B, T, V)   the LM head, tied to wte
//
// Shapes: ids (B, T) -> logits (B, T, V); optional attention maps (B, H, T, Tk) per layer.
//
// Example (see examples/generate.cpp):
//     GPT<float> model = load_model("gpt2");                  // checkpoint.hpp
//     std::vector<TokenId> ids = {464, 2068, 7586};           // "The quick brown"
//     const Tensor<float>& logits = model.forward(ids, 1, 3); // (1, 3, 50257)
//     // argmax of logits(0, 2, :) is the id of the most likely next token (" fox")
#pragma once

#include "config.hpp"
#include "decoder_block.hpp"
#include "dropout.hpp"
#include "embedding.hpp"
#include "error.hpp"
#include "kv_cache.hpp"
#include "layer_norm.hpp"
#include "linear.hpp"
#include "parameters.hpp"
#include "random.hpp"
#include "tensor.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace minigpt {

template <typename S>
struct ForwardOptions {
  KVCache<S>* cache = nullptr;      // generating: attend to the cached past, then extend it
  bool training = false;            // keep every layer's activations for backward()
  Rng* dropout_rng = nullptr;       // training with the config's dropout (null: no dropout)
  bool attention_maps = false;      // keep each layer's attention map: attention_maps()
  bool last_position_only = false;  // logits (B, 1, V) for the last position of each sequence
};

template <typename S = float>
class GPT {
 public:
  explicit GPT(const GPTConfig& config) : config_(config), params_(config) {}

  // The same model with another scalar type (float <-> double), e.g. for gradient checks.
  template <typename S2>
  explicit GPT(const GPT<S2>& other) : config_(other.config()), params_(other.config()) {
    params_.flat() = other.parameters().flat().template cast<S>();
  }

  const GPTConfig& config() const { return config_; }
  Parameters<S>& parameters() { return params_; }
  const Parameters<S>& parameters() const { return params_; }
  Index parameter_count() const { return params_.size(); }

  // GPT-2's initialisation: weights N(0, 0.02), the two output projections of each block
  // N(0, 0.02 / sqrt(2 L)) so the residual stream does not grow with depth, biases 0,
  // layer-norm weights 1.
  void init_weights(Rng& rng) {
    const double std = 0.02, proj_std = 0.02 / std::sqrt(2.0 * static_cast<double>(config_.n_layer));
    for (const TensorInfo& e : params_.table().entries()) {
      S* p = params_.data() + e.offset;
      const bool norm_weight = e.name.find("ln_") != std::string::npos && ends_with(e.name, ".weight");
      const bool out_proj = ends_with(e.name, "c_proj.weight");
      for (Index i = 0; i < e.size; ++i) {
        if (norm_weight) p[i] = S(1);
        else if (!e.decay()) p[i] = S(0);
        else p[i] = static_cast<S>(rng.normal() * (out_proj ? proj_std : std));
      }
    }
  }

  // ids (B, T) -> logits (B, T, V) (or (B, 1, V) with last_position_only).
  // Ids must be in 0..V-1 and the context (cached positions + T) at most n_positions.
  const Tensor<S>& forward(const TokenId* ids, Index B, Index T, const ForwardOptions<S>& opt = {}) {
    check_forward(ids, B, T, opt);
    const Index L = config_.n_layer, C = config_.n_embd, N = B * T;
    const Index pos0 = opt.cache != nullptr ? opt.cache->size() : 0;
    const bool keep = opt.training;  // training keeps every layer; inference reuses one set
    blocks_.resize(static_cast<std::size_t>(keep ? L : 1));
    residual_.resize(static_cast<std::size_t>(keep ? L + 1 : 2));
    for (auto& r : residual_) r.resize(N, C);
    ids_.assign(ids, ids + N);
    B_ = B;
    T_ = T;
    trained_forward_ = keep;
    maps_.clear();

    // x = wte[ids] + wpe[positions]
    embedding_forward<S>(residual_[0], ids, B, T, wte(), wpe(), pos0);
    embd_drop_.clear();
    if (opt.dropout_rng != nullptr && config_.embd_pdrop > 0) {
      make_dropout_mask(embd_drop_, N * C, config_.embd_pdrop, *opt.dropout_rng);
      residual_[0].array() *= MatrixMap<S>(embd_drop_.data(), N, C).array();
    }

    // x = block_l(x), l = 0 .. L-1
    const BlockDropout drop{config_.attn_pdrop, config_.resid_pdrop, opt.dropout_rng};
    for (Index l = 0; l < L; ++l) {
      BlockActivations<S>& a = blocks_[static_cast<std::size_t>(keep ? l : 0)];
      const Matrix<S>& x_in = residual_[static_cast<std::size_t>(keep ? l : l % 2)];
      Matrix<S>& x_out = residual_[static_cast<std::size_t>(keep ? l + 1 : (l + 1) % 2)];
      block_forward<S>(x_out, a, x_in, params_.t.h[static_cast<std::size_t>(l)], config_, B, T, opt.cache, l, drop);
      if (opt.attention_maps) keep_attention_map(a.attn.att, B, T);
    }
    if (opt.cache != nullptr) opt.cache->advance(T);
    const Matrix<S>& x = residual_[static_cast<std::size_t>(keep ? L : L % 2)];

    // logits = ln_f(x) · wteᵀ   (only the last row of each sequence when asked)
    const Index rows = opt.last_position_only ? B : N;
    lnf_.resize(rows, C);
    lnf_mean_.resize(static_cast<std::size_t>(rows));
    lnf_rstd_.resize(static_cast<std::size_t>(rows));
    const S eps = static_cast<S>(config_.layer_norm_epsilon);
    if (opt.last_position_only) {
      Matrix<S> last(B, C);
      for (Index b = 0; b < B; ++b) last.row(b) = x.row(b * T + T - 1);
      layer_norm_forward<S>(lnf_, lnf_mean_.data(), lnf_rstd_.data(), last, params_.t.ln_f_w, params_.t.ln_f_b, eps);
    } else {
      layer_norm_forward<S>(lnf_, lnf_mean_.data(), lnf_rstd_.data(), x, params_.t.ln_f_w, params_.t.ln_f_b, eps);
    }
    if (logits_.shape() != std::vector<Index>{B, opt.last_position_only ? 1 : T, config_.vocab_size})
      logits_ = Tensor<S>({B, opt.last_position_only ? 1 : T, config_.vocab_size});
    linear_forward<S>(logits_.matrix(), lnf_, lm_head().transpose(), nullptr);
    return logits_;
  }

  const Tensor<S>& forward(const std::vector<TokenId>& ids, Index B, Index T, const ForwardOptions<S>& opt = {}) {
    Index n = 0;  // B * T, refused (not wrapped) when it overflows
    if (B < 0 || T < 0 || __builtin_mul_overflow(B, T, &n) || static_cast<Index>(ids.size()) != n)
      throw ArgumentError("GPT::forward: " + std::to_string(ids.size()) + " ids given for B = " + std::to_string(B) +
                          ", T = " + std::to_string(T));
    return forward(ids.data(), B, T, opt);
  }

  // Attention maps of the last forward that asked for them: one (B, H, T, Tk) per layer.
  const std::vector<Tensor<S>>& attention_maps() const { return maps_; }

  // After a training forward: the first activation, in the order the forward computed them,
  // that holds a NaN or an infinity, e.g. "h.2.mlp.c_fc (x · W_fc + b_fc)"; "" when all are
  // finite. Training uses it to say where a non-finite loss came from.
  std::string first_non_finite_activation() const {
    if (!trained_forward_) return "";
    auto bad = [](const auto& m) { return !m.allFinite(); };
    if (bad(residual_[0])) return "the embeddings (wte[ids] + wpe)";
    for (std::size_t l = 0; l < blocks_.size(); ++l) {
      const BlockActivations<S>& a = blocks_[l];
      const std::string h = "h." + std::to_string(l) + ".";
      if (bad(a.ln_1)) return h + "ln_1";
      if (bad(a.attn.qkv)) return h + "attn.c_attn (Q, K, V)";
      if (bad(a.attn.att)) return h + "attn (the attention map)";
      if (bad(a.attn.heads)) return h + "attn (att · V)";
      if (bad(a.attn_out)) return h + "attn.c_proj";
      if (bad(a.x_mid)) return h + "x + attn(ln_1(x))";
      if (bad(a.ln_2)) return h + "ln_2";
      if (bad(a.mlp.h)) return h + "mlp.c_fc (x · W_fc + b_fc)";
      if (bad(a.mlp.a)) return h + "mlp (gelu)";
      if (bad(a.mlp_out)) return h + "mlp.c_proj";
      if (bad(residual_[l + 1])) return h.substr(0, h.size() - 1) + " output";
    }
    if (bad(lnf_)) return "ln_f";
    if (bad(logits_.matrix())) return "logits";
    return "";
  }

  // ---- backward ----

  // Gradients, laid out like the parameters. Allocated (zero) on first use.
  Parameters<S>& gradients() {
    if (grads_.size() != params_.size()) grads_ = Parameters<S>(config_);
    return grads_;
  }
  void zero_grad() { gradients().zero(); }

  // Backward of the last forward (which must have been a training forward without a cache
  // and with all positions). dlogits (B*T, V) is d loss / d logits; parameter gradients are
  // ADDED to gradients() (call zero_grad() first; adding lets you accumulate micro-batches).
  void backward(const ConstMatrixRef<S>& dlogits) {
    const Index L = config_.n_layer, C = config_.n_embd, N = B_ * T_;
    if (!trained_forward_ || lnf_.rows() != N)
      throw ArgumentError("GPT::backward: the last forward was not a training forward over all positions");
    if (dlogits.rows() != N || dlogits.cols() != config_.vocab_size)
      throw ArgumentError("GPT::backward: dlogits is (" + std::to_string(dlogits.rows()) + ", " +
                          std::to_string(dlogits.cols()) + "), expected (" + std::to_string(N) + ", " +
                          std::to_string(config_.vocab_size) + ")");
    Parameters<S>& g = gradients();
    // The (N, C) gradients live in members, reused from step to step: no allocation.
    Matrix<S>& dlnf = backward_.dlnf;
    Matrix<S>& dx = backward_.dx;
    Matrix<S>& dprev = backward_.dprev;
    // logits = lnf · lm_headᵀ
    dlnf.setZero(N, C);
    linear_backward<S>(dlnf, MatrixMap<S>(g.t.lm_head, config_.vocab_size, C).transpose(), nullptr, dlogits, lnf_,
                       lm_head().transpose());
    // lnf = ln_f(x_L)
    dx.setZero(N, C);
    dprev.resize(N, C);
    layer_norm_backward<S>(dx, g.t.ln_f_w, g.t.ln_f_b, dlnf, residual_[static_cast<std::size_t>(L)],
                           lnf_mean_.data(), lnf_rstd_.data(), params_.t.ln_f_w);
    // x_{l+1} = block_l(x_l), in reverse
    for (Index l = L - 1; l >= 0; --l) {
      const auto li = static_cast<std::size_t>(l);
      block_backward<S>(dprev, g.t.h[li], dx, blocks_[li], residual_[li], params_.t.h[li], config_, B_, T_,
                        &backward_.block);
      dx.swap(dprev);
    }
    // x_0 = (wte[ids] + wpe[positions]) · embedding dropout
    if (!embd_drop_.empty()) dx.array() *= MatrixMap<S>(embd_drop_.data(), N, C).array();
    embedding_backward<S>(MatrixMap<S>(g.t.wte, config_.vocab_size, C), MatrixMap<S>(g.t.wpe, config_.n_positions, C),
                          dx, ids_.data(), B_, T_, 0);
  }

 private:
  static bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
  ConstMatrixMap<S> wte() const { return ConstMatrixMap<S>(params_.t.wte, config_.vocab_size, config_.n_embd); }
  ConstMatrixMap<S> wpe() const { return ConstMatrixMap<S>(params_.t.wpe, config_.n_positions, config_.n_embd); }
  ConstMatrixMap<S> lm_head() const {
    return ConstMatrixMap<S>(params_.t.lm_head, config_.vocab_size, config_.n_embd);
  }

  void check_forward(const TokenId* ids, Index B, Index T, const ForwardOptions<S>& opt) const {
    if (B <= 0 || T <= 0)
      throw ArgumentError("GPT::forward: B and T must be positive, got B = " + std::to_string(B) +
                          ", T = " + std::to_string(T) + " (an empty prompt has nothing to predict from)");
    const Index pos0 = opt.cache != nullptr ? opt.cache->size() : 0;
    // pos0 + T, written out without overflowing for an absurd T
    const std::string context = T <= std::numeric_limits<Index>::max() - pos0
                                    ? std::to_string(pos0 + T)
                                    : std::to_string(pos0) + " + " + std::to_string(T);
    if (T > config_.n_positions - pos0)  // pos0 + T > n_positions, without overflow
      throw ArgumentError("GPT::forward: a context of " + context +
                          " tokens is past the block size of " + std::to_string(config_.n_positions));
    if (opt.cache != nullptr) {
      if (opt.training) throw ArgumentError("GPT::forward: a KV cache is for generation, not training");
      if (opt.cache->batch() != B || opt.cache->layers() != config_.n_layer)
        throw ArgumentError("GPT::forward: the KV cache was made for batch " + std::to_string(opt.cache->batch()) +
                            ", not " + std::to_string(B));
      if (T > opt.cache->capacity() - pos0)
        throw ArgumentError("GPT::forward: the KV cache holds " + std::to_string(opt.cache->capacity()) +
                            " positions, " + context + " needed");
    }
    if (opt.training && opt.last_position_only)
      throw ArgumentError("GPT::forward: training needs the logits of every position");
    if (B > std::numeric_limits<Index>::max() / T)
      throw ArgumentError("GPT::forward: B * T overflows (B = " + std::to_string(B) + ", T = " + std::to_string(T) + ")");
    for (Index n = 0; n < B * T; ++n)
      if (ids[n] < 0 || ids[n] >= config_.vocab_size)
        throw ArgumentError("GPT::forward: token id " + std::to_string(ids[n]) + " at (b " + std::to_string(n / T) +
                            ", t " + std::to_string(n % T) + ") is outside the vocabulary 0.." +
                            std::to_string(config_.vocab_size - 1));
  }

  void keep_attention_map(const Matrix<S>& att, Index B, Index T) {
    Tensor<S> map({B, config_.n_head, T, att.cols()});
    map.matrix() = att;
    maps_.push_back(std::move(map));
  }

  GPTConfig config_;
  Parameters<S> params_, grads_;
  // Saved by forward for backward (training) or reused per layer (inference).
  std::vector<BlockActivations<S>> blocks_;
  std::vector<Matrix<S>> residual_;  // x before block 0, after each block
  std::vector<S> embd_drop_;
  Matrix<S> lnf_;
  std::vector<S> lnf_mean_, lnf_rstd_;
  Tensor<S> logits_;
  std::vector<Tensor<S>> maps_;
  std::vector<TokenId> ids_;
  Index B_ = 0, T_ = 0;
  bool trained_forward_ = false;
  struct BackwardScratch {
    Matrix<S> dlnf, dx, dprev;  // (B*T, C)
    BlockScratch<S> block;
  } backward_;
};

}  // namespace minigpt
