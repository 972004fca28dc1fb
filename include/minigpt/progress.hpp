// minigpt/progress.hpp — a progress bar for pre-training (사전 학습): step, loss, speed, time left.
//
// Chapter idea: watching the loss (손실) fall is watching the model learn. The bar shows the
// latest training loss beside how fast training runs (tokens per second: the "compute" axis
// of the scaling laws, 스케일링 법칙) and when it will be done:
//
//     step  1200/2000 [##############..........]  loss 1.7012  38,412 tok/s  0:21 left
//
// On a terminal the bar redraws itself in place (at most ten times a second); written to a
// file or a pipe, it prints a plain line every `every` steps instead, so logs stay readable.
//
// Shapes in: step numbers and losses.  Shapes out: text.
//
// Example:
//     ProgressBar bar(std::cerr, /*total*/ 2000, /*interactive*/ isatty(2));
//     for (...) { StepResult r = trainer.train_step(); bar.update(r.step, r.loss, r.tokens); }
//     bar.message("step 250: val loss 2.0312");   // a line of its own; the bar goes on below
//     bar.finish();
// Work without a loss (answering questions) calls bar.update(step): steps and time left only.
// A bar over another number names it: ProgressBar(std::cerr, 60, true, 100, "reward").
#pragma once

#include "tensor.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>
#include <utility>

namespace minigpt {

class ProgressBar {
 public:
  // `quantity` names the number update() passes ("loss" in training; e.g. "reward" in PPO).
  ProgressBar(std::ostream& out, Index total, bool interactive, Index every = 100, std::string quantity = "loss")
      : out_(out), total_(total), interactive_(interactive), every_(every < 1 ? 1 : every),
        quantity_(std::move(quantity)), start_(Clock::now()), last_draw_(start_ - std::chrono::seconds(1)) {}

  // After step `step` (1-based) with training loss `loss` over `tokens` tokens.
  void update(Index step, double loss, Index tokens) {
    has_value_ = true;
    advance(step, loss, tokens);
  }

  // After step `step` of work with no loss and no tokens to count (e.g. questions answered):
  // the bar shows the steps and the time left only.
  void update(Index step) { advance(step, 0.0, 0); }

  // A line of its own (e.g. a validation loss), printed above the bar.
  void message(const std::string& text) {
    if (interactive_ && drawn_) out_ << '\r' << "\x1b[K";
    out_ << text << '\n';
    if (interactive_ && drawn_) out_ << line() << "\x1b[K";
    out_ << std::flush;
  }

  // Ends the bar's line.
  void finish() {
    if (interactive_ && drawn_) out_ << '\n' << std::flush;
    drawn_ = false;
  }

  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  double tokens_per_second() const { return seconds() > 0 ? static_cast<double>(tokens_) / seconds() : 0.0; }

 private:
  using Clock = std::chrono::steady_clock;

  void advance(Index step, double loss, Index tokens) {
    tokens_ += tokens;
    step_ = step;
    loss_ = loss;
    const auto now = Clock::now();
    if (interactive_) {
      if (now - last_draw_ < std::chrono::milliseconds(100) && step != total_) return;
      last_draw_ = now;
      out_ << '\r' << line() << "\x1b[K" << std::flush;  // \x1b[K: clear the rest of the line
      drawn_ = true;
    } else if (step % every_ == 0 || step == total_) {
      out_ << line() << '\n' << std::flush;
    }
  }

  static std::string clock_text(double seconds) {
    const long s = static_cast<long>(std::lround(seconds));
    char buf[32];
    if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
    return buf;
  }

  static std::string thousands(double v) {
    std::string digits = std::to_string(static_cast<long long>(std::llround(v)));
    for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<std::size_t>(i), ",");
    return digits;
  }

  std::string line() const {
    const int width = 24;
    const double done = total_ > 0 ? static_cast<double>(step_) / static_cast<double>(total_) : 1.0;
    const int filled = static_cast<int>(done * width);
    const double elapsed = seconds();
    const double left = step_ > 0 ? elapsed / static_cast<double>(step_) * static_cast<double>(total_ - step_) : 0.0;
    char head[64];
    const int digits = static_cast<int>(std::to_string(total_).size());
    std::snprintf(head, sizeof head, "step %*lld/%lld ", digits, static_cast<long long>(step_),
                  static_cast<long long>(total_));
    std::string tail;
    if (has_value_) {
      char value[64];
      std::snprintf(value, sizeof value, "  %s %.4f", quantity_.c_str(), loss_);
      tail += value;
    }
    if (tokens_ > 0) tail += "  " + thousands(tokens_per_second()) + " tok/s";
    tail += "  " + clock_text(left) + " left";
    return std::string(head) + "[" + std::string(static_cast<std::size_t>(filled), '#') +
           std::string(static_cast<std::size_t>(width - filled), '.') + "]" + tail;
  }

  std::ostream& out_;
  Index total_;
  bool interactive_;
  Index every_;
  std::string quantity_;
  Clock::time_point start_, last_draw_;
  Index step_ = 0, tokens_ = 0;
  double loss_ = 0.0;
  bool has_value_ = false;  // update() was given a value to show
  bool drawn_ = false;
};

}  // namespace minigpt
