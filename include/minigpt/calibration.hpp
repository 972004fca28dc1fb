// minigpt/calibration.hpp — does the model know what it knows? Calibration, abstention and
// the graders that decide whether guessing pays.
//
// Chapter idea: a model hallucinates (환각) when it states something false with confidence.
// Kalai et al. 2025 ("Why Language Models Hallucinate") argue two things this header measures:
//   1. a pre-trained model is calibrated (보정): of the answers it gives with probability about
//      0.7, about 70% are right, so its own probability says when it does not know;
//   2. graders that score right 1 and everything else 0 (binary) reward guessing over "I don't
//      know" (모른다); a stated confidence target t (right 1, wrong −t/(1−t), "I don't know" 0)
//      makes abstaining (기권) the better answer whenever the model is less than t sure.
//
// Calibration of n answers with confidences c_i in [0, 1] and outcomes y_i (1 right, 0 not):
//   bins        B equal-width bins (15 by default, as Guo et al. 2017 and the paper's figures):
//               bin k holds c in [k/B, (k+1)/B), the last bin also holds c = 1
//   per bin     n_k answers, conf_k = mean c, acc_k = mean y
//   ECE         Σ_k (n_k / n) · |acc_k − conf_k|           (expected calibration error)
//   MCE         max over non-empty bins of |acc_k − conf_k| (maximum calibration error)
//   Brier       (1/n) Σ_i (c_i − y_i)²
//   AUROC       P(c_i > c_j) for a right answer i and a wrong one j, ties counting ½ (the
//               Mann–Whitney statistic): whether confidence RANKS right above wrong, which
//               abstention needs and calibration does not promise (a model that says 0.6 to
//               everything while 60% are right is calibrated and useless for abstaining);
//               0.5 is chance, 1 a threshold that separates them; undefined (NaN) without
//               both a right and a wrong answer
//   The reliability diagram draws acc_k against the bin's middle, with n_k beside each bar,
//   and the diagonal acc = conf that a calibrated model follows.
//
// Abstention at a threshold τ: answer when c ≥ τ, otherwise say "I don't know". Over the
// questions (an answer the model already gave as "I don't know" stays one):
//   coverage(τ) = answered / n,  risk(τ) = wrong answered / answered  (0 when none answered)
//   score_t(τ)  = (right answered − t/(1−t) · wrong answered) / n
// The sweep tries τ = 0 (answer everything), each distinct confidence, and τ = +∞ (abstain on
// everything); best_threshold picks the τ of the highest score_t (the smallest such τ on ties);
// abstention() does the sweep, the pick and the outcomes per group at the best τ and at τ = t.
// For a calibrated model the best τ is t itself: an answer with confidence c earns
// c − (1−c)·t/(1−t) in expectation, which is ≥ 0 exactly when c ≥ t.
//
// Outcomes by group: per group of people by how often the pre-training text mentions them
// (never, once, 2–3, 4+: fact_world.hpp), the shares of answers right, wrong (the
// hallucinations), "I don't know" and off-format. Beside them the singleton rate (Good–Turing:
// the share of the mentions that name someone mentioned exactly once estimates the mass of
// facts never seen; the paper's bound: the hallucination rate on such facts is at least about
// the singleton rate).
//
// Shapes in: confidences (n), outcomes or grades (n), mention counts (n).
// Shapes out: bins (B), scalars, curves (points), counts per group (4).
//
// Worked example (B = 2 bins: [0, 0.5), [0.5, 1]):
//   c = [0.2 0.4 0.6 0.9], y = [0 1 1 1]
//   bin 0: n 2, conf 0.3, acc 0.5 -> |0.2|;  bin 1: n 2, conf 0.75, acc 1 -> |0.25|
//   ECE = (2/4)·0.2 + (2/4)·0.25 = 0.225,  MCE = 0.25
//   Brier = (0.04 + 0.36 + 0.16 + 0.01) / 4 = 0.1425
//   AUROC = 1: each of the 3 right answers is more confident than the wrong one (3 of 3 pairs)
//   abstention with t = 0.75 (a wrong answer costs 3): τ = 0: score (3 − 3)/4 = 0;
//   τ = 0.4: (3 − 0)/4 = 0.75 (the best; coverage 0.75, risk 0); τ = +∞: 0.
#pragma once

#include "chart.hpp"
#include "error.hpp"
#include "fact_world.hpp"
#include "labeler.hpp"
#include "tensor.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

