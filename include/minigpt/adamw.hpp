// minigpt/adamw.hpp — AdamW: how pre-training (사전 학습) turns gradients into better weights.
//
// Chapter idea: training lowers the loss (손실) by nudging every parameter (매개변수) a little
// against its gradient, billions of times over. Plain gradient descent takes the step
// −lr · g. Adam keeps, for every parameter, a running mean of its gradients (m, the
// "momentum") and of their squares (v), and steps by m / sqrt(v): parameters with noisy,
// large gradients take careful steps, quiet ones take bold ones. AdamW adds weight decay
// "decoupled" from the gradient: each matrix shrinks by a factor (1 − lr · wd) every step,
// which keeps the weights small. GPT-2 and GPT-3 were pre-trained with Adam(W).
//
// For every parameter p with gradient g, at step t = 1, 2, ... (PyTorch's torch.optim.AdamW):
//     p ← p · (1 − lr · wd)                         only where TensorInfo::decay() (matrices)
//     m ← β1 m + (1 − β1) g
//     v ← β2 v + (1 − β2) g²
//     p ← p − lr / (1 − β1^t) · m / (sqrt(v) / sqrt(1 − β2^t) + eps)
//
// No decay for biases and layer-norm weights: the rule lives once, in TensorInfo::decay()
// (parameters.hpp). m and v are Parameters buffers laid out by the same table as the weights
// and gradients, so the optimiser walks the table and never keeps a list of its own.
//
// Gradient-norm clipping (grad_norm, clip_grad_norm) lives here too: before the step, if the
// length of the whole gradient (all tensors as one vector) is above a limit, every gradient
// is scaled down so that the length equals the limit. One unlucky batch then cannot throw
// the weights far.
//
// Shapes: weights, gradients, m and v are all flat buffers of parameter_count() scalars.
//
// Worked example (one parameter, lr 0.1, β1 0.9, β2 0.999, eps 1e-8, wd 0):
//     p = 1, g = 0.5, t = 1:  m = 0.05, v = 0.00025
//     p ← 1 − 0.1/(1 − 0.9) · 0.05 / (sqrt(0.00025)/sqrt(1 − 0.999) + 1e-8) = 1 − 0.1 = 0.9
//   The first step is always ±lr per parameter, whatever the gradient's size.
//
// Example:
//     AdamW<float> opt(model.config(), {/*beta1*/ 0.9, /*beta2*/ 0.99, /*eps*/ 1e-8, /*wd*/ 0.1});
//     model.zero_grad(); model.backward(dlogits);
//     clip_grad_norm(model.gradients(), 1.0);
//     opt.step(model.parameters(), model.gradients(), /*lr*/ 1e-3);
#pragma once

#include "config.hpp"
#include "detail/parallel.hpp"
#include "error.hpp"
#include "parameters.hpp"
#include "tensor.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace minigpt {
namespace detail {

// body(c) for c in [0, chunks), over a whole-model buffer of `total` scalars. Such loops
// (AdamW, clipping, adding gradients) are bound by memory, so sharing them among the threads
// pays only for big models: below 4M parameters, waking the other threads costs more than it
// saves, above all on a machine that other programs keep busy.
template <typename F>
void for_each_chunk(Index total, Index chunks, F&& body) {
  if (total < (Index(1) << 22)) {
    for (Index c = 0; c < chunks; ++c) body(c);
  } else {
    parallel_for(chunks, 1e9, body);
  }
}

}  // namespace detail

// The learning rate is not an option here: it changes every step (lr_schedule.hpp) and is
// passed to step().
struct AdamWOptions {
  double beta1 = 0.9;         // momentum: how long the mean of the gradients remembers
  double beta2 = 0.999;       // how long the mean of the squared gradients remembers
  double eps = 1e-8;          // keeps the division finite where v is 0
  double weight_decay = 0.0;  // decoupled decay of the matrices; nanoGPT uses 0.1

