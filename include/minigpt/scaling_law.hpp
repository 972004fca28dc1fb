// minigpt/scaling_law.hpp — the scaling law (스케일링 법칙): fitting the loss as a power of
// the model size.
//
// Chapter idea: make the model bigger and the loss falls, not anyhow but as a power law.
// Kaplan et al. (2020) trained models from 768 to 1.5 billion non-embedding parameters N and
// found, for models trained long enough, L(N) = (N_c / N)^α_N with α_N ≈ 0.076: every 10×
// in N multiplies the loss by 10^−0.076 ≈ 0.84. Hoffmann et al. (2022, "Chinchilla") fitted
// L(N, D) = E + A / N^α + B / D^β (E ≈ 1.69, A ≈ 406.4, B ≈ 410.7, α ≈ 0.34, β ≈ 0.28): a
// floor E that no model size removes (the text's own unpredictability), plus a term for the
// model and one for the data D. With one token budget D for every size, B / D^β is a
// constant, and the law for N alone is
//
//     L(N) = (N_c / N)^α + E            (A = N_c^α; E holds the data term too)
//
// Fits, both by least squares on log L (every point counts by its relative error):
//   fit_power_law             E = 0: log L = α log N_c − α log N, a straight line in log–log
//                             (Kaplan's form); closed form.
//   fit_power_law_with_floor  α, N_c and E together, E in [0, min L): for each E on a grid
//                             the best (α, N_c) by Gauss–Newton from the straight-line fit of
//                             log(L − E); then the best E refined by golden-section search.
// R² is 1 − Σ (log L − log L̂)² / Σ (log L − mean log L)².
//
//   In:  sizes N (> 0) and losses L (> 0), at least 2 points (3 with a floor).
//   Out: PowerLawFit {alpha, n_c, floor, r2, rmse_log}; fit(N) is the fitted loss.
//        scaling_law_figure(): the log–log chart of the points, both fits, and a line of
//        Kaplan's slope α_N = 0.076 drawn through the middle of the pure power law.
//
// Example:
//     PowerLawFit k = fit_power_law({1e6, 1e7, 1e8}, {4.02, 3.37, 2.83});
//     k.alpha   // 0.076, k.n_c ≈ 8.8e13: three points of Kaplan et al.'s L(N), rounded
//     PowerLawFit f = fit_power_law_with_floor(N, L);   // f.alpha, f.n_c, f.floor, f.r2
#pragma once

#include "chart.hpp"
#include "error.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

namespace minigpt {

struct PowerLawFit {
  double alpha = 0;     // α_N: the loss falls as N^−α
  double n_c = 0;       // N_c: where the power-law term alone would be 1 nat
  double floor = 0;     // E: the loss no size removes (0 for the pure power law)
  double r2 = 0;        // R² of log L
  double rmse_log = 0;  // root mean square error of log L (≈ relative error of L)
  bool floor_at_bound = false;  // E ended at 0 or at min L: the data do not pin it down
  double operator()(double N) const { return std::pow(n_c / N, alpha) + floor; }
};

namespace detail {

inline void check_scaling_points(const std::vector<double>& N, const std::vector<double>& L, std::size_t at_least) {
  if (N.size() != L.size() || N.size() < at_least)
    throw ArgumentError("scaling fit: need at least " + std::to_string(at_least) + " (N, L) pairs, got " +
                        std::to_string(N.size()) + " sizes and " + std::to_string(L.size()) + " losses");
  for (std::size_t i = 0; i < N.size(); ++i)
    if (!(N[i] > 0) || !(L[i] > 0) || !std::isfinite(N[i]) || !std::isfinite(L[i]))
      throw ArgumentError("scaling fit: sizes and losses must be positive and finite (point " + std::to_string(i) + ")");
}

// R² and RMSE of log L for a fit.
inline void score_fit(PowerLawFit& f, const std::vector<double>& N, const std::vector<double>& L) {
  double mean = 0;
  for (double l : L) mean += std::log(l);
  mean /= static_cast<double>(L.size());
  double res = 0, tot = 0;
  for (std::size_t i = 0; i < N.size(); ++i) {
    const double r = std::log(L[i]) - std::log(f(N[i]));
    res += r * r;
    tot += (std::log(L[i]) - mean) * (std::log(L[i]) - mean);
  }
  f.r2 = tot > 0 ? 1 - res / tot : 1.0;
  f.rmse_log = std::sqrt(res / static_cast<double>(N.size()));
}

// y = a + b x by least squares.
inline std::pair<double, double> line_fit(const std::vector<double>& x, const std::vector<double>& y) {
  const auto n = static_cast<double>(x.size());
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) mx += x[i] / n, my += y[i] / n;
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < x.size(); ++i) sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx);
  const double b = sxx > 0 ? sxy / sxx : 0.0;
  return {my - b * mx, b};
}

