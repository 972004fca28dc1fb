// What post-training builds on (SFT, a reward model, PPO), checked against PyTorch's autograd
// (tests/reference/make_gpt2_reference.py writes gpt2-tiny/seams.safetensors) and against
// finite differences in double:
//   - the cross-entropy with some targets ignored (ignore_index, SFT's masked prompt);
//   - the final hidden states ln_f(x), and a backward that starts from a gradient on them (a
//     reward or value head's);
//   - the log-probability of each given token, and its backward (PPO, the KL penalty);
//   - one set of weights serving several forward passes, each with its own activations.
#include <catch2/catch.hpp>
#include "common.hpp"
#include <minigpt/checkpoint.hpp>
#include <minigpt/gpt.hpp>
#include <minigpt/loss.hpp>
#include <minigpt/training.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

using namespace minigpt;

namespace {

struct SeamsReferenceBatch {
  std::vector<TokenId> ids, targets;
  Index B = 0, T = 0;
};

SeamsReferenceBatch seams_reference_batch() {
  const auto j = test::read_json(test::data("gpt2-tiny/reference.json"));
  SeamsReferenceBatch b;
  b.B = j["batch"].get<Index>();
  b.T = j["time"].get<Index>();
  for (const auto& row : j["input_ids"])
    for (int id : row) b.ids.push_back(id);
  for (const auto& row : j["targets"])
    for (int id : row) b.targets.push_back(id);
  return b;
}

std::vector<double> golden(const std::string& name) { return test::golden("gpt2-tiny/seams.safetensors", name); }

// Every parameter's gradient in `grads` against the golden "<prefix>.grad.<name>".
template <typename S>
void check_gradients(const Parameters<S>& grads, const std::string& prefix, double tolerance) {
  for (const TensorInfo& e : grads.table().entries()) {
    const auto ref = golden(prefix + ".grad." + e.name);
    INFO(prefix << ": gradient of " << e.name);
    REQUIRE(static_cast<Index>(ref.size()) == e.size);
    CHECK(test::relative_error(grads.data() + e.offset, ref.data(), ref.size()) <= tolerance);
  }
}

template <typename S>
void check_seams_against_torch(double tolerance) {
  GPT<S> model = load_model<S>(test::data("gpt2-tiny"));
  const SeamsReferenceBatch batch = seams_reference_batch();
  const Index N = batch.B * batch.T, V = model.config().vocab_size, C = model.config().n_embd;
  ForwardOptions<S> train;
  train.training = true;

  // SFT's loss: the first 7 targets of each row are a "prompt", left out of the mean.
  {
    std::vector<TokenId> masked = batch.targets;
    for (Index b = 0; b < batch.B; ++b) std::fill_n(masked.begin() + b * batch.T, 7, ignore_index);
    model.zero_grad();
    const double loss = loss_and_backward(model, Batch{batch.ids, masked, batch.B, batch.T}, LossOptions{1.0, nullptr, true});
    CHECK(std::abs(loss - golden("masked.loss")[0]) / golden("masked.loss")[0] <= tolerance);
    check_gradients(model.gradients(), "masked", 10 * tolerance);
  }
  // The hidden states, without the LM head, and a gradient R on them: d sum(R * hidden).
  {
    ForwardOptions<S> hidden_only = train;
    hidden_only.logits = false;
    CHECK(model.forward(batch.ids, batch.B, batch.T, hidden_only).size() == 0);
    const auto ref = golden("hidden");
    REQUIRE(model.hidden().rows() == N);
    REQUIRE(model.hidden().cols() == C);
    CHECK(test::relative_error(model.hidden().data(), ref.data(), ref.size()) <= tolerance);
    const auto R = golden("hidden.R");
    Matrix<S> dhidden = ConstMatrixMap<double>(R.data(), N, C).cast<S>();
    model.zero_grad();
    model.backward(Matrix<S>(), &dhidden);
    check_gradients(model.gradients(), "hidden", 10 * tolerance);
  }
  // log p(target) at every position, and the gradient of sum(W * logp).
  {
    const Tensor<S>& logits = model.forward(batch.ids, batch.B, batch.T, train);
    const std::vector<S> logp = token_log_probs<S>(logits.matrix(), batch.targets.data());
    const auto ref = golden("logp");
    CHECK(test::relative_error(logp.data(), ref.data(), ref.size()) <= tolerance);
    const auto W = golden("logp.W");
    const std::vector<S> dlogp(W.begin(), W.end());
    Matrix<S> dlogits(N, V);
    token_log_probs_backward<S>(dlogits, dlogp.data(), logits.matrix(), batch.targets.data());
    model.zero_grad();
    model.backward(dlogits);
    check_gradients(model.gradients(), "logp", 10 * tolerance);
  }
}

using Mat = Matrix<double>;

Mat random_matrix(Index rows, Index cols, Rng& rng, double scale = 1.0) {
  Mat m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = scale * rng.normal();
  return m;
}

double worst_gradient_error(double* x, const double* analytic, Index n, const std::function<double()>& loss) {
  double worst = 0;
  for (Index i = 0; i < n; ++i)
    worst = std::max(worst, test::gradient_disagreement(analytic[i], test::central_difference(x[i], loss)));
  return worst;
}

}  // namespace

