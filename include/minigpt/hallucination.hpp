// minigpt/hallucination.hpp — asking a model the fact world's questions and keeping, for each
// answer, its grade and its confidence: the measurements behind the hallucination (환각)
// experiments of examples/hallucination.cpp.
//
// Chapter idea: to see whether a model "knows that it does not know", ask it questions whose
// answers we know, about people the pre-training text (사전 학습 데이터) mentions never, once,
// 2–3 or 4+ times (fact_world.hpp), and keep three things per answer: is it right (labeler.hpp
// grades it), how probable the model found it (confidence.hpp), and how often the model gives
// it again when sampled (self-consistency). calibration.hpp turns those into ECE, reliability
// diagrams, risk–coverage curves and rates per group.
//
// Two ways to ask:
//   chat   the fine-tuned model's format: prompt "Q: Where does Mina Park live?\nA:", the
//          answer up to its newline, " Busan\n", graded as it stands;
//   cloze  the pre-trained model's own way, continuing a sentence: "Mina Park lives in", and
//          the answer is the continuation's first word, " Busan" out of " Busan, works as a
//          ..." (every value of the world is one word; the sentence goes on with "," " and" or
//          "."), graded as the chat completion " Busan\n" and scored by P(" Busan" | cloze); a
//          continuation that does not start with a space and end its word is off-format. A
//          base model never saw "Q:/A:", so its knowledge and its probabilities are read
//          through the cloze.
// The cloze of a question is recovered from its prompt and its person (fact_attributes():
// "Where does {n} live?" <-> "{n} lives in"; "What is 3 + 4?" <-> "3 + 4 =").
//
// Grading decides behaviour (experiment 3): PPO (ppo_trainer.hpp) takes its reward as a
// function of the prompt and the answer, so a grader can stand in for the reward model:
//   grader_reward        the answer's tokens decoded, graded against its prompt's right answer
//                        (labeler.hpp), scored: binary (right 1, else 0), a confidence target
//                        t (right 1, "I don't know" 0, else −t/(1−t)), or the labeler's gold
//   reward_model_reward  the learned reward model's r(prompt + answer) (reward_model.hpp)
// PPO trains on the questions of the "rl" split (read_world_questions: people PPO may see,
// never the held-out ones) and each policy is then asked the held-out questions.
// HallucinationOptions holds the experiments' settings (one table of defaults, and the PPO
// options they make); grader_policies names the graders' rewards ("binary", "t0.75", "rm");
// grader_experiment reads the whole setting from a recipe folder (questions, reward model,
// graders, PPO's options); GraderResults gathers each trained policy's answers, outcomes and
// calibration; grader_scores, grader_score_table and targets_text make experiment 3's table
// and verdict. r_tuning_demonstrations and r_tuning_sft make the SFT model of the
// program's --r-tuning (R-Tuning: refusals where the base model does not know).
// person_familiarity and familiarity_abstention make experiment 4's second rule: answer only
// when the person's name is familiar to the model (confidence.hpp's familiarity), the
// threshold chosen on the rl split.
//
// Shapes in: eval rows (prompt, answer, person, mentions) (n).  Shapes out: n asked questions.
//
// Example:
//   cloze_of({"Q: Where does Mina Park live?\nA:", "Busan", "Mina Park", 1})  -> "Mina Park lives in"
//   cloze_word(" Busan, works as") -> " Busan";  cloze_word("Busan") -> "" (no leading space)
//   grade_cloze(" Busan", "Busan") -> correct;  grade_cloze("", "Busan") -> off-format
//   binary = grader_reward(tok, rl_rows, binary_score);
//   binary(tok.encode("Q: Where does Mina Park live?\nA:"), tok.encode(" Jeju\n"))  -> 0
//   target = grader_reward(tok, rl_rows, [](Grade g) { return confidence_target_score(g, 0.75); });
//   target(same prompt, tok.encode(" Jeju\n")) -> −3;  tok.encode(" I don't know.\n") -> 0
#pragma once

#include "calibration.hpp"
#include "checkpoint.hpp"
#include "confidence.hpp"
#include "detail/io.hpp"
#include "error.hpp"
#include "fact_world.hpp"
#include "gpt.hpp"
#include "jsonl.hpp"
#include "labeler.hpp"
#include "ppo_trainer.hpp"
#include "random.hpp"
#include "reward_model.hpp"
#include "sft.hpp"
#include "tokenizer.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace minigpt {

enum class AskStyle { chat, cloze };

