// The PPO loop (ppo_trainer.hpp) on tiny models: the log-probabilities it uses against a
// plain forward pass and a hand-written log-softmax, the KL of a policy against itself, the
// value head's and the whole PPO loss's gradients against five-point finite differences in
// double, a reward that PPO measurably raises, what too small a β lets happen, and bad input.
#include <catch2/catch.hpp>
#include "common.hpp"
#include "ppo_toy.hpp"
#include <minigpt/gpt.hpp>
#include <minigpt/ppo.hpp>
#include <minigpt/ppo_trainer.hpp>
#include <minigpt/random.hpp>
#include <minigpt/training.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

using namespace minigpt;

namespace pt = ppo_toy;

TEST_CASE("PPO value head: the header's example, and its gradient against finite differences", "[ppo_trainer]") {
  ValueHead<double> head(2);
  head.w << 1, -1;
  head.b = 0.5;
  Matrix<double> h(1, 2);
  h << 2, 1;
  CHECK(head.forward(h)(0, 0) == 1.5);
  ValueHead<double> grads(2);
  Matrix<double> dv(1, 1);
  dv << 2;
  const Matrix<double> dh = head.backward(grads, dv, h);
  CHECK(dh(0, 0) == 2);
  CHECK(dh(0, 1) == -2);
  CHECK(grads.w(0) == 4);
  CHECK(grads.w(1) == 2);
  CHECK(grads.b == 2);

  // L = Σ_n u[n] v[n] for fixed random u: dv = u.
  Rng rng(11);
  ValueHead<double> head2(5);
  Matrix<double> hs(4, 5), u(4, 1);
  for (Index i = 0; i < head2.w.size(); ++i) head2.w(i) = rng.normal();
  head2.b = rng.normal();
  for (Index i = 0; i < hs.size(); ++i) hs.data()[i] = rng.normal();
  for (Index i = 0; i < u.size(); ++i) u.data()[i] = rng.normal();
  ValueHead<double> g(5);
  const Matrix<double> dhs = head2.backward(g, u, hs);
  auto loss = [&] { return (head2.forward(hs).array() * u.array()).sum(); };
  double worst = 0;
  for (Index i = 0; i < 5; ++i) worst = std::max(worst, test::gradient_disagreement(g.w(i), test::central_difference(head2.w(i), loss)));
  worst = std::max(worst, test::gradient_disagreement(g.b, test::central_difference(head2.b, loss)));
  for (Index i = 0; i < hs.size(); ++i)
    worst = std::max(worst, test::gradient_disagreement(dhs.data()[i], test::central_difference(hs.data()[i], loss)));
  CHECK(worst < 1e-8);
}

TEST_CASE("PPO log-probabilities: sampled, batched and one-sequence forward passes agree", "[ppo_trainer]") {
  GPT<double> model = pt::tiny_model<double>(1, 16, 5.0);
  Rng rng(2);
  const auto prompts = pt::toy_prompts(9, rng);
  std::vector<std::vector<double>> sampled;
  const auto answers = sample_answers(model, prompts, 10, pt::stop, rng, &sampled);
  const ResponseBatch batch = pack_responses(prompts, answers, model.config());
  GPTActivations<double> a;
  const ResponseNumbers<double> batched = response_numbers(model, a, batch);
  Index ended = 0, checked = 0;
  double worst_sampled = 0, worst_single = 0;
  for (std::size_t b = 0; b < prompts.size(); ++b) {
    ended += answers[b].back() == pt::stop;
    CHECK(std::count(answers[b].begin(), answers[b].end(), pt::stop) <= 1);  // nothing after the stop token
    // One sequence alone, its log-softmax written out here.
    std::vector<TokenId> seq = prompts[b];
    seq.insert(seq.end(), answers[b].begin(), answers[b].end());
    GPT<double> single = model;
    const Tensor<double>& logits = single.forward(seq, 1, static_cast<Index>(seq.size()));
    const Index P = static_cast<Index>(prompts[b].size());
    REQUIRE(sampled[b].size() == answers[b].size());
    for (std::size_t t = 0; t < answers[b].size(); ++t) {
      const auto row = logits.matrix().row(P + static_cast<Index>(t) - 1).array();
      const double lse = std::log((row - row.maxCoeff()).exp().sum()) + row.maxCoeff();
      const double reference = row(answers[b][t]) - lse;
      const double got = batched.logprobs(static_cast<Index>(b), static_cast<Index>(t));
      worst_single = std::max(worst_single, std::abs(got - reference));
      worst_sampled = std::max(worst_sampled, std::abs(sampled[b][t] - reference));
      ++checked;
    }
    for (Index t = static_cast<Index>(answers[b].size()); t < batch.T; ++t)
      CHECK(batched.logprobs(static_cast<Index>(b), t) == 0);  // padding
  }
  INFO(checked << " tokens, " << ended << " of 9 answers ended");
  CHECK(checked > 20);
  CHECK(ended > 0);
  CHECK(worst_single < 1e-12);
  CHECK(worst_sampled < 1e-12);
}

