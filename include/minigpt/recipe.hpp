// minigpt/recipe.hpp — the pieces examples/chatgpt_recipe.cpp shares: its sizes, the
// labeler's comparisons drawn from a model, the model folders, and the charts.
//
// Chapter idea: ChatGPT's secret recipe (비밀 레시피) in miniature. A base model pre-trained
// (사전 학습) on the small world's text (fact_world.hpp); SFT (지도 미세 조정, sft.hpp) on
// demonstrations; a reward model (보상 모델, reward_model.hpp) trained on the labeler's
// comparisons (labeler.hpp) of answers the SFT model wrote; then PPO (ppo.hpp,
// ppo_trainer.hpp) against that reward model, on a KL leash to the SFT model. The program
// reads top to bottom; what it would otherwise repeat lives here:
//
//   RecipeOptions          every size, one table of defaults (and a quick setting for tests),
//                          read back from report.json's "options"
//   collect_comparisons    for each prompt of a split: K answers sampled from the full
//                          distribution (temperature 1), ranked by the labeler, all its pairs
//   save_model_folder      a model folder (Hugging Face layout) with its tokenizer beside it
//   make_recipe_world      the world of o.seed, its files in DIR/data, its tokenizer and the
//                          held-out questions as read back (for a run --from, the saved
//                          world's text checked first)
//   run_pretraining_step   step 1: the existing trainer on the world's text; saves DIR/base
//   run_sft_step           step 2: SFT on DIR/data/sft.jsonl, the held-out demonstrations'
//                          loss as it goes; saves DIR/sft and DIR/sft_loss.svg
//   accuracy_by_kind       held-out pairwise accuracy per kind of pair ("correct > wrong"),
//                          the reward model's beside the SFT model's likelihood yardstick
//   run_reward_step        step 3: the labeler's pairs (written to DIR/data, read back), the
//                          reward model trained on them, its held-out accuracy beside the SFT
//                          model's likelihood yardstick, in all and by kind; saves DIR/reward,
//                          returns its report
//   run_ppo_step           step 4: π starts as the SFT model, π_ref is the SFT model frozen,
//                          reward(prompt, answer) = RM score of prompt + answer, gold = the
//                          labeler's grade as a number (gold_score: correct 1, I don't know 0,
//                          wrong −1, off-format −2, the order the RM learned from), with
//                          PPO-ptx: the world's SFT demonstrations mixed into every update
//                          (γ = ptx_coef); saves DIR/ppo and DIR/ppo.svg, returns the policy
//                          and its report
//   run_recipe_until_reward   steps 1 to 3 into an empty folder, for programs that read one
//   ensure_recipe_folder   a folder with the recipe's files, or an empty one filled by the above
//   sft_loss_figure, reward_accuracy_figure, ppo_figure   the charts (chart.hpp)
//   showcase_questions     a handful of held-out questions, a few from each mention group
//   read_report, write_report   report.json
//   check_resumed_options  a run reusing saved steps has the options they were made with
//
// Shapes in: models, a world, options.  Shapes out: pairs, figures, folders.
//
// Example:
//     Comparisons c = collect_comparisons(sft, tok, world, Split::rl, 6, rng);
//     write_preferences_jsonl("out/data/preferences.jsonl", c.pairs);  // TRL's fields
#pragma once

#include "char_tokenizer.hpp"
#include "chart.hpp"
#include "checkpoint.hpp"
#include "data_loader.hpp"
#include "detail/field_json.hpp"
#include "detail/fields.hpp"
#include "detail/io.hpp"
#include "error.hpp"
#include "fact_world.hpp"
#include "gpt.hpp"
#include "jsonl.hpp"
#include "labeler.hpp"
#include "ppo_trainer.hpp"
#include "progress.hpp"
#include "random.hpp"
#include "reward_model.hpp"
#include "sft.hpp"
#include "tensor.hpp"
#include "tokenizer.hpp"
#include "training.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace minigpt {