namespace minigpt {

// ---- calibration ----

struct ReliabilityBin {
  double lo = 0, hi = 0;          // the bin's confidences: [lo, hi) (the last bin: [lo, hi])
  Index count = 0;                // n_k
  double mean_confidence = 0;     // conf_k (0 when empty)
  double accuracy = 0;            // acc_k (0 when empty)
};

struct Calibration {
  std::vector<ReliabilityBin> bins;
  Index count = 0;               // n
  double accuracy = 0;           // mean y
  double mean_confidence = 0;    // mean c
  double ece = 0, mce = 0, brier = 0;
  double auroc = std::numeric_limits<double>::quiet_NaN();  // NaN without both a right and a wrong answer
};

namespace calibration_checks {
inline void same_length(std::size_t a, std::size_t b, const char* who) {
  if (a != b)
    throw ArgumentError(std::string(who) + ": " + std::to_string(a) + " confidences but " + std::to_string(b) +
                        " outcomes");
}
inline void confidence(double c, std::size_t i, const char* who) {
  if (!(c >= 0.0 && c <= 1.0))
    throw ArgumentError(std::string(who) + ": confidence " + std::to_string(i) + " is " + std::to_string(c) +
                        ", not in [0, 1]");
}
}  // namespace calibration_checks

// The bin of confidence c among `bins` equal-width bins of [0, 1].
inline Index calibration_bin(double c, Index bins) {
  return std::min<Index>(bins - 1, static_cast<Index>(std::floor(c * static_cast<double>(bins))));
}

// AUROC of confidences c (n) for outcomes y (n; true for right), from ranks: sort by c, give
// tied confidences their mean rank r, then AUROC = (Σ_right r − R(R+1)/2) / (R·W) for R right
// and W wrong answers. Example: c = [0.1 0.4 0.35 0.8], y = [0 0 1 1] -> 3 of the 4
// (right, wrong) pairs are ordered right above wrong: 0.75.
inline double auroc(const std::vector<double>& c, const std::vector<bool>& y) {
  calibration_checks::same_length(c.size(), y.size(), "auroc");
  std::vector<std::size_t> order(c.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return c[a] < c[b]; });
  double rank_sum = 0, right = 0;
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;  // [i, j): a run of equal confidences, ranks i + 1 .. j
    while (j < order.size() && c[order[j]] == c[order[i]]) ++j;
    const double mean_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (std::size_t k = i; k < j; ++k)
      if (y[order[k]]) rank_sum += mean_rank, right += 1;
    i = j;
  }
  const double wrong = static_cast<double>(c.size()) - right;
  if (right == 0 || wrong == 0) return std::numeric_limits<double>::quiet_NaN();
  return (rank_sum - right * (right + 1) / 2) / (right * wrong);
}

// ECE, MCE, Brier, AUROC and the reliability bins of confidences c (n) against outcomes y (n;
// true for right). n may be 0 (every figure 0, AUROC NaN). Throws ArgumentError for a
// confidence outside [0, 1] (NaN too), lengths that differ, or bins < 1.
inline Calibration calibration(const std::vector<double>& c, const std::vector<bool>& y, Index bins = 15) {
  calibration_checks::same_length(c.size(), y.size(), "calibration");
  if (bins < 1) throw ArgumentError("calibration: bins must be >= 1, got " + std::to_string(bins));
  Calibration out;
  out.count = static_cast<Index>(c.size());
  std::vector<double> sum_c(static_cast<std::size_t>(bins), 0.0), sum_y(static_cast<std::size_t>(bins), 0.0);
  std::vector<Index> n(static_cast<std::size_t>(bins), 0);
  for (std::size_t i = 0; i < c.size(); ++i) {
    calibration_checks::confidence(c[i], i, "calibration");
    const double yi = y[i] ? 1.0 : 0.0;
    const auto k = static_cast<std::size_t>(calibration_bin(c[i], bins));
    sum_c[k] += c[i], sum_y[k] += yi, ++n[k];
    out.brier += (c[i] - yi) * (c[i] - yi);
    out.accuracy += yi, out.mean_confidence += c[i];
  }
  const double N = static_cast<double>(c.size());
  for (Index k = 0; k < bins; ++k) {
    const auto kk = static_cast<std::size_t>(k);
    ReliabilityBin b;
    b.lo = static_cast<double>(k) / static_cast<double>(bins);
    b.hi = static_cast<double>(k + 1) / static_cast<double>(bins);
    b.count = n[kk];
    if (b.count > 0) {
      b.mean_confidence = sum_c[kk] / static_cast<double>(b.count);
      b.accuracy = sum_y[kk] / static_cast<double>(b.count);
      const double gap = std::abs(b.accuracy - b.mean_confidence);
      out.ece += static_cast<double>(b.count) / N * gap;  // Σ (n_k / n) |acc_k − conf_k|
      out.mce = std::max(out.mce, gap);
    }
    out.bins.push_back(b);
  }
  if (N > 0) out.brier /= N, out.accuracy /= N, out.mean_confidence /= N;
  out.auroc = auroc(c, y);
  return out;
}