TEST_CASE("PPO: the KL of the policy against itself is exactly 0, with k1 and k3", "[ppo_trainer]") {
  GPT<float> policy = pt::tiny_model<float>(3, 16, 10.0);
  Rng rng(4);
  for (KLEstimator est : {KLEstimator::k1, KLEstimator::k3}) {
    PPOOptions o = pt::toy_options();
    o.config.kl_estimator = est;
    PPOTrainer<float> trainer(policy, policy, pt::liked_share, {}, pt::toy_prompts(10, rng), o);
    const PPORollouts<float> r = trainer.rollouts();
    CHECK(r.rewards.kl.cwiseAbs().maxCoeff() == 0.0f);
    CHECK(r.rewards.non_score_rewards.cwiseAbs().maxCoeff() == 0.0f);
    CHECK((r.logprobs - r.ref_logprobs).cwiseAbs().maxCoeff() == 0.0f);
    CHECK(r.logprobs.minCoeff() < -0.1f);  // real log-probabilities, not a zero matrix
  }
  // ... and the first step reports it: KL 0, the first minibatch's ratio 1.
  PPOTrainer<float> trainer(policy, policy, pt::liked_share, {}, pt::toy_prompts(10, rng), pt::toy_options());
  const PPOStepStats s = trainer.step();
  CHECK(s.mean_kl == 0.0);
  CHECK(s.mean_reward == s.mean_score);
}

