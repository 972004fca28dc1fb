// minigpt/sft.hpp — supervised fine-tuning (SFT, 지도 미세 조정): from a text continuer to an
// assistant that answers in the chat format.
//
// Chapter idea: the first step of ChatGPT's recipe after pre-training (사전 학습). The base
// model only continues text; shown "Q: Where does Mina Park live?\nA:" it writes whatever text
// usually comes next. SFT trains the same model, with the same next-token loss, on
// demonstrations: a prompt and the answer a person wrote for it. Only the answer is learned —
// the prompt's positions are masked out of the loss (their target is ignore_index, loss.hpp),
// so the model learns to write answers, not questions.
//
// One demonstration, prompt p (P tokens) and completion c (K tokens), ids = p ++ c (n = P + K):
//
//     inputs  [t] = ids[t]                                 t = 0 .. n − 2
//     targets [t] = ids[t + 1]   if t + 1 >= P  (a completion token)
//                   ignore_index otherwise      (a prompt token: not learned)
//     loss        = mean over the K unmasked positions of −log p(target)
//
// A batch holds rows of different lengths: each is right-padded to the longest (inputs with
// pad id 0, targets ignore_index), which changes nothing before the padding (attention is
// causal), so the loss is the mean over every completion token of the batch.
//
// The measurement: greedy answers (temperature 0) to held-out prompts, cut at the first
// newline, graded by the labeler's rules (labeler.hpp): the share in the chat format
// (" <answer>\n", not off-format), the share correct, the share "I don't know", per mention
// group of eval.jsonl (never, once, 2-3, 4+, arithmetic).
//
// Shapes: rows (prompt, completion) -> batches inputs/targets (B, T) -> one loss per step;
//         prompts -> completions (strings) -> shares.
//
// Example (examples/chatgpt_recipe.cpp is the whole program):
//     SFTData data = encode_sft(tokenizer, read_sft_jsonl("data/sft.jsonl"), 128);
//     SFTTrainer<float> sft(base_model, data, SFTOptions{});
//     while (!sft.done()) sft.step();                         // loss of each step
//     auto answers = greedy_completions(sft.model(), tokenizer, prompts);
//     AnswerReport r = grade_answers(eval_rows, answers);     // r.all.in_format, r.all.correct
//   prompt "Q: What is 3 + 4?\nA:", completion " 7\n": 21 + 3 ids, the first 20 targets
//   masked, the last 3 (" ", "7", "\n") learned.
#pragma once

#include "adamw.hpp"
#include "detail/parallel.hpp"
#include "error.hpp"
#include "fact_world.hpp"
#include "generation.hpp"
#include "gpt.hpp"
#include "jsonl.hpp"
#include "labeler.hpp"
#include "loss.hpp"
#include "lr_schedule.hpp"
#include "random.hpp"
#include "tensor.hpp"
#include "tokenizer.hpp"
#include "training.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <exception>
#include <map>
#include <string>
#include <vector>

namespace minigpt {

// One tokenized demonstration: prompt ids then completion ids.
struct SFTSequence {
  std::vector<TokenId> ids;
  Index prompt_tokens = 0;
};
using SFTData = std::vector<SFTSequence>;

// Prompt and completion encoded apart and joined (jsonl.hpp checks rows the same way). Every
// row must fit the block: a prompt of P >= 1 tokens and a completion of K >= 1 with P + K <=
// block_size (the inputs are n − 1 <= block_size tokens).
inline SFTData encode_sft(const Tokenizer& tok, const std::vector<SFTExample>& rows, Index block_size) {
  SFTData out;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    SFTSequence s;
    s.ids = tok.encode(rows[i].prompt);
    s.prompt_tokens = static_cast<Index>(s.ids.size());
    const std::vector<TokenId> c = tok.encode(rows[i].completion);
    if (s.prompt_tokens == 0 || c.empty())
      throw ArgumentError("encode_sft: row " + std::to_string(i + 1) + " has an empty prompt or completion");
    s.ids.insert(s.ids.end(), c.begin(), c.end());
    if (static_cast<Index>(s.ids.size()) > block_size)
      throw ArgumentError("encode_sft: row " + std::to_string(i + 1) + " is " + std::to_string(s.ids.size()) +
                          " tokens, past the block size " + std::to_string(block_size));
    out.push_back(std::move(s));
  }
  if (out.empty()) throw ArgumentError("encode_sft: no rows");
  return out;
}

