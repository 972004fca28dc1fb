// minigpt/recipe.hpp — the pieces examples/chatgpt_recipe.cpp shares: its sizes, the
// labeler's comparisons drawn from a model, the model folders, and the charts.
//
// Chapter idea: ChatGPT's secret recipe (비밀 레시피) in miniature. A base model pre-trained
// (사전 학습) on the small world's text (fact_world.hpp); SFT (지도 미세 조정, sft.hpp) on
// demonstrations; a reward model (보상 모델, reward_model.hpp) trained on the labeler's
// comparisons (labeler.hpp) of answers the SFT model wrote; then PPO (ppo.hpp). The program
// reads top to bottom; what it would otherwise repeat lives here:
//
//   RecipeOptions          every size, one table of defaults (and a quick setting for tests)
//   collect_comparisons    for each prompt of a split: K answers sampled from the full
//                          distribution (temperature 1), ranked by the labeler, all its pairs
//   save_model_folder      a model folder (Hugging Face layout) with its tokenizer beside it
//   sft_loss_figure, reward_accuracy_figure   the two charts (chart.hpp)
//   showcase_questions     a handful of held-out questions, a few from each mention group
//   read_report, write_report   report.json
//
// Shapes in: models, a world, options.  Shapes out: pairs, figures, folders.
//
// Example:
//     Comparisons c = collect_comparisons(sft, tok, world, Split::rl, 6, rng);
//     write_preferences_jsonl("out/data/preferences.jsonl", c.pairs);  // TRL's fields
#pragma once

#include "chart.hpp"
#include "checkpoint.hpp"
#include "detail/io.hpp"
#include "error.hpp"
#include "fact_world.hpp"
#include "gpt.hpp"
#include "jsonl.hpp"
#include "labeler.hpp"
#include "random.hpp"
#include "sft.hpp"
#include "tensor.hpp"
#include "tokenizer.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <functional>
#include <string>
#include <vector>

namespace minigpt {

struct RecipeOptions {
  std::uint64_t seed = 1234;
  // The model: a character-level GPT (the world's text has under 70 distinct characters).
  Index n_layer = 4, n_head = 4, n_embd = 128, block_size = 128;
  // Step 1, pre-training: about 6 passes over the 1.1 M-character text (fact_world.hpp).
  Index pretrain_steps = 3000, pretrain_batch = 16;
  double pretrain_lr = 2e-3;
  // Step 2, SFT: 288 demonstrations, batch 16.
  Index sft_steps = 300, sft_batch = 16;
  double sft_lr = 3e-4;
  // Step 3, the reward model: K answers a prompt, the pairs of 8 prompts a step.
  Index answers_per_prompt = 6, rm_steps = 300, rm_prompts_per_step = 8;
  double rm_lr = 1e-4;
  Index eval_every = 25;  // held-out losses and accuracies every so many steps

  // A run of seconds for tests: a tiny model, a few steps of each kind.
  static RecipeOptions quick() {
    RecipeOptions o;
    o.n_layer = 1;
    o.n_head = 2;
    o.n_embd = 32;
    o.block_size = 64;
    o.pretrain_steps = 60;
    o.pretrain_batch = 8;
    o.sft_steps = 20;
    o.sft_batch = 8;
    o.answers_per_prompt = 4;
    o.rm_steps = 10;
    o.rm_prompts_per_step = 4;
    o.eval_every = 5;
    return o;
  }

  nlohmann::ordered_json to_json() const {
    return {{"seed", seed},
            {"model", {{"n_layer", n_layer}, {"n_head", n_head}, {"n_embd", n_embd}, {"block_size", block_size}}},
            {"pretrain", {{"steps", pretrain_steps}, {"batch", pretrain_batch}, {"lr", pretrain_lr}}},
            {"sft", {{"steps", sft_steps}, {"batch", sft_batch}, {"lr", sft_lr}}},
            {"reward", {{"answers_per_prompt", answers_per_prompt}, {"steps", rm_steps},
                        {"prompts_per_step", rm_prompts_per_step}, {"lr", rm_lr}}}};
  }
};

// The labeler's comparisons for one split's prompts.
struct Comparisons {
  std::vector<PreferencePair> pairs;
  std::array<Index, 4> grades{};  // sampled answers per grade (correct, idk, wrong, off-format)
  Index prompts = 0, answers = 0;

