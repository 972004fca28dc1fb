// minigpt/loss_curve.hpp — the loss curve of a training run, drawn as an SVG picture.
//
// Chapter idea: the loss (손실) falling step by step is what pre-training (사전 학습) looks
// like, and the scaling-law (스케일링 법칙) plots of the chapter are made of such curves: loss
// against compute, for models of growing size. This draws one run's curve: the training loss
// of every step (faint), its moving average over 50 steps, the validation loss at each
// evaluation, and, dashed, the loss of guessing uniformly among V tokens, log V, where every
// run starts. Any browser shows the file; no plotting library is involved.
//
// Shapes in: the history of a run (training.hpp).  Shapes out: an SVG document (text).
//
// Example:
//     save_loss_curve_svg("out/loss.svg", trainer.history(), "baby GPT on tinyshakespeare",
//                         std::log(65.0));
#pragma once

#include "detail/io.hpp"
#include "training_history.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace minigpt {
namespace detail {

// Round tick spacing: 1, 2 or 5 times a power of ten, about `count` ticks over `range`.
inline double tick_step(double range, int count) {
  if (!(range > 0)) return 1.0;
  const double raw = range / count, p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (m * p >= raw) return m * p;
  return 10.0 * p;
}

inline std::string svg_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

inline std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

}  // namespace detail