// The sentence start that asks the question of an eval row the pre-training way.
inline std::string cloze_of(const EvalExample& e) {
  if (e.person.empty()) {  // arithmetic: "Q: What is 3 + 4?\nA:" -> "3 + 4 ="
    const std::string head = "Q: What is ", tail = "?\nA:";
    if (e.prompt.size() > head.size() + tail.size() && e.prompt.compare(0, head.size(), head) == 0 &&
        e.prompt.compare(e.prompt.size() - tail.size(), tail.size(), tail) == 0)
      return e.prompt.substr(head.size(), e.prompt.size() - head.size() - tail.size()) + " =";
  } else {
    for (const AttributeInfo& a : fact_attributes())
      if (e.prompt == chat_prompt(FactWorld::fill(a.question, e.person))) return FactWorld::fill(a.cloze, e.person);
  }
  throw ArgumentError("cloze_of: not a question of the fact world: " + escape_bytes(e.prompt));
}

// The first word of a cloze continuation, with its leading space: " Busan" out of
// " Busan, works as a"; "" when the continuation does not start with a space or its word does
// not end (at a space, ',', '.' or a newline) within it.
inline std::string cloze_word(const std::string& continuation) {
  if (continuation.size() < 2 || continuation[0] != ' ') return "";
  const std::size_t end = continuation.find_first_of(" ,.\n", 1);
  if (end == std::string::npos || end == 1) return "";
  return continuation.substr(0, end);
}

// A cloze answer (its first word, " Busan") graded as the chat completion " Busan\n"; an empty
// word is off-format.
inline Grade grade_cloze(const std::string& word, const std::string& answer) {
  if (word.empty()) return Grade::off_format;
  return grade_completion(word + "\n", answer);
}

// One question asked: what was asked, what came back, its grade and confidence.
struct AskedQuestion {
  EvalExample row;
  std::string asked;       // the prompt or the cloze given to the model
  std::string completion;  // the greedy answer, cut after its stop text
  Grade grade = Grade::off_format;
  double confidence = 0;   // P(completion | asked), from one forward pass
  double agreement = -1;   // share of sampled answers equal to it (-1: not sampled)
};

struct AskOptions {
  AskStyle style = AskStyle::chat;
  Index samples = 0;         // self-consistency samples per question (0: none)
  Index max_new_tokens = 24;
};

// Asks every row, greedily; on_done(i), when given, hears each finished question (progress).
template <typename S>
std::vector<AskedQuestion> ask_questions(GPT<S>& model, const Tokenizer& tok, const std::vector<EvalExample>& rows,
                                         const AskOptions& opt, Rng& rng,
                                         const std::function<void(Index)>& on_done = {}) {
  AnswerOptions a;
  a.max_new_tokens = opt.max_new_tokens;
  a.stop = opt.style == AskStyle::chat ? "\n" : ".";
  std::vector<AskedQuestion> out;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    AskedQuestion q;
    q.row = rows[i];
    q.asked = opt.style == AskStyle::chat ? rows[i].prompt : cloze_of(rows[i]);
    const ModelAnswer m = answer(model, tok, q.asked, a);
    q.completion = m.completion;
    q.confidence = m.confidence.prob;
    if (opt.style == AskStyle::chat) {
      q.grade = grade_completion(q.completion, q.row.answer);
    } else {  // the first word is the answer, scored alone
      const std::string word = cloze_word(m.completion);
      q.grade = grade_cloze(word, q.row.answer);
      if (!word.empty()) {
        q.completion = word;
        q.confidence = completion_confidence(model, model.activations(), tok.encode(q.asked), tok.encode(word)).prob;
      }
    }
    if (opt.samples > 0) {
      std::vector<std::string> samples = sample_answers(model, tok, q.asked, opt.samples, rng, a);
      if (opt.style == AskStyle::cloze)
        for (std::string& x : samples) x = cloze_word(x);
      q.agreement = self_consistency(samples, q.completion).agreement;
    }
    out.push_back(q);
    if (on_done) on_done(static_cast<Index>(i));
  }
  return out;
}

// Columns of asked questions, for calibration.hpp.
inline std::vector<Grade> grades_of(const std::vector<AskedQuestion>& qs) {
  std::vector<Grade> g;
  for (const AskedQuestion& q : qs) g.push_back(q.grade);
  return g;
}
inline std::vector<Index> mentions_of(const std::vector<AskedQuestion>& qs) {
  std::vector<Index> m;
  for (const AskedQuestion& q : qs) m.push_back(q.row.mentions);
  return m;
}
inline std::vector<double> confidences_of(const std::vector<AskedQuestion>& qs, bool agreement = false) {
  std::vector<double> c;
  for (const AskedQuestion& q : qs) c.push_back(agreement ? q.agreement : q.confidence);
  return c;
}

// The answers the model committed to (not "I don't know"): their confidences (or agreement
// shares) and whether each was right. What a reliability diagram is drawn from.
struct CommittedAnswers {
  std::vector<double> confidence;
  std::vector<bool> right;
};
inline CommittedAnswers committed_answers(const std::vector<AskedQuestion>& qs, bool agreement = false) {
  CommittedAnswers c;
  for (const AskedQuestion& q : qs) {
    if (q.grade == Grade::idk) continue;
    c.confidence.push_back(agreement ? q.agreement : q.confidence);
    c.right.push_back(q.grade == Grade::correct);
  }
  return c;
}