TEST_CASE("PPO loss: the whole gradient (policy, shared trunk, value head) against finite differences", "[ppo_trainer]") {
  GPT<double> policy = pt::tiny_model<double>(7, 16, 4.0);
  Rng rng(8);
  const auto prompts = pt::toy_prompts(6, rng);
  const auto answers = sample_answers(policy, prompts, 5, pt::stop, rng);
  const ResponseBatch batch = pack_responses(prompts, answers, policy.config());
  ValueHead<double> head(policy.config().n_embd);
  for (Index i = 0; i < head.w.size(); ++i) head.w(i) = 0.5 * rng.normal();
  head.b = 0.1;
  GPTActivations<double> a;
  const ResponseNumbers<double> now = response_numbers(policy, a, batch, &head);
  // Old numbers off the current ones, so that ratios leave [0.8, 1.2] and values leave their
  // clip range at some tokens; never near the edge of a range, where the loss has a kink
  // that a finite difference would straddle: the log-ratio is ±0.05 (inside) or ±0.5
  // (outside), the value ±0.05 or ±0.5 from its old one (ε_v = 0.2). Random advantages and
  // returns.
  PPOTargets<double> t;
  const Matrix<double> mask = response_mask<double>(batch.lengths, batch.T);
  auto noise = [&](double scale) {
    Matrix<double> m(batch.B, batch.T);
    for (Index i = 0; i < m.size(); ++i) m.data()[i] = scale * rng.normal();
    return m;
  };
  auto offsets = [&]() {
    Matrix<double> m(batch.B, batch.T);
    const double choices[] = {-0.5, -0.05, 0.05, 0.5};
    for (Index i = 0; i < m.size(); ++i) m.data()[i] = choices[rng.below(4)];
    return m;
  };
  t.old_logprobs = ((now.logprobs + offsets()).array() * mask.array()).matrix();
  t.old_values = ((now.values + offsets()).array() * mask.array()).matrix();
  t.advantages = (noise(1.0).array() * mask.array()).matrix();
  t.returns = ((now.values + noise(1.0)).array() * mask.array()).matrix();
  PPOConfig config;
  config.vf_coef = 0.5;  // the value loss's share large enough to see in the trunk's gradient

  Parameters<double> grads(policy.config());
  ValueHead<double> head_grads(policy.config().n_embd);
  const PPOLossResult<double> r = ppo_loss_and_backward(policy, a, head, batch, t, config, &grads, &head_grads);
  INFO("clip fraction " << r.clipfrac << ", value clip fraction " << r.vf_clipfrac);
  CHECK(r.clipfrac > 0.05);  // both kinds of token present: clipped and not
  CHECK(r.clipfrac < 0.95);
  CHECK(r.vf_clipfrac > 0.0);
  CHECK(r.loss == Approx(r.pg_loss + 0.5 * r.vf_loss).epsilon(1e-14));

  auto loss = [&] {
    GPTActivations<double> fa;
    return ppo_loss_and_backward(policy, fa, head, batch, t, config).loss;
  };
  double worst = 0;
  Index nonzero = 0;
  std::string where;
  auto compare = [&](double analytic, double numeric, const std::string& name) {
    const double d = test::gradient_disagreement(analytic, numeric);
    if (d > worst) where = name + ": analytic " + std::to_string(analytic) + ", numeric " + std::to_string(numeric);
    worst = std::max(worst, d);
    nonzero += std::abs(numeric) > 1e-6;
  };
  // Every tensor of the table, at a few places, and every number of the head.
  for (const TensorInfo& e : policy.parameters().table().entries())
    for (Index k = 0; k < 3; ++k) {
      const Index i = e.offset + static_cast<Index>(rng.below(static_cast<std::uint64_t>(e.size)));
      compare(grads.data()[i], test::central_difference(policy.parameters().data()[i], loss), e.name);
    }
  for (Index i = 0; i < head.w.size(); ++i) compare(head_grads.w(i), test::central_difference(head.w(i), loss), "head.w");
  compare(head_grads.b, test::central_difference(head.b, loss), "head.b");
  INFO("worst disagreement " << worst << " at " << where << ", " << nonzero << " non-zero numeric derivatives");
  CHECK(nonzero > 20);
  CHECK(worst < 1e-6);

  // The value head's path into the trunk alone: with vf_coef 0 the trunk's gradient changes.
  PPOConfig no_value = config;
  no_value.vf_coef = 0;
  Parameters<double> g0(policy.config());
  ValueHead<double> hg0(policy.config().n_embd);
  ppo_loss_and_backward(policy, a, head, batch, t, no_value, &g0, &hg0);
  CHECK(hg0.w.cwiseAbs().maxCoeff() == 0.0);
  CHECK((g0.flat() - grads.flat()).abs().maxCoeff() > 1e-6);
}