// For a fixed floor E < min L: the (α, N_c) minimising Σ (log L − log((N_c/N)^α + E))²,
// by Gauss–Newton on (a, α) with (N_c/N)^α = exp(a − α log N), started from the straight
// line through log(L − E). Returns the sum of squares.
inline double fit_with_fixed_floor(PowerLawFit& f, const std::vector<double>& N, const std::vector<double>& L, double E) {
  std::vector<double> x, y;
  for (std::size_t i = 0; i < N.size(); ++i) {
    x.push_back(std::log(N[i]));
    y.push_back(std::log(L[i] - E));
  }
  auto [a, slope] = line_fit(x, y);
  double alpha = -slope;
  auto sse = [&](double a_, double al_) {
    double s = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double r = std::log(L[i]) - std::log(std::exp(a_ - al_ * x[i]) + E);
      s += r * r;
    }
    return s;
  };
  double current = sse(a, alpha);
  for (int it = 0; it < 50; ++it) {
    // J = d(log L̂)/d(a, α); normal equations (Jᵀ J) δ = Jᵀ r, with a small damping.
    double jaa = 0, jab = 0, jbb = 0, ga = 0, gb = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double P = std::exp(a - alpha * x[i]), Lh = P + E;
      const double da = P / Lh, db = -x[i] * P / Lh, r = std::log(L[i]) - std::log(Lh);
      jaa += da * da, jab += da * db, jbb += db * db, ga += da * r, gb += db * r;
    }
    double lambda = 1e-9 * (jaa + jbb);
    bool improved = false;
    for (int tries = 0; tries < 30 && !improved; ++tries, lambda *= 10) {
      const double d00 = jaa + lambda, d11 = jbb + lambda, det = d00 * d11 - jab * jab;
      if (!(det > 0)) continue;
      const double step_a = (d11 * ga - jab * gb) / det, step_b = (d00 * gb - jab * ga) / det;
      const double next = sse(a + step_a, alpha + step_b);
      if (next <= current) {
        improved = current - next > 1e-15 * (1 + current);
        a += step_a, alpha += step_b, current = next;
        if (!improved) break;
      }
    }
    if (!improved) break;
  }
  f.alpha = alpha;
  f.n_c = alpha != 0 ? std::exp(a / alpha) : 0.0;
  f.floor = E;
  return current;
}

}  // namespace detail

// L = (N_c / N)^α: the straight line through (log N, log L).
inline PowerLawFit fit_power_law(const std::vector<double>& N, const std::vector<double>& L) {
  detail::check_scaling_points(N, L, 2);
  std::vector<double> x, y;
  for (std::size_t i = 0; i < N.size(); ++i) x.push_back(std::log(N[i])), y.push_back(std::log(L[i]));
  const auto [a, b] = detail::line_fit(x, y);  // log L = a + b log N = α log N_c − α log N
  PowerLawFit f;
  f.alpha = -b;
  f.n_c = f.alpha != 0 ? std::exp(a / f.alpha) : 0.0;
  detail::score_fit(f, N, L);
  return f;
}