// Every person's mention count from a world.json (FactWorld::write): its "people" list, each
// with a whole "mentions" >= 0. A FileError names the file and the field otherwise.
inline std::vector<Index> read_world_mentions(const std::string& path) {
  const nlohmann::json world = detail::read_json_file(path);
  if (!world.is_object() || !world.contains("people") || !world["people"].is_array())
    throw FileError(path, "people", "is missing or not a list");
  std::vector<Index> mentions;
  for (std::size_t i = 0; i < world["people"].size(); ++i) {
    const nlohmann::json& p = world["people"][i];
    const std::string field = "people[" + std::to_string(i) + "].mentions";
    if (!p.is_object() || !p.contains("mentions") || !p["mentions"].is_number_integer() || p["mentions"].get<Index>() < 0)
      throw FileError(path, field, "is missing or not a whole number >= 0");
    mentions.push_back(p["mentions"].get<Index>());
  }
  return mentions;
}

// Asked questions as JSONL, one answer a line ({"model", "asked", "answer", "mentions",
// "completion", "grade", "confidence", "agreement"}), written atomically.
inline void write_answers_jsonl(const std::string& path,
                                const std::vector<std::pair<std::string, const std::vector<AskedQuestion>*>>& sets) {
  std::string text;
  for (const auto& [model, qs] : sets)
    for (const AskedQuestion& q : *qs)
      text += nlohmann::json{{"model", model},           {"asked", q.asked},
                             {"answer", q.row.answer},   {"mentions", q.row.mentions},
                             {"completion", q.completion}, {"grade", grade_name(q.grade)},
                             {"confidence", q.confidence}, {"agreement", q.agreement}}
                  .dump() +
              "\n";
  detail::make_directories(detail::parent_directory(path));
  detail::write_file_atomic(path, text);
}

// ---- experiment 3: PPO against a grader ----

// The person questions of one split ("sft", "rl" or "eval"), read back from a world.json
// (FactWorld::write): for each person of the split, in the file's order, one row per attribute
// in fact_attributes() order — the person rows of FactWorld::eval_examples(split), without
// the arithmetic. A FileError names the file and the field of anything missing.
inline std::vector<EvalExample> read_world_questions(const std::string& path, Split split) {
  const nlohmann::json world = detail::read_json_file(path);
  if (!world.is_object() || !world.contains("people") || !world["people"].is_array())
    throw FileError(path, "people", "is missing or not a list");
  std::vector<EvalExample> rows;
  for (std::size_t i = 0; i < world["people"].size(); ++i) {
    const nlohmann::json& p = world["people"][i];
    const std::string at = "people[" + std::to_string(i) + "].";
    auto text = [&](const std::string& field) {
      if (!p.is_object() || !p.contains(field) || !p[field].is_string() || p[field].get<std::string>().empty())
        throw FileError(path, at + field, "is missing or not a non-empty string");
      return p[field].get<std::string>();
    };
    if (text("split") != split_name(split)) continue;
    if (!p.contains("mentions") || !p["mentions"].is_number_integer() || p["mentions"].get<Index>() < 0)
      throw FileError(path, at + "mentions", "is missing or not a whole number >= 0");
    const std::string name = text("name");
    for (const AttributeInfo& a : fact_attributes())
      rows.push_back({chat_prompt(FactWorld::fill(a.question, name)), text(a.name), name, p["mentions"].get<Index>()});
  }
  return rows;
}

// R-Tuning (Zhang et al. 2024, "R-Tuning: Instructing Large Language Models to Say 'I Don't
// Know'"): demonstrate refusals where the model does not know, judged by what the model knows,
// not by what the data says. Each question about a person the text mentions at least once is
// put to the base model the pre-training way (its cloze, greedy: ask_questions) and
// demonstrated with the right answer when the cloze's answer is right, with " I don't know.\n"
// when it is not. Strangers and arithmetic are left to the recipe's own demonstrations.
//
//   RTuningRows r = r_tuning_demonstrations(base, tok, read_world_questions(world, Split::rl));
//   r.rows[k]  // {"Q: Where does Elena Costa live?\nA:", " I don't know.\n"}: its cloze said Daegu
struct RTuningRows {
  std::vector<SFTExample> rows;
  Index answered = 0, refused = 0;
};
template <typename S>
RTuningRows r_tuning_demonstrations(GPT<S>& base, const Tokenizer& tok, const std::vector<EvalExample>& questions) {
  std::vector<EvalExample> mentioned;
  for (const EvalExample& e : questions)
    if (!e.person.empty() && e.mentions >= 1) mentioned.push_back(e);
  Rng unused(0);  // greedy answers draw nothing
  RTuningRows r;
  for (const AskedQuestion& q : ask_questions(base, tok, mentioned, AskOptions{AskStyle::cloze, 0}, unused)) {
    const bool knows = q.grade == Grade::correct;
    r.rows.push_back({q.row.prompt, knows ? chat_completion(q.row.answer) : idk_completion()});
    ++(knows ? r.answered : r.refused);
  }
  return r;
}

