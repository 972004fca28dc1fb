// minigpt/loss_curve.hpp — the loss curve of a training run, drawn as an SVG picture.
//
// Chapter idea: the loss (손실) falling step by step is what pre-training (사전 학습) looks
// like, and the scaling-law (스케일링 법칙) plots of the chapter are made of such curves: loss
// against compute, for models of growing size. This draws one run's curve: the training loss
// of every step (faint), its moving average over 50 steps, the validation loss at each
// evaluation, and, dashed, the loss of guessing uniformly among V tokens, log V, where every
// run starts. It is a chart::Figure (chart.hpp), so its numbers come out as JSON too.
//
// Shapes in: the history of a run (training.hpp).  Shapes out: a chart::Figure, an SVG
// document (text) or its numbers (JSON).
//
// Example:
//     save_loss_curve_svg("out/loss.svg", trainer.history(), "baby GPT on tinyshakespeare",
//                         std::log(65.0));
//     save_loss_curve_json("out/loss.json", trainer.history(), "baby GPT on tinyshakespeare",
//                          std::log(65.0));   // series: every step, 50-step average, validation
#pragma once

#include "chart.hpp"
#include "detail/io.hpp"
#include "training_history.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace minigpt {

// The picture as a figure. uniform_loss (log V) is drawn when > 0. Runs of more than 4,000
// steps are drawn (and listed) every k-th step, about 4,000 points per curve.
inline chart::Figure loss_curve_figure(const TrainingHistory& history, const std::string& title,
                                       double uniform_loss = 0.0) {
  const std::vector<double>& train = history.train_loss;
  chart::Figure f;
  f.title = title;
  f.x = {"step"};
  f.y = {"loss (cross-entropy, nats per token)"};
  f.x.min = 0;
  f.x.max = static_cast<double>(std::max<std::size_t>(train.size(), 1));
  f.legend = chart::LegendPlace::top_right;
  // Training loss: every step (faint), then a moving average over 50 steps.
  chart::Series raw{"", {}, {}, chart::Mark::line, "#9ecae1", 1};
  chart::Series smooth{"training loss (50-step average)", {}, {}, chart::Mark::line, "#2171b5", 2};
  const std::size_t stride = std::max<std::size_t>(1, train.size() / 4000);
  double window = 0;
  for (std::size_t i = 0; i < train.size(); ++i) {
    window += train[i];
    if (i >= 50) window -= train[i - 50];
    if (i % stride == 0 || i + 1 == train.size()) {
      const auto step = static_cast<double>(i + 1);
      raw.x.push_back(step);
      raw.y.push_back(train[i]);
      smooth.x.push_back(step);
      smooth.y.push_back(window / static_cast<double>(std::min<std::size_t>(i + 1, 50)));
    }
  }
  chart::Series val{"validation loss", {}, {}, chart::Mark::line_points, "#e6550d", 2};
  for (const EvalPoint& e : history.evals) {
    val.x.push_back(static_cast<double>(e.step));
    val.y.push_back(e.val_loss);
  }
  f.series = {raw, smooth, val};
  if (uniform_loss > 0) f.rules.push_back({false, uniform_loss, "log V: guessing uniformly", "#888888", true});
  return f;
}

// The SVG text of the curve. uniform_loss (log V) is drawn when > 0.
inline std::string loss_curve_svg(const TrainingHistory& history, const std::string& title, double uniform_loss = 0.0) {
  return chart::to_svg(loss_curve_figure(history, title, uniform_loss));
}

// The curve's numbers: every series' steps and losses (chart::to_json).
inline nlohmann::json loss_curve_json(const TrainingHistory& history, const std::string& title,
                                      double uniform_loss = 0.0) {
  return chart::to_json(loss_curve_figure(history, title, uniform_loss));
}

inline void save_loss_curve_svg(const std::string& path, const TrainingHistory& history, const std::string& title,
                                double uniform_loss = 0.0) {
  detail::write_file_atomic(path, loss_curve_svg(history, title, uniform_loss));
}

inline void save_loss_curve_json(const std::string& path, const TrainingHistory& history, const std::string& title,
                                 double uniform_loss = 0.0) {
  detail::write_file_atomic(path, loss_curve_json(history, title, uniform_loss).dump(1) + "\n");
}

}  // namespace minigpt