// L = (N_c / N)^α + E, E in [0, min L).
inline PowerLawFit fit_power_law_with_floor(const std::vector<double>& N, const std::vector<double>& L) {
  detail::check_scaling_points(N, L, 3);
  const double top = *std::min_element(L.begin(), L.end()) * (1 - 1e-6);
  auto profile = [&](double E, PowerLawFit& f) { return detail::fit_with_fixed_floor(f, N, L, E); };
  // A grid over E, then golden-section search around the best grid point.
  const int grid = 200;
  int best = 0;
  double best_sse = std::numeric_limits<double>::infinity();
  for (int k = 0; k <= grid; ++k) {
    PowerLawFit f;
    const double sse = profile(top * k / grid, f);
    if (sse < best_sse) best_sse = sse, best = k;
  }
  double lo = top * std::max(0, best - 1) / grid, hi = top * std::min(grid, best + 1) / grid;
  const double g = (std::sqrt(5.0) - 1) / 2;
  double c = hi - g * (hi - lo), d = lo + g * (hi - lo);
  PowerLawFit fc, fd;
  double sc = profile(c, fc), sd = profile(d, fd);
  for (int it = 0; it < 80 && hi - lo > 1e-13 * top; ++it) {
    if (sc < sd) hi = d, d = c, sd = sc, c = hi - g * (hi - lo), sc = profile(c, fc);
    else lo = c, c = d, sc = sd, d = lo + g * (hi - lo), sd = profile(d, fd);
  }
  PowerLawFit f;
  const double E = sc < sd ? c : d;
  profile(E, f);
  f.floor_at_bound = E <= top * 1e-6 || E >= top * (1 - 1e-6);
  detail::score_fit(f, N, L);
  return f;
}

// The log–log chart: the measured (N, L) points labelled with names, the fit with a floor,
// the pure power law (dashed), and a line of Kaplan et al.'s slope α_N = 0.076 through the
// pure power law at the geometric middle of the sizes (only its slope is comparable: their
// losses are in another tokenizer's units), with Chinchilla's form in the footnotes.
inline chart::Figure scaling_law_figure(const std::vector<double>& N, const std::vector<double>& L,
                                        const std::vector<std::string>& names, const std::string& subtitle) {
  const PowerLawFit fit = fit_power_law_with_floor(N, L), pure = fit_power_law(N, L);
  auto fmt = [](const char* format, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, v);
    return std::string(buf);
  };
  chart::Figure f;
  f.title = "the scaling law: validation loss against model size";
  f.subtitle = subtitle;
  f.height = 520;
  f.x = {"non-embedding parameters N", chart::Scale::log};
  f.y = {"validation loss (nats per token)", chart::Scale::log};
  chart::Series points{"measured", N, L, chart::Mark::points, "#000000"};
  points.point_labels = names;
  const std::string floor = fit.floor_at_bound ? "E at its bound " + fmt("%.2f", fit.floor) + " (not pinned down)"
                                                : "E = " + fmt("%.2f", fit.floor);
  chart::Series fitted{"fit (N_c/N)^α + E: α_N = " + fmt("%.3f", fit.alpha) + ", " + floor + ", R² = " + fmt("%.3f", fit.r2),
                       {}, {}, chart::Mark::line, chart::palette(0)};
  chart::Series power{"pure power law (N_c/N)^α: α_N = " + fmt("%.3f", pure.alpha) + ", R² = " + fmt("%.3f", pure.r2),
                      {}, {}, chart::Mark::line, chart::palette(1)};
  chart::Series kaplan{"Kaplan et al. 2020: α_N = 0.076 (its slope)", {}, {}, chart::Mark::line, "#888888"};
  power.dashed = kaplan.dashed = true;
  const double first = *std::min_element(N.begin(), N.end()), last = *std::max_element(N.begin(), N.end());
  const double lo = first / 1.5, hi = last * 1.5, mid = std::sqrt(first * last);
  for (int i = 0; i <= 60; ++i) {
    const double x = lo * std::pow(hi / lo, i / 60.0);
    fitted.x.push_back(x), fitted.y.push_back(fit(x));
    power.x.push_back(x), power.y.push_back(pure(x));
    if (x >= first * 0.999 && x <= last * 1.001) kaplan.x.push_back(x), kaplan.y.push_back(pure(mid) * std::pow(x / mid, -0.076));
  }
  f.series = {fitted, power, kaplan, points};
  f.footnotes = {"Chinchilla (Hoffmann et al. 2022): L(N, D) = E + A/N^0.34 + B/D^0.28. With one D for all sizes, B/D^β",
                 "is a constant inside E, and the law for N alone is the fitted curve. Kaplan's α_N = 0.076 was measured",
                 "from 10³ to 10⁹ parameters trained to convergence on WebText2; these models are small and trained briefly."};
  return f;
}

}  // namespace minigpt