  void validate() const {
    auto bad = [](const std::string& what) { throw ArgumentError("AdamW: " + what); };
    if (!(beta1 >= 0.0 && beta1 < 1.0)) bad("beta1 must be in [0, 1)");
    if (!(beta2 >= 0.0 && beta2 < 1.0)) bad("beta2 must be in [0, 1)");
    if (!(eps > 0.0) || !std::isfinite(eps)) bad("eps must be a finite number > 0");
    if (!(weight_decay >= 0.0) || !std::isfinite(weight_decay)) bad("weight_decay must be a finite number >= 0");
  }
};

// The optimiser: two moment buffers laid out by the parameter table, and the step count.
template <typename S>
class AdamW {
 public:
  AdamW() = default;
  AdamW(const GPTConfig& config, const AdamWOptions& options) : options_(options), m_(config), v_(config) {
    options.validate();
  }

  const AdamWOptions& options() const { return options_; }
  Index steps() const { return t_; }  // updates done so far
  Parameters<S>& m() { return m_; }
  Parameters<S>& v() { return v_; }
  const Parameters<S>& m() const { return m_; }
  const Parameters<S>& v() const { return v_; }

  // Restores a saved state (training_checkpoint.hpp): the step count, with m and v filled
  // in through m() and v().
  void set_steps(Index t) {
    if (t < 0) throw ArgumentError("AdamW: the step count must be >= 0");
    t_ = t;
  }

  // One update of params from grads with learning rate lr (the schedule's value for this
  // step); every gradient is first multiplied by grad_scale (clip_scale(): clipping folded
  // into the update, so it costs no pass of its own). Returns the name of the first tensor
  // (table order) that holds a non-finite value after the update, or "" when all are
  // finite: that check rides along the update too.
  std::string step(Parameters<S>& params, const Parameters<S>& grads, double lr, double grad_scale = 1.0) {
    if (params.size() != m_.size() || grads.size() != m_.size())
      throw ArgumentError("AdamW::step: the weights (" + std::to_string(params.size()) + "), gradients (" +
                          std::to_string(grads.size()) + ") and moments (" + std::to_string(m_.size()) +
                          ") must follow the same parameter table");
    if (!(lr >= 0.0) || !std::isfinite(lr)) throw ArgumentError("AdamW::step: lr must be a finite number >= 0");
    ++t_;
    const double b1 = options_.beta1, b2 = options_.beta2;
    const double bias1 = 1.0 - std::pow(b1, static_cast<double>(t_));
    const double bias2 = 1.0 - std::pow(b2, static_cast<double>(t_));
    const S step_size = static_cast<S>(lr / bias1);
    const S inv_sqrt_bias2 = static_cast<S>(1.0 / std::sqrt(bias2));
    const S eps = static_cast<S>(options_.eps), sb1 = static_cast<S>(b1), sb2 = static_cast<S>(b2);
    const S one_minus_b1 = static_cast<S>(1.0 - b1), one_minus_b2 = static_cast<S>(1.0 - b2);
    const S scale = static_cast<S>(grad_scale);

    // The table's tensors, cut into chunks of at most 2^16 scalars so both cores share even
    // the one big embedding matrix. Each chunk remembers whether it saw a non-finite weight.
    const std::vector<TensorInfo>& table = params.table().entries();
    struct Chunk {
      std::size_t tensor;
      Index begin, end;
    };
    std::vector<Chunk> chunks;
    const Index chunk = Index(1) << 16;
    for (std::size_t k = 0; k < table.size(); ++k)
      for (Index b = 0; b < table[k].size; b += chunk)
        chunks.push_back({k, table[k].offset + b, table[k].offset + std::min(table[k].size, b + chunk)});
    std::vector<char> finite(chunks.size(), 1);

    S* p = params.data();
    const S* g = grads.data();
    S* m = m_.data();
    S* v = v_.data();
    detail::for_each_chunk(params.size(), static_cast<Index>(chunks.size()), [&](Index c) {
      const Chunk& ch = chunks[static_cast<std::size_t>(c)];
      const S decay = table[ch.tensor].decay() ? static_cast<S>(1.0 - lr * options_.weight_decay) : S(1);
      using Array = Eigen::Map<Eigen::Array<S, Eigen::Dynamic, 1>>;
      const Index n = ch.end - ch.begin;
      Array P(p + ch.begin, n), M(m + ch.begin, n), V(v + ch.begin, n);
      const Eigen::Map<const Eigen::Array<S, Eigen::Dynamic, 1>> G_raw(g + ch.begin, n);
      const auto G = G_raw * scale;                        // g (clipped)
      P *= decay;                                          // p ← p (1 − lr wd)
      M = sb1 * M + one_minus_b1 * G;                      // m ← β1 m + (1 − β1) g
      V = sb2 * V + one_minus_b2 * G.square();             // v ← β2 v + (1 − β2) g²
      P -= step_size * M / (V.sqrt() * inv_sqrt_bias2 + eps);
      const bool ok = (P * S(0)).sum() == S(0);  // 0 · x is 0 for every finite x, NaN for ±∞ and NaN
      finite[static_cast<std::size_t>(c)] = ok;
    });
    for (std::size_t c = 0; c < chunks.size(); ++c)
      if (!finite[c]) return table[chunks[c].tensor].name;
    return "";
  }

