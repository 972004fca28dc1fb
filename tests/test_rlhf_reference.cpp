// The recipe's loss arithmetic against PyTorch: tests/data/rlhf/reference.json holds fixed
// inputs and the outputs and autograd gradients of TRL's formulas, written again in torch by
// tests/reference/make_rlhf_reference.py (see its header for the TRL function each follows).
#include <catch2/catch.hpp>
#include "common.hpp"
#include <minigpt/ppo.hpp>
#include <minigpt/reward_model.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

using namespace minigpt;

namespace rlhf_reference_test {

const nlohmann::json& reference() {
  static const nlohmann::json j = test::read_json(test::data("rlhf/reference.json"));
  return j;
}

Matrix<double> matrix(const nlohmann::json& rows) {
  Matrix<double> m(static_cast<Index>(rows.size()), static_cast<Index>(rows[0].size()));
  for (Index b = 0; b < m.rows(); ++b)
    for (Index t = 0; t < m.cols(); ++t) m(b, t) = rows[static_cast<std::size_t>(b)][static_cast<std::size_t>(t)];
  return m;
}

RowVector<double> vec(const nlohmann::json& v) {
  RowVector<double> r(static_cast<Index>(v.size()));
  for (Index i = 0; i < r.size(); ++i) r(i) = v[static_cast<std::size_t>(i)];
  return r;
}

// max |a − b| / max(max |b|, 1e-300), over every entry (padding included: it must be 0 in both).
double error(const Matrix<double>& a, const Matrix<double>& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  return test::relative_error(a.data(), b.data(), static_cast<std::size_t>(a.size()));
}
double error(const RowVector<double>& a, const RowVector<double>& b) {
  REQUIRE(a.size() == b.size());
  return test::relative_error(a.data(), b.data(), static_cast<std::size_t>(a.size()));
}

std::vector<Index> lengths() { return reference()["lengths"].get<std::vector<Index>>(); }

}  // namespace rlhf_reference_test

namespace rr = rlhf_reference_test;

TEST_CASE("Bradley-Terry loss, gradients and accuracy equal PyTorch's", "[rlhf][reward][reference]") {
  const auto& in = rr::reference()["inputs"];
  const auto& bt = rr::reference()["bradley_terry"];
  const RowVector<double> rc = rr::vec(in["r_chosen"]), rr = rr::vec(in["r_rejected"]);
  for (const char* name : {"plain", "centered"}) {
    BradleyTerryOptions opt;
    if (std::string(name) == "centered") opt.center_rewards_coefficient = rr::reference()["config"]["center_rewards_coefficient"];
    INFO(name);
    CHECK(bradley_terry_loss(rc, rr, opt) == Approx(bt[name]["loss"].get<double>()).epsilon(1e-13));
    RowVector<double> dc, dr;
    bradley_terry_loss_backward(dc, dr, rc, rr, opt);
    CHECK(rr::error(dc, rr::vec(bt[name]["d_chosen"])) < 1e-13);
    CHECK(rr::error(dr, rr::vec(bt[name]["d_rejected"])) < 1e-13);
  }
  CHECK(pairwise_accuracy(rc, rr) == bt["accuracy"].get<double>());
}

TEST_CASE("KL estimates k1 and k3 and their gradients equal PyTorch's", "[rlhf][ppo][reference]") {
  const auto& in = rr::reference()["inputs"];
  const Matrix<double> logp = rr::matrix(in["logprobs"]), ref = rr::matrix(in["ref_logprobs"]), up = rr::matrix(in["kl_upstream"]);
  for (auto [name, e] : {std::pair<const char*, KLEstimator>{"k1", KLEstimator::k1}, {"k3", KLEstimator::k3}}) {
    INFO(name);
    const auto& want = rr::reference()["kl"][name];
    CHECK(rr::error(kl_estimate(logp, ref, rr::lengths(), e), rr::matrix(want["kl"])) < 1e-13);
    Matrix<double> d;
    kl_estimate_backward(d, up, logp, ref, rr::lengths(), e);
    CHECK(rr::error(d, rr::matrix(want["d_logprobs"])) < 1e-13);
  }
  const Matrix<double> k1 = kl_estimate(logp, ref, rr::lengths());
  CHECK(sequence_kl(k1, rr::lengths()).mean() == Approx(rr::reference()["mean_kl"].get<double>()).epsilon(1e-13));
}

