// The recipe's loss arithmetic (reward_model.hpp, ppo.hpp) against the headers' worked
// examples, five-point finite differences in double, a GAE written as the direct sum of its
// definition, and the whitening's own promise (mean 0, variance 1 over the mask).
#include <catch2/catch.hpp>
#include "common.hpp"
#include <minigpt/ppo.hpp>
#include <minigpt/random.hpp>
#include <minigpt/reward_model.hpp>

#include <cmath>
#include <vector>

using namespace minigpt;

namespace rlhf_math_test {

RowVector<double> row(std::initializer_list<double> v) {
  RowVector<double> r(static_cast<Index>(v.size()));
  Index i = 0;
  for (double x : v) r(i++) = x;
  return r;
}

Matrix<double> random_matrix(Index B, Index T, Rng& rng, double scale, double shift = 0) {
  Matrix<double> m(B, T);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = shift + scale * rng.normal();
  return m;
}

// The worst gradient_disagreement between an analytic gradient and central differences of f,
// over the entries of x that `where` selects.
template <typename F, typename W>
double worst_disagreement(Matrix<double>& x, const Matrix<double>& analytic, F&& f, W&& where) {
  double worst = 0;
  for (Index b = 0; b < x.rows(); ++b)
    for (Index t = 0; t < x.cols(); ++t) {
      if (!where(b, t)) continue;
      const double numeric = test::central_difference(x(b, t), f);
      worst = std::max(worst, test::gradient_disagreement(analytic(b, t), numeric));
    }
  return worst;
}

}  // namespace rlhf_math_test

namespace rm = rlhf_math_test;

TEST_CASE("Bradley-Terry loss: the header's example, and its gradient against finite differences", "[rlhf][reward]") {
  const RowVector<double> rc = rm::row({2, 0}), rr = rm::row({0, 1});
  CHECK(bradley_terry_loss(rc, rr) == Approx((std::log1p(std::exp(-2.0)) + std::log1p(std::exp(1.0))) / 2).epsilon(1e-14));
  CHECK(bradley_terry_loss(rc, rr) == Approx(0.7201).margin(5e-5));
  CHECK(pairwise_accuracy(rc, rr) == 0.5);
  CHECK(reward_margin(rc, rr) == Approx(0.5));
  RowVector<double> dc, dr;
  bradley_terry_loss_backward(dc, dr, rc, rr);
  CHECK(dc(0) == Approx(-0.0596).margin(5e-5));
  CHECK(dc(1) == Approx(-0.3655).margin(5e-5));
  CHECK(dr(0) == Approx(-dc(0)));

  Rng rng(3);
  for (double center : {0.0, 0.05}) {
    BradleyTerryOptions opt;
    opt.center_rewards_coefficient = center;
    RowVector<double> c(6), r(6);
    for (Index i = 0; i < 6; ++i) {
      c(i) = 2 * rng.normal();
      r(i) = 2 * rng.normal();
    }
    const double upstream = 0.7;
    bradley_terry_loss_backward(dc, dr, c, r, opt, upstream);
    double worst = 0;
    for (Index i = 0; i < 6; ++i) {
      auto f = [&] { return upstream * bradley_terry_loss(c, r, opt); };
      worst = std::max(worst, test::gradient_disagreement(dc(i), test::central_difference(c(i), f)));
      worst = std::max(worst, test::gradient_disagreement(dr(i), test::central_difference(r(i), f)));
    }
    INFO("center " << center << ": worst disagreement " << worst);
    CHECK(worst < 1e-8);
  }
}

TEST_CASE("Bradley-Terry loss stays finite far from 0, and a tie is not a right answer", "[rlhf][reward]") {
  // −log σ(800) ≈ e^−800 (0 in double); −log σ(−800) = 800 + log(1 + e^−800) = 800.
  CHECK(bradley_terry_loss(rm::row({800}), rm::row({0})) == Approx(0).margin(1e-300));
  CHECK(bradley_terry_loss(rm::row({-800}), rm::row({0})) == Approx(800).epsilon(1e-15));
  RowVector<double> dc, dr;
  bradley_terry_loss_backward(dc, dr, rm::row({-800}), rm::row({0}));
  CHECK(dc(0) == -1.0);  // σ(−800) − 1
  CHECK(dr(0) == 1.0);
  CHECK(pairwise_accuracy(rm::row({1, 1, 2}), rm::row({1, 0, 3})) == Approx(1.0 / 3));
  CHECK_THROWS_AS(bradley_terry_loss(rm::row({1, 2}), rm::row({1})), ArgumentError);
  CHECK_THROWS_AS(bradley_terry_loss(RowVector<double>(), RowVector<double>()), ArgumentError);
}