 private:
  AdamWOptions options_;
  Parameters<S> m_, v_;
  Index t_ = 0;
};

// The length of the whole gradient: sqrt(Σ g²) over every tensor of the table, summed in
// double (vectorised partial sums of 1024 squares each), tensor by tensor in table order, so
// the result does not depend on the thread count.
template <typename S>
double grad_norm(const Parameters<S>& grads) {
  const std::vector<TensorInfo>& table = grads.table().entries();
  std::vector<double> sums(table.size(), 0.0);
  detail::for_each_chunk(grads.size(), static_cast<Index>(table.size()), [&](Index k) {
    const TensorInfo& e = table[static_cast<std::size_t>(k)];
    // Vectorised sums of 1024 squares in S, added up in double.
    const S* g = grads.data() + e.offset;
    double s = 0.0;
    for (Index b = 0; b < e.size; b += 1024) {
      const Eigen::Map<const Eigen::Array<S, Eigen::Dynamic, 1>> block(g + b, std::min<Index>(1024, e.size - b));
      s += static_cast<double>(block.square().sum());
    }
    sums[static_cast<std::size_t>(k)] = s;
  });
  double total = 0.0;
  for (double s : sums) total += s;
  return std::sqrt(total);
}

// If the gradient's length is above max_norm, scales every gradient by max_norm / length
// (as torch.nn.utils.clip_grad_norm_ does). Returns the length before clipping; a
// non-finite length is returned as it is and nothing is scaled.
//   Example: gradients (3, 4), max_norm 1  ->  length 5, gradients become (0.6, 0.8).
//
// clip_scale(norm, max_norm) is that factor alone (1 when no clipping is due), for
// AdamW::step's grad_scale.
inline double clip_scale(double norm, double max_norm) {
  return max_norm > 0.0 && std::isfinite(norm) && norm > max_norm ? max_norm / (norm + 1e-6) : 1.0;
}

template <typename S>
double clip_grad_norm(Parameters<S>& grads, double max_norm) {
  const double norm = grad_norm(grads);
  const double factor = clip_scale(norm, max_norm);
  if (factor != 1.0) {
    const S scale = static_cast<S>(factor);
    const Index chunk = Index(1) << 16, n = grads.size();
    detail::for_each_chunk(n, (n + chunk - 1) / chunk, [&](Index c) {
      grads.flat().segment(c * chunk, std::min(chunk, n - c * chunk)) *= scale;
    });
  }
  return norm;
}

}  // namespace minigpt
