// chatgpt_recipe, run as a user runs it with --quick (a tiny model, a few steps of each kind):
// every file it promises is there and readable by the library's own readers, the model
// folders load (generate reads them), the reward folder gives finite scores, the report's
// figures equal what the library measures on the saved models, the PPO step's history is in the
// report (every step's reward, KL, gold score, entropy, clip fraction, share ended), --from sft
// reuses the saved steps and repeats step 3 exactly (same seed, same figures), and --from
// reward repeats PPO exactly and takes --kl-coef and --ptx, and --from refuses options that
// differ from those the reused steps were made with, before it writes anything.
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

#include <array>
#include <cmath>
#include <filesystem>
#include <map>

using Catch::Matchers::Contains;

TEST_CASE("chatgpt_recipe runs pre-training, SFT, the reward model and PPO, and saves every step", "[programs][recipe]") {
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
  CHECK(sft_rows.size() == 468);  // 130 people x 3 questions + 78 arithmetic (fact_world.hpp)
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
  {  // by kind: the pairs regraded against the world's answers and rescored one by one by the
     // saved reward model and the SFT model's likelihood; each kind's counts exact, its shares
     // within one pair (the report scored them in padded batches, which may round a tie away)
    std::map<std::string, std::string> answer_of;
    for (const EvalExample& e : eval) answer_of[e.prompt] = e.answer;
    std::map<std::string, std::array<double, 3>> expected;  // pairs, RM right, likelihood right
    GPTActivations<float> a;
    for (const PreferencePair& p : held) {
      const std::string& answer = answer_of.at(p.prompt);
      const Grade gc = grade_completion(p.chosen, answer), gr = grade_completion(p.rejected, answer);
      REQUIRE(grade_info(gc).rank < grade_info(gr).rank);  // the labeler's order
      auto& e = expected[std::string(grade_name(gc)) + " > " + grade_name(gr)];
      e[0] += 1;
      e[1] += rm.score(tok->encode(p.prompt + p.chosen)) > rm.score(tok->encode(p.prompt + p.rejected));
      const auto lp = [&](const std::string& c) {
        return completion_confidence(sft, a, tok->encode(p.prompt), tok->encode(c)).log_prob;
      };
      e[2] += lp(p.chosen) > lp(p.rejected);
    }
    const nlohmann::json& by_kind = report["reward"]["heldout_by_kind"];
    REQUIRE(by_kind.size() == expected.size());
    double weighted = 0;
    for (const auto& [kind, e] : expected) {
      INFO(kind);
      REQUIRE(by_kind.contains(kind));
      CHECK(by_kind[kind]["pairs"].get<double>() == e[0]);
      CHECK(by_kind[kind]["reward_model"].get<double>() == Approx(e[1] / e[0]).margin(1.01 / e[0]));
      CHECK(by_kind[kind]["sft_likelihood"].get<double>() == Approx(e[2] / e[0]).margin(1.01 / e[0]));
      weighted += by_kind[kind]["reward_model"].get<double>() * e[0];
    }
    CHECK(weighted / static_cast<double>(held.size()) == Approx(accuracy).margin(2.01 / static_cast<double>(held.size())));
  }
  CHECK(report["world"]["groups"].size() == 4);

  // Step 4: the PPO folder loads (with its tokenizer) and is no longer the SFT model; the report
  // has one row per PPO step with every statistic; its answers' shares are what the library
  // measures on the saved policy.
  GPT<float> ppo = load_model<float>(run + "/ppo");
  CHECK(load_tokenizer(run + "/ppo")->vocab_size() == tok->vocab_size());
  REQUIRE(ppo.config() == sft.config());
  CHECK((ppo.parameters().flat() - sft.parameters().flat()).abs().maxCoeff() > 0);
  const nlohmann::json& steps = report["ppo"]["history"]["steps"];
  REQUIRE(steps.size() == 3);  // --quick's PPO steps
  CHECK(report["ppo"]["adaptive_kl"] == false);
  CHECK(report["ppo"]["kl_coef"].get<double>() == 0.05);
  CHECK(report["ppo"]["ptx_coef"].get<double>() == RecipeOptions{}.ptx_coef);  // PPO-ptx by default
  REQUIRE(RecipeOptions{}.ptx_coef > 0);
  for (const nlohmann::json& row : steps) {
    INFO(row.dump());
    for (const char* name : {"mean_score", "mean_kl", "mean_gold", "entropy", "clipfrac", "ended_share"})
      CHECK(row[name].is_number());
    const double gold = row["mean_gold"].get<double>();
    CHECK((gold >= -2 && gold <= 1));  // the labeler's scores: off-format −2 ... correct 1
    CHECK((row["ended_share"].get<double>() >= 0 && row["ended_share"].get<double>() <= 1));
    CHECK((row["clipfrac"].get<double>() >= 0 && row["clipfrac"].get<double>() <= 1));
    CHECK(row["entropy"].get<double>() > 0);
    CHECK(row["ptx_loss"].get<double>() > 0);  // the demonstrations' loss, mixed into every update
    CHECK(row["mean_reward"].get<double>() ==
          Approx(row["mean_score"].get<double>() - 0.05 * row["mean_kl"].get<double>()));
  }
  CHECK(steps[0]["mean_kl"].get<double>() == 0);  // the first rollouts: the policy is the SFT model
  const AnswerReport ppo_answers = grade_answers(eval, greedy_completions(ppo, *tok, prompts));
  CHECK(report["ppo"]["answers"]["in_format"].get<double>() == Approx(ppo_answers.all.in_format));
  CHECK(report["ppo"]["answers"]["correct"].get<double>() == Approx(ppo_answers.all.correct));

  // The charts, as SVG.
  CHECK(test::file_bytes(run + "/sft_loss.svg").find("<svg") != std::string::npos);
  CHECK(test::file_bytes(run + "/reward_accuracy.svg").find("<svg") != std::string::npos);
  CHECK(test::file_bytes(run + "/ppo.svg").find("<svg") != std::string::npos);
  CHECK(test::read_json(run + "/ppo.json")["series"].size() == 3);  // reward, gold, KL
  // The side-by-side answers.
  CHECK_THAT(r.out, Contains("held-out question"));
  CHECK_THAT(r.out, Contains("| PPO"));
  CHECK_THAT(r.out, Contains("When was") || Contains("Where does") || Contains("What is"));

  // generate loads the SFT folder and answers in the chat format's way.
  const test::Run g = test::run_program("generate", "--model " + run + "/sft --prompt 'Q: What is 1 + 1?' --max-new-tokens 5");
  CHECK(g.status == 0);
  CHECK(test::run_program("generate", "--model " + run + "/ppo --prompt 'Q: What is 1 + 1?' --max-new-tokens 5").status == 0);

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

  // --from reward: steps 1 to 3 loaded, PPO repeated with the same seed: the same statistics
  // step for step (all but the wall time).
  auto without_time = [](nlohmann::json s) {
    for (nlohmann::json& row : s) row.erase("seconds");
    return s;
  };
  const test::Run ppo_again = test::run_program("chatgpt_recipe", "--quick --from reward --out " + run);
  INFO(ppo_again.out);
  REQUIRE(ppo_again.status == 0);
  CHECK_THAT(ppo_again.out, !Contains("step 3: the labeler"));
  const nlohmann::json report3 = test::read_json(run + "/report.json");
  CHECK(report3["reward"] == report2["reward"]);
  CHECK(without_time(report3["ppo"]["history"]["steps"]) == without_time(report2["ppo"]["history"]["steps"]));
  CHECK(report3["ppo"]["answers"] == report2["ppo"]["answers"]);

  // --kl-coef, --ptx and --ppo-steps reach the PPO step: every step's β is the one given, and
  // without PPO-ptx no step has a demonstrations' loss.
  const test::Run loose =
      test::run_program("chatgpt_recipe", "--quick --from reward --kl-coef 0.001 --ptx 0 --ppo-steps 2 --out " + run);
  INFO(loose.out);
  REQUIRE(loose.status == 0);
  const nlohmann::json report4 = test::read_json(run + "/report.json");
  REQUIRE(report4["ppo"]["history"]["steps"].size() == 2);
  for (const nlohmann::json& row : report4["ppo"]["history"]["steps"]) {
    CHECK(row["kl_coef"].get<double>() == 0.001);
    CHECK(row["ptx_loss"].is_null());
  }
  CHECK(report4["options"]["ppo"]["kl_coef"].get<double>() == 0.001);
  CHECK(report4["options"]["ppo"]["ptx_coef"].get<double>() == 0.0);

  // A run --from that would reuse steps made with other options stops before it writes
  // anything, naming the option: another seed (another world), or the default sizes given to a
  // --quick run's folder.
  const std::string world_text = test::file_bytes(run + "/data/world.json");
  const std::string report_text = test::file_bytes(run + "/report.json");
  const test::Run seed = test::run_program("chatgpt_recipe", "--quick --from sft --seed 7 --out " + run);
  CHECK(seed.status != 0);
  CHECK_THAT(seed.out, Contains("report.json: options.seed: the saved steps were made with 1234, this run has 7"));
  const test::Run sizes = test::run_program("chatgpt_recipe", "--from reward --out " + run);
  CHECK(sizes.status != 0);
  CHECK_THAT(sizes.out, Contains("options.model.n_layer: the saved steps were made with 1, this run has 4"));
  // Other prose makes another world even with the same options: the saved text is compared.
  const std::string shakespeare = test::file_bytes(test::data("tinyshakespeare.txt"));
  minigpt::detail::write_file_atomic(dir + "/other_prose.txt", shakespeare.substr(shakespeare.find("\n\n") + 2));
  const test::Run prose = test::run_program("chatgpt_recipe", "--quick --from sft --prose " + dir + "/other_prose.txt --out " + run);
  CHECK(prose.status != 0);
  CHECK_THAT(prose.out, Contains("data/pretrain.txt: is not the text of this run's world"));
  CHECK(test::file_bytes(run + "/data/world.json") == world_text);
  CHECK(test::file_bytes(run + "/report.json") == report_text);
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
  const test::Run world = test::run_program("chatgpt_recipe", "--quick --often-min 48 --often-max 40 --out " + dir + "/z");
  CHECK(world.status != 0);
  CHECK_THAT(world.out, Contains("often_min <= often_max"));
  CHECK(!std::filesystem::exists(dir + "/z/data"));
}