TEST_CASE("PPO: the header's worked example, step by step", "[rlhf][ppo]") {
  const std::vector<Index> L{2};
  Matrix<double> logp(1, 2), ref(1, 2), values(1, 2), new_logp(1, 2), vpred(1, 2);
  logp << -1, -2;
  ref << -1.5, -1.5;
  values << 0.5, 0.8;
  new_logp << -0.9, -2.5;
  vpred << 0.9, 0.7;
  const ShapedRewards<double> s = kl_penalty_rewards(rm::row({1}), logp, ref, L, 0.1);
  CHECK(s.kl(0, 0) == Approx(0.5));
  CHECK(s.kl(0, 1) == Approx(-0.5));
  CHECK(s.rewards(0, 0) == Approx(-0.05));
  CHECK(s.rewards(0, 1) == Approx(1.05));
  const Advantages<double> raw = gae_advantages(s.rewards, values, L, 1.0, 0.95, false);
  CHECK(raw.advantages(0, 0) == Approx(0.4875));
  CHECK(raw.advantages(0, 1) == Approx(0.25));
  CHECK(raw.returns(0, 0) == Approx(0.9875));
  CHECK(raw.returns(0, 1) == Approx(1.05));
  const Advantages<double> a = gae_advantages(s.rewards, values, L, 1.0, 0.95);
  CHECK(a.advantages(0, 0) == Approx(0.7071).margin(1e-4));
  CHECK(a.advantages(0, 1) == Approx(-0.7071).margin(1e-4));
  const PolicyLoss<double> pg = policy_loss(new_logp, logp, a.advantages, L, 0.2);
  CHECK(pg.loss == Approx(-0.1079).margin(1e-4));
  CHECK(pg.clipfrac == 0.5);
  Matrix<double> d;
  policy_loss_backward(d, new_logp, logp, a.advantages, L, 0.2);
  CHECK(d(0, 0) == Approx(-0.3907).margin(1e-4));
  CHECK(d(0, 1) == 0.0);
  const ValueLoss<double> vf = value_loss(vpred, values, a.returns, L, 0.2);
  CHECK(vf.loss == Approx(0.0513).margin(1e-4));
  CHECK(vf.clipfrac == 0.5);
  value_loss_backward(d, vpred, values, a.returns, L, 0.2);
  CHECK(d(0, 0) == 0.0);
  CHECK(d(0, 1) == Approx(-0.175));
}

TEST_CASE("KL estimates: 0 for a policy against itself, k3 never negative, gradients", "[rlhf][ppo]") {
  Rng rng(5);
  const std::vector<Index> L{4, 1, 3};
  Matrix<double> logp = rm::random_matrix(3, 4, rng, 1.0, -2.0);
  for (KLEstimator e : {KLEstimator::k1, KLEstimator::k3}) {
    const Matrix<double> self = kl_estimate(logp, logp, L, e);
    CHECK(self.cwiseAbs().maxCoeff() == 0.0);  // exactly: ρ = 0, expm1(0) = 0
    CHECK(sequence_kl(self, L).cwiseAbs().maxCoeff() == 0.0);
  }
  const Matrix<double> ref = logp + rm::random_matrix(3, 4, rng, 0.5);
  const Matrix<double> k3 = kl_estimate(logp, ref, L, KLEstimator::k3);
  CHECK(k3.minCoeff() >= 0.0);
  const Matrix<double> k1 = kl_estimate(logp, ref, L, KLEstimator::k1);
  CHECK(k1(0, 0) == Approx(logp(0, 0) - ref(0, 0)));
  CHECK(k1(1, 1) == 0.0);  // padding
  const RowVector<double> seq = sequence_kl(k1, L);
  CHECK(seq(0) == Approx(k1.row(0).sum()));
  CHECK(seq(1) == Approx(k1(1, 0)));

  const Matrix<double> upstream = rm::random_matrix(3, 4, rng, 1.0);
  for (KLEstimator e : {KLEstimator::k1, KLEstimator::k3}) {
    Matrix<double> d;
    kl_estimate_backward(d, upstream, logp, ref, L, e);
    auto f = [&] { return (kl_estimate(logp, ref, L, e).array() * upstream.array()).sum(); };
    const double worst = rm::worst_disagreement(logp, d, f, [&](Index b, Index t) { return t < L[b]; });
    CHECK(worst < 1e-8);
    CHECK(d(1, 2) == 0.0);
  }
}