TEST_CASE("PPO at a temperature: every log-probability is of softmax(logits / T), and the gradient follows", "[ppo_trainer]") {
  // TRL's `temperature`: rollouts drawn from softmax(logits / T), and the policy's and the
  // reference's log-probabilities and entropies read from that distribution.
  const double T = 0.6;
  GPT<double> model = pt::tiny_model<double>(31, 16, 5.0);
  Rng rng(32);
  const auto prompts = pt::toy_prompts(8, rng);
  std::vector<std::vector<double>> sampled;
  const auto answers = sample_answers(model, prompts, 8, pt::stop, rng, &sampled, T);
  const ResponseBatch batch = pack_responses(prompts, answers, model.config());
  GPTActivations<double> a;
  const ResponseNumbers<double> at_t = response_numbers<double>(model, a, batch, nullptr, false, true, T);
  const ResponseNumbers<double> at_1 = response_numbers<double>(model, a, batch, nullptr, false, true);
  double worst = 0, entropy_t = 0, entropy_1 = 0;
  Index checked = 0;
  for (std::size_t b = 0; b < prompts.size(); ++b) {
    std::vector<TokenId> seq = prompts[b];
    seq.insert(seq.end(), answers[b].begin(), answers[b].end());
    GPT<double> single = model;
    const Tensor<double>& logits = single.forward(seq, 1, static_cast<Index>(seq.size()));
    const Index P = static_cast<Index>(prompts[b].size());
    for (std::size_t t = 0; t < answers[b].size(); ++t) {
      const Eigen::ArrayXd z = logits.matrix().row(P + static_cast<Index>(t) - 1).transpose().array() / T;
      const Eigen::ArrayXd logp = z - (std::log((z - z.maxCoeff()).exp().sum()) + z.maxCoeff());
      const auto bi = static_cast<Index>(b), ti = static_cast<Index>(t);
      worst = std::max({worst, std::abs(at_t.logprobs(bi, ti) - logp(answers[b][t])),
                        std::abs(sampled[b][t] - logp(answers[b][t])),
                        std::abs(at_t.entropy(bi, ti) + (logp.exp() * logp).sum())});
      entropy_t += at_t.entropy(bi, ti), entropy_1 += at_1.entropy(bi, ti);
      ++checked;
    }
  }
  CHECK(checked > 20);
  CHECK(worst < 1e-12);
  CHECK(entropy_t < entropy_1);  // a sharper distribution

  // The clipped surrogate's gradient at T against finite differences (policy only: vf_coef 0).
  PPOConfig config;
  config.temperature = T;
  config.vf_coef = 0;
  ValueHead<double> head(model.config().n_embd);
  PPOTargets<double> targets;
  const Matrix<double> mask = response_mask<double>(batch.lengths, batch.T);
  targets.old_logprobs = at_t.logprobs;
  targets.advantages = Matrix<double>(batch.B, batch.T);
  for (Index i = 0; i < targets.advantages.size(); ++i) {
    targets.old_logprobs.data()[i] += rng.below(2) ? 0.05 : -0.05;  // inside the clip range
    targets.advantages.data()[i] = rng.normal();
  }
  targets.old_logprobs = (targets.old_logprobs.array() * mask.array()).matrix();
  targets.advantages = (targets.advantages.array() * mask.array()).matrix();
  targets.old_values = targets.returns = Matrix<double>::Zero(batch.B, batch.T);
  Parameters<double> grads(model.config());
  ValueHead<double> head_grads(model.config().n_embd);
  ppo_loss_and_backward(model, a, head, batch, targets, config, &grads, &head_grads);
  auto loss = [&] {
    GPTActivations<double> fa;
    return ppo_loss_and_backward(model, fa, head, batch, targets, config).loss;
  };
  double worst_grad = 0;
  Index nonzero = 0;
  for (const TensorInfo& e : model.parameters().table().entries())
    for (Index k = 0; k < 2; ++k) {
      const Index i = e.offset + static_cast<Index>(rng.below(static_cast<std::uint64_t>(e.size)));
      const double numeric = test::central_difference(model.parameters().data()[i], loss);
      worst_grad = std::max(worst_grad, test::gradient_disagreement(grads.data()[i], numeric));
      nonzero += std::abs(numeric) > 1e-6;
    }
  CHECK(nonzero > 10);
  CHECK(worst_grad < 1e-6);

  // The trainer at T: the policy against itself has KL exactly 0, and its numbers are at T.
  GPT<float> policy = pt::tiny_model<float>(33, 16, 5.0);
  PPOOptions o = pt::toy_options();
  o.config.temperature = 0.7;
  PPOTrainer<float> trainer(policy, policy, pt::liked_share, {}, pt::toy_prompts(10, rng), o);
  const PPORollouts<float> r = trainer.rollouts();
  CHECK(r.rewards.kl.cwiseAbs().maxCoeff() == 0.0f);
  GPTActivations<float> fa;
  const ResponseNumbers<float> again = response_numbers<float>(policy, fa, r.batch, nullptr, false, false, 0.7);
  CHECK((again.logprobs - r.logprobs).cwiseAbs().maxCoeff() < 1e-5f);
  o.config.temperature = 0;
  CHECK_THROWS_WITH(PPOTrainer<float>(policy, policy, pt::liked_share, {}, pt::toy_prompts(10, rng), o),
                    Catch::Contains("temperature"));
}

