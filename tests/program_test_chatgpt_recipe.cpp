// chatgpt_recipe, run as a user runs it with --quick (a tiny model, a few steps of each kind):
// every file it promises is there and readable by the library's own readers, the model
// folders load (generate reads them), the reward folder gives finite scores, the report's
// figures equal what the library measures on the saved models, and --from sft reuses the saved
// steps and repeats step 3 exactly (same seed, same figures).
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

#include <cmath>

using Catch::Matchers::Contains;

TEST_CASE("chatgpt_recipe runs pre-training, SFT and the reward model, and saves every step", "[programs][recipe]") {
  using namespace minigpt;
  const std::string dir = test::scratch("recipe");
  const test::Run r = test::run_program("chatgpt_recipe", "--quick --out " + dir + "/run");
  INFO(r.out);
  REQUIRE(r.status == 0);
  const std::string run = dir + "/run";

  // The data files, in TRL's fields, read back by the library's readers.
  const auto sft_rows = read_sft_jsonl(run + "/data/sft.jsonl");
  const auto eval = read_eval_jsonl(run + "/data/eval.jsonl");
  const auto prefs = read_preferences_jsonl(run + "/data/preferences.jsonl");
  const auto held = read_preferences_jsonl(run + "/data/preferences_heldout.jsonl");
  CHECK(sft_rows.size() == 288);
  CHECK(eval.size() == 399);
  CHECK(!prefs.empty());
  CHECK(!held.empty());
  CHECK(test::file_bytes(run + "/data/pretrain.txt").size() > 1000000);

  // The model folders, each with its tokenizer; the reward folder with its head.
  auto tok = load_tokenizer(run + "/sft");
  GPT<float> base = load_model<float>(run + "/base");
  GPT<float> sft = load_model<float>(run + "/sft");
  const RewardModel<float> rm = load_reward_model<float>(run + "/reward");
  CHECK(sft.config().n_layer == 1);
  CHECK(rm.config() == sft.config());
  CHECK_THROWS_AS(load_reward_model<float>(run + "/sft"), FileError);
  const float s = rm.score(tok->encode(prefs[0].prompt + prefs[0].chosen));
  CHECK(std::isfinite(s));

  // report.json: the shares the library measures on the saved models' greedy answers.
  const nlohmann::json report = test::read_json(run + "/report.json");
  std::vector<std::string> prompts;
  for (const EvalExample& e : eval) prompts.push_back(e.prompt);
  const AnswerReport sft_answers = grade_answers(eval, greedy_completions(sft, *tok, prompts));
  const AnswerReport base_answers = grade_answers(eval, greedy_completions(base, *tok, prompts));
  CHECK(report["sft"]["answers"]["in_format"].get<double>() == Approx(sft_answers.all.in_format));
  CHECK(report["sft"]["answers"]["correct"].get<double>() == Approx(sft_answers.all.correct));
  CHECK(report["base"]["answers"]["in_format"].get<double>() == Approx(base_answers.all.in_format));
  CHECK(report["reward"]["train"]["pairs"].get<std::size_t>() == prefs.size());
  CHECK(report["reward"]["heldout"]["pairs"].get<std::size_t>() == held.size());
  const double accuracy = report["reward"]["heldout_accuracy"].get<double>();
  CHECK((accuracy >= 0 && accuracy <= 1));
  CHECK(report["world"]["groups"].size() == 4);

  // The charts, as SVG.
  CHECK(test::file_bytes(run + "/sft_loss.svg").find("<svg") != std::string::npos);
  CHECK(test::file_bytes(run + "/reward_accuracy.svg").find("<svg") != std::string::npos);
  // The side-by-side answers.
  CHECK_THAT(r.out, Contains("held-out question"));
  CHECK_THAT(r.out, Contains("When was") || Contains("Where does") || Contains("What is"));

  // generate loads the SFT folder and answers in the chat format's way.
  const test::Run g = test::run_program("generate", "--model " + run + "/sft --prompt 'Q: What is 1 + 1?' --max-new-tokens 5");
  CHECK(g.status == 0);

  // --from sft: steps 1 and 2 loaded, step 3 repeated with the same seed: the same comparisons
  // and the same held-out accuracy.
  const std::string prefs_text = test::file_bytes(run + "/data/preferences.jsonl");
  const test::Run again = test::run_program("chatgpt_recipe", "--quick --from sft --out " + run);
  INFO(again.out);
  REQUIRE(again.status == 0);
  CHECK_THAT(again.out, !Contains("step 1: pre-training"));
  CHECK(test::file_bytes(run + "/data/preferences.jsonl") == prefs_text);
  const nlohmann::json report2 = test::read_json(run + "/report.json");
  CHECK(report2["reward"] == report["reward"]);
  CHECK(report2["base"] == report["base"]);
}

TEST_CASE("chatgpt_recipe answers bad flags and missing steps with one line", "[programs][recipe]") {
  const std::string dir = test::scratch("recipe-bad");
  const test::Run missing = test::run_program("chatgpt_recipe", "--quick --from sft --out " + dir + "/none");
  CHECK(missing.status != 0);
  CHECK_THAT(missing.out, Contains("report.json"));
  const test::Run bad = test::run_program("chatgpt_recipe", "--quick --from ppo --out " + dir + "/x");
  CHECK(bad.status != 0);
  CHECK_THAT(bad.out, Contains("--from"));
  const test::Run prose = test::run_program("chatgpt_recipe", "--quick --prose no-such-file.txt --out " + dir + "/y");
  CHECK(prose.status != 0);
  CHECK_THAT(prose.out, Contains("no-such-file.txt"));
}