struct RecipeOptions {
  std::uint64_t seed = 1234;
  // The world (fact_world.hpp's WorldOptions; the rest of it is fixed): the mentions of the
  // well-known (4+) people, P(m) ∝ 1/m on often_min..often_max.
  Index often_min = 32, often_max = 256;
  // The model: a character-level GPT (the world's text has under 70 distinct characters).
  Index n_layer = 4, n_head = 4, n_embd = 128, block_size = 128;
  // Step 1, pre-training: about 4.8 passes over the 1.5 M-character text (fact_world.hpp).
  Index pretrain_steps = 3600, pretrain_batch = 16;
  double pretrain_lr = 2e-3;
  // Step 2, SFT: 468 demonstrations, batch 16.
  Index sft_steps = 300, sft_batch = 16;
  double sft_lr = 3e-4;
  // Step 3, the reward model: K answers a prompt, the pairs of 8 prompts a step, 40 steps:
  // about two passes over the prompts that have pairs. InstructGPT trained its reward model
  // for one epoch because more overfit; here held-out accuracy peaked near step 40 (68.6%)
  // and fell to 62.6% by step 300 (docs/recipe.md).
  Index answers_per_prompt = 6, rm_steps = 40, rm_prompts_per_step = 8;
  double rm_lr = 1e-4;
  // Step 4, PPO (ppo_trainer.hpp): rollouts a step, a minibatch, the longest answer, AdamW's
  // rate and β (fixed; TRL's 0.05). A step is about 5 s at these sizes on two idle cores.
  Index ppo_steps = 60, ppo_batch = 32, ppo_mini_batch = 8, ppo_max_new_tokens = 20;
  double ppo_lr = 5e-5, kl_coef = 0.05;
  // PPO-ptx (InstructGPT's PPO with the pre-training mix; here the SFT demonstrations): γ, the
  // demonstrations' loss weight in each update. 3 raised the gold score on three worlds where
  // plain PPO (0) lowered it on two; 1 left it flat on one (docs/recipe.md).
  double ptx_coef = 3;
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
    o.ppo_steps = 3;
    o.ppo_batch = 8;
    o.ppo_mini_batch = 4;
    o.eval_every = 5;
    return o;
  }

  // Step 2's SFT settings (run_sft_step; hallucination's --r-tuning trains with them too).
  SFTOptions sft_options() const {
    SFTOptions so;
    so.batch_size = sft_batch;
    so.steps = sft_steps;
    so.lr = {sft_lr, sft_lr / 10, std::min<Index>(20, sft_steps / 10), sft_steps};
    so.seed = seed + 1;
    return so;
  }

  // The world of this seed and these options.
  WorldOptions world_options() const {
    WorldOptions w;
    w.seed = seed;
    w.often_min = often_min;
    w.often_max = often_max;
    return w;
  }

  // The one table of the options (detail/fields.hpp): each under its place in report.json's
  // "options" ("group.key"). The group says which step a field shapes (step_of_option).
  template <typename F, typename... Self>
  static void for_each_field(F&& field, Self&... s) {
    using detail::optional;  // a report of an older version lacks a field: its default stands
    field("seed", optional, s.seed...);
    field("world.often_min", optional, s.often_min...);
    field("world.often_max", optional, s.often_max...);
    field("model.n_layer", optional, s.n_layer...);
    field("model.n_head", optional, s.n_head...);
    field("model.n_embd", optional, s.n_embd...);
    field("model.block_size", optional, s.block_size...);
    field("pretrain.steps", optional, s.pretrain_steps...);
    field("pretrain.batch", optional, s.pretrain_batch...);
    field("pretrain.lr", optional, s.pretrain_lr...);
    field("sft.steps", optional, s.sft_steps...);
    field("sft.batch", optional, s.sft_batch...);
    field("sft.lr", optional, s.sft_lr...);
    field("reward.answers_per_prompt", optional, s.answers_per_prompt...);
    field("reward.steps", optional, s.rm_steps...);
    field("reward.prompts_per_step", optional, s.rm_prompts_per_step...);
    field("reward.lr", optional, s.rm_lr...);
    field("ppo.steps", optional, s.ppo_steps...);
    field("ppo.batch", optional, s.ppo_batch...);
    field("ppo.mini_batch", optional, s.ppo_mini_batch...);
    field("ppo.max_new_tokens", optional, s.ppo_max_new_tokens...);
    field("ppo.lr", optional, s.ppo_lr...);
    field("ppo.kl_coef", optional, s.kl_coef...);
    field("ppo.ptx_coef", optional, s.ptx_coef...);
    field("eval_every", optional, s.eval_every...);
  }

  // The step whose saved result a field shapes: 1 (the world and the base model), 2 (SFT),
  // 3 (the reward model) or 4 (PPO, and how often anything is evaluated).
  static int step_of_option(const std::string& name) {
    const std::string group = name.substr(0, name.find('.'));
    if (group == "seed" || group == "world" || group == "model" || group == "pretrain") return 1;
    return group == "sft" ? 2 : group == "reward" ? 3 : 4;
  }

  // report.json's "options": {"seed": 1234, "world": {"often_min": 32, ...}, "model": {...}, ...}
  nlohmann::ordered_json to_json() const {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for_each_field(
        [&](const char* name, detail::FieldSpec, const auto& value) {
          const std::string n = name;
          const std::size_t dot = n.find('.');
          if (dot == std::string::npos)
            j[n] = value;
          else
            j[n.substr(0, dot)][n.substr(dot + 1)] = value;
        },
        *this);
    return j;
  }

  // The options a report.json's "options" holds (path names the file in errors: a field of
  // the wrong type, or "options" not an object); a field it lacks keeps its default.
  static RecipeOptions from_json(const nlohmann::ordered_json& j, const std::string& path) {
    if (!j.is_object()) throw FileError(path, "options", "must be a JSON object");
    RecipeOptions o;
    for_each_field(
        [&](const char* name, detail::FieldSpec, auto& value) {
          const std::string n = name;
          const std::size_t dot = n.find('.');
          const nlohmann::ordered_json* v = &j;
          if (dot != std::string::npos) {
            auto g = j.find(n.substr(0, dot));
            if (g == j.end()) return;
            if (!g->is_object()) throw FileError(path, "options." + n.substr(0, dot), "must be a JSON object");
            v = &*g;
          }
          auto it = v->find(dot == std::string::npos ? n : n.substr(dot + 1));
          if (it != v->end()) detail::read_field(value, nlohmann::json(*it), path, "options." + n);
        },
        o);
    return o;
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

// A run that reuses the saved steps 1 to `reused` (chatgpt_recipe --from) must have the
// options they were made with: otherwise it would pair a world with models made for another,
// and overwrite DIR/data with that other world. `report` is DIR/report.json as read (path
// names it); its options are compared, field by field, with this run's for every field of
// steps 1 to `reused` (RecipeOptions::step_of_option). The first that differs throws, e.g.
//     run/report.json: options.seed: the saved steps were made with 7, this run has 1234:
//     give the same option again, or a new --out
// A report without "options" is refused; a field it lacks counts as its default.
inline void check_resumed_options(const nlohmann::ordered_json& report, const std::string& path, const RecipeOptions& o, int reused) {
  auto it = report.find("options");
  if (!report.is_object() || it == report.end()) throw FileError(path, "options", "missing");
  const RecipeOptions saved = RecipeOptions::from_json(*it, path);
  RecipeOptions::for_each_field(
      [&](const char* name, detail::FieldSpec, const auto& was, const auto& now) {
        if (RecipeOptions::step_of_option(name) > reused || was == now) return;
        throw FileError(path, std::string("options.") + name,
                        "the saved steps were made with " + nlohmann::json(was).dump() + ", this run has " +
                            nlohmann::json(now).dump() + ": give the same option again, or a new --out");
      },
      saved, o);
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

namespace detail {
// A training curve (one value per batch) and a held-out curve measured every few steps.
inline chart::Figure train_and_heldout_figure(std::string title, std::string y_label, const std::vector<double>& train,
                                              std::string heldout_name, const std::vector<double>& eval_steps,
                                              const std::vector<double>& eval) {
  chart::Figure f;
  f.title = std::move(title);
  f.x = {"step"};
  f.y = {std::move(y_label)};
  std::vector<double> steps;
  for (std::size_t i = 0; i < train.size(); ++i) steps.push_back(static_cast<double>(i + 1));
  f.series.push_back({"training batch", steps, train, chart::Mark::line, "", 1});
  f.series.push_back({std::move(heldout_name), eval_steps, eval, chart::Mark::line_points});
  return f;
}
}  // namespace detail

// SFT's training loss per step, and the held-out demonstrations' loss every so often.
inline chart::Figure sft_loss_figure(const std::vector<double>& train, const std::vector<double>& eval_steps,
                                     const std::vector<double>& eval_loss) {
  return detail::train_and_heldout_figure("SFT: loss on the answer tokens (prompt masked)",
                                          "cross-entropy (nats per answer token)", train, "held-out demonstrations",
                                          eval_steps, eval_loss);
}

// The reward model's pairwise accuracy: on each training batch, and on the held-out pairs.
inline chart::Figure reward_accuracy_figure(const std::vector<double>& train, const std::vector<double>& eval_steps,
                                            const std::vector<double>& eval_accuracy) {
  chart::Figure f = detail::train_and_heldout_figure("reward model: share of pairs ordered as the labeler ordered them",
                                                     "pairwise accuracy", train, "held-out pairs", eval_steps,
                                                     eval_accuracy);
  f.y.min = 0;
  f.y.max = 1;
  f.rules.push_back({false, 0.9, "target 90%"});
  f.rules.push_back({false, 0.5, "chance", "#bbbbbb"});
  return f;
}

// PPO's reward (the RM's score), gold score (the labeler's) and KL to the SFT model, per step.
inline chart::Figure ppo_figure(const PPOHistory& h) {
  chart::Figure f;
  f.title = "PPO: the reward model's score, the labeler's (gold) score, the KL to the SFT model";
  f.subtitle = std::string("β ") + (h.adaptive_kl ? "adaptive" : "fixed") +
               (h.steps.empty() ? "" : " at " + chart::short_number(h.steps.front().kl_coef)) +
               (!h.steps.empty() && std::isfinite(h.steps.front().ptx_loss) ? "; the SFT demonstrations mixed in (PPO-ptx)" : "");
  f.x = {"PPO step"};
  f.y = {"per answer: score, or nats of KL"};
  std::vector<double> step, score, gold, kl;
  for (const PPOStepStats& s : h.steps) {
    step.push_back(static_cast<double>(s.step));
    score.push_back(s.mean_score);
    gold.push_back(s.mean_gold);
    kl.push_back(s.mean_kl);
  }
  f.series.push_back({"reward model's score", step, score, chart::Mark::line_points});
  f.series.push_back({"gold (correct 1, I don't know 0, wrong −1, off-format −2)", step, gold, chart::Mark::line_points});
  f.series.push_back({"KL(π ‖ π_SFT), nats", step, kl, chart::Mark::line_points});
  f.footnotes.push_back("each point: the mean over one step's rollouts, sampled at temperature 1");
  return f;
}

// The recipe's world, made for the folder `out`: drawn from o.seed with `prose` mixed in, its
// files written to out/data, the character tokenizer of its text, and the held-out questions
// as read back from out/data/eval.jsonl with their prompts. describe() puts the options and the
// world's figures (not its people) in report.json. When `out` holds saved steps (a run
// --from), the world must be theirs: out/data/pretrain.txt is compared with this world's text
// before anything is written, and a difference (another --prose) is a FileError naming it.
struct RecipeWorld {
  FactWorld world;
  CharTokenizer tok;
  std::vector<EvalExample> eval;
  std::vector<std::string> prompts;

  void describe(nlohmann::ordered_json& report, const RecipeOptions& o) const {
    report["options"] = o.to_json();
    report["world"] = world.to_json();
    report["world"].erase("people");
  }
};

inline RecipeWorld make_recipe_world(const RecipeOptions& o, const std::string& prose, const std::string& out,
                                     bool saved_steps = false) {
  FactWorld world = FactWorld::generate(o.world_options(), prose);
  const std::string text = out + "/data/pretrain.txt";
  if (saved_steps && detail::read_file(text, std::size_t(1) << 30) != world.pretrain_text())
    throw FileError(text, "", "is not the text of this run's world: the saved steps were made from other prose (--prose); give the same, or a new --out");
  world.write(out + "/data");
  CharTokenizer tok = CharTokenizer::from_text(world.pretrain_text());
  std::vector<EvalExample> eval = read_eval_jsonl(out + "/data/eval.jsonl");
  std::vector<std::string> prompts;
  for (const EvalExample& e : eval) prompts.push_back(e.prompt);
  return {std::move(world), std::move(tok), std::move(eval), std::move(prompts)};
}

// What steps 1 and 2 hand back: the trained model and the report's entry for the step.
template <typename S>
struct RecipeStep {
  GPT<S> model;
  nlohmann::ordered_json report;
};

// Step 1. Pre-training: the existing Trainer (AdamW, warm-up and cosine decay; training.hpp)
// on the world's text, o.pretrain_steps batches of o.pretrain_batch × o.block_size tokens,
// validated on the world's validation text. Saves out/base with its tokenizer; the report's
// "base" entry holds the final training and validation losses. on_step hears every step.
template <typename S>
RecipeStep<S> run_pretraining_step(const FactWorld& world, const Tokenizer& tok, const RecipeOptions& o,
                                   const std::string& out, const std::function<void(const StepResult&)>& on_step = {}) {
  TrainOptions t;
  t.batch_size = o.pretrain_batch;
  t.block_size = o.block_size;
  t.max_iters = o.pretrain_steps;
  t.lr = {o.pretrain_lr, o.pretrain_lr / 10, std::min<Index>(100, o.pretrain_steps / 10), o.pretrain_steps};
  t.seed = o.seed;
  const GPTConfig config = GPTConfig::make(o.n_layer, o.n_head, o.n_embd, o.block_size, tok.vocab_size());
  Trainer<S> trainer(config, t, {tok.encode(world.pretrain_text()), tok.encode(world.validation_text())});
  while (!trainer.done()) {
    const StepResult r = trainer.train_step();
    if (on_step) on_step(r);
  }
  const EvalPoint e = trainer.evaluate();
  RecipeStep<S> r{trainer.model(), {{"train_loss", e.train_loss}, {"val_loss", e.val_loss}}};
  save_model_folder(r.model, tok, out + "/base");
  return r;
}

// Step 2. SFT (sft.hpp) from the base model on out/data/sft.jsonl as read back (the
// demonstrations a reader opens), the prompt masked out of the loss; o.sft_steps batches of
// o.sft_batch. Every o.eval_every steps, the loss on the demonstrator's answers to the held-out
// questions. Saves out/sft (with its tokenizer) and out/sft_loss.svg (numbers in .json); the
// report's "sft" entry holds the demonstrations' count and the losses. on_step(step, loss).
template <typename S>
RecipeStep<S> run_sft_step(const GPT<S>& base, const Tokenizer& tok, const FactWorld& world, const RecipeOptions& o,
                           const std::string& out, const std::function<void(Index, double)>& on_step = {}) {
  const SFTData demos = encode_sft(tok, read_sft_jsonl(out + "/data/sft.jsonl", {&tok, o.block_size}), o.block_size);
  std::vector<SFTExample> held_out;  // the demonstrator's answers to the held-out questions
  for (const Question& q : world.questions_in(Split::eval)) held_out.push_back({q.prompt, world.demonstration(q)});
  const SFTData eval_demos = encode_sft(tok, held_out, o.block_size);
  SFTTrainer<S> trainer(base, demos, o.sft_options());
  std::vector<double> eval_steps{0}, eval_loss{trainer.loss_on(eval_demos)};
  while (!trainer.done()) {
    const double loss = trainer.step();
    if (on_step) on_step(trainer.step_count(), loss);
    if (trainer.step_count() % o.eval_every == 0 || trainer.done()) {
      eval_steps.push_back(static_cast<double>(trainer.step_count()));
      eval_loss.push_back(trainer.loss_on(eval_demos));
    }
  }
  chart::save(sft_loss_figure(trainer.losses(), eval_steps, eval_loss), out + "/sft_loss.svg", out + "/sft_loss.json");
  RecipeStep<S> r{trainer.model(),
                  {{"demonstrations", demos.size()}, {"final_train_loss", trainer.losses().back()},
                   {"heldout_loss_before", eval_loss.front()}, {"heldout_loss_after", eval_loss.back()}}};
  save_model_folder(r.model, tok, out + "/sft");
  return r;
}

// The held-out pairs by kind, the grades the labeler put first and second ("correct > wrong"):
// per kind, the pairs and the share the reward model (trainer.evaluate) and the yardstick (the
// SFT model's likelihood) order the labeler's way; kinds in the grade table's order, kinds
// without pairs left out. Every pair's prompt must be one of `questions`. Where a reward model
// falls short, this says which comparisons it cannot make: in the default run it orders every
// "I don't know" > wrong pair and half the correct > wrong ones (docs/recipe.md).
//
//   {"correct > wrong": {"pairs": 173, "reward_model": 0.480, "sft_likelihood": 0.763},
//    "I don't know > wrong": {"pairs": 76, "reward_model": 1.0, "sft_likelihood": 0.776}, ...}
template <typename S>
nlohmann::ordered_json accuracy_by_kind(RewardTrainer<S>& trainer, const GPT<S>& sft, const Tokenizer& tok,
                                        const std::vector<Question>& questions,
                                        const std::vector<PreferencePair>& pairs, Index block_size) {
  std::map<std::string, std::string> answer_of;
  for (const Question& q : questions) answer_of[q.prompt] = q.answer;
  std::map<std::pair<Grade, Grade>, std::vector<PreferencePair>> by_kind;  // Grade's order is the rank
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const auto it = answer_of.find(pairs[i].prompt);
    if (it == answer_of.end())
      throw ArgumentError("accuracy_by_kind: pair " + std::to_string(i + 1) + "'s prompt is not a question of the world: " +
                          escape_bytes(pairs[i].prompt));
    by_kind[{grade_completion(pairs[i].chosen, it->second), grade_completion(pairs[i].rejected, it->second)}].push_back(
        pairs[i]);
  }
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& [kind, rows] : by_kind) {
    const std::vector<PreferenceGroup> groups = encode_preferences(tok, rows, block_size);
    j[std::string(grade_name(kind.first)) + " > " + grade_name(kind.second)] = {
        {"pairs", rows.size()},
        {"reward_model", trainer.evaluate(groups).accuracy},
        {"sft_likelihood", likelihood_pairwise_accuracy(sft, groups)}};
  }
  return j;
}