TEST_CASE("PPO skips a batch whose scores are all equal only when told to", "[ppo_trainer]") {
  Rng rng(41);
  const auto prompts = pt::toy_prompts(10, rng);
  const RewardFunction constant = [](const std::vector<TokenId>&, const std::vector<TokenId>&) { return 0.5; };
  const GPT<float> sft = pt::tiny_model<float>(42, 16, 5.0);
  auto weights_moved = [&](const GPT<float>& policy) {
    return (policy.parameters().flat() - sft.parameters().flat()).abs().maxCoeff() > 0.0f;
  };
  // One score for every answer: with the option, no step updates and each says so.
  PPOOptions o = pt::toy_options();
  o.steps = 3;
  o.skip_equal_scores = true;
  GPT<float> skipping = sft;
  const PPOHistory h = run_ppo(skipping, sft, constant, {}, prompts, o);
  REQUIRE(h.steps.size() == 3);
  for (const PPOStepStats& st : h.steps) {
    CHECK(st.skipped);
    CHECK(st.mean_score == Approx(0.5));
    CHECK(st.clipfrac == 0.0);
  }
  CHECK_FALSE(weights_moved(skipping));
  CHECK(h.to_json()["steps"][0]["skipped"].get<double>() == 1.0);
  // Without it (TRL's way) the same batches still move the policy: whitened noise.
  o.skip_equal_scores = false;
  GPT<float> updating = sft;
  const PPOHistory h2 = run_ppo(updating, sft, constant, {}, prompts, o);
  CHECK_FALSE(h2.steps[0].skipped);
  CHECK(weights_moved(updating));
  // Scores that differ are never skipped.
  o.skip_equal_scores = true;
  GPT<float> learning = sft;
  const PPOHistory h3 = run_ppo(learning, sft, pt::liked_share, {}, prompts, o);
  for (const PPOStepStats& st : h3.steps) CHECK_FALSE(st.skipped);
  CHECK(weights_moved(learning));
}

TEST_CASE("PPO raises a simple reward within a few steps while the KL stays bounded", "[ppo_trainer]") {
  GPT<float> sft = pt::tiny_model<float>(21);
  GPT<float> policy = sft;
  Rng rng(22);
  const auto prompts = pt::toy_prompts(32, rng);
  PPOOptions o = pt::toy_options();
  o.steps = 30;
  Index gold_calls = 0;
  auto gold = [&](const std::vector<TokenId>&, const std::vector<TokenId>& answer) {
    ++gold_calls;
    return answer.back() == pt::stop ? 1.0 : 0.0;
  };
  const PPOHistory h = run_ppo(policy, sft, pt::liked_share, gold, prompts, o);
  REQUIRE(h.steps.size() == 30);
  CHECK(gold_calls == 30 * o.batch_size);
  auto mean = [&](Index from, Index to, double PPOStepStats::*field) {
    double s = 0;
    for (Index i = from; i < to; ++i) s += h.steps[static_cast<std::size_t>(i)].*field;
    return s / static_cast<double>(to - from);
  };
  const double first = mean(0, 3, &PPOStepStats::mean_score), last = mean(27, 30, &PPOStepStats::mean_score);
  const double kl_last = mean(27, 30, &PPOStepStats::mean_kl);
  INFO("score " << first << " -> " << last << ", KL " << kl_last << ", entropy " << h.steps.front().entropy << " -> "
                << h.steps.back().entropy);
  CHECK(first < 0.25);        // about 1/8 for a near-uniform model
  CHECK(last > first + 0.25); // PPO found the liked token
  CHECK(kl_last > 0.05);      // the policy moved ...
  CHECK(kl_last < 6.0);       // ... on a leash
  CHECK(h.steps.back().entropy < h.steps.front().entropy);
  for (const PPOStepStats& s : h.steps) {
    CHECK(s.mean_gold == Approx(s.ended_share).margin(1e-12));  // the gold hook saw the same answers
    CHECK(s.kl_coef == 0.05);                                    // fixed β
    CHECK(s.clipfrac >= 0.0);
    CHECK(s.clipfrac <= 1.0);
  }
  const nlohmann::json j = h.to_json();
  CHECK(j["adaptive_kl"] == false);
  CHECK(j["steps"].size() == 30);
  CHECK(j["steps"][29]["mean_kl"].get<double>() == h.steps[29].mean_kl);
}