TEST_CASE("GAE equals the direct sum of discounted TD errors, for responses of different lengths", "[rlhf][ppo]") {
  Rng rng(11);
  const std::vector<Index> L{5, 1, 3, 7};
  const Index B = 4, T = 7;
  const Matrix<double> rewards = rm::random_matrix(B, T, rng, 1.0), values = rm::random_matrix(B, T, rng, 1.0);
  for (double gamma : {1.0, 0.9}) {
    for (double lam : {0.95, 0.0, 1.0}) {
      const Advantages<double> got = gae_advantages(rewards, values, L, gamma, lam, false);
      // A_t = Σ_{l >= 0} (γλ)^l δ_{t+l},  δ_t = r_t + γ V_{t+1} − V_t,  V_L = 0: written out.
      for (Index b = 0; b < B; ++b) {
        for (Index t = 0; t < T; ++t) {
          double expected = 0;
          if (t < L[b]) {
            for (Index k = t; k < L[b]; ++k) {
              const double next = k + 1 < L[b] ? values(b, k + 1) : 0.0;
              const double delta = rewards(b, k) + gamma * next - values(b, k);
              expected += std::pow(gamma * lam, static_cast<double>(k - t)) * delta;
            }
          }
          INFO("gamma " << gamma << " lambda " << lam << " b " << b << " t " << t);
          CHECK(got.advantages(b, t) == Approx(expected).margin(1e-12));
          CHECK(got.returns(b, t) == Approx(t < L[b] ? expected + values(b, t) : 0.0).margin(1e-12));
        }
      }
    }
  }
  // λ = 1, γ = 1: the advantage is the return to the end minus the value (Monte Carlo).
  const Advantages<double> mc = gae_advantages(rewards, values, L, 1.0, 1.0, false);
  CHECK(mc.returns(0, 0) == Approx(rewards.row(0).head(5).sum()));
}