  nlohmann::ordered_json to_json() const {
    nlohmann::ordered_json g;
    for (const GradeInfo& info : minigpt::grades()) g[info.name] = grades[static_cast<std::size_t>(info.grade)];
    return {{"prompts", prompts}, {"answers", answers}, {"pairs", pairs.size()}, {"answers_by_grade", g}};
  }
};

// For every question of `split`: K answers sampled from `model`, ranked by the labeler
// against the world's answer (label_answers: correct > I don't know > wrong > off-format),
// every pair it prefers. on_prompt(i, n), when given, hears the progress.
template <typename S>
Comparisons collect_comparisons(GPT<S>& model, const Tokenizer& tok, const FactWorld& world, Split split, Index K,
                                Rng& rng, const std::function<void(Index, Index)>& on_prompt = {}) {
  const std::vector<Question> questions = world.questions_in(split);
  Comparisons c;
  for (std::size_t i = 0; i < questions.size(); ++i) {
    const Question& q = questions[i];
    const std::vector<std::string> answers = sample_completions(model, tok, q.prompt, K, rng);
    for (const std::string& a : answers) ++c.grades[static_cast<std::size_t>(grade_completion(a, q.answer))];
    const LabeledPrompt labeled = label_answers(q.prompt, q.answer, answers);
    c.pairs.insert(c.pairs.end(), labeled.pairs.begin(), labeled.pairs.end());
    ++c.prompts;
    c.answers += K;
    if (on_prompt) on_prompt(static_cast<Index>(i + 1), static_cast<Index>(questions.size()));
  }
  return c;
}

// A model folder: config.json and model.safetensors (checkpoint.hpp) and the tokenizer.
template <typename S>
void save_model_folder(const GPT<S>& model, const Tokenizer& tok, const std::string& dir) {
  save_model(model, dir);
  tok.save(dir);
}

// report.json: read (a resumed run keeps the figures of the steps it reuses) and written
// atomically.
inline nlohmann::ordered_json read_report(const std::string& path) {
  const std::string text = detail::read_file(path, std::size_t(64) << 20);
  try {
    return nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw FileError(path, "", std::string("malformed JSON: ") + e.what());
  }
}
inline void write_report(const std::string& path, const nlohmann::ordered_json& report) {
  detail::write_file_atomic(path, report.dump(1) + "\n");
}

// A few held-out questions of each mention group (then arithmetic), in eval.jsonl order.
inline std::vector<std::size_t> showcase_questions(const std::vector<EvalExample>& rows, Index per_group = 2) {
  std::array<Index, 5> taken{};
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::size_t g = rows[i].mentions < 0 ? 4 : static_cast<std::size_t>(mention_group_of(rows[i].mentions));
    if (taken[g]++ < per_group) out.push_back(i);
  }
  return out;
}

// SFT's training loss per step, and the held-out demonstrations' loss every so often.
inline chart::Figure sft_loss_figure(const std::vector<double>& train, const std::vector<double>& eval_steps,
                                     const std::vector<double>& eval_loss) {
  chart::Figure f;
  f.title = "SFT: loss on the answer tokens (prompt masked)";
  f.x = {"step"};
  f.y = {"cross-entropy (nats per answer token)"};
  std::vector<double> steps;
  for (std::size_t i = 0; i < train.size(); ++i) steps.push_back(static_cast<double>(i + 1));
  f.series.push_back({"training batch", steps, train, chart::Mark::line, "", 1});
  f.series.push_back({"held-out demonstrations", eval_steps, eval_loss, chart::Mark::line_points});
  return f;
}

// The reward model's pairwise accuracy: on each training batch, and on the held-out pairs.
inline chart::Figure reward_accuracy_figure(const std::vector<double>& train, const std::vector<double>& eval_steps,
                                            const std::vector<double>& eval_accuracy) {
  chart::Figure f;
  f.title = "reward model: share of pairs ordered as the labeler ordered them";
  f.x = {"step"};
  f.y = {"pairwise accuracy"};
  f.y.min = 0;
  f.y.max = 1;
  std::vector<double> steps;
  for (std::size_t i = 0; i < train.size(); ++i) steps.push_back(static_cast<double>(i + 1));
  f.series.push_back({"training batch", steps, train, chart::Mark::line, "", 1});
  f.series.push_back({"held-out pairs", eval_steps, eval_accuracy, chart::Mark::line_points});
  f.rules.push_back({false, 0.9, "target 90%"});
  f.rules.push_back({false, 0.5, "chance", "#bbbbbb"});
  return f;
}

}  // namespace minigpt