TEST_CASE("seams: masked loss, hidden states and token log-probabilities equal PyTorch's (float)", "[seams][reference]") {
  check_seams_against_torch<float>(1e-5);
}

TEST_CASE("seams: masked loss, hidden states and token log-probabilities equal PyTorch's (double)",
          "[seams][reference]") {
  check_seams_against_torch<double>(1e-10);
}

TEST_CASE("masked cross-entropy: ignored rows add nothing, the mean is over the rest", "[seams][gradients]") {
  Rng rng(21);
  const Index N = 5, V = 4;
  Mat logits = random_matrix(N, V, rng, 2.0);
  const std::vector<TokenId> targets = {ignore_index, 2, ignore_index, 0, 3};
  auto loss = [&] { return cross_entropy<double>(logits, targets.data(), nullptr, true); };
  Mat dlogits(N, V);
  MatrixRef<double> dref(dlogits);
  const double l = cross_entropy<double>(logits, targets.data(), &dref, true);
  // By hand: the mean of −log p over rows 1, 3 and 4.
  double by_hand = 0;
  for (Index n : {1, 3, 4}) {
    const auto row = logits.row(n).array();
    by_hand += std::log(row.exp().sum()) - row(targets[static_cast<std::size_t>(n)]);
  }
  CHECK(l == Approx(by_hand / 3).epsilon(1e-14));
  CHECK(dlogits.row(0).isZero());
  CHECK(dlogits.row(2).isZero());
  CHECK(worst_gradient_error(logits.data(), dlogits.data(), logits.size(), loss) < 1e-6);
  // Without masked, −1 is an id out of range; with every target ignored there is nothing to learn.
  CHECK_THROWS_WITH(cross_entropy<double>(logits, targets.data()), Catch::Contains("token id -1"));
  const std::vector<TokenId> none(N, ignore_index);
  CHECK_THROWS_WITH(cross_entropy<double>(logits, none.data(), nullptr, true), Catch::Contains("nothing to learn"));
}

TEST_CASE("token log-probabilities, their backward and the entropy, from the logits directly", "[seams][gradients]") {
  Rng rng(22);
  const Index N = 4, V = 7;
  Mat logits = random_matrix(N, V, rng, 3.0);
  logits(1, 2) = 60.0;  // a confident row stays finite
  const std::vector<TokenId> targets = {0, 2, 6, 3};
  const std::vector<double> w = {0.5, -1.0, 2.0, 0.0};  // the last row's gradient is 0
  const std::vector<double> logp = token_log_probs<double>(logits, targets.data());
  const std::vector<double> entropy = token_entropy<double>(logits);
  for (Index n = 0; n < N; ++n) {
    // log softmax and −Σ p log p, computed the long way
    const Eigen::ArrayXd p = (logits.row(n).array() - logits.row(n).maxCoeff()).exp().transpose();
    const Eigen::ArrayXd probs = p / p.sum();
    CHECK(logp[static_cast<std::size_t>(n)] == Approx(std::log(probs(targets[static_cast<std::size_t>(n)]))).epsilon(1e-12));
    CHECK(entropy[static_cast<std::size_t>(n)] == Approx(-(probs * probs.log()).sum()).margin(1e-12));
  }
  auto loss = [&] {
    const std::vector<double> lp = token_log_probs<double>(logits, targets.data());
    double s = 0;
    for (std::size_t i = 0; i < lp.size(); ++i) s += w[i] * lp[i];
    return s;
  };
  Mat dlogits(N, V);
  token_log_probs_backward<double>(dlogits, w.data(), logits, targets.data());
  CHECK(worst_gradient_error(logits.data(), dlogits.data(), logits.size(), loss) < 1e-6);
  CHECK(dlogits.row(3).isZero());
  CHECK(std::abs(token_entropy<double>(Mat::Zero(1, V))[0] - std::log(double(V))) < 1e-12);  // uniform: log V
  CHECK_THROWS_WITH(token_log_probs<double>(logits, std::vector<TokenId>{0, 7, 0, 0}.data()), Catch::Contains("token id 7"));
}

