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
// Shapes: ids (B, T) -> logits (B, T, V); the final hidden states ln_f(x) (B*T, C), which a
// reward or value head can read instead of the logits; optional attention maps
// (B, H, T, Tk) per layer.
//
// A model is its configuration and its weights (parameters.hpp). What a forward pass leaves
// behind for the backward pass lives apart, in a GPTActivations: one set of weights can run
// several forward passes at once (data-parallel shards on their threads), and a model copies
// cheaply (a policy and its frozen reference). For the common case the model keeps one
// GPTActivations and one gradient buffer of its own, used by forward(ids, ...), backward(...)
// and gradients(); a copy of a model starts without them.
//
// For inference the linear layers' matrices and the LM head can run in fewer bytes per weight
// (bf16 or Q8_0, weight_format.hpp): set_weight_format() rounds them once and keeps a packed
// copy that the linear layers multiply by (linear.hpp); everything else stays f32.
//
// Example (see examples/generate.cpp):
//     GPT<float> model = load_model("gpt2");                  // checkpoint.hpp
//     std::vector<TokenId> ids = {464, 2068, 7586};           // "The quick brown"
//     const Tensor<float>& logits = model.forward(ids, 1, 3); // (1, 3, 50257)
//     // argmax of logits(0, 2, :) is the id of the most likely next token (" fox")
#pragma once