// Rows right-padded into one batch, prompt targets masked (the equations above).
inline Batch sft_batch(const SFTData& data, const std::vector<Index>& rows, TokenId pad_id = 0) {
  Batch b;
  b.B = static_cast<Index>(rows.size());
  for (Index r : rows) b.T = std::max<Index>(b.T, static_cast<Index>(data[static_cast<std::size_t>(r)].ids.size()) - 1);
  b.inputs.assign(static_cast<std::size_t>(b.B * b.T), pad_id);
  b.targets.assign(b.inputs.size(), ignore_index);
  for (Index i = 0; i < b.B; ++i) {
    const SFTSequence& s = data[static_cast<std::size_t>(rows[static_cast<std::size_t>(i)])];
    const Index n = static_cast<Index>(s.ids.size());
    for (Index t = 0; t + 1 < n; ++t) {
      b.inputs[static_cast<std::size_t>(i * b.T + t)] = s.ids[static_cast<std::size_t>(t)];
      if (t + 1 >= s.prompt_tokens) b.targets[static_cast<std::size_t>(i * b.T + t)] = s.ids[static_cast<std::size_t>(t + 1)];
    }
  }
  return b;
}

// Every row once, in a shuffled order, batch_size rows a batch (the last may be smaller):
// PPO-ptx's demonstrations (ppo_trainer.hpp, PPOTrainer::mix_in).
inline std::vector<Batch> sft_batches(const SFTData& data, Index batch_size, Rng& rng) {
  if (batch_size < 1) throw ArgumentError("sft_batches: batch_size must be >= 1");
  std::vector<Index> order(data.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<Index>(i);
  shuffle(order, rng);
  std::vector<Batch> out;
  for (std::size_t i = 0; i < order.size(); i += static_cast<std::size_t>(batch_size)) {
    const auto end = std::min(order.size(), i + static_cast<std::size_t>(batch_size));
    out.push_back(sft_batch(data, std::vector<Index>(order.begin() + static_cast<std::ptrdiff_t>(i),
                                                     order.begin() + static_cast<std::ptrdiff_t>(end))));
  }
  return out;
}

struct SFTOptions {
  Index batch_size = 16;
  Index steps = 300;
  LearningRateSchedule lr{3e-4, 3e-5, 20, 300};  // warm-up, cosine down
  AdamWOptions adamw{0.9, 0.99, 1e-8, 0.0};
  double grad_clip = 1.0;
  std::uint64_t seed = 1;

  void validate() const {
    if (batch_size < 1 || steps < 0) throw ArgumentError("SFTOptions: batch_size must be >= 1 and steps >= 0");
    if (!(grad_clip > 0)) throw ArgumentError("SFTOptions: grad_clip must be > 0");
    adamw.validate();
  }
};

// SFT's loop: shuffled passes over the rows, batch_size rows a step, AdamW with a clipped
// gradient. The batch is cut in one shard per thread (as Trainer does); each shard's gradient
// is weighted by its share of the batch's completion tokens, so the shards add up to the
// gradient of the batch's mean loss.
template <typename S = float>
class SFTTrainer {
 public:
  SFTTrainer(const GPT<S>& base, SFTData data, const SFTOptions& options)
      : model_(base), data_(std::move(data)), options_(options), optimizer_(base.config(), options.adamw),
        rng_(options.seed) {
    options.validate();
    if (data_.empty()) throw ArgumentError("SFTTrainer: no rows");
    const Index shards = std::max<Index>(1, std::min<Index>(options.batch_size, detail::max_threads()));
    acts_.resize(static_cast<std::size_t>(shards));
    grads_.assign(static_cast<std::size_t>(shards), Parameters<S>(base.config()));
  }

  GPT<S>& model() { return model_; }
  const GPT<S>& model() const { return model_; }
  Index step_count() const { return step_; }
  bool done() const { return step_ >= options_.steps; }
  const std::vector<double>& losses() const { return losses_; }  // one per step

  // One optimiser step; returns the batch's mean loss over its completion tokens.
  double step() {
    const Batch batch = sft_batch(data_, next_rows());
    const Index n = static_cast<Index>(acts_.size()), B = batch.B;
    auto rows = [&](Index s) { return std::make_pair(B * s / n, B * (s + 1) / n); };
    auto counted = [&](Index b0, Index b1) {
      Index c = 0;
      for (Index i = b0 * batch.T; i < b1 * batch.T; ++i) c += batch.targets[static_cast<std::size_t>(i)] != ignore_index;
      return c;
    };
    const Index total = counted(0, B);
    std::vector<double> losses(static_cast<std::size_t>(n), 0.0);
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(n));
    detail::parallel_tasks(n, [&](Index s) {
      const auto si = static_cast<std::size_t>(s);
      const auto [b0, b1] = rows(s);
      grads_[si].zero();
      const Index c = counted(b0, b1);
      if (c == 0) return;  // a shard of rows without completion tokens here: nothing to add
      LossOptions o;
      o.masked = true;
      o.scale = static_cast<double>(c) / static_cast<double>(total);
      try {
        losses[si] = o.scale * loss_and_backward(model_, acts_[si], grads_[si], batch.view(b0, b1), o);
      } catch (...) {
        errors[si] = std::current_exception();
      }
    });
    double loss = 0.0;
    for (std::size_t s = 0; s < errors.size(); ++s) {
      if (errors[s]) std::rethrow_exception(errors[s]);
      loss += losses[s];
    }
    for (std::size_t s = 1; s < grads_.size(); ++s) grads_[0].flat() += grads_[s].flat();
    const double norm = grad_norm(grads_[0]);
    if (!std::isfinite(loss) || !std::isfinite(norm))
      throw ArgumentError("SFT step " + std::to_string(step_ + 1) + ": the loss or the gradient is not finite");
    const std::string bad = optimizer_.step(model_.parameters(), grads_[0], options_.lr(step_),
                                            clip_scale(norm, options_.grad_clip));
    if (!bad.empty()) throw ArgumentError("SFT step " + std::to_string(step_ + 1) + ": weight " + bad + " is not finite");
    ++step_;
    losses_.push_back(loss);
    return loss;
  }

  // The mean loss over the completion tokens of `rows` (e.g. held-out demonstrations).
  double loss_on(const SFTData& rows) {
    double total = 0.0;
    Index tokens = 0;
    for (std::size_t i = 0; i < rows.size(); i += static_cast<std::size_t>(options_.batch_size)) {
      std::vector<Index> idx;
      for (std::size_t k = i; k < std::min(rows.size(), i + static_cast<std::size_t>(options_.batch_size)); ++k)
        idx.push_back(static_cast<Index>(k));
      const Batch b = sft_batch(rows, idx);
      const Tensor<S>& logits = model_.forward(acts_[0], b.inputs, b.B, b.T);
      Index c = 0;
      for (TokenId t : b.targets) c += t != ignore_index;
      total += static_cast<double>(cross_entropy<S>(logits.matrix(), b.targets.data(), nullptr, true)) * static_cast<double>(c);
      tokens += c;
    }
    return tokens > 0 ? total / static_cast<double>(tokens) : 0.0;
  }

 private:
  // The next batch_size rows of a shuffled pass over the data (a new shuffle each pass).
  std::vector<Index> next_rows() {
    std::vector<Index> out;
    while (static_cast<Index>(out.size()) < options_.batch_size) {
      if (cursor_ >= order_.size()) {
        order_.resize(data_.size());
        for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = static_cast<Index>(i);
        shuffle(order_, rng_);
        cursor_ = 0;
      }
      out.push_back(order_[cursor_++]);
    }
    return out;
  }

  GPT<S> model_;
  SFTData data_;
  SFTOptions options_;
  AdamW<S> optimizer_;
  Rng rng_;
  std::vector<Index> order_;
  std::size_t cursor_ = 0;
  Index step_ = 0;
  std::vector<double> losses_;
  std::vector<GPTActivations<S>> acts_;
  std::vector<Parameters<S>> grads_;
};

