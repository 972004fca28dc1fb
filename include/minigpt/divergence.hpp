// minigpt/divergence.hpp — when training blows up: stopping, and saying where.
//
// Chapter idea: pre-training (사전 학습) pushes the loss (손실) down, but a learning rate too
// high or a bad batch can push the numbers past what a float holds: a weight becomes
// infinite, the next forward pass spreads NaN everywhere, and every step after that is wasted
// (on a big model, wasted for weeks). So a run checks every step, stops at the first
// non-finite loss, gradient or weight, and names the first tensor that held one:
//
//     training stopped at step 412: the loss is nan; the first non-finite tensor is
//     activation h.1.mlp.c_fc (x · W_fc + b_fc)
//
// "First" follows the computation: weights in table order, activations in the order the
// forward computed them, gradients in the order the backward computed them (the table in
// reverse). The last checkpoint on disk is left as it was.
//
// Shapes in: the parameter, gradient and activation buffers.  Shapes out: a TrainingDiverged.
//
// Example:
//     if (!std::isfinite(loss)) throw diverged_at_loss(step, loss, model.parameters(), acts);
#pragma once

#include "error.hpp"
#include "gpt.hpp"
#include "parameters.hpp"
#include "token_id.hpp"

#include <string>
#include <utility>

namespace minigpt {

// Training stopped: a NaN or an infinity appeared. step() is the step (1-based) at which it
// was found, tensor() the first tensor that held it.
class TrainingDiverged : public Error {
 public:
  TrainingDiverged(Index step, std::string tensor, const std::string& what)
      : Error("training stopped at step " + std::to_string(step) + ": " + what), step_(step),
        tensor_(std::move(tensor)) {}
  Index step() const { return step_; }
  const std::string& tensor() const { return tensor_; }

 private:
  Index step_;
  std::string tensor_;
};

// The name of the first tensor of the table (or, with reverse, of the table read backwards)
// that holds a NaN or an infinity; "" when all are finite.
template <typename S>
std::string first_non_finite_tensor(const Parameters<S>& p, bool reverse = false) {
  const auto& table = p.table().entries();
  for (std::size_t i = 0; i < table.size(); ++i) {
    const TensorInfo& e = table[reverse ? table.size() - 1 - i : i];
    if (!Eigen::Map<const Eigen::Array<S, Eigen::Dynamic, 1>>(p.data() + e.offset, e.size).allFinite()) return e.name;
  }
  return "";
}

// A non-finite loss: the first non-finite weight (and where its NaN first showed), else the
// first non-finite activation of the forward that gave the loss, else the loss itself.
template <typename S>
TrainingDiverged diverged_at_loss(Index step, double loss, const Parameters<S>& weights,
                                  const GPTActivations<S>& acts) {
  const std::string weight = first_non_finite_tensor(weights);
  const std::string act = GPT<S>::first_non_finite_activation(acts);
  const std::string what = "the loss is " + std::to_string(loss) + "; ";
  if (!weight.empty())
    return TrainingDiverged(step, weight, what + "the first non-finite tensor is weight " + weight +
                                              (act.empty() ? "" : " (first reached in activation " + act + ")"));
  if (!act.empty()) return TrainingDiverged(step, act, what + "the first non-finite tensor is activation " + act);
  return TrainingDiverged(step, "loss", what + "every weight and activation is finite (the logits overflow in the loss)");
}

// A non-finite gradient: the first non-finite gradient in the order backward computed them.
template <typename S>
TrainingDiverged diverged_at_gradients(Index step, const Parameters<S>& grads) {
  const std::string grad = first_non_finite_tensor(grads, /*reverse*/ true);
  return TrainingDiverged(step, grad.empty() ? "gradient norm" : grad,
                          "the gradient is not finite; the first non-finite gradient (in backward order) is " +
                              (grad.empty() ? std::string("none: their squared sum overflows") : "d " + grad));
}

// An update that made a weight non-finite (AdamW::step names it).
inline TrainingDiverged diverged_at_update(Index step, const std::string& weight, double lr) {
  return TrainingDiverged(step, weight, "the AdamW update made weight " + weight + " non-finite (learning rate " +
                                            std::to_string(lr) + " too high?)");
}

}  // namespace minigpt