// The SFT model of the program's --r-tuning: R-Tuning's rows for the recipe folder's rl
// questions (data/world.json), then SFT from the base model on the recipe's demonstrations
// (data/sft.jsonl, read with the model's block size) followed by those rows, with `options`
// (the recipe's step 2 settings: RecipeOptions::sft_options). Saves out/sft-r-tuning (with its
// tokenizer) and the rows to out/r_tuning.jsonl; on_step(step) hears each SFT step. The
// report names the rows' counts, the files and the SFT settings it trained with.
template <typename S>
struct RTuning {
  GPT<S> model;
  RTuningRows demonstrations;
  SFTOptions options;
  nlohmann::ordered_json to_json() const {
    return {{"answered", demonstrations.answered},
            {"refused", demonstrations.refused},
            {"folder", "sft-r-tuning"},
            {"rows", "r_tuning.jsonl"},
            {"sft", {{"steps", options.steps}, {"batch", options.batch_size}, {"lr", options.lr.max_lr}, {"seed", options.seed}}}};
  }
};
template <typename S>
RTuning<S> r_tuning_sft(GPT<S>& base, const Tokenizer& tok, const std::string& recipe, const SFTOptions& options,
                        const std::string& out, const std::function<void(Index)>& on_step = {}) {
  RTuningRows extra = r_tuning_demonstrations(base, tok, read_world_questions(recipe + "/data/world.json", Split::rl));
  const Index block = base.config().n_positions;
  std::vector<SFTExample> rows = read_sft_jsonl(recipe + "/data/sft.jsonl", {&tok, block});
  rows.insert(rows.end(), extra.rows.begin(), extra.rows.end());
  SFTTrainer<S> trainer(base, encode_sft(tok, rows, block), options);
  while (!trainer.done()) {
    trainer.step();
    if (on_step) on_step(trainer.step_count());
  }
  save_model(trainer.model(), out + "/sft-r-tuning");
  tok.save(out + "/sft-r-tuning");
  write_sft_jsonl(out + "/r_tuning.jsonl", extra.rows);
  return {trainer.model(), std::move(extra), options};
}

// A grader as PPO's reward: reward(prompt, answer) = score(grade_completion(decoded answer,
// right answer of the prompt)). The answer is decoded as sampled: " Busan\n" when it reached
// the stop token, without the newline (off-format) when it was cut. `rows` give the right
// answer of each prompt; a prompt not among them is an ArgumentError. The tokenizer is
// kept by reference: it must outlive the function.
inline RewardFunction grader_reward(const Tokenizer& tok, const std::vector<EvalExample>& rows,
                                    std::function<double(Grade)> score) {
  auto answers = std::make_shared<std::map<std::string, std::string>>();
  for (const EvalExample& e : rows) (*answers)[e.prompt] = e.answer;
  return [&tok, answers, score](const std::vector<TokenId>& prompt, const std::vector<TokenId>& answer) {
    const std::string p = tok.decode(prompt);
    const auto it = answers->find(p);
    if (it == answers->end()) throw ArgumentError("grader_reward: no right answer for the prompt " + escape_bytes(p));
    return score(grade_completion(tok.decode(answer), it->second));
  };
}

// The learned reward model as PPO's reward: r(prompt + answer), the answer as sampled. The
// reward model is kept by reference: it must outlive the function.
template <typename S>
RewardFunction reward_model_reward(const RewardModel<S>& rm) {
  return [&rm](const std::vector<TokenId>& prompt, const std::vector<TokenId>& answer) {
    std::vector<TokenId> ids = prompt;
    ids.insert(ids.end(), answer.begin(), answer.end());
    return static_cast<double>(rm.score(ids));
  };
}

// The reward model's mean score of asked questions' answers (prompt + completion, as asked).
template <typename S>
double mean_reward_model_score(const RewardModel<S>& rm, const Tokenizer& tok, const std::vector<AskedQuestion>& qs) {
  if (qs.empty()) return 0.0;
  std::vector<std::vector<TokenId>> seqs;
  for (const AskedQuestion& q : qs) seqs.push_back(tok.encode(q.asked + q.completion));
  return static_cast<double>(rm.score(seqs).template cast<double>().mean());
}

// One policy's row of experiment 3's table: the mean score a question of its answers under
// each grader (binary; the confidence target t; the reward model, NaN without one).
struct GraderScores {
  double binary = 0, target = 0, reward_model = std::numeric_limits<double>::quiet_NaN();
};
template <typename S>
GraderScores grader_scores(const std::vector<AskedQuestion>& qs, double t, const RewardModel<S>* rm, const Tokenizer& tok) {
  const GradeCounts all = outcomes_by_group(mentions_of(qs), grades_of(qs)).all;
  GraderScores s;
  s.binary = all.binary_score();
  s.target = all.target_score(t);
  if (rm != nullptr) s.reward_model = mean_reward_model_score(*rm, tok, qs);
  return s;
}