TEST_CASE("Reward shaping, GAE, whitening and returns equal PyTorch's", "[rlhf][ppo][reference]") {
  const auto& in = rr::reference()["inputs"];
  const auto& cfg = rr::reference()["config"];
  const Matrix<double> logp = rr::matrix(in["logprobs"]), ref = rr::matrix(in["ref_logprobs"]), values = rr::matrix(in["values"]);
  const ShapedRewards<double> s =
      kl_penalty_rewards(rr::vec(in["scores"]), logp, ref, rr::lengths(), cfg["kl_coef"].get<double>(), KLEstimator::k1);
  CHECK(rr::error(s.rewards, rr::matrix(rr::reference()["rewards"]["rewards"])) < 1e-13);
  CHECK(rr::error(s.non_score_rewards, rr::matrix(rr::reference()["rewards"]["non_score_rewards"])) < 1e-13);

  PPOConfig c;
  c.gamma = cfg["gamma"];
  c.lam = cfg["lam"];
  const auto& want = rr::reference()["advantages"];
  const Advantages<double> raw = gae_advantages(s.rewards, values, rr::lengths(), c.gamma, c.lam, false);
  CHECK(rr::error(raw.advantages, rr::matrix(want["raw"])) < 1e-12);
  const Advantages<double> a = compute_advantages(s.rewards, values, rr::lengths(), c);
  CHECK(rr::error(a.advantages, rr::matrix(want["whitened"])) < 1e-12);
  CHECK(rr::error(a.returns, rr::matrix(want["returns"])) < 1e-12);
  c.whiten_rewards = true;
  const Advantages<double> w = compute_advantages(s.rewards, values, rr::lengths(), c);
  CHECK(rr::error(w.advantages, rr::matrix(want["whiten_rewards_advantages"])) < 1e-12);
  CHECK(rr::error(w.returns, rr::matrix(want["whiten_rewards_returns"])) < 1e-12);

  const Matrix<double> x = rr::matrix(in["whiten_x"]);
  const Matrix<double> mask = response_mask<double>(rr::lengths(), x.cols());
  const auto& mw = rr::reference()["masked_whiten"];
  CHECK(masked_mean(x, mask) == Approx(mw["mean"].get<double>()).epsilon(1e-13));
  CHECK(masked_var(x, mask) == Approx(mw["var"].get<double>()).epsilon(1e-13));
  CHECK(rr::error(masked_whiten(x, mask), rr::matrix(mw["whitened"])) < 1e-13);
  CHECK(rr::error(masked_whiten(x, mask, false), rr::matrix(mw["whitened_keep_mean"])) < 1e-13);
}

TEST_CASE("Clipped policy and value losses, clip fractions and gradients equal PyTorch's", "[rlhf][ppo][reference]") {
  const auto& in = rr::reference()["inputs"];
  const auto& cfg = rr::reference()["config"];
  const double eps = cfg["cliprange"], eps_v = cfg["cliprange_value"], vf_coef = cfg["vf_coef"];
  const Matrix<double> old_logp = rr::matrix(in["logprobs"]), new_logp = rr::matrix(in["new_logprobs"]);
  const Matrix<double> old_v = rr::matrix(in["values"]), vpred = rr::matrix(in["vpreds"]);
  const Matrix<double> adv = rr::matrix(rr::reference()["advantages"]["whitened"]);
  const Matrix<double> ret = rr::matrix(rr::reference()["advantages"]["returns"]);

  const PolicyLoss<double> pg = policy_loss(new_logp, old_logp, adv, rr::lengths(), eps);
  const auto& wp = rr::reference()["policy"];
  CHECK(pg.loss == Approx(wp["loss"].get<double>()).epsilon(1e-13));
  CHECK(pg.clipfrac == Approx(wp["clipfrac"].get<double>()).epsilon(1e-15));
  CHECK(pg.approxkl == Approx(wp["approxkl"].get<double>()).epsilon(1e-13));
  Matrix<double> d_pg, d_vf;
  policy_loss_backward(d_pg, new_logp, old_logp, adv, rr::lengths(), eps);
  CHECK(rr::error(d_pg, rr::matrix(wp["d_new_logprobs"])) < 1e-13);

  const ValueLoss<double> vf = value_loss(vpred, old_v, ret, rr::lengths(), eps_v);
  const auto& wv = rr::reference()["value"];
  CHECK(vf.loss == Approx(wv["loss"].get<double>()).epsilon(1e-13));
  CHECK(vf.clipfrac == Approx(wv["clipfrac"].get<double>()).epsilon(1e-15));
  value_loss_backward(d_vf, vpred, old_v, ret, rr::lengths(), eps_v);
  CHECK(rr::error(d_vf, rr::matrix(wv["d_vpreds"])) < 1e-13);

  // the total loss pg + vf_coef · vf: the value gradient scaled by vf_coef
  const auto& wt = rr::reference()["total"];
  CHECK(pg.loss + vf_coef * vf.loss == Approx(wt["loss"].get<double>()).epsilon(1e-13));
  value_loss_backward(d_vf, vpred, old_v, ret, rr::lengths(), eps_v, vf_coef);
  CHECK(rr::error(d_pg, rr::matrix(wt["d_new_logprobs"])) < 1e-13);
  CHECK(rr::error(d_vf, rr::matrix(wt["d_vpreds"])) < 1e-13);
}