// The figures as JSON (bins as rows).
inline nlohmann::ordered_json to_json(const Calibration& cal) {
  nlohmann::ordered_json j{{"count", cal.count},          {"accuracy", cal.accuracy},
                           {"mean_confidence", cal.mean_confidence}, {"ece", cal.ece},
                           {"mce", cal.mce},              {"brier", cal.brier},
                           {"auroc", std::isfinite(cal.auroc) ? nlohmann::ordered_json(cal.auroc) : nlohmann::ordered_json(nullptr)}};
  nlohmann::ordered_json bins = nlohmann::ordered_json::array();
  for (const ReliabilityBin& b : cal.bins)
    bins.push_back({{"lo", b.lo}, {"hi", b.hi}, {"count", b.count}, {"confidence", b.mean_confidence},
                    {"accuracy", b.accuracy}});
  j["bins"] = bins;
  return j;
}

// The reliability diagram of one or more models: bars of each non-empty bin's accuracy at the
// bin's middle (side by side when there are several), the count of answers above each bar,
// and the diagonal a calibrated model follows. names[i] labels cals[i] (with its ECE).
inline chart::Figure reliability_diagram(const std::vector<Calibration>& cals, const std::vector<std::string>& names,
                                         const std::string& title) {
  if (cals.size() != names.size() || cals.empty())
    throw ArgumentError("reliability_diagram: one name per calibration, at least one");
  chart::Figure f;
  f.title = title;
  f.subtitle = "accuracy of the answers in each confidence bin; a calibrated model follows the diagonal";
  f.x = {"confidence (the answer's probability)"};
  f.y = {"accuracy (share right)"};
  // Room above accuracy 1 for the legend, a row a model: its box never hides a bar.
  f.x.min = 0, f.x.max = 1, f.y.min = 0, f.y.max = 1.1 + 0.25 * static_cast<double>(std::max<std::size_t>(cals.size(), 2) - 2);
  f.series.push_back({"calibrated: accuracy = confidence", {0.0, 1.0}, {0.0, 1.0}, chart::Mark::line, "#888888", 1.5});
  f.series.back().dashed = true;
  const double m = static_cast<double>(cals.size());
  for (std::size_t s = 0; s < cals.size(); ++s) {
    chart::Series bars;
    char ece[64];
    std::snprintf(ece, sizeof ece, " (ECE %.3f, n %lld)", cals[s].ece, static_cast<long long>(cals[s].count));
    bars.label = names[s] + ece;
    bars.mark = chart::Mark::bars;
    bars.colour = chart::palette(s);
    bars.opacity = 0.8;
    for (const ReliabilityBin& b : cals[s].bins) {
      if (b.count == 0) continue;
      const double w = (b.hi - b.lo) / m;
      bars.x.push_back(b.lo + w * (static_cast<double>(s) + 0.5));
      bars.y.push_back(b.accuracy);
      bars.point_labels.push_back(std::to_string(b.count));
      bars.bar_width = 0.9 * w;
    }
    f.series.push_back(bars);
  }
  f.legend = chart::LegendPlace::top_left;
  f.footnotes.push_back("bins of equal width (" + std::to_string(cals[0].bins.size()) +
                        "); the number over a bar is how many answers fell in its bin");
  return f;
}

// ---- outcomes, graders, abstention ----

// How a set of answers went: counts of each grade, and the shares.
struct GradeCounts {
  Index total = 0;
  std::array<Index, 4> count{};  // by Grade: correct, idk, wrong, off-format