TEST_CASE("PPO with too small a beta: the reward rises as far, the KL much further", "[ppo_trainer]") {
  GPT<float> sft = pt::tiny_model<float>(31);
  Rng rng(32);
  const auto prompts = pt::toy_prompts(32, rng);
  auto run = [&](double beta) {
    GPT<float> policy = sft;
    PPOOptions o = pt::toy_options();
    o.steps = 30;
    o.config.kl_coef = beta;
    const PPOHistory h = run_ppo(policy, sft, pt::liked_share, {}, prompts, o);
    double score = 0, kl = 0;
    for (std::size_t i = 25; i < 30; ++i) {
      score += h.steps[i].mean_score / 5;
      kl += h.steps[i].mean_kl / 5;
    }
    return std::make_pair(score, kl);
  };
  const auto [score_small, kl_small] = run(0.001);
  const auto [score_big, kl_big] = run(0.5);
  INFO("beta 0.001: score " << score_small << ", KL " << kl_small << "; beta 0.5: score " << score_big << ", KL " << kl_big);
  CHECK(kl_small > 2 * kl_big);
  CHECK(score_small > score_big);
}

TEST_CASE("PPO adaptive beta: above the target KL, beta grows", "[ppo_trainer]") {
  GPT<float> sft = pt::tiny_model<float>(41);
  GPT<float> policy = sft;
  Rng rng(42);
  PPOOptions o = pt::toy_options();
  o.steps = 8;
  o.config.adaptive_kl = true;
  o.config.kl_target = 0.01;  // nats per answer: the policy soon goes past it
  o.config.kl_horizon = 100;
  const PPOHistory h = run_ppo(policy, sft, pt::liked_share, {}, pt::toy_prompts(16, rng), o);
  CHECK(h.adaptive_kl);
  CHECK(h.steps.front().kl_coef == 0.05);
  CHECK(h.steps.back().kl_coef > 0.05);
}

TEST_CASE("PPO with leave-one-out advantages: K answers to a prompt in a row, no value head, the reward rises", "[ppo_trainer]") {
  GPT<float> sft = pt::tiny_model<float>(21);
  GPT<float> policy = sft;
  Rng rng(22);
  const auto prompts = pt::toy_prompts(32, rng);
  PPOOptions o = pt::toy_options();
  o.steps = 30;
  o.config.advantage = AdvantageEstimator::leave_one_out;
  o.config.samples_per_prompt = 4;
  PPOTrainer<float> trainer(policy, sft, pt::liked_share, {}, prompts, o);
  REQUIRE(trainer.samples_per_prompt() == 4);
  const PPORollouts<float> r = trainer.rollouts();
  REQUIRE(r.batch.B == 16);
  for (Index b = 0; b < r.batch.B; ++b) {
    const auto bi = static_cast<std::size_t>(b);
    CHECK(r.prompts[bi] == r.prompts[static_cast<std::size_t>(b / 4 * 4)]);  // groups of 4 in a row
    const Index L = r.batch.lengths[bi];
    CHECK(r.advantages.advantages.row(b).head(L).maxCoeff() == r.advantages.advantages(b, 0));  // one advantage an answer
    CHECK(r.advantages.advantages.row(b).head(L).minCoeff() == r.advantages.advantages(b, 0));
  }
  CHECK(r.prompts[0] != r.prompts[4]);
  while (!trainer.done()) trainer.step();
  const PPOHistory& h = trainer.history();
  auto mean = [&](std::size_t from, std::size_t to) {
    double s = 0;
    for (std::size_t i = from; i < to; ++i) s += h.steps[i].mean_score / static_cast<double>(to - from);
    return s;
  };
  INFO("score " << mean(0, 3) << " -> " << mean(27, 30));
  CHECK(mean(0, 3) < 0.25);
  CHECK(mean(27, 30) > mean(0, 3) + 0.25);
  CHECK(trainer.value_head().w.cwiseAbs().maxCoeff() == 0.0);  // no value head was trained
  for (const PPOStepStats& s : h.steps) CHECK(s.value_loss == 0.0);

  PPOOptions bad = o;
  bad.config.samples_per_prompt = 3;  // 16 rollouts do not split into groups of 3
  CHECK_THROWS_WITH((PPOTrainer<float>(policy, sft, pt::liked_share, {}, prompts, bad)),
                    Catch::Contains("multiple of samples_per_prompt"));
}