// The experiments' settings, one table of defaults (examples/hallucination.cpp's flags).
struct HallucinationOptions {
  Index samples = 8;          // sampled answers per question for self-consistency (0: none)
  Index limit = 0;            // ask only the first N held-out questions (0: all)
  double target = 0.75;       // the confidence target t of experiments 3 and 4
  std::uint64_t seed = 1234;  // the sampled answers and PPO
  // Experiment 3: PPO from the SFT model, one policy per grader. β is InstructGPT's 0.02, not
  // TRL's 0.05 (the recipe's): a guess about a stranger earns the binary grader 1/12 on
  // average, and the KL-regularised optimum then still refuses 76% of strangers at β = 0.05,
  // 21% at 0.02 (docs/hallucination.md); 80 steps let PPO get near it. On three worlds, one
  // and two threads each, the binary policy refused at most 20% of strangers in 5 of 6 runs
  // (3 of 6 at 0.05 and 40 steps); 0.01 met that in all 6 but broke the t-graded policy in 3.
  Index ppo_steps = 80, ppo_batch = 32, ppo_mini_batch = 8;
  double ppo_lr = 3e-5, kl_coef = 0.02;
  Index rloo_k = 0;     // > 0: leave-one-out advantages over K answers a prompt, no value head
  double ptx_coef = 0;  // PPO-ptx: weight of the SFT demonstrations' loss in each update (0: off)
  double temperature = 1.0;  // T of the policy PPO trains (PPOConfig::temperature; TRL's 0.7)
  bool skip_equal_scores = false;  // no update from a batch whose scores are all equal (PPOOptions)

  // The target grader's name, "t0.75": the policy's folder is ppo-t0.75.
  std::string target_name() const {
    char name[32];
    std::snprintf(name, sizeof name, "t%g", target);
    return name;
  }
  // PPO's options; stop is the newline token that ends an answer.
  PPOOptions ppo(TokenId stop) const {
    PPOOptions p;
    p.steps = ppo_steps;
    p.batch_size = ppo_batch;
    p.mini_batch_size = std::min(ppo_mini_batch, ppo_batch);
    p.learning_rate = ppo_lr;
    p.config.kl_coef = kl_coef;
    p.stop_token = stop;
    p.seed = seed;
    p.ptx_coef = ptx_coef;
    p.config.temperature = temperature;
    p.skip_equal_scores = skip_equal_scores;
    if (rloo_k > 0) p.config.advantage = AdvantageEstimator::leave_one_out, p.config.samples_per_prompt = rloo_k;
    return p;
  }
  nlohmann::ordered_json ppo_json() const {
    return {{"steps", ppo_steps},
            {"batch", ppo_batch},
            {"learning_rate", ppo_lr},
            {"kl_coef", kl_coef},
            {"advantage", rloo_k > 0 ? "leave_one_out" : "gae"},
            {"samples_per_prompt", rloo_k > 0 ? rloo_k : 1},
            {"ptx_coef", ptx_coef},
            {"temperature", temperature},
            {"skip_equal_scores", skip_equal_scores}};
  }
};

// Experiment 3's graders, each a reward for PPO on the questions `rows`: "binary" (right 1,
// else 0), the confidence target (its target_name(): right 1, "I don't know" 0, else
// −t/(1−t)), and "rm", the learned reward model, when rm is not null. The tokenizer and the
// reward model are kept by reference: they must outlive the rewards.
struct GraderPolicy {
  std::string grader;
  RewardFunction reward;
};
template <typename S>
std::vector<GraderPolicy> grader_policies(const Tokenizer& tok, const std::vector<EvalExample>& rows,
                                          const HallucinationOptions& o, const RewardModel<S>* rm) {
  const double t = o.target;
  std::vector<GraderPolicy> p{{"binary", grader_reward(tok, rows, binary_score)},
                              {o.target_name(), grader_reward(tok, rows, [t](Grade g) { return confidence_target_score(g, t); })}};
  if (rm != nullptr) p.push_back({"rm", reward_model_reward(*rm)});
  return p;
}

