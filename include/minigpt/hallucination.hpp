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
// The world's questions of a split are read back from data/world.json (read_world_questions),
// and everyone's mention count with them (read_world_mentions). HallucinationOptions holds the
// experiments' settings (one table of defaults, and the PPO options they make). A second way to
// abstain, experiment 4's: answer only when the person's name is familiar to the model
// (confidence.hpp's familiarity), the threshold chosen on the rl split (person_familiarity,
// familiarity_abstention). Experiment 3, PPO against each grader, is grading.hpp; the
// program's --r-tuning SFT model is r_tuning.hpp.
//
// Shapes in: eval rows (prompt, answer, person, mentions) (n).  Shapes out: n asked questions.
//
// Example:
//   cloze_of({"Q: Where does Mina Park live?\nA:", "Busan", "Mina Park", 1})  -> "Mina Park lives in"
//   cloze_word(" Busan, works as") -> " Busan";  cloze_word("Busan") -> "" (no leading space)
//   grade_cloze(" Busan", "Busan") -> correct;  grade_cloze("", "Busan") -> off-format
//   ask_questions(sft, tok, rows, AskOptions{AskStyle::chat, 8}, rng)[0]
//     -> {asked "Q: Where does Mina Park live?\nA:", completion " Busan\n" (greedy), grade
//         correct, confidence P(" Busan\n" | asked), agreement: the share of 8 samples equal to it}
#pragma once

#include "calibration.hpp"
#include "confidence.hpp"
#include "detail/io.hpp"
#include "error.hpp"
#include "fact_world.hpp"
#include "gpt.hpp"
#include "jsonl.hpp"
#include "labeler.hpp"
#include "ppo_trainer.hpp"
#include "random.hpp"
#include "tokenizer.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
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