TEST_CASE("Leave-one-out advantages (RLOO): the header's example, and a direct loop over the other answers", "[rlhf][ppo]") {
  // The header's example: K = 2, scores [1 -3 0 0], beta 0.
  const std::vector<Index> L1{1, 2, 1, 3};
  const Matrix<double> no_kl = Matrix<double>::Zero(4, 3);
  const Advantages<double> raw = leave_one_out_advantages(rm::row({1, -3, 0, 0}), no_kl, L1, 0.0, 2, false);
  CHECK(raw.advantages(0, 0) == 4.0);
  CHECK(raw.advantages(1, 0) == -4.0);
  CHECK(raw.advantages(1, 1) == -4.0);  // the answer's advantage at every one of its tokens
  CHECK(raw.advantages(1, 2) == 0.0);   // padding
  CHECK(raw.advantages.row(2).cwiseAbs().maxCoeff() == 0.0);  // a prompt whose answers tie teaches nothing
  CHECK(raw.returns(1, 1) == -3.0);
  const Advantages<double> w = leave_one_out_advantages(rm::row({1, -3, 0, 0}), no_kl, L1, 0.0, 2);
  CHECK(w.advantages(0, 0) == Approx(1.2247).margin(1e-4));
  CHECK(w.advantages(1, 1) == Approx(-1.2247).margin(1e-4));

  // Random scores and per-token KL, K = 3, beta 0.1, against a loop over j != b.
  Rng rng(5);
  const Index K = 3, B = 9, T = 4;
  std::vector<Index> L;
  for (Index b = 0; b < B; ++b) L.push_back(1 + static_cast<Index>(rng.below(T)));
  Matrix<double> kl = Matrix<double>::Zero(B, T);
  RowVector<double> scores(B);
  for (Index b = 0; b < B; ++b) {
    scores(b) = rng.normal();
    for (Index t = 0; t < L[static_cast<std::size_t>(b)]; ++t) kl(b, t) = rng.normal();
  }
  const double beta = 0.1;
  const Advantages<double> got = leave_one_out_advantages(scores, kl, L, beta, K, false);
  auto reward = [&](Index b) {
    double r = scores(b);
    for (Index t = 0; t < L[static_cast<std::size_t>(b)]; ++t) r -= beta * kl(b, t);
    return r;
  };
  for (Index b = 0; b < B; ++b) {
    double others = 0;
    for (Index j = (b / K) * K; j < (b / K) * K + K; ++j)
      if (j != b) others += reward(j);
    const double expected = reward(b) - others / static_cast<double>(K - 1);
    for (Index t = 0; t < T; ++t) {
      const bool in = t < L[static_cast<std::size_t>(b)];
      CHECK(got.advantages(b, t) == Approx(in ? expected : 0.0).margin(1e-12));
      CHECK(got.returns(b, t) == Approx(in ? reward(b) : 0.0).margin(1e-12));
    }
  }
  // Each group's advantages sum to 0; whitened over the batch: mean 0, unbiased variance 1.
  for (Index g = 0; g < B; g += K) CHECK(got.advantages.col(0).segment(g, K).sum() == Approx(0).margin(1e-12));
  const Advantages<double> white = leave_one_out_advantages(scores, kl, L, beta, K);
  const RowVector<double> first = white.advantages.col(0).transpose();
  CHECK(first.mean() == Approx(0).margin(1e-12));
  CHECK((first.array() - first.mean()).square().sum() / (B - 1) == Approx(1).epsilon(1e-7));

  CHECK_THROWS_WITH(leave_one_out_advantages(scores, kl, L, beta, 2), Catch::Contains("groups of K = 2"));
  CHECK_THROWS_WITH(leave_one_out_advantages(scores, kl, L, beta, 1), Catch::Contains("K >= 2"));
  CHECK_THROWS_WITH(leave_one_out_advantages(rm::row({1, 2}), kl, L, beta, K), Catch::Contains("2 scores for B = 9"));
  PPOConfig c;
  c.advantage = AdvantageEstimator::leave_one_out;
  c.samples_per_prompt = 1;
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("samples_per_prompt must be >= 2"));
}

TEST_CASE("Whitening: mean 0 and variance 1 over the mask with padding left at 0", "[rlhf][ppo]") {
  Rng rng(13);
  const std::vector<Index> L{6, 2, 4};
  const Matrix<double> x = rm::random_matrix(3, 6, rng, 3.0, 2.0);
  const Matrix<double> mask = response_mask<double>(L, 6);
  CHECK(mask.sum() == 12);
  const Matrix<double> w = masked_whiten(x, mask);
  CHECK(masked_mean(w, mask) == Approx(0).margin(1e-12));
  // var(w) = var / (var + 1e-8): 1 to about 1e-9 for a spread of 3.
  CHECK(masked_var(w, mask) == Approx(1).epsilon(1e-8));
  // an independent mean and unbiased variance over the 12 tokens
  double sum = 0, sq = 0;
  for (Index b = 0; b < 3; ++b)
    for (Index t = 0; t < L[b]; ++t) sum += x(b, t);
  const double mean = sum / 12;
  for (Index b = 0; b < 3; ++b)
    for (Index t = 0; t < L[b]; ++t) sq += (x(b, t) - mean) * (x(b, t) - mean);
  CHECK(masked_mean(x, mask) == Approx(mean));
  CHECK(masked_var(x, mask) == Approx(sq / 11));
  CHECK(masked_var(x, mask, false) == Approx(sq / 12));
  const Matrix<double> keep = masked_whiten(x, mask, false);
  CHECK(masked_mean(keep, mask) == Approx(mean));

  const Matrix<double> values = rm::random_matrix(3, 6, rng, 1.0);
  const Advantages<double> a = gae_advantages(x, values, L, 1.0, 0.95);
  CHECK(masked_mean(a.advantages, mask) == Approx(0).margin(1e-12));
  CHECK(masked_var(a.advantages, mask) == Approx(1).epsilon(1e-7));
  CHECK(a.advantages(1, 3) == 0.0);
  CHECK(a.returns(1, 3) == 0.0);
  CHECK_THROWS_AS(masked_mean(x, Matrix<double>(Matrix<double>::Zero(3, 6))), ArgumentError);  // an empty mask
  Matrix<double> one = Matrix<double>::Zero(3, 6);
  one(0, 0) = 1;
  CHECK_THROWS_AS(masked_var(x, one), ArgumentError);  // Bessel needs 2 values
}