// Experiment 3's setting, read from a recipe folder: the rl split's questions (data/world.json)
// and their prompts, the recipe's reward model when DIR/reward exists, one policy per grader,
// the labeler's gold score (PPO reports it per step), PPO's options and, with ptx_coef > 0,
// PPO-ptx's batches of the recipe's demonstrations (data/sft.jsonl, as chatgpt_recipe mixes
// them in). The reward model lives on the heap, so the "rm" grader's reference to it holds
// when the setting is moved; the tokenizer must outlive it.
template <typename S>
struct GraderExperiment {
  std::vector<EvalExample> questions;                  // the rl split's person questions
  std::vector<std::vector<TokenId>> prompts;           // their prompts, encoded
  std::unique_ptr<RewardModel<S>> reward_model;        // null: no DIR/reward folder
  std::vector<GraderPolicy> policies;                  // binary, t, and rm when there is one
  RewardFunction gold;                                 // correct 1, I don't know 0, wrong -1, off-format -2
  PPOOptions ppo;
  std::vector<Batch> demonstrations;                   // PPO-ptx's (empty when ptx_coef is 0)
  nlohmann::ordered_json report;                       // the options and the above, for report.json
};
template <typename S>
GraderExperiment<S> grader_experiment(const std::string& recipe, const Tokenizer& tok, const HallucinationOptions& o,
                                      Index block_size) {
  GraderExperiment<S> x;
  x.questions = read_world_questions(recipe + "/data/world.json", Split::rl);
  for (const EvalExample& e : x.questions) x.prompts.push_back(tok.encode(e.prompt));
  if (detail::is_directory(recipe + "/reward"))
    x.reward_model = std::make_unique<RewardModel<S>>(load_reward_model<S>(recipe + "/reward"));
  x.policies = grader_policies(tok, x.questions, o, x.reward_model.get());
  x.gold = grader_reward(tok, x.questions, gold_score);
  x.ppo = o.ppo(newline_token(tok));
  if (o.ptx_coef > 0) {
    Rng rng(o.seed);
    x.demonstrations = sft_batches(encode_sft(tok, read_sft_jsonl(recipe + "/data/sft.jsonl"), block_size),
                                   x.ppo.mini_batch_size, rng);
  }
  x.report = o.ppo_json();
  x.report["train_questions"] = x.questions.size();
  x.report["reward_model"] = x.reward_model ? "DIR/reward" : "skipped: no DIR/reward folder";
  x.report["policies"] = nlohmann::ordered_json::array();
  return x;
}

// Experiment 3's table: each policy's row of mean scores under every grader, as text, and as
// JSON ({"policy", "binary", target_name, "reward_model" (null without one)} per row).
using NamedGraderScores = std::vector<std::pair<std::string, GraderScores>>;
inline std::string grader_score_table(const NamedGraderScores& rows, const std::string& target_name) {
  char line[160];
  std::snprintf(line, sizeof line, "  %-14s %8s %8s %13s\n", "policy", "binary", target_name.c_str(), "reward model");
  std::string out = line;
  for (const auto& [name, s] : rows) {
    std::snprintf(line, sizeof line, "  %-14s %8.3f %8.3f %13.3f\n", name.c_str(), s.binary, s.target, s.reward_model);
    out += line;
  }
  return out;
}
inline nlohmann::ordered_json to_json(const NamedGraderScores& rows, const std::string& target_name) {
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (const auto& [name, s] : rows)
    j.push_back({{"policy", name}, {"binary", s.binary}, {target_name, s.target},
                 {"reward_model", std::isnan(s.reward_model) ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(s.reward_model)}});
  return j;
}

// The paper's prediction as targets: on people the pre-training text never mentions, the
// binary-graded policy says "I don't know" at most 20% of the time (it guesses), the policy
// graded with the confidence target at least 80% (it abstains), while that policy still
// answers at least 80% of the questions about often-mentioned (4+) people correctly.
struct GradingTargets {
  double binary_idk_never = 0, target_idk_never = 0, target_accuracy_often = 0;
  bool binary_met() const { return binary_idk_never <= 0.2; }
  bool target_idk_met() const { return target_idk_never >= 0.8; }
  bool target_accuracy_met() const { return target_accuracy_often >= 0.8; }
};
inline GradingTargets grading_targets(const GroupOutcomes& binary, const GroupOutcomes& target) {
  const auto never = static_cast<std::size_t>(MentionGroup::never), often = static_cast<std::size_t>(MentionGroup::often);
  return {binary.group[never].idk(), target.group[never].idk(), target.group[often].accuracy()};
}
// The targets as two lines of text, the confidence-target policy named by target_name.
inline std::string targets_text(const GradingTargets& g, const std::string& target_name) {
  auto met = [](bool m) { return m ? "met" : "not met"; };
  char text[400];
  std::snprintf(text, sizeof text,
                "Targets: the binary policy says IDK to %.1f%% of never-mentioned people (<= 20%%: %s); the %s policy\n"
                "  to %.1f%% (>= 80%%: %s), and is right on %.1f%% of the 4+ group (>= 80%%: %s)\n",
                100 * g.binary_idk_never, met(g.binary_met()), target_name.c_str(), 100 * g.target_idk_never,
                met(g.target_idk_met()), 100 * g.target_accuracy_often, met(g.target_accuracy_met()));
  return text;
}
inline nlohmann::ordered_json to_json(const GradingTargets& g) {
  return {{"binary_idk_never", g.binary_idk_never},   {"binary_idk_never_at_most_0.2", g.binary_met()},
          {"target_idk_never", g.target_idk_never},   {"target_idk_never_at_least_0.8", g.target_idk_met()},
          {"target_accuracy_often", g.target_accuracy_often}, {"target_accuracy_often_at_least_0.8", g.target_accuracy_met()}};
}

