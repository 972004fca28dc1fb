// The scaling-law fits on synthetic data with known exponents: exact recovery without noise,
// a least-squares optimum with noise (no nearby parameters fit better), R², bad input.
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

using namespace minigpt;

namespace {

double sse_log(const PowerLawFit& f, const std::vector<double>& N, const std::vector<double>& L) {
  double s = 0;
  for (std::size_t i = 0; i < N.size(); ++i) s += std::pow(std::log(L[i]) - std::log(f(N[i])), 2);
  return s;
}

}  // namespace

TEST_CASE("fit_power_law recovers Kaplan's alpha_N = 0.076 and N_c = 8.8e13", "[scaling_law]") {
  std::vector<double> N, L;
  for (double n = 1e3; n <= 1e9; n *= 10) {
    N.push_back(n);
    L.push_back(std::pow(8.8e13 / n, 0.076));  // Kaplan et al. 2020, eq. (1.1)
  }
  const PowerLawFit f = fit_power_law(N, L);
  CHECK(f.alpha == Approx(0.076).epsilon(1e-12));
  CHECK(f.n_c == Approx(8.8e13).epsilon(1e-9));
  CHECK(f.floor == 0);
  CHECK(f.r2 == Approx(1.0).epsilon(1e-12));
  CHECK(f(1e6) == Approx(std::pow(8.8e7, 0.076)));
  // The header's example: three points of that law, rounded to two decimals.
  CHECK(fit_power_law({1e6, 1e7, 1e8}, {4.02, 3.37, 2.83}).alpha == Approx(0.076).margin(0.001));
}

TEST_CASE("fit_power_law_with_floor recovers alpha, N_c and E", "[scaling_law]") {
  const std::vector<double> N = {1.2e4, 5.6e4, 1.5e5, 4.5e5, 7.9e5, 2.0e6};
  for (const auto& truth : {std::array<double, 3>{0.35, 2.0e3, 1.3}, std::array<double, 3>{0.076, 8.8e13, 0.5},
                            std::array<double, 3>{0.6, 5.0e4, 1.0}}) {
    const double alpha = truth[0], n_c = truth[1], E = truth[2];
    INFO("alpha " << alpha << ", N_c " << n_c << ", E " << E);
    std::vector<double> L;
    for (double n : N) L.push_back(std::pow(n_c / n, alpha) + E);
    const PowerLawFit f = fit_power_law_with_floor(N, L);
    CHECK(f.alpha == Approx(alpha).epsilon(1e-4));
    CHECK(f.n_c == Approx(n_c).epsilon(1e-3));
    CHECK(f.floor == Approx(E).epsilon(1e-4));
    CHECK(f.r2 == Approx(1.0).epsilon(1e-9));
    CHECK_FALSE(f.floor_at_bound);
  }
}

TEST_CASE("with noise, the floor fit is a least-squares optimum in log L", "[scaling_law]") {
  const std::vector<double> N = {1.3e4, 5.7e4, 1.5e5, 4.5e5, 7.9e5};
  const double noise[] = {0.012, -0.008, 0.005, -0.011, 0.007};  // relative, fixed
  std::vector<double> L;
  for (std::size_t i = 0; i < N.size(); ++i) L.push_back((std::pow(3e3 / N[i], 0.4) + 1.4) * (1 + noise[i]));
  const PowerLawFit f = fit_power_law_with_floor(N, L);
  const double best = sse_log(f, N, L);
  INFO("alpha " << f.alpha << ", N_c " << f.n_c << ", E " << f.floor << ", R2 " << f.r2);
  CHECK(f.r2 > 0.9);
  CHECK(f.r2 < 1.0);
  CHECK(f.rmse_log == Approx(std::sqrt(best / 5)));
  // No parameters nearby fit better: the truth, and small steps in every direction.
  PowerLawFit truth;
  truth.alpha = 0.4, truth.n_c = 3e3, truth.floor = 1.4;
  CHECK(best <= sse_log(truth, N, L));
  for (int k = 0; k < 27; ++k) {
    PowerLawFit g = f;
    g.alpha *= 1 + 0.01 * (k % 3 - 1);
    g.n_c *= 1 + 0.01 * (k / 3 % 3 - 1);
    g.floor *= 1 + 0.01 * (k / 9 - 1);
    CHECK(best <= sse_log(g, N, L) + 1e-15);
  }
  // The pure power law fits these points worse than the curve with a floor.
  CHECK(sse_log(fit_power_law(N, L), N, L) > best);
}

TEST_CASE("scaling fits refuse what they cannot fit", "[scaling_law]") {
  CHECK_THROWS_AS(fit_power_law({1e4}, {2.0}), ArgumentError);
  CHECK_THROWS_AS(fit_power_law({1e4, 1e5}, {2.0}), ArgumentError);
  CHECK_THROWS_AS(fit_power_law({1e4, -1e5}, {2.0, 1.5}), ArgumentError);
  CHECK_THROWS_AS(fit_power_law_with_floor({1e4, 1e5}, {2.0, 1.5}), ArgumentError);
  CHECK_THROWS_AS(fit_power_law_with_floor({1e4, 1e5, 1e6}, {2.0, std::nan(""), 1.5}), ArgumentError);
}
