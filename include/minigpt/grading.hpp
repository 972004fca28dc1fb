// minigpt/grading.hpp — grading decides behaviour (채점이 행동을 정한다): PPO against a
// grader instead of a reward model, experiment 3 of examples/hallucination.cpp.
//
// Chapter idea: Kalai et al. 2025 ("Why Language Models Hallucinate", section 4) argue that a
// model trained or evaluated by a grader that gives nothing for "I don't know" learns to
// guess, and that a stated confidence target t makes abstaining the best answer whenever the
// model is less than t sure. PPO (ppo_trainer.hpp) takes its reward as a function of the
// prompt and the answer, so a grader can stand in for the reward model, and the same SFT
// model can be trained once per grader and the policies compared:
//
//   grader                 reward of one sampled answer a to a question with right answer y
//   binary                 1 if a = y, else 0                          (guessing costs nothing)
//   confidence target t    1 if a = y, 0 if "I don't know", −t/(1−t) otherwise
//   reward model           r(prompt + a), the recipe's learned score (reward_model.hpp)
//
// Answering with probability p of being right scores p − (1−p)·t/(1−t) on average under the
// target grader, which is >= 0 exactly when p >= t; under the binary grader any p > 0 beats
// "I don't know". The paper's prediction, as this header's targets (GradingTargets): on people
// the pre-training text never names, the binary policy says "I don't know" to at most 20%,
// the t policy to at least 80%, while the t policy still answers at least 80% of the
// questions about often-mentioned (4+) people right.
//
//   grader_reward         a grade (labeler.hpp) of the decoded answer, scored, as PPO's reward
//   reward_model_reward   the learned reward model as PPO's reward
//   grader_policies       the graders of one run: "binary", target_name() ("t0.75"), "rm"
//   grader_experiment     the whole setting read from a recipe folder: the rl split's questions,
//                         the reward model (when DIR/reward exists), the graders, the gold
//                         score, PPO's options (HallucinationOptions, hallucination.hpp)
//   GraderResults         each trained policy's held-out answers, outcomes, calibration;
//                         every policy under every grader (grader_scores); the targets
//
// Shapes in: a prompt's and an answer's token ids (PPO's reward); asked questions (n) per
// policy.  Shapes out: one score per answer; one row of mean scores per policy.
//
// Example:
//   binary = grader_reward(tok, rl_rows, binary_score);
//   binary(tok.encode("Q: Where does Mina Park live?\nA:"), tok.encode(" Jeju\n"))  -> 0
//   target = grader_reward(tok, rl_rows, [](Grade g) { return confidence_target_score(g, 0.75); });
//   target(same prompt, tok.encode(" Jeju\n")) -> −3;  tok.encode(" I don't know.\n") -> 0
//   target(same prompt, tok.encode(" Jeju"))   -> −3  (cut before its newline: off-format)
#pragma once

#include "calibration.hpp"
#include "error.hpp"
#include "fact_world.hpp"
#include "hallucination.hpp"
#include "jsonl.hpp"
#include "labeler.hpp"
#include "ppo_trainer.hpp"
#include "random.hpp"
#include "reward_model.hpp"
#include "sft.hpp"
#include "tokenizer.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace minigpt {

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

}  // namespace minigpt