TEST_CASE("Clipped surrogate and clipped value loss: gradients against finite differences", "[rlhf][ppo]") {
  Rng rng(17);
  const std::vector<Index> L{5, 2, 4};
  const Index B = 3, T = 5;
  const Matrix<double> old_logp = rm::random_matrix(B, T, rng, 0.8, -2.0);
  Matrix<double> new_logp = old_logp + rm::random_matrix(B, T, rng, 0.3);
  const Matrix<double> adv = rm::random_matrix(B, T, rng, 1.0);
  const Matrix<double> old_v = rm::random_matrix(B, T, rng, 1.0), returns = rm::random_matrix(B, T, rng, 1.0);
  Matrix<double> v = old_v + rm::random_matrix(B, T, rng, 0.3);
  const double eps = 0.2, dloss = 1.3;
  // Away from the kinks, where the derivative exists: the ratio not within 1e-3 of 1 ± ε, V
  // not within 1e-3 of V_old ± ε.
  auto smooth_pg = [&](Index b, Index t) {
    const double r = std::exp(new_logp(b, t) - old_logp(b, t));
    return t < L[b] && std::abs(r - (1 - eps)) > 1e-3 && std::abs(r - (1 + eps)) > 1e-3;
  };
  auto smooth_vf = [&](Index b, Index t) {
    return t < L[b] && std::abs(v(b, t) - (old_v(b, t) - eps)) > 1e-3 && std::abs(v(b, t) - (old_v(b, t) + eps)) > 1e-3;
  };
  Matrix<double> d;
  policy_loss_backward(d, new_logp, old_logp, adv, L, eps, dloss);
  auto pg = [&] { return dloss * policy_loss(new_logp, old_logp, adv, L, eps).loss; };
  CHECK(rm::worst_disagreement(new_logp, d, pg, smooth_pg) < 1e-8);
  CHECK(d(1, 3) == 0.0);
  const PolicyLoss<double> p = policy_loss(new_logp, old_logp, adv, L, eps);
  INFO("policy clip fraction " << p.clipfrac);
  CHECK(p.clipfrac > 0.0);  // both branches are exercised
  CHECK(p.clipfrac < 1.0);

  value_loss_backward(d, v, old_v, returns, L, eps, dloss);
  auto vf = [&] { return dloss * value_loss(v, old_v, returns, L, eps).loss; };
  CHECK(rm::worst_disagreement(v, d, vf, smooth_vf) < 1e-8);
  const ValueLoss<double> q = value_loss(v, old_v, returns, L, eps);
  INFO("value clip fraction " << q.clipfrac);
  CHECK(q.clipfrac > 0.0);
  CHECK(q.clipfrac < 1.0);

  // With the old policy (ratio 1 everywhere) nothing is clipped and the gradient is −A/N.
  policy_loss_backward(d, old_logp, old_logp, adv, L, eps);
  CHECK(policy_loss(old_logp, old_logp, adv, L, eps).clipfrac == 0.0);
  CHECK(policy_loss(old_logp, old_logp, adv, L, eps).approxkl == 0.0);
  CHECK(d(0, 2) == Approx(-adv(0, 2) / 11));
}