TEST_CASE("PPO-ptx: the demonstrations' loss pulls the policy toward them, and without it nothing moves", "[ppo_trainer]") {
  GPT<float> sft = pt::tiny_model<float>(71);
  Rng rng(72);
  const auto prompts = pt::toy_prompts(16, rng);
  // Demonstrations: prompts answered "3 3 stop"; the prompt's targets masked out.
  Batch demo;
  demo.B = 4;
  demo.T = 6;
  for (Index b = 0; b < demo.B; ++b) {
    const std::vector<TokenId> seq{1, static_cast<TokenId>(b), 2, pt::liked, pt::liked, pt::stop, 0};
    for (Index t = 0; t < demo.T; ++t) {
      demo.inputs.push_back(seq[static_cast<std::size_t>(t)]);
      demo.targets.push_back(t >= 2 ? seq[static_cast<std::size_t>(t + 1)] : ignore_index);
    }
  }
  demo.targets[static_cast<std::size_t>(demo.T - 1)] = ignore_index;  // padding at the end of row 0
  // A reward that is the same for every answer, beta 0 and leave-one-out advantages: every
  // advantage is 0, and so is PPO's own gradient.
  auto flat = [](const std::vector<TokenId>&, const std::vector<TokenId>&) { return 0.5; };
  PPOOptions o = pt::toy_options();
  o.steps = 10;
  o.config.kl_coef = 0;
  o.config.advantage = AdvantageEstimator::leave_one_out;
  auto run = [&](double ptx) {
    GPT<float> policy = sft;
    PPOOptions p = o;
    p.ptx_coef = ptx;
    const PPOHistory h = run_ppo(policy, sft, flat, {}, prompts, p, {}, ptx > 0 ? std::vector<Batch>{demo} : std::vector<Batch>{});
    return std::make_pair(h, policy);
  };
  const auto [h0, p0] = run(0.0);
  CHECK((p0.parameters().flat() - sft.parameters().flat()).abs().maxCoeff() == 0.0);  // nothing to learn
  CHECK(std::isnan(h0.steps.back().ptx_loss));
  CHECK(h0.to_json()["steps"][0]["ptx_loss"].is_null());
  const auto [h1, p1] = run(1.0);
  INFO("demonstrations' loss " << h1.steps.front().ptx_loss << " -> " << h1.steps.back().ptx_loss);
  CHECK(h1.steps.back().ptx_loss < 0.5 * h1.steps.front().ptx_loss);
  // The first step's first update saw the SFT model itself: its loss is the demonstrations' loss.
  GPT<float> fresh = sft;
  LossOptions masked;
  masked.masked = true;
  GPTActivations<float> a;
  Parameters<float> g(sft.config());
  const double ce = loss_and_backward(static_cast<const GPT<float>&>(fresh), a, g, demo.view(), masked);
  CHECK(h1.steps.front().ptx_loss < ce);  // the mean over the step's updates, each after the last
  CHECK(h1.steps.front().ptx_loss > 0.5 * ce);

  GPT<float> policy = sft;
  PPOOptions p = o;
  p.ptx_coef = 1.0;
  PPOTrainer<float> t(policy, sft, flat, {}, prompts, p);
  CHECK_THROWS_WITH(t.step(), Catch::Contains("no demonstrations were mixed in"));
  Batch wrong = demo;
  wrong.inputs.pop_back();
  CHECK_THROWS_WITH(t.mix_in({wrong}), Catch::Contains("demonstration batch 0"));
  Batch big = demo;
  big.inputs[0] = 99;
  CHECK_THROWS_WITH(t.mix_in({big}), Catch::Contains("token id 99"));
  p.ptx_coef = -1;
  CHECK_THROWS_WITH((PPOTrainer<float>(policy, sft, flat, {}, prompts, p)), Catch::Contains("ptx_coef"));
}