// ---- answering prompts ----

// A sampled or greedy answer as text: the tokens up to and including the first newline
// (an answer that never ends keeps all its tokens, and the labeler calls it off-format).
inline std::string completion_text(const Tokenizer& tok, const std::vector<TokenId>& tokens, TokenId newline) {
  const auto end = std::find(tokens.begin(), tokens.end(), newline);
  return tok.decode(std::vector<TokenId>(tokens.begin(), end == tokens.end() ? end : end + 1));
}

// The id of "\n" in the tokenizer (the answers' stop token).
inline TokenId newline_token(const Tokenizer& tok) {
  const std::vector<TokenId> ids = tok.encode("\n");
  if (ids.size() != 1) throw ArgumentError("the tokenizer has no single token for a newline");
  return ids[0];
}

struct CompletionOptions {
  Index max_new_tokens = 34;  // the longest answer the labeler accepts: " " + 32 bytes + "\n"
                              // (and at most what the block leaves after the prompt)
  double temperature = 0.0;   // 0: greedy
  Index batch = 64;           // prompts of equal length generated together
};

// One completion per prompt: prompts of the same token length run as one batch. `rng` is used
// only when temperature > 0 (then each prompt's answer depends on its batch's draws).
template <typename S>
std::vector<std::string> answer_prompts(GPT<S>& model, const Tokenizer& tok, const std::vector<std::string>& prompts,
                                        const CompletionOptions& options, Rng& rng) {
  const TokenId nl = newline_token(tok);
  std::map<Index, std::vector<std::size_t>> by_length;
  std::vector<std::vector<TokenId>> encoded(prompts.size());
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    encoded[i] = tok.encode(prompts[i]);
    by_length[static_cast<Index>(encoded[i].size())].push_back(i);
  }
  GenerateOptions g;
  g.sampling.temperature = options.temperature;
  g.stop_token = nl;
  std::vector<std::string> out(prompts.size());
  for (const auto& group : by_length) {
    // Prompt and answer together fit the block (so they can be scored and trained on).
    if (group.first >= model.config().n_positions)
      throw ArgumentError("answer_prompts: a prompt of " + std::to_string(group.first) +
                          " tokens leaves no room in the block of " + std::to_string(model.config().n_positions));
    g.max_new_tokens = std::min(options.max_new_tokens, model.config().n_positions - group.first);
    for (std::size_t k = 0; k < group.second.size(); k += static_cast<std::size_t>(options.batch)) {
      const std::size_t end = std::min(group.second.size(), k + static_cast<std::size_t>(options.batch));
      std::vector<TokenId> ids;
      for (std::size_t j = k; j < end; ++j) ids.insert(ids.end(), encoded[group.second[j]].begin(), encoded[group.second[j]].end());
      const auto rows = generate(model, ids, static_cast<Index>(end - k), g, rng);
      for (std::size_t j = k; j < end; ++j) out[group.second[j]] = completion_text(tok, rows[j - k], nl);
    }
  }
  return out;
}