// Step 3. The labeler ranks o.answers_per_prompt answers the SFT model samples for every RL
// question (the training pairs) and every held-out question (the test pairs); both go to
// out/data/preferences*.jsonl, and the reward model learns from the files as read back (what a
// reader opens is what it trained on). The model is the SFT model with a score head
// (RewardModel(sft, rng): the head's initial weights come from rng, after the samples), trained
// with the Bradley–Terry loss for o.rm_steps steps; held-out accuracy every o.eval_every steps.
// Beside it, the yardstick: how often the SFT model's own likelihood orders the held-out pairs
// as the labeler did; both per kind of pair too (accuracy_by_kind). Saves out/reward (with its
// tokenizer) and out/reward_accuracy.svg (numbers in .json); returns the report's "reward"
// entry. on_step(step, loss) hears each step.
template <typename S>
nlohmann::ordered_json run_reward_step(GPT<S>& sft, const Tokenizer& tok, const FactWorld& world,
                                       const RecipeOptions& o, const std::string& out, Rng& rng,
                                       const std::function<void(Index, double)>& on_step = {}) {
  const Comparisons train = collect_comparisons(sft, tok, world, Split::rl, o.answers_per_prompt, rng);
  const Comparisons held_out = collect_comparisons(sft, tok, world, Split::eval, o.answers_per_prompt, rng);
  write_preferences_jsonl(out + "/data/preferences.jsonl", train.pairs);
  write_preferences_jsonl(out + "/data/preferences_heldout.jsonl", held_out.pairs);
  const JsonlLimits limits{&tok, o.block_size};
  const auto pairs = encode_preferences(tok, read_preferences_jsonl(out + "/data/preferences.jsonl", limits), o.block_size);
  const std::vector<PreferencePair> test_rows = read_preferences_jsonl(out + "/data/preferences_heldout.jsonl", limits);
  const auto test_pairs = encode_preferences(tok, test_rows, o.block_size);
  RewardOptions ro;
  ro.steps = o.rm_steps;
  ro.prompts_per_step = o.rm_prompts_per_step;
  ro.lr = {o.rm_lr, o.rm_lr / 10, std::min<Index>(20, o.rm_steps / 10), o.rm_steps};
  ro.seed = o.seed + 2;
  RewardTrainer<S> trainer(RewardModel<S>(sft, rng), pairs, ro);
  RewardBatchResult held = trainer.evaluate(test_pairs);  // the latest held-out figures
  std::vector<double> accuracy, eval_steps{0}, eval_accuracy{held.accuracy};
  while (!trainer.done()) {
    const RewardBatchResult r = trainer.step();
    accuracy.push_back(r.accuracy);
    if (on_step) on_step(trainer.step_count(), r.loss);
    if (trainer.step_count() % o.eval_every == 0 || trainer.done()) {
      held = trainer.evaluate(test_pairs);
      eval_steps.push_back(static_cast<double>(trainer.step_count()));
      eval_accuracy.push_back(held.accuracy);
    }
  }
  chart::save(reward_accuracy_figure(accuracy, eval_steps, eval_accuracy), out + "/reward_accuracy.svg",
              out + "/reward_accuracy.json");
  save_reward_model(trainer.model(), out + "/reward");
  tok.save(out + "/reward");
  return {{"train", train.to_json()},
          {"heldout", held_out.to_json()},
          {"heldout_accuracy_before", eval_accuracy.front()},
          {"heldout_accuracy", held.accuracy},
          {"heldout_loss", held.loss},
          {"heldout_accuracy_sft_likelihood", likelihood_pairwise_accuracy(sft, test_pairs)},
          {"heldout_by_kind", accuracy_by_kind(trainer, sft, tok, world.questions_in(Split::eval), test_rows, o.block_size)}};
}