  void add(Grade g) {
    ++count[static_cast<std::size_t>(g)];
    ++total;
  }
  Index of(Grade g) const { return count[static_cast<std::size_t>(g)]; }
  double share(Grade g) const { return total > 0 ? static_cast<double>(of(g)) / static_cast<double>(total) : 0.0; }
  double accuracy() const { return share(Grade::correct); }
  double error() const { return share(Grade::wrong); }  // confident wrong answers: hallucinations
  double idk() const { return share(Grade::idk); }
  double off_format() const { return share(Grade::off_format); }
  // Mean binary score: right 1, anything else 0.
  double binary_score() const { return accuracy(); }
  // Mean confidence-target score: right 1, "I don't know" 0, wrong and off-format −t/(1−t).
  double target_score(double t) const {
    return total > 0 ? (static_cast<double>(of(Grade::correct)) * confidence_target_score(Grade::correct, t) +
                        static_cast<double>(of(Grade::wrong) + of(Grade::off_format)) *
                            confidence_target_score(Grade::wrong, t)) /
                           static_cast<double>(total)
                     : 0.0;
  }
};

inline nlohmann::ordered_json to_json(const GradeCounts& g) {
  return {{"n", g.total},         {"accuracy", g.accuracy()},   {"error", g.error()},
          {"idk", g.idk()},       {"off_format", g.off_format()}, {"binary_score", g.binary_score()},
          {"score_t0.75", g.target_score(0.75)}};
}

// Grades of answers to person questions by mention group, and of arithmetic questions:
// mentions[i] is how often the pre-training text names question i's person (-1: arithmetic).
struct GroupOutcomes {
  std::array<GradeCounts, 4> group;  // never, once, 2-3, 4+ (mention_groups() order)
  GradeCounts arithmetic, all;
};

inline GroupOutcomes outcomes_by_group(const std::vector<Index>& mentions, const std::vector<Grade>& grades) {
  calibration_checks::same_length(mentions.size(), grades.size(), "outcomes_by_group (mentions, grades)");
  GroupOutcomes out;
  for (std::size_t i = 0; i < grades.size(); ++i) {
    if (mentions[i] < 0)
      out.arithmetic.add(grades[i]);
    else
      out.group[static_cast<std::size_t>(mention_group_of(mentions[i]))].add(grades[i]);
    out.all.add(grades[i]);
  }
  return out;
}

inline nlohmann::ordered_json to_json(const GroupOutcomes& o) {
  nlohmann::ordered_json j;
  for (std::size_t g = 0; g < 4; ++g) j[mention_groups()[g].name] = to_json(o.group[g]);
  j["arithmetic"] = to_json(o.arithmetic);
  j["all"] = to_json(o.all);
  return j;
}

// Calibrations as a text table, a row per set of answers, named by `names`:
//     answers scored by                n      acc     conf      ECE    Brier    AUROC
//     SFT (chat), P(answer)          399    0.253    0.506    0.256    0.262    0.750
inline std::string calibration_table(const std::vector<std::string>& names, const std::vector<Calibration>& cals) {
  if (names.size() != cals.size())
    throw ArgumentError("calibration_table: " + std::to_string(names.size()) + " names for " + std::to_string(cals.size()) +
                        " calibrations");
  char line[200];
  std::snprintf(line, sizeof line, "  %-44s %5s %8s %8s %8s %8s %8s\n", "answers scored by", "n", "acc", "conf", "ECE",
                "Brier", "AUROC");
  std::string out = line;
  for (std::size_t i = 0; i < cals.size(); ++i) {
    char auroc[16] = "       -";  // undefined without both a right and a wrong answer
    if (std::isfinite(cals[i].auroc)) std::snprintf(auroc, sizeof auroc, "%8.3f", cals[i].auroc);
    std::snprintf(line, sizeof line, "  %-44s %5lld %8.3f %8.3f %8.3f %8.3f %s\n", names[i].c_str(),
                  static_cast<long long>(cals[i].count), cals[i].accuracy, cals[i].mean_confidence, cals[i].ece,
                  cals[i].brier, auroc);
    out += line;
  }
  return out;
}