// Greedy answers (temperature 0), one per prompt.
template <typename S>
std::vector<std::string> greedy_completions(GPT<S>& model, const Tokenizer& tok, const std::vector<std::string>& prompts,
                                            Index max_new_tokens = 34) {
  Rng unused(0);
  CompletionOptions o;
  o.max_new_tokens = max_new_tokens;
  return answer_prompts(model, tok, prompts, o, unused);
}

// K answers sampled from the full distribution (temperature 1, no top-k or top-p) for one
// prompt: the labeler ranks them (labeler.hpp), PPO learns from them.
template <typename S>
std::vector<std::string> sample_completions(GPT<S>& model, const Tokenizer& tok, const std::string& prompt, Index K,
                                            Rng& rng, double temperature = 1.0, Index max_new_tokens = 34) {
  CompletionOptions o;
  o.max_new_tokens = max_new_tokens;
  o.temperature = temperature;
  return answer_prompts(model, tok, std::vector<std::string>(static_cast<std::size_t>(K), prompt), o, rng);
}

// ---- grading the answers ----

// Shares of one group of questions.
struct AnswerShares {
  Index questions = 0;
  double in_format = 0, correct = 0, idk = 0, wrong = 0;  // shares of `questions`
};

// The groups a report breaks answers into: eval.jsonl's mention groups, then arithmetic.
inline const std::array<const char*, 5>& answer_groups() {
  static const std::array<const char*, 5> names{{"never", "once", "2-3", "4+", "arithmetic"}};
  return names;
}

struct AnswerReport {
  AnswerShares all;
  std::array<AnswerShares, 5> groups;  // answer_groups() order
  std::vector<Grade> grades;           // one per question

  nlohmann::ordered_json to_json() const {
    auto shares = [](const AnswerShares& s) {
      return nlohmann::ordered_json{{"questions", s.questions}, {"in_format", s.in_format}, {"correct", s.correct},
                                    {"idk", s.idk},             {"wrong", s.wrong}};
    };
    nlohmann::ordered_json j = shares(all);
    for (std::size_t g = 0; g < groups.size(); ++g) j["groups"][answer_groups()[g]] = shares(groups[g]);
    return j;
  }
};

// Grades answers[i] against rows[i].answer with the labeler's rules (labeler.hpp).
inline AnswerReport grade_answers(const std::vector<EvalExample>& rows, const std::vector<std::string>& answers) {
  if (rows.size() != answers.size())
    throw ArgumentError("grade_answers: " + std::to_string(rows.size()) + " questions but " +
                        std::to_string(answers.size()) + " answers");
  AnswerReport r;
  auto add = [](AnswerShares& s, Grade g) {
    ++s.questions;
    s.in_format += g != Grade::off_format;
    s.correct += g == Grade::correct;
    s.idk += g == Grade::idk;
    s.wrong += g == Grade::wrong;
  };
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Grade g = grade_completion(answers[i], rows[i].answer);
    r.grades.push_back(g);
    add(r.all, g);
    const std::size_t group =
        rows[i].mentions < 0 ? 4 : static_cast<std::size_t>(mention_group_of(rows[i].mentions));
    add(r.groups[group], g);
  }
  auto normalise = [](AnswerShares& s) {
    if (s.questions == 0) return;
    const double n = static_cast<double>(s.questions);
    s.in_format /= n;
    s.correct /= n;
    s.idk /= n;
    s.wrong /= n;
  };
  normalise(r.all);
  for (AnswerShares& s : r.groups) normalise(s);
  return r;
}

}  // namespace minigpt