// What step 4 hands back: the trained policy and the report's "ppo" entry.
template <typename S>
struct PPOStepResult {
  GPT<S> policy;
  nlohmann::ordered_json report;
};

// Step 4. The policy starts as the SFT model and the frozen SFT model is the reference; the
// prompts are the world's RL questions; reward(prompt, answer) is the reward model's score of
// prompt + answer (the stop token included when the answer ended), and gold is the labeler's
// verdict on the same answer (gold_score), reported beside it and never trained on. With
// o.ptx_coef > 0 (the default), the world's SFT demonstrations, in batches of the minibatch
// size, add γ × their next-token loss to every update (PPO-ptx, ppo_trainer.hpp). Saves the
// policy to out/ppo (with its tokenizer; the value head is training scaffolding and is not
// kept) and the chart to out/ppo.svg (numbers in out/ppo.json). on_step hears every step.
template <typename S>
PPOStepResult<S> run_ppo_step(const GPT<S>& sft, const RewardModel<S>& reward_model, const Tokenizer& tok,
                              const FactWorld& world, const RecipeOptions& o, const std::string& out,
                              const std::function<void(const PPOStepStats&)>& on_step = {}) {
  std::vector<std::vector<TokenId>> prompts;
  std::map<std::vector<TokenId>, std::string> right_answer;  // prompt ids -> the world's answer
  Index longest = 0;
  for (const Question& q : world.questions_in(Split::rl)) {
    prompts.push_back(tok.encode(q.prompt));
    right_answer[prompts.back()] = q.answer;
    longest = std::max(longest, static_cast<Index>(prompts.back().size()));
  }
  const std::vector<TokenId> newline = tok.encode("\n");
  if (newline.size() != 1) throw ArgumentError("run_ppo_step: the tokenizer must make the newline one token");
  PPOOptions p;
  p.config.kl_coef = o.kl_coef;
  p.steps = o.ppo_steps;
  p.batch_size = o.ppo_batch;
  p.mini_batch_size = o.ppo_mini_batch;
  p.max_new_tokens = std::min(o.ppo_max_new_tokens, sft.config().n_positions - longest);  // what the block leaves
  p.stop_token = newline[0];
  p.learning_rate = o.ppo_lr;
  p.seed = o.seed + 3;
  p.ptx_coef = o.ptx_coef;
  Rng demo_rng(o.seed + 4);  // PPO-ptx: the SFT demonstrations in a shuffled order
  std::vector<Batch> demos;
  if (o.ptx_coef > 0) demos = sft_batches(encode_sft(tok, world.sft_examples(), o.block_size), p.mini_batch_size, demo_rng);
  const RewardFunction reward = [&](const std::vector<TokenId>& prompt, const std::vector<TokenId>& answer) {
    std::vector<TokenId> seq = prompt;
    seq.insert(seq.end(), answer.begin(), answer.end());
    return static_cast<double>(reward_model.score(seq));
  };
  const RewardFunction gold = [&](const std::vector<TokenId>& prompt, const std::vector<TokenId>& answer) {
    return gold_score(grade_completion(tok.decode(answer), right_answer.at(prompt)));
  };
  PPOStepResult<S> r{sft, {}};
  const PPOHistory h = run_ppo(r.policy, sft, reward, gold, prompts, p, on_step, std::move(demos));
  save_model_folder(r.policy, tok, out + "/ppo");
  chart::save(ppo_figure(h), out + "/ppo.svg", out + "/ppo.json");
  // The first and the last steps' means (a few steps each), then every step.
  auto mean_of = [&](std::size_t from, std::size_t to) {
    nlohmann::ordered_json j;
    for (const char* name : {"mean_score", "mean_gold", "mean_kl", "entropy", "clipfrac", "ended_share"}) {
      double sum = 0;
      for_each_ppo_stat([&](const char* n, auto get) {
        if (std::string(n) == name)
          for (std::size_t i = from; i < to; ++i) sum += get(h.steps[i]);
      });
      j[name] = to > from ? sum / static_cast<double>(to - from) : 0.0;
    }
    return j;
  };
  const std::size_t n = h.steps.size(), window = std::max<std::size_t>(1, std::min<std::size_t>(5, n / 4));
  r.report["prompts"] = prompts.size();
  r.report["max_new_tokens"] = p.max_new_tokens;
  r.report["kl_coef"] = p.config.kl_coef;
  r.report["adaptive_kl"] = h.adaptive_kl;
  r.report["ptx_coef"] = p.ptx_coef;
  r.report["first_steps"] = mean_of(0, std::min(window, n));
  r.report["last_steps"] = mean_of(n - std::min(window, n), n);
  r.report["history"] = h.to_json();
  return r;
}