#include "config.hpp"
#include "decoder_block.hpp"
#include "detail/unshared.hpp"
#include "dropout.hpp"
#include "embedding.hpp"
#include "error.hpp"
#include "kv_cache.hpp"
#include "layer_norm.hpp"
#include "linear.hpp"
#include "parameters.hpp"
#include "random.hpp"
#include "tensor.hpp"
#include "token_id.hpp"
#include "weight_format.hpp"

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace minigpt {

template <typename S>
struct ForwardOptions {
  KVCache<S>* cache = nullptr;      // generating: attend to the cached past, then extend it
  bool training = false;            // keep every layer's activations for backward()
  Rng* dropout_rng = nullptr;       // training with the config's dropout (null: no dropout)
  bool attention_maps = false;      // keep each layer's attention map: attention_maps()
  bool last_position_only = false;  // logits (B, 1, V) for the last position of each sequence
  bool logits = true;               // false: stop at the hidden states (no LM head; empty logits)
};

// What one forward pass leaves behind: its inputs and every activation the backward pass
// reads (all layers in training; in inference one set, reused layer after layer), the final
// hidden states, the logits, and the backward's scratch space.
template <typename S>
struct GPTActivations {
  BatchShape shape;                         // B sequences of T tokens
  Index pos0 = 0;                           // tokens cached before (the longest sequence's)
  bool training = false, last_position_only = false, has_logits = false;
  std::vector<TokenId> ids;                 // (B*T)
  std::vector<Matrix<S>> residual;          // (B*T, C): x before block 0, then after each block
  std::vector<S> embd_drop;                 // (B*T, C) embedding-dropout mask; empty when off
  std::vector<BlockActivations<S>> blocks;  // one per block (training), else one reused
  Matrix<S> last;                           // (B, C) each sequence's last x (last_position_only)
  Matrix<S> hidden;                         // (B*T, C) ln_f(x); (B, C) with last_position_only
  LayerNormActivations<S> ln_f;
  Tensor<S> logits;                         // (B, T, V), or (B, 1, V)
  std::vector<Tensor<S>> maps;              // (B, H, T, Tk) per layer, when asked for
  Matrix<S> dlogits;                        // (B*T, V) d loss / d logits (training.hpp)
  Matrix<S> dhidden, dx, dprev;             // backward scratch (B*T, C)
};

// A model's linear layers and LM head in bf16 or Q8_0 (GPT::set_weight_format): one packed
// (out, in) matrix per weight. A matrix the format cannot hold (Q8_0 rows that are not whole
// blocks of 32) is left empty and runs in f32.
struct PackedWeights {
  WeightFormat format = WeightFormat::f32;
  struct Block {
    detail::PackedMatrix c_attn, attn_proj, c_fc, mlp_proj;
  };
  std::vector<Block> h;
  detail::PackedMatrix lm_head;
  // Bytes of packed weights (what a decode step reads of them).
  Index bytes() const {
    Index n = lm_head.bytes();
    for (const Block& b : h) n += b.c_attn.bytes() + b.attn_proj.bytes() + b.c_fc.bytes() + b.mlp_proj.bytes();
    return n;
  }
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

  // ---- weights in fewer bytes, for inference ----

  // From now on forward() multiplies by the linear layers' matrices and the LM head held in
  // `format`: bf16, or Q8_0 (the activations then quantized per block of 32 on the fly, as
  // llama.cpp does). The rounding happens once, here, and the f32 parameters become the
  // rounded values, so that parameters(), save_model() and save_gguf() describe the model that
  // runs (and converting again to the same format changes nothing). f32 drops the packed copy
  // (the parameters stay as they are). Training needs f32; after changing the parameters, call
  // this again. `kernel` chooses the instructions (the tests compare them with the scalar one).
  void set_weight_format(WeightFormat format, detail::SimdKernel kernel = detail::best_simd_kernel()) {
    if (format == WeightFormat::f32) return packed_.reset();
    detail::require_kernel(kernel, "set_weight_format");
    if constexpr (!std::is_same<S, float>::value) {
      throw ArgumentError(std::string("GPT::set_weight_format: ") + weight_format_name(format) + " weights run in float");
    } else {
      auto packed = std::make_shared<PackedWeights>();
      packed->format = format;
      packed->h.resize(static_cast<std::size_t>(config_.n_layer));
      GPTWeights<S> W = params_.view();
      // A linear layer's w is (in, out): its (out, in) matrix is read with strides (1, out).
      auto pack = [&](Linear<S>& L, detail::PackedMatrix& into) {
        pack_and_round(into, format, kernel, L.w.data(), L.w.cols(), L.w.rows(), 1, L.w.cols());
      };
      for (Index l = 0; l < config_.n_layer; ++l) {
        BlockWeights<S>& b = W.h[static_cast<std::size_t>(l)];
        PackedWeights::Block& p = packed->h[static_cast<std::size_t>(l)];
        pack(b.attn.c_attn, p.c_attn);
        pack(b.attn.c_proj, p.attn_proj);
        pack(b.mlp.c_fc, p.c_fc);
        pack(b.mlp.c_proj, p.mlp_proj);
      }
      const Index V = config_.vocab_size, C = config_.n_embd;  // the head is (V, C), row-major
      pack_and_round(packed->lm_head, format, kernel, W.lm_head.data(), V, C, C, 1);
      packed_ = std::move(packed);
    }
  }
  WeightFormat weight_format() const { return packed_ ? packed_->format : WeightFormat::f32; }
  // The packed weights (null in f32).
  const PackedWeights* packed_weights() const { return packed_.get(); }

  // ---- forward ----

  // ids (B, T) -> logits (B, T, V) (or (B, 1, V) with last_position_only), everything kept in
  // `a`. Ids must be in 0..V-1 and the context (cached positions + T) at most n_positions.
  const Tensor<S>& forward(GPTActivations<S>& a, const TokenId* ids, Index B, Index T,
                           const ForwardOptions<S>& opt = {}) const {
    check_forward(ids, B, T, opt);
    const Index L = config_.n_layer, C = config_.n_embd, N = B * T;
    const bool keep = opt.training;  // training keeps every layer; inference reuses one set
    const GPTWeights<S> W = with_packed(params_.view());
    a.shape = {B, T};
    a.pos0 = opt.cache != nullptr ? opt.cache->size() : 0;
    a.training = keep;
    a.last_position_only = opt.last_position_only;
    a.has_logits = opt.logits;
    a.ids.assign(ids, ids + N);
    a.blocks.resize(static_cast<std::size_t>(keep ? L : 1));
    a.residual.resize(static_cast<std::size_t>(keep ? L + 1 : 2));
    a.maps.clear();

    // The model's steps, each a function of its input that leaves its output in `a`.
    auto embed = [&]() -> const Matrix<S>& {
      Matrix<S>& x = a.residual[0];
      x.resize(N, C);
      std::vector<Index> starts(static_cast<std::size_t>(B), 0);  // each sequence's first position
      if (opt.cache != nullptr)
        for (Index b = 0; b < B; ++b) starts[static_cast<std::size_t>(b)] = opt.cache->size(b);
      embedding_forward<S>(x, ids, a.shape, W.wte.matrix(), W.wpe.matrix(), starts.data());
      a.embd_drop.clear();
      if (opt.dropout_rng != nullptr && config_.embd_pdrop > 0) {
        make_dropout_mask(a.embd_drop, N * C, config_.embd_pdrop, *opt.dropout_rng);
        x.array() *= MatrixMap<S>(a.embd_drop.data(), N, C).array();
      }
      return x;
    };
    auto block = [&](Index l, const Matrix<S>& x) -> const Matrix<S>& {
      Matrix<S>& out = a.residual[static_cast<std::size_t>(keep ? l + 1 : (l + 1) % 2)];
      out.resize(N, C);
      BlockActivations<S>& acts = a.blocks[static_cast<std::size_t>(keep ? l : 0)];
      KVCacheLayer<S> cached = opt.cache != nullptr ? opt.cache->layer(l) : KVCacheLayer<S>{};
      const BlockContext<S> ctx{config_.block_config(), a.shape, opt.cache != nullptr ? &cached : nullptr,
                                {config_.attn_pdrop, config_.resid_pdrop, opt.dropout_rng}};
      block_forward<S>(out, acts, x, W.h[static_cast<std::size_t>(l)], ctx);
      if (opt.attention_maps) keep_attention_map(a, acts.attn.att);
      return out;
    };
    auto ln_f = [&](const Matrix<S>& x) -> const Matrix<S>& {
      const Matrix<S>* in = &x;
      if (opt.last_position_only) {  // only the last row of each sequence
        a.last.resize(B, C);
        for (Index b = 0; b < B; ++b) a.last.row(b) = x.row(b * T + T - 1);
        in = &a.last;
      }
      a.hidden.resize(in->rows(), C);
      layer_norm_forward<S>(a.hidden, a.ln_f, *in, W.ln_f, static_cast<S>(config_.layer_norm_epsilon));
      return a.hidden;
    };
    auto lm_head = [&](const Matrix<S>& h) -> const Tensor<S>& {
      const std::vector<Index> shape{B, opt.last_position_only ? 1 : T, config_.vocab_size};
      if (a.logits.shape() != shape) a.logits = Tensor<S>(shape);
      linear_forward_transposed<S>(a.logits.matrix(), h, W.lm_head, W.lm_head_packed);
      return a.logits;
    };

    const Matrix<S>* x = &embed();                    // x = wte[ids] + wpe[positions]
    for (Index l = 0; l < L; ++l) x = &block(l, *x);  // x = block_l(x)
    if (opt.cache != nullptr) opt.cache->advance(T);
    const Matrix<S>& h = ln_f(*x);                    // h = ln_f(x)
    if (!opt.logits) return a.logits = Tensor<S>();
    return lm_head(h);                                // logits = h · wteᵀ
  }

  const Tensor<S>& forward(GPTActivations<S>& a, const std::vector<TokenId>& ids, Index B, Index T,
                           const ForwardOptions<S>& opt = {}) const {
    Index n = 0;  // B * T, refused (not wrapped) when it overflows
    if (B < 0 || T < 0 || __builtin_mul_overflow(B, T, &n) || static_cast<Index>(ids.size()) != n)
      throw ArgumentError("GPT::forward: " + std::to_string(ids.size()) + " ids given for B = " + std::to_string(B) +
                          ", T = " + std::to_string(T));
    return forward(a, ids.data(), B, T, opt);
  }

  // The same, kept in the model's own activations.
  const Tensor<S>& forward(const TokenId* ids, Index B, Index T, const ForwardOptions<S>& opt = {}) {
    return forward(*own_, ids, B, T, opt);
  }
  const Tensor<S>& forward(const std::vector<TokenId>& ids, Index B, Index T, const ForwardOptions<S>& opt = {}) {
    return forward(*own_, ids, B, T, opt);
  }

  // The model's own activations, from its last forward(ids, ...).
  GPTActivations<S>& activations() { return *own_; }
  const GPTActivations<S>& activations() const { return *own_; }
  // Its final hidden states ln_f(x): (B*T, C), or (B, C) with last_position_only.
  const Matrix<S>& hidden() const { return own_->hidden; }
  // Its attention maps, when asked for: one (B, H, T, Tk) per layer.
  const std::vector<Tensor<S>>& attention_maps() const { return own_->maps; }

  // After a training forward: the first activation, in the order the forward computed them,
  // that holds a NaN or an infinity, e.g. "h.2.mlp.c_fc (x · W_fc + b_fc)"; "" when all are
  // finite. Training uses it to say where a non-finite loss came from.
  static std::string first_non_finite_activation(const GPTActivations<S>& a) {
    if (!a.training) return "";
    if (!a.residual[0].allFinite()) return "the embeddings (wte[ids] + wpe)";
    for (std::size_t l = 0; l < a.blocks.size(); ++l) {
      const std::string h = "h." + std::to_string(l);
      std::string found;
      for_each_activation(a.blocks[l], [&](const char* name, const Matrix<S>& m) {
        if (found.empty() && !m.allFinite()) found = h + "." + name;
      });
      if (!found.empty()) return found;
      if (!a.residual[l + 1].allFinite()) return h + " output";
    }
    if (!a.hidden.allFinite()) return "ln_f";
    if (a.has_logits && !a.logits.matrix().allFinite()) return "logits";
    return "";
  }
  std::string first_non_finite_activation() const { return first_non_finite_activation(*own_); }

  // ---- backward ----

  // Backward of the training forward that filled `a` (all positions, no cache): from dlogits
  // (B*T, V), d loss / d logits (0 rows when the forward stopped at the hidden states), and,
  // when given, dhidden (B*T, C), d loss / d hidden (a reward or value head's gradient),
  // ADDS every parameter's gradient into grads (zero it first; adding lets you accumulate).
  void backward(GPTActivations<S>& a, Parameters<S>& grads, const ConstMatrixRef<S>& dlogits,
                const Matrix<S>* dhidden = nullptr) const {
    const Index L = config_.n_layer, C = config_.n_embd, N = a.shape.tokens();
    check_backward(a, grads, dlogits, dhidden);
    const GPTWeights<S> W = params_.view();
    GPTWeights<S> dW = grads.view();
    // logits = h · lm_headᵀ
    a.dhidden.setZero(N, C);
    if (a.has_logits)
      linear_backward<S>(a.dhidden, dW.lm_head.matrix().transpose(), nullptr, dlogits, a.hidden,
                         W.lm_head.matrix().transpose());
    if (dhidden != nullptr) a.dhidden += *dhidden;
    // h = ln_f(x)
    a.dx.setZero(N, C);
    a.dprev.resize(N, C);
    layer_norm_backward<S>(a.dx, dW.ln_f, a.dhidden, a.ln_f, a.residual[static_cast<std::size_t>(L)], W.ln_f);
    // x = block_l(x), from the last block down
    for (Index l = L - 1; l >= 0; --l) {
      const auto li = static_cast<std::size_t>(l);
      block_backward<S>(a.dprev, dW.h[li], a.dx, a.blocks[li], a.residual[li], W.h[li]);
      a.dx.swap(a.dprev);
    }
    // x = (wte[ids] + wpe[positions]) · embedding dropout
    if (!a.embd_drop.empty()) a.dx.array() *= MatrixMap<S>(a.embd_drop.data(), N, C).array();
    embedding_backward<S>(dW.wte.matrix(), dW.wpe.matrix(), a.dx, a.ids.data(), a.shape, 0);
  }

  // The same, from the model's own activations into its own gradients().
  void backward(const ConstMatrixRef<S>& dlogits, const Matrix<S>* dhidden = nullptr) {
    backward(*own_, gradients(), dlogits, dhidden);
  }

  // The model's own gradients, laid out like the parameters. Allocated (zero) on first use.
  Parameters<S>& gradients() {
    if (grads_->size() != params_.size()) *grads_ = Parameters<S>(config_);
    return *grads_;
  }
  void zero_grad() { gradients().zero(); }

 private:
  static bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
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
    if (opt.training && packed_)
      throw ArgumentError(std::string("GPT::forward: the model runs ") + weight_format_name(packed_->format) +
                          " weights, for inference only; train in f32");
    if (opt.training && opt.last_position_only)
      throw ArgumentError("GPT::forward: training needs the logits of every position");
    if (B > std::numeric_limits<Index>::max() / T)
      throw ArgumentError("GPT::forward: B * T overflows (B = " + std::to_string(B) + ", T = " + std::to_string(T) + ")");
    check_token_ids(ids, B * T, config_.vocab_size, "GPT::forward", T);
  }

  void check_backward(const GPTActivations<S>& a, const Parameters<S>& grads, const ConstMatrixRef<S>& dlogits,
                      const Matrix<S>* dhidden) const {
    const Index N = a.shape.tokens(), C = config_.n_embd, V = config_.vocab_size;
    auto shape = [](Index r, Index c) { return "(" + std::to_string(r) + ", " + std::to_string(c) + ")"; };
    if (!a.training || a.last_position_only || a.hidden.rows() != N)
      throw ArgumentError("GPT::backward: the last forward was not a training forward over all positions");
    if (grads.size() != params_.size())
      throw ArgumentError("GPT::backward: the gradient buffer does not follow this model's parameter table");
    if (a.has_logits ? (dlogits.rows() != N || dlogits.cols() != V) : dlogits.size() != 0)
      throw ArgumentError("GPT::backward: dlogits is " + shape(dlogits.rows(), dlogits.cols()) + ", expected " +
                          (a.has_logits ? shape(N, V) : std::string("empty (the forward computed no logits)")));
    if (dhidden != nullptr && (dhidden->rows() != N || dhidden->cols() != C))
      throw ArgumentError("GPT::backward: dhidden is " + shape(dhidden->rows(), dhidden->cols()) + ", expected " +
                          shape(N, C));
  }

  // W with the packed copies of its matrices, when the model has them.
  GPTWeights<S> with_packed(GPTWeights<S> W) const {
    if (!packed_) return W;
    auto at = [](const detail::PackedMatrix& m) { return m.format == WeightFormat::f32 ? nullptr : &m; };
    for (std::size_t l = 0; l < W.h.size(); ++l) {
      const PackedWeights::Block& p = packed_->h[l];
      W.h[l].attn.c_attn.packed = at(p.c_attn);
      W.h[l].attn.c_proj.packed = at(p.attn_proj);
      W.h[l].mlp.c_fc.packed = at(p.c_fc);
      W.h[l].mlp.c_proj.packed = at(p.mlp_proj);
    }
    W.lm_head_packed = at(packed_->lm_head);
    return W;
  }

  // The (rows, cols) matrix at w[r * row_stride + c * col_stride] packed into `into` (left
  // empty when the format cannot hold it), and w overwritten with the rounded values.
  static void pack_and_round(detail::PackedMatrix& into, WeightFormat format, detail::SimdKernel kernel, float* w,
                             Index rows, Index cols, Index row_stride, Index col_stride) {
    if (!detail::packable(format, rows, cols)) return;
    into = detail::pack_matrix(format, w, rows, cols, row_stride, col_stride, kernel);
    detail::parallel_for(rows, static_cast<double>(cols), [&](Index r) {
      for (Index c = 0; c < cols; ++c) w[r * row_stride + c * col_stride] = into.value(r, c);
    });
  }

  void keep_attention_map(GPTActivations<S>& a, const Matrix<S>& att) const {
    Tensor<S> map({a.shape.B, config_.n_head, a.shape.T, att.cols()});
    map.matrix() = att;
    a.maps.push_back(std::move(map));
  }

  GPTConfig config_;
  Parameters<S> params_;
  std::shared_ptr<const PackedWeights> packed_;  // inference weights in bf16 / Q8_0 (shared by copies)
  // Work space, not part of the model's value: a copy starts without them.
  detail::Unshared<GPTActivations<S>> own_;
  detail::Unshared<Parameters<S>> grads_;
};

}  // namespace minigpt