// The SVG text of the curve. uniform_loss (log V) is drawn when > 0.
inline std::string loss_curve_svg(const TrainingHistory& history, const std::string& title, double uniform_loss = 0.0) {
  using detail::svg_number;
  const double W = 800, H = 450, left = 70, right = 20, top = 40, bottom = 55;
  const double pw = W - left - right, ph = H - top - bottom;
  const std::vector<double>& train = history.train_loss;
  const auto steps = static_cast<double>(std::max<std::size_t>(train.size(), 1));

  // The loss axis: from the lowest loss to the highest (and log V), with a little room.
  double lo = 1e300, hi = -1e300;
  auto see = [&](double v) {
    if (std::isfinite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  };
  for (double v : train) see(v);
  for (const EvalPoint& e : history.evals) {
    see(e.train_loss);
    see(e.val_loss);
  }
  if (uniform_loss > 0) see(uniform_loss);
  if (lo > hi) lo = 0, hi = 1;
  const double ystep = detail::tick_step(hi - lo, 6);
  lo = std::floor(lo / ystep) * ystep;
  hi = std::ceil(hi / ystep) * ystep;
  if (hi <= lo) hi = lo + ystep;
  auto X = [&](double step) { return left + pw * step / steps; };
  auto Y = [&](double loss) { return top + ph * (hi - loss) / (hi - lo); };

  std::string s;
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + svg_number(W) + "\" height=\"" + svg_number(H) +
       "\" viewBox=\"0 0 " + svg_number(W) + " " + svg_number(H) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += "<text x=\"" + svg_number(W / 2) + "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" +
       detail::xml_escape(title) + "</text>\n";
  // Grid, ticks and labels.
  for (double v = lo; v <= hi + ystep / 2; v += ystep) {
    s += "<line x1=\"" + svg_number(left) + "\" x2=\"" + svg_number(left + pw) + "\" y1=\"" + svg_number(Y(v)) +
         "\" y2=\"" + svg_number(Y(v)) + "\" stroke=\"#e5e5e5\"/>\n";
    char label[32];
    std::snprintf(label, sizeof label, "%.*f", ystep < 1 ? 1 : 0, v);
    s += "<text x=\"" + svg_number(left - 8) + "\" y=\"" + svg_number(Y(v) + 4) + "\" text-anchor=\"end\">" + label +
         "</text>\n";
  }
  const double xstep = detail::tick_step(steps, 8);
  for (double v = 0; v <= steps + xstep / 2; v += xstep) {
    if (v > steps) break;
    s += "<line x1=\"" + svg_number(X(v)) + "\" x2=\"" + svg_number(X(v)) + "\" y1=\"" + svg_number(top) +
         "\" y2=\"" + svg_number(top + ph) + "\" stroke=\"#f0f0f0\"/>\n";
    s += "<text x=\"" + svg_number(X(v)) + "\" y=\"" + svg_number(top + ph + 18) + "\" text-anchor=\"middle\">" +
         std::to_string(static_cast<long long>(v)) + "</text>\n";
  }
  s += "<rect x=\"" + svg_number(left) + "\" y=\"" + svg_number(top) + "\" width=\"" + svg_number(pw) +
       "\" height=\"" + svg_number(ph) + "\" fill=\"none\" stroke=\"#444\"/>\n";
  s += "<text x=\"" + svg_number(left + pw / 2) + "\" y=\"" + svg_number(H - 12) +
       "\" text-anchor=\"middle\">step</text>\n";
  s += "<text transform=\"translate(18," + svg_number(top + ph / 2) +
       ") rotate(-90)\" text-anchor=\"middle\">loss (cross-entropy, nats per token)</text>\n";

  auto polyline = [&](const std::vector<std::pair<double, double>>& pts, const std::string& style) {
    if (pts.empty()) return;
    s += "<polyline fill=\"none\" " + style + " points=\"";
    for (const auto& p : pts)
      if (std::isfinite(p.second)) s += svg_number(X(p.first)) + "," + svg_number(Y(p.second)) + " ";
    s += "\"/>\n";
  };
  if (uniform_loss > 0) {
    s += "<line x1=\"" + svg_number(left) + "\" x2=\"" + svg_number(left + pw) + "\" y1=\"" +
         svg_number(Y(uniform_loss)) + "\" y2=\"" + svg_number(Y(uniform_loss)) +
         "\" stroke=\"#888\" stroke-dasharray=\"6,4\"/>\n";
  }
  // Training loss: every step (at most ~1,600 points), then a moving average over 50 steps.
  std::vector<std::pair<double, double>> raw, smooth;
  const std::size_t stride = std::max<std::size_t>(1, train.size() / 1600);
  double window = 0;
  for (std::size_t i = 0; i < train.size(); ++i) {
    window += train[i];
    if (i >= 50) window -= train[i - 50];
    if (i % stride == 0 || i + 1 == train.size()) {
      raw.emplace_back(static_cast<double>(i + 1), train[i]);
      smooth.emplace_back(static_cast<double>(i + 1), window / static_cast<double>(std::min<std::size_t>(i + 1, 50)));
    }
  }
  polyline(raw, "stroke=\"#9ecae1\" stroke-width=\"1\"");
  polyline(smooth, "stroke=\"#2171b5\" stroke-width=\"2\"");
  std::vector<std::pair<double, double>> val;
  for (const EvalPoint& e : history.evals) val.emplace_back(static_cast<double>(e.step), e.val_loss);
  polyline(val, "stroke=\"#e6550d\" stroke-width=\"2\"");
  for (const auto& p : val)
    if (std::isfinite(p.second))
      s += "<circle cx=\"" + svg_number(X(p.first)) + "\" cy=\"" + svg_number(Y(p.second)) +
           "\" r=\"3.5\" fill=\"#e6550d\"/>\n";
  // Legend.
  const double lx = left + pw - 230, ly = top + 14;
  s += "<rect x=\"" + svg_number(lx - 10) + "\" y=\"" + svg_number(ly - 12) +
       "\" width=\"235\" height=\"76\" fill=\"white\" stroke=\"#ccc\"/>\n";
  auto legend = [&](double y, const std::string& colour, const std::string& text, bool dashed) {
    s += "<line x1=\"" + svg_number(lx) + "\" x2=\"" + svg_number(lx + 24) + "\" y1=\"" + svg_number(y - 4) +
         "\" y2=\"" + svg_number(y - 4) + "\" stroke=\"" + colour + "\" stroke-width=\"2\"" +
         (dashed ? " stroke-dasharray=\"6,4\"" : "") + "/>\n";
    s += "<text x=\"" + svg_number(lx + 32) + "\" y=\"" + svg_number(y) + "\">" + text + "</text>\n";
  };
  legend(ly, "#2171b5", "training loss (50-step average)", false);
  legend(ly + 18, "#e6550d", "validation loss", false);
  if (uniform_loss > 0) legend(ly + 36, "#888", "log V: guessing uniformly", true);
  s += "</svg>\n";
  return s;
}

inline void save_loss_curve_svg(const std::string& path, const TrainingHistory& history, const std::string& title,
                                double uniform_loss = 0.0) {
  detail::write_file_atomic(path, loss_curve_svg(history, title, uniform_loss));
}

}  // namespace minigpt