TEST_CASE("KL controllers: fixed stays, adaptive follows Ziegler et al.'s rule", "[rlhf][ppo]") {
  KLController fixed = KLController::fixed(0.05);
  fixed.update(100.0, 256);
  CHECK(fixed.value() == 0.05);
  KLController a = KLController::adaptive(0.2, 6.0, 10000.0);
  a.update(3.0, 256);  // error clip(3/6 − 1) = −0.2 (clipped from −0.5)
  CHECK(a.value() == Approx(0.2 * (1 - 0.2 * 256 / 10000.0)));
  const double before = a.value();
  a.update(6.6, 1000);  // error 0.1
  CHECK(a.value() == Approx(before * (1 + 0.1 * 1000 / 10000.0)));
  a.update(6.0, 1000);  // on target: no change
  CHECK(a.value() == Approx(before * 1.01));
  PPOConfig c;
  CHECK(c.kl_coef == 0.05);
  CHECK(c.cliprange == 0.2);
  CHECK(c.cliprange_value == 0.2);
  CHECK(c.vf_coef == 0.1);
  CHECK(c.gamma == 1.0);
  CHECK(c.lam == 0.95);
  CHECK(c.num_ppo_epochs == 4);
  CHECK_FALSE(KLController::from_config(c).is_adaptive());
  c.adaptive_kl = true;
  CHECK(KLController::from_config(c).is_adaptive());
  CHECK_THROWS_AS(KLController::fixed(-1), ArgumentError);
}

TEST_CASE("PPO arithmetic refuses shapes and lengths that do not fit", "[rlhf][ppo][bad_input]") {
  const Matrix<double> a = Matrix<double>::Zero(2, 3), b = Matrix<double>::Zero(2, 4);
  CHECK_THROWS_AS(kl_estimate(a, b, {1, 1}), ArgumentError);
  CHECK_THROWS_AS(kl_estimate(a, a, {1}), ArgumentError);
  CHECK_THROWS_AS(kl_estimate(a, a, {0, 1}), ArgumentError);
  CHECK_THROWS_AS(kl_estimate(a, a, {4, 1}), ArgumentError);
  CHECK_THROWS_AS(kl_penalty_rewards(rm::row({1}), a, a, {1, 1}, 0.1), ArgumentError);
  CHECK_THROWS_AS(response_mask<double>({0}, 3), ArgumentError);
  PPOConfig c;
  c.cliprange = 0;
  CHECK_THROWS_AS(c.validate(), ArgumentError);
}

TEST_CASE("Sampled rows become a response batch: cut at the stop token, gathered and scattered", "[rlhf][ppo]") {
  const TokenId nl = 0;
  const ResponseCut cut = cut_responses({{5, 6, nl, 7, nl}, {nl, 9, 9}, {4, 4, 4}}, nl);
  CHECK(cut.lengths == std::vector<Index>{3, 1, 3});
  CHECK(cut.ended == std::vector<bool>{true, true, false});
  CHECK(cut.ended_share == Approx(2.0 / 3));
  CHECK_THROWS_AS(cut_responses({{}}, nl), ArgumentError);
  // Rows of prompt + response, right-padded to Tseq = 7: prompts of 2, 4 and 3 tokens.
  const std::vector<Index> P{2, 4, 3};
  Matrix<double> per_position(3, 7);
  for (Index b = 0; b < 3; ++b)
    for (Index i = 0; i < 7; ++i) per_position(b, i) = 10 * b + i;  // position i predicts token i + 1
  const Matrix<double> g = gather_response(per_position, P, cut.lengths, 3);
  // response token t of row b sits at P_b + t, predicted at P_b + t - 1
  Matrix<double> want(3, 3);
  want << 1, 2, 3, 13, 0, 0, 22, 23, 24;
  CHECK(g == want);
  const Matrix<double> back = scatter_response(g, P, cut.lengths, 7);
  for (Index b = 0; b < 3; ++b)
    for (Index i = 0; i < 7; ++i) {
      const bool response = i >= P[static_cast<std::size_t>(b)] - 1 && i < P[static_cast<std::size_t>(b)] - 1 + cut.lengths[static_cast<std::size_t>(b)];
      CHECK(back(b, i) == (response ? per_position(b, i) : 0.0));
    }
  CHECK_NOTHROW(gather_response(per_position, {2, 6, 3}, cut.lengths, 3));      // 6 + 1 = 7 positions: fits
  CHECK_THROWS_AS(gather_response(per_position, {2, 7, 3}, cut.lengths, 3), ArgumentError);  // 8 > 7
}