// The outcomes as a text table, a row per group and "all", with the t-score of each row:
//   base model (cloze)
//     group                  n     right    wrong      IDK      off  t=0.75
//     mentioned never       90      7.8%    92.2%     0.0%     0.0%  -2.689
//     ...
inline std::string outcome_table(const std::string& title, const GroupOutcomes& o, double t = 0.75) {
  char line[160];
  std::string out = title + "\n";
  std::snprintf(line, sizeof line, "  %-18s %5s  %8s %8s %8s %8s  t=%-4g\n", "group", "n", "right", "wrong", "IDK", "off", t);
  out += line;
  auto row = [&](const std::string& label, const GradeCounts& g) {
    std::snprintf(line, sizeof line, "  %-18s %5lld  %7.1f%% %7.1f%% %7.1f%% %7.1f%%  %+6.3f\n", label.c_str(),
                  static_cast<long long>(g.total), 100 * g.accuracy(), 100 * g.error(), 100 * g.idk(),
                  100 * g.off_format(), g.target_score(t));
    out += line;
  };
  for (std::size_t g = 0; g < 4; ++g) row(std::string("mentioned ") + mention_groups()[g].name, o.group[g]);
  row("arithmetic", o.arithmetic);
  row("all", o.all);
  return out;
}

// The singleton rate of a pre-training text, from how often it mentions each person.
struct SingletonStats {
  Index people = 0;     // people counted (mentioned or not)
  Index mentioned = 0;  // people mentioned at least once
  Index mentions = 0;   // N: all mentions
  Index singletons = 0; // n1: people mentioned exactly once
  double rate = 0;      // n1 / N: Good–Turing's estimate of the mass of unseen facts
  double share = 0;     // n1 / mentioned: the share of known facts seen only once
};

inline SingletonStats singleton_stats(const std::vector<Index>& mentions_per_person) {
  SingletonStats s;
  for (std::size_t i = 0; i < mentions_per_person.size(); ++i) {
    const Index m = mentions_per_person[i];
    if (m < 0) throw ArgumentError("singleton_stats: person " + std::to_string(i) + " has " + std::to_string(m) + " mentions");
    ++s.people;
    s.mentions += m;
    s.mentioned += m > 0;
    s.singletons += m == 1;
  }
  s.rate = s.mentions > 0 ? static_cast<double>(s.singletons) / static_cast<double>(s.mentions) : 0.0;
  s.share = s.mentioned > 0 ? static_cast<double>(s.singletons) / static_cast<double>(s.mentioned) : 0.0;
  return s;
}

inline nlohmann::ordered_json to_json(const SingletonStats& s) {
  return {{"people", s.people},         {"mentioned", s.mentioned}, {"mentions", s.mentions},
          {"singletons", s.singletons}, {"singleton_rate", s.rate}, {"singleton_share", s.share}};
}

// One point of the abstention sweep.
struct CoveragePoint {
  double tau = 0;       // answer when confidence >= tau
  double coverage = 0;  // answered / n
  double risk = 0;      // wrong (and off-format) answered / answered
  double score = 0;     // mean confidence-target score at t
  Index answered = 0;
};

// The risk–coverage curve of answers with confidences c (n) and grades (n), scored with
// confidence target t; points from τ = 0 up to τ = +∞ (the last point: abstain on all).
inline std::vector<CoveragePoint> risk_coverage(const std::vector<double>& c, const std::vector<Grade>& grades,
                                                double t) {
  calibration_checks::same_length(c.size(), grades.size(), "risk_coverage");
  const double penalty = -confidence_target_score(Grade::wrong, t);  // t / (1 − t); checks t
  std::vector<double> taus{0.0};
  for (std::size_t i = 0; i < c.size(); ++i) {
    calibration_checks::confidence(c[i], i, "risk_coverage");
    taus.push_back(c[i]);
  }
  taus.push_back(std::numeric_limits<double>::infinity());
  std::sort(taus.begin(), taus.end());
  taus.erase(std::unique(taus.begin(), taus.end()), taus.end());
  std::vector<CoveragePoint> out;
  const double n = static_cast<double>(c.size());
  for (double tau : taus) {
    CoveragePoint p;
    p.tau = tau;
    Index right = 0, wrong = 0;
    for (std::size_t i = 0; i < c.size(); ++i) {
      if (grades[i] == Grade::idk || c[i] < tau) continue;  // abstains
      ++p.answered;
      (grades[i] == Grade::correct ? right : wrong) += 1;
    }
    p.coverage = n > 0 ? static_cast<double>(p.answered) / n : 0.0;
    p.risk = p.answered > 0 ? static_cast<double>(wrong) / static_cast<double>(p.answered) : 0.0;
    p.score = n > 0 ? (static_cast<double>(right) - penalty * static_cast<double>(wrong)) / n : 0.0;
    out.push_back(p);
  }
  return out;
}