TEST_CASE("a gradient on the hidden states flows through the whole model (finite differences)", "[seams][gradients]") {
  for (bool with_logits : {false, true}) {
    GPTConfig c = GPTConfig::make(2, 2, 8, 6, 11);
    GPT<double> model(c);
    Rng rng(23);
    for (Index i = 0; i < model.parameters().size(); ++i) model.parameters().data()[i] = 0.3 * rng.normal();
    const Index B = 2, T = 5, N = B * T;
    std::vector<TokenId> ids(N), targets(N);
    for (auto& i : ids) i = static_cast<TokenId>(rng.below(11));
    for (auto& i : targets) i = static_cast<TokenId>(rng.below(11));
    const Mat R = random_matrix(N, c.n_embd, rng);
    ForwardOptions<double> train;
    train.training = true;
    train.logits = with_logits;
    // L = Σ R ⊙ hidden (+ the mean cross-entropy when the logits are there too)
    auto loss = [&] {
      const Tensor<double>& logits = model.forward(ids, B, T, train);
      double l = (R.array() * model.hidden().array()).sum();
      if (with_logits) l += cross_entropy<double>(logits.matrix(), targets.data());
      return l;
    };
    const Tensor<double>& logits = model.forward(ids, B, T, train);
    Mat dlogits(with_logits ? N : 0, c.vocab_size);
    if (with_logits) {
      MatrixRef<double> dref(dlogits);
      cross_entropy<double>(logits.matrix(), targets.data(), &dref);
    }
    model.zero_grad();
    model.backward(dlogits, &R);
    const Parameters<double> g = model.gradients();
    INFO("with logits " << with_logits);
    CHECK(worst_gradient_error(model.parameters().data(), g.data(), model.parameters().size(), loss) < 1e-6);
    // A wrong shape is refused, naming it.
    const Mat wrong(N, c.n_embd + 1);
    model.forward(ids, B, T, train);
    CHECK_THROWS_WITH(model.backward(dlogits, &wrong), Catch::Contains("dhidden"));
  }
}

TEST_CASE("one set of weights serves several forward passes: the activations are the caller's", "[seams]") {
  const GPT<float> model = load_model<float>(test::data("gpt2-tiny"));
  const SeamsReferenceBatch batch = seams_reference_batch();
  const Index T = batch.T, V = model.config().vocab_size;
  // Each sequence on its own, with its own activations, from two threads at once.
  std::vector<GPTActivations<float>> acts(2);
  std::vector<Tensor<float>> apart(2);
  std::vector<std::thread> threads;
  for (Index b = 0; b < 2; ++b)
    threads.emplace_back([&, b] { apart[b] = model.forward(acts[b], batch.ids.data() + b * T, 1, T); });
  for (auto& t : threads) t.join();
  // Both at once, in a third set: the same logits, row for row (to float rounding: the
  // products are cut differently for one sequence and for two).
  GPTActivations<float> together;
  const Tensor<float>& both = model.forward(together, batch.ids, 2, T);
  for (Index b = 0; b < 2; ++b)
    CHECK(test::relative_error(apart[b].data(), both.data() + b * T * V, static_cast<std::size_t>(T * V)) < 1e-6);
  // The last position's hidden state alone is the last row of the full hidden states.
  ForwardOptions<float> last;
  last.last_position_only = true;
  model.forward(acts[0], batch.ids, 2, T, last);
  CHECK(acts[0].hidden.rows() == 2);
  CHECK((acts[0].hidden.row(1) - together.hidden.row(2 * T - 1)).cwiseAbs().maxCoeff() < 1e-5f);

  // A copy of a model is its weights: no activations or gradients come along.
  GPT<float> busy = load_model<float>(test::data("gpt2-tiny"));
  busy.forward(batch.ids, 2, T);
  busy.zero_grad();
  const GPT<float> copy = busy;
  CHECK(copy.activations().residual.empty());
  CHECK((copy.parameters().flat() == busy.parameters().flat()).all());
}