// Steps 1 to 3 into the folder `out`, as chatgpt_recipe --out runs them, for a program that
// reads a recipe folder and was given an empty one (hallucination): the world drawn from
// o.seed with `prose` mixed in, its files in out/data, out/base, out/sft and out/reward with
// their charts, and out/report.json with the three steps' figures (the base and SFT models'
// greedy held-out answers graded, as the program does). Step 4 is left out; `chatgpt_recipe
// --out DIR --from reward` adds it to the same folder. A progress bar per step on `log`.
template <typename S>
void run_recipe_until_reward(const RecipeOptions& o, const std::string& prose, const std::string& out, std::ostream& log,
                             bool interactive) {
  const RecipeWorld w = make_recipe_world(o, prose, out);
  const FactWorld& world = w.world;
  const CharTokenizer& tok = w.tok;
  nlohmann::ordered_json report;
  w.describe(report, o);

  log << "step 1: pre-training on " << world.pretrain_text().size() << " characters\n";
  ProgressBar pretrain_bar(log, o.pretrain_steps, interactive);
  RecipeStep<S> base = run_pretraining_step<S>(world, tok, o, out, [&](const StepResult& r) {
    pretrain_bar.update(r.step, r.loss, r.tokens);
  });
  pretrain_bar.finish();
  report["base"] = base.report;
  report["base"]["answers"] = grade_answers(w.eval, greedy_completions(base.model, tok, w.prompts)).to_json();

  log << "step 2: SFT on " << world.sft_examples().size() << " demonstrations\n";
  ProgressBar sft_bar(log, o.sft_steps, interactive, 50);
  RecipeStep<S> sft = run_sft_step(base.model, tok, world, o, out, [&](Index step, double loss) {
    sft_bar.update(step, loss, 0);
  });
  sft_bar.finish();
  report["sft"] = sft.report;
  report["sft"]["answers"] = grade_answers(w.eval, greedy_completions(sft.model, tok, w.prompts)).to_json();

  log << "step 3: the labeler ranks " << o.answers_per_prompt << " answers per prompt; the reward model learns its pairs\n";
  ProgressBar rm_bar(log, o.rm_steps, interactive, 50);
  Rng rng(o.seed);
  report["reward"] = run_reward_step(sft.model, tok, world, o, out, rng, [&](Index step, double loss) {
    rm_bar.update(step, loss, 0);
  });
  rm_bar.finish();
  write_report(out + "/report.json", report);
}

// A recipe folder for a program that reads one: `dir` is used as it is when it holds
// data/eval.jsonl; when it is missing or empty, steps 1 to 3 run into it first
// (run_recipe_until_reward, the prose read from `prose_path`); anything else is refused,
// naming the missing file. Returns whether it ran the recipe.
template <typename S>
bool ensure_recipe_folder(const std::string& dir, const RecipeOptions& o, const std::string& prose_path,
                          std::ostream& log, bool interactive) {
  namespace fs = std::filesystem;
  if (fs::exists(dir + "/data/eval.jsonl")) return false;
  if (fs::exists(dir) && !(fs::is_directory(dir) && fs::is_empty(dir)))
    throw FileError(dir + "/data/eval.jsonl", "", "missing: give a folder chatgpt_recipe --out wrote, or an empty one");
  log << dir << (fs::exists(dir) ? " is empty" : " does not exist") << ": running the recipe's steps 1 to 3 into it first (seed "
      << o.seed << ")\n";
  run_recipe_until_reward<S>(o, load_text(prose_path), dir, log, interactive);
  return true;
}

}  // namespace minigpt