TEST_CASE("PPO bad input: clear errors", "[ppo_trainer][bad_input]") {
  GPT<float> model = pt::tiny_model<float>(51, 8);
  const std::vector<std::vector<TokenId>> ok{{1, 2}, {3}};
  PPOOptions o = pt::toy_options();  // max_new_tokens 6 in a block of 8
  auto make = [&](const std::vector<std::vector<TokenId>>& prompts, const PPOOptions& opt) {
    PPOTrainer<float> t(model, model, pt::liked_share, {}, prompts, opt);
  };
  CHECK_NOTHROW(make(ok, o));
  CHECK_THROWS_WITH(make({{1, 2}, {1, 2, 3}}, o), Catch::Contains("prompt 1 has 3 tokens") &&
                                                       Catch::Contains("past the block size of 8"));
  CHECK_THROWS_WITH(make({{1}, {}}, o), Catch::Contains("prompt 1 is empty"));
  CHECK_THROWS_WITH(make({{1, 9}}, o), Catch::Contains("token id 9") && Catch::Contains("prompt 0"));
  CHECK_THROWS_WITH(make({}, o), Catch::Contains("no prompts"));
  PPOOptions no_stop = o;
  no_stop.stop_token = -1;
  CHECK_THROWS_WITH(make(ok, no_stop), Catch::Contains("stop_token"));
  PPOOptions bad_mb = o;
  bad_mb.mini_batch_size = 5;
  CHECK_THROWS_WITH(make(ok, bad_mb), Catch::Contains("must divide batch_size"));
  PPOOptions bad_clip = o;
  bad_clip.config.cliprange = 0;
  CHECK_THROWS_WITH(make(ok, bad_clip), Catch::Contains("cliprange"));
  GPT<float> other(GPTConfig::make(1, 2, 8, 8, 9));
  CHECK_THROWS_WITH((PPOTrainer<float>(model, other, pt::liked_share, {}, ok, o)), Catch::Contains("same configuration"));
  CHECK_THROWS_WITH((PPOTrainer<float>(model, model, {}, {}, ok, o)), Catch::Contains("reward function is required"));

  auto nan_reward = [](const std::vector<TokenId>&, const std::vector<TokenId>&) { return std::nan(""); };
  PPOTrainer<float> t(model, model, nan_reward, {}, ok, o);
  CHECK_THROWS_WITH(t.step(), Catch::Contains("reward function gave nan for rollout 0"));

  Rng rng(1);
  CHECK_THROWS_WITH(sample_answers(model, {{1, 2, 3}}, 6, pt::stop, rng), Catch::Contains("past the block size"));
  CHECK_THROWS_WITH(pack_responses({{1, 2, 3}}, {{1, 2, 3, 4, 5, 6}}, model.config()),
                    Catch::Contains("past the block size of 8"));
  CHECK_THROWS_WITH(pack_responses({{1}}, {{}}, model.config()), Catch::Contains("empty answer"));
}

TEST_CASE("PPO: the same seed gives the same run, and a missing stop token can cost a penalty", "[ppo_trainer]") {
  GPT<float> sft = pt::tiny_model<float>(61);
  Rng rng(62);
  const auto prompts = pt::toy_prompts(16, rng);
  PPOOptions o = pt::toy_options();
  o.steps = 3;
  auto run = [&] {
    GPT<float> policy = sft;
    return run_ppo(policy, sft, pt::liked_share, {}, prompts, o).to_json();
  };
  nlohmann::json a = run(), b = run();
  for (auto* j : {&a, &b})
    for (auto& s : (*j)["steps"]) s.erase("seconds");  // wall time is the one thing that differs
  CHECK(a == b);
  CHECK(std::isnan(PPOStepStats{}.mean_gold));
  CHECK(a["steps"][0]["mean_gold"].is_null());  // no gold function: null, not a number

  PPOOptions p = pt::toy_options();
  p.missing_eos_penalty = 2.0;
  GPT<float> policy = sft;
  PPOTrainer<float> trainer(policy, sft, pt::liked_share, {}, prompts, p);
  const PPORollouts<float> r = trainer.rollouts();
  Index ended = 0;
  for (Index i = 0; i < r.batch.B; ++i) {
    const auto ii = static_cast<std::size_t>(i);
    const bool end = r.answers[ii].back() == pt::stop;
    ended += end;
    CHECK(r.cut.ended[ii] == end);
    CHECK(r.scores(i) == Approx(pt::liked_share(r.prompts[ii], r.answers[ii]) - (end ? 0.0 : 2.0)));
  }
  INFO(ended << " of " << r.batch.B << " answers ended");
  CHECK(ended > 0);
  CHECK(ended < r.batch.B);
}