TEST_CASE("The adaptive KL controller follows TRL's AdaptiveKLController step for step", "[rlhf][ppo][reference]") {
  const auto& a = rr::reference()["adaptive_kl"];
  KLController c = KLController::adaptive(a["init"], a["target"], a["horizon"]);
  for (std::size_t i = 0; i < a["updates"].size(); ++i) {
    c.update(a["updates"][i][0].get<double>(), a["updates"][i][1].get<Index>());
    CHECK(c.value() == Approx(a["values"][i].get<double>()).epsilon(1e-15));
  }
}

TEST_CASE("Leave-one-out advantages equal TRL's RLOO (its rows reordered into groups)", "[rlhf][ppo][reference]") {
  const auto& in = rr::reference()["inputs"];
  const auto& want = rr::reference()["rloo"];
  const Index K = want["rloo_k"];
  const Matrix<double> logp = rr::matrix(in["logprobs"]), ref = rr::matrix(in["ref_logprobs"]);
  const RowVector<double> scores = rr::vec(in["scores"]);
  const std::vector<Index> L = rr::lengths();
  const Index B = scores.size(), n = B / K;
  // TRL repeats the prompts K times (row k·n + p answers prompt p); here a prompt's K answers
  // are K rows in a row: row p·K + k is TRL's row k·n + p.
  std::vector<Index> trl_row(static_cast<std::size_t>(B)), L_here(static_cast<std::size_t>(B));
  RowVector<double> s_here(B);
  Matrix<double> lp_here(B, logp.cols()), ref_here(B, logp.cols());
  for (Index p = 0; p < n; ++p)
    for (Index k = 0; k < K; ++k) {
      const Index here = p * K + k, there = k * n + p;
      trl_row[static_cast<std::size_t>(here)] = there;
      L_here[static_cast<std::size_t>(here)] = L[static_cast<std::size_t>(there)];
      s_here(here) = scores(there);
      lp_here.row(here) = logp.row(there);
      ref_here.row(here) = ref.row(there);
    }
  const Matrix<double> kl = kl_estimate(lp_here, ref_here, L_here);
  const double beta = rr::reference()["config"]["kl_coef"];
  const Advantages<double> raw = leave_one_out_advantages(s_here, kl, L_here, beta, K, false);
  const Advantages<double> norm = leave_one_out_advantages(s_here, kl, L_here, beta, K, true);
  for (Index b = 0; b < B; ++b) {
    const auto t = static_cast<std::size_t>(trl_row[static_cast<std::size_t>(b)]);
    INFO("row " << b << " (TRL's row " << t << ")");
    for (Index i = 0; i < L_here[static_cast<std::size_t>(b)]; ++i) {
      CHECK(raw.advantages(b, i) == Approx(want["advantages"][t].get<double>()).epsilon(1e-13));
      CHECK(raw.returns(b, i) == Approx(want["rlhf_reward"][t].get<double>()).epsilon(1e-13));
      CHECK(norm.advantages(b, i) == Approx(want["normalized"][t].get<double>()).epsilon(1e-13));
    }
  }
}