// The point of the highest score (the first, i.e. smallest τ, on ties).
inline CoveragePoint best_threshold(const std::vector<CoveragePoint>& curve) {
  if (curve.empty()) throw ArgumentError("best_threshold: an empty curve");
  CoveragePoint best = curve.front();
  for (const CoveragePoint& p : curve)
    if (p.score > best.score) best = p;
  return best;
}

// The grades after abstaining below τ: answers with confidence < τ become "I don't know".
inline std::vector<Grade> abstain_below(const std::vector<double>& c, const std::vector<Grade>& grades, double tau) {
  calibration_checks::same_length(c.size(), grades.size(), "abstain_below");
  std::vector<Grade> out = grades;
  for (std::size_t i = 0; i < c.size(); ++i)
    if (c[i] < tau) out[i] = Grade::idk;
  return out;
}

// Abstention at inference in one call: the risk–coverage curve of answers (confidences c,
// grades, their people's mentions; n each) at confidence target t, its best τ, and the
// outcomes per mention group when abstaining below the best τ and below τ = t.
struct Abstention {
  double t = 0.75;
  std::vector<CoveragePoint> curve;
  CoveragePoint best;
  GroupOutcomes at_best, at_t;
};
inline Abstention abstention(const std::vector<double>& c, const std::vector<Grade>& grades,
                             const std::vector<Index>& mentions, double t) {
  Abstention a;
  a.t = t;
  a.curve = risk_coverage(c, grades, t);
  a.best = best_threshold(a.curve);
  a.at_best = outcomes_by_group(mentions, abstain_below(c, grades, a.best.tau));
  a.at_t = outcomes_by_group(mentions, abstain_below(c, grades, t));
  return a;
}
inline nlohmann::ordered_json to_json(const Abstention& a) {
  return {{"t", a.t},
          {"best_tau", a.best.tau},
          {"best", {{"coverage", a.best.coverage}, {"risk", a.best.risk}, {"score", a.best.score}}},
          {"answer_all_score", a.curve.front().score},
          {"outcomes_best_tau", to_json(a.at_best)},
          {"outcomes_tau_t", to_json(a.at_t)}};
}

// An abstention as text: the best τ's line, then the outcomes per group below the best τ and
// below τ = t (outcome_table), each titled with `name`:
//   SFT: best tau 0.989: coverage 2.8%, risk 18.2%, score +0.008 (always answering: -0.797)
inline std::string abstention_text(const std::string& name, const Abstention& a) {
  char line[200];
  std::snprintf(line, sizeof line, "  %s: best tau %.3f: coverage %.1f%%, risk %.1f%%, score %+.3f (always answering: %+.3f)\n",
                name.c_str(), a.best.tau, 100 * a.best.coverage, 100 * a.best.risk, a.best.score, a.curve.front().score);
  return line + outcome_table(name + ", abstaining below the best tau", a.at_best, a.t) +
         outcome_table(name + ", abstaining below tau = t", a.at_t, a.t);
}

// The risk–coverage curve as a picture: risk against coverage, and the score against τ.
inline chart::Figure risk_coverage_figure(const std::vector<CoveragePoint>& curve, double t, const std::string& title) {
  chart::Figure f;
  f.title = title;
  f.subtitle = "answer only when the answer's confidence >= tau, else say \"I don't know\"";
  f.x = {"coverage (share of questions answered)"};
  f.y = {"share"};
  f.x.min = 0, f.x.max = 1;
  chart::Series risk{"risk: wrong among answered", {}, {}, chart::Mark::line_points};
  char label[80];
  std::snprintf(label, sizeof label, "score at t = %.2f (right 1, wrong -%.0f, IDK 0), per question", t, t / (1 - t));
  chart::Series score{label, {}, {}, chart::Mark::line};
  for (const CoveragePoint& p : curve) {
    risk.x.push_back(p.coverage), risk.y.push_back(p.risk);
    score.x.push_back(p.coverage), score.y.push_back(p.score);
  }
  f.series.push_back(risk);
  f.series.push_back(score);
  const CoveragePoint best = best_threshold(curve);
  char note[80];
  std::snprintf(note, sizeof note, "best tau %.3f: score %.3f", best.tau, best.score);
  f.series.push_back({note, {best.coverage}, {best.score}, chart::Mark::points, "#000000"});
  f.rules.push_back({false, 0.0});
  return f;
}

}  // namespace minigpt
