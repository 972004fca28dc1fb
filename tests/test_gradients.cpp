// Gradients of every module and of the whole model against central finite differences, in
// double precision.
#include <catch2/catch.hpp>
#include "common.hpp"
#include <minigpt/gpt.hpp>
#include <minigpt/loss.hpp>
#include <minigpt/training.hpp>

#include <algorithm>
#include <cmath>

using namespace minigpt;

namespace {

GPTConfig gradient_config() {
  GPTConfig c = GPTConfig::make(2, 2, 8, 6, 11);  // L, H, C, n_positions, V
  return c;
}

// Random, larger-than-usual weights so every path carries a visible gradient.
void randomise(Parameters<double>& p, Rng& rng) {
  for (Index i = 0; i < p.size(); ++i) p.data()[i] = 0.3 * rng.normal();
  for (const auto& e : p.table().entries())
    if (e.name.find("ln_") != std::string::npos && e.name.find("weight") != std::string::npos)
      for (Index i = 0; i < e.size; ++i) p.data()[e.offset + i] += 1.0;
}

double model_loss(GPT<double>& model, const std::vector<TokenId>& ids, const std::vector<TokenId>& targets, Index B,
                  Index T) {
  const Tensor<double>& logits = model.forward(ids, B, T);
  return cross_entropy<double>(logits.matrix(), targets.data());
}

}  // namespace

TEST_CASE("whole-model gradients match finite differences", "[gradients]") {
  for (std::string activation : {"gelu_new", "gelu"}) {
    for (bool tied : {true, false}) {
      GPTConfig c = gradient_config();
      c.activation_function = activation;
      c.tie_word_embeddings = tied;
      GPT<double> model(c);
      Rng rng(7);
      randomise(model.parameters(), rng);
      const Index B = 2, T = 5;
      std::vector<TokenId> ids(B * T), targets(B * T);
      for (auto& i : ids) i = static_cast<TokenId>(rng.below(11));
      for (auto& i : targets) i = static_cast<TokenId>(rng.below(11));
      ids[3] = ids[1];  // a repeated token: its embedding gradient is a sum

      model.zero_grad();
      loss_and_backward(model, Batch{ids, targets, B, T});
      const Parameters<double> analytic = model.gradients();

      double max_err = 0;
      auto loss = [&] { return model_loss(model, ids, targets, B, T); };
      for (Index i = 0; i < model.parameters().size(); ++i) {
        const double numeric = test::central_difference(model.parameters().data()[i], loss);
        max_err = std::max(max_err, test::gradient_disagreement(analytic.data()[i], numeric));
      }
      INFO("activation " << activation << ", tied " << tied);
      CHECK(max_err < 1e-6);
    }
  }
}