// Experiment 3's results, gathered as the policies come: every model's held-out answers (the
// SFT model's first, the baseline), each policy's outcomes per mention group, the calibrations
// and names of the reliability diagram after PPO (the SFT model's first), and each policy's
// entry of report.json's "policies". The policies come in grader_policies' order: binary, the
// confidence target, the reward model.
//
//   GraderResults res(sft_answers, sft_calibration, "SFT (chat), P(answer)");
//   res.add("binary", answers_of_the_binary_policy, its_history);   // -> its GroupOutcomes
//   res.scores(0.75, rm, tok);  res.targets();
struct GraderResults {
  std::vector<std::pair<std::string, std::vector<AskedQuestion>>> asked;  // "SFT", "PPO binary", ...
  std::vector<GroupOutcomes> outcomes;                                    // per policy
  std::vector<Calibration> calibrations;                                  // the SFT model's, then each policy's
  std::vector<std::string> names;                                         // theirs, for the diagram
  nlohmann::ordered_json policies = nlohmann::ordered_json::array();

  GraderResults(std::vector<AskedQuestion> sft, Calibration sft_calibration, std::string sft_name)
      : asked{{"SFT", std::move(sft)}}, calibrations{std::move(sft_calibration)}, names{std::move(sft_name)} {}

  // The policy PPO trained against `grader`, by its answers to the held-out questions (asked in
  // the chat format) and its PPO history; returns its outcomes per mention group.
  const GroupOutcomes& add(const std::string& grader, std::vector<AskedQuestion> answers, const PPOHistory& history) {
    const CommittedAnswers c = committed_answers(answers);
    outcomes.push_back(outcomes_by_group(mentions_of(answers), grades_of(answers)));
    calibrations.push_back(calibration(c.confidence, c.right));
    names.push_back("PPO " + grader + " (chat), P(answer)");
    asked.emplace_back("PPO " + grader, std::move(answers));
    policies.push_back({{"grader", grader}, {"folder", "ppo-" + grader}, {"outcomes", to_json(outcomes.back())},
                        {"calibration", to_json(calibrations.back())}, {"history", history.to_json()}});
    return outcomes.back();
  }
  // Every model (the SFT model and each policy) under every grader: experiment 3's table.
  template <typename S>
  NamedGraderScores scores(double t, const RewardModel<S>* rm, const Tokenizer& tok) const {
    NamedGraderScores rows;
    for (const auto& [name, qs] : asked) rows.push_back({name, grader_scores(qs, t, rm, tok)});
    return rows;
  }
  // The paper's two predictions, read from the binary policy and the confidence target's.
  GradingTargets targets() const {
    if (outcomes.size() < 2) throw ArgumentError("GraderResults::targets: needs the binary and the confidence-target policies");
    return grading_targets(outcomes[0], outcomes[1]);
  }
};

// ---- experiment 4, another signal: has the model heard of the person? ----
//
// The answer's probability did not tell the SFT model's right answers from its confident
// guesses (experiment 4: abstention() in calibration.hpp). The name's familiarity
// (confidence.hpp: how well the model predicts "Mina Park" letter by letter after a newline)
// asks something else, whether the pre-training text named the person often, and the rule is:
// answer as the model does when familiarity(name) >= τ, else "I don't know". Questions that
// name nobody (arithmetic) are always answered (familiarity 1). τ is the best point of the
// risk–coverage sweep on the rl split's questions (asked the same way, greedily), then kept
// for the held-out questions, so their figures are not fitted to themselves.
//
//   person_familiarity(sft, tok, rows)  -> one number per row (a name's three questions share it)
//   FamiliarityAbstention f = familiarity_abstention(sft, tok, rl_rows, sft_held_out, AskStyle::chat, 0.75);
//   f.chosen.tau   // from the rl split;  f.held_out: outcomes per group abstaining below it
//   f.auroc_known  // held out: familiarity ranks a 4+ person's questions above those of people read 1–3 times
template <typename S>
std::vector<double> person_familiarity(const GPT<S>& model, const Tokenizer& tok, const std::vector<EvalExample>& rows) {
  GPTActivations<S> a;
  const std::vector<TokenId> newline = tok.encode("\n");
  std::map<std::string, double> of_name;
  std::vector<double> f;
  for (const EvalExample& e : rows) {
    if (e.person.empty()) {
      f.push_back(1.0);
      continue;
    }
    auto it = of_name.find(e.person);
    if (it == of_name.end()) it = of_name.emplace(e.person, familiarity(model, a, newline, tok.encode(e.person))).first;
    f.push_back(it->second);
  }
  return f;
}

struct FamiliarityAbstention {
  double t = 0.75;
  CoveragePoint chosen;  // the best point on the rl split: its τ, and coverage, risk, score there
  double auroc_known = std::numeric_limits<double>::quiet_NaN();  // held out, 4+ against 1–3 mentions
  double auroc_right = std::numeric_limits<double>::quiet_NaN();  // held out, right against wrong answers given
  GroupOutcomes as_asked, held_out;  // held out: the model's own answers; abstaining below chosen.tau
};
// From the numbers: the familiarity and the grade of each of the rl split's answers (they choose
// τ), and of each held-out answer (its row gives the person and the mentions).
inline FamiliarityAbstention familiarity_abstention(const std::vector<double>& rl_familiarity, const std::vector<Grade>& rl_grades,
                                                    const std::vector<double>& familiarity,
                                                    const std::vector<AskedQuestion>& held_out, double t) {
  calibration_checks::same_length(familiarity.size(), held_out.size(), "familiarity_abstention (held out)");
  FamiliarityAbstention f;
  f.t = t;
  f.chosen = best_threshold(risk_coverage(rl_familiarity, rl_grades, t));
  const std::vector<Grade> grades = grades_of(held_out);
  std::vector<Grade> gated = grades;  // "I don't know" below τ; a question naming nobody keeps its answer
  for (std::size_t i = 0; i < held_out.size(); ++i)
    if (!held_out[i].row.person.empty() && familiarity[i] < f.chosen.tau) gated[i] = Grade::idk;
  f.as_asked = outcomes_by_group(mentions_of(held_out), grades);
  f.held_out = outcomes_by_group(mentions_of(held_out), gated);
  std::vector<double> known_c, right_c;
  std::vector<bool> known, right;
  for (std::size_t i = 0; i < held_out.size(); ++i) {
    const EvalExample& e = held_out[i].row;
    if (e.mentions >= 1) known_c.push_back(familiarity[i]), known.push_back(e.mentions >= 4);
    if (!e.person.empty() && grades[i] != Grade::idk) right_c.push_back(familiarity[i]), right.push_back(grades[i] == Grade::correct);
  }
  f.auroc_known = auroc(known_c, known);
  f.auroc_right = auroc(right_c, right);
  return f;
}
// Asking the model: the rl split's questions greedily (`style`, as the held-out ones were
// asked), every name's familiarity by the same model.
template <typename S>
FamiliarityAbstention familiarity_abstention(GPT<S>& model, const Tokenizer& tok, const std::vector<EvalExample>& rl_rows,
                                             const std::vector<AskedQuestion>& held_out, AskStyle style, double t) {
  Rng unused(0);  // greedy answers draw nothing
  const std::vector<AskedQuestion> rl = ask_questions(model, tok, rl_rows, AskOptions{style, 0}, unused);
  std::vector<EvalExample> rows;
  for (const AskedQuestion& q : held_out) rows.push_back(q.row);
  return familiarity_abstention(person_familiarity(model, tok, rl_rows), grades_of(rl), person_familiarity(model, tok, rows),
                                held_out, t);
}
inline nlohmann::ordered_json to_json(const FamiliarityAbstention& f) {
  auto number = [](double x) { return std::isfinite(x) ? nlohmann::ordered_json(x) : nlohmann::ordered_json(nullptr); };
  return {{"t", f.t},
          {"tau", number(f.chosen.tau)},  // null: +∞, abstaining on every question was best
          {"rl_split", {{"coverage", f.chosen.coverage}, {"risk", f.chosen.risk}, {"score", f.chosen.score}}},
          {"auroc_often_vs_1_to_3", number(f.auroc_known)},
          {"auroc_right_vs_wrong", number(f.auroc_right)},
          {"outcomes", to_json(f.held_out)},
          {"outcomes_as_asked", to_json(f.as_asked)}};
}
// As text: the two AUROCs, the τ chosen on the rl split, the held-out outcomes below it.
inline std::string familiarity_text(const std::string& name, const FamiliarityAbstention& f) {
  auto figure = [](double x) {  // an AUROC without both kinds of answer is undefined: "-"
    char text[16] = "-";
    if (std::isfinite(x)) std::snprintf(text, sizeof text, "%.3f", x);
    return std::string(text);
  };
  char line[400];
  std::snprintf(line, sizeof line,
                "  %s: the name's familiarity ranks 4+ people above those mentioned 1-3 times with AUROC %s,\n"
                "    right answers above wrong ones with AUROC %s; tau %.4f chosen on the rl split (score there %+.3f)\n",
                name.c_str(), figure(f.auroc_known).c_str(), figure(f.auroc_right).c_str(), f.chosen.tau, f.chosen.score);
  return line + outcome_table(name + ", abstaining when the name is less familiar than tau (held out)", f.held_out, f.t);
}

}  // namespace minigpt
