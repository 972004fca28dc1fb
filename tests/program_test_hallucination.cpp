// The hallucination program on a stand-in of the recipe's folder (a tiny world, a base model
// pre-trained for a few hundred steps, a model fine-tuned on the demonstrations as text): the
// report's figures recomputed independently from the answers it lists, its grades and
// confidences checked against the grader and a forward pass of the saved model, and one clear
// line for bad flags and bad folders.
#include <catch2/catch.hpp>
#include "common.hpp"
#include "stand_in_recipe.hpp"
#include "xml.hpp"
#include <minigpt/minigpt.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace minigpt;
using Catch::Matchers::Contains;

namespace hallucination_program_test {

const std::string& recipe_dir() {
  static const std::string dir = [] {
    const std::string d = test::temp_dir("hallucination_recipe");
    test::StandInOptions o;
    o.world.groups = {{{12, 4, 4}, {8, 0, 4}, {8, 0, 4}, {12, 4, 4}}};
    o.world.often_min = 8, o.world.often_max = 16;
    o.world.arithmetic_max = 3, o.world.arithmetic_repeats = 8;
    o.world.prose_chars = 4000, o.world.validation_chars = 0;
    o.n_layer = 2, o.n_head = 2, o.n_embd = 32, o.block = 80, o.batch = 8;
    o.base_steps = 150, o.sft_steps = 60, o.demo_repeats = 10;
    // The first 4,000 characters of tinyshakespeare lack a 'Q': a paragraph that has one first.
    test::make_stand_in_recipe(d, "Q: a question? A: an answer.\n\n" + detail::read_file(test::data("tinyshakespeare.txt")), o);
    return d;
  }();
  return dir;
}

std::vector<nlohmann::json> jsonl_rows(const std::string& path) {
  std::vector<nlohmann::json> rows;
  std::istringstream in(test::file_bytes(path));
  for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

}  // namespace hallucination_program_test

namespace hp = hallucination_program_test;

TEST_CASE("hallucination measures calibration, groups and abstention on a stand-in recipe", "[programs][hallucination]") {
  const std::string out = test::temp_dir("hallucination_out");
  const test::Run r =
      test::run_program("hallucination", "--recipe " + hp::recipe_dir() + " --out " + out + " --samples 3 --ppo-steps 0");
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Contains("Experiment 1") && Contains("Experiment 2") && Contains("Experiment 4"));
  const auto report = test::read_json(out + "/report.json");
  CHECK(report["ppo_graders"] == "skipped: --ppo-steps 0");
  const auto eval = read_eval_jsonl(hp::recipe_dir() + "/data/eval.jsonl");
  CHECK(report["questions"].get<std::size_t>() == eval.size());

  // The singleton rate: people of the world mentioned once over all mentions, from world.json.
  const auto world = test::read_json(hp::recipe_dir() + "/data/world.json");
  CHECK(report["singletons"]["singletons"].get<Index>() == 8);
  CHECK(report["singletons"]["singleton_rate"].get<double>() == Approx(world["singleton_rate"].get<double>()));

  // Every answer is listed: the grades follow the grader, and per group they add up to the report.
  const auto answers = hp::jsonl_rows(out + "/answers.jsonl");
  REQUIRE(answers.size() == 2 * eval.size());
  std::map<std::string, std::map<std::string, int>> sft_counts;  // group -> grade -> count
  std::vector<double> conf;
  std::vector<bool> right;
  GPT<float> sft = load_model<float>(hp::recipe_dir() + "/sft");
  const auto tok = load_tokenizer(hp::recipe_dir() + "/sft");
  GPTActivations<float> acts;
  for (std::size_t i = eval.size(); i < answers.size(); ++i) {
    const auto& a = answers[i];
    REQUIRE(a["model"] == "sft");
    const std::string completion = a["completion"], answer = a["answer"], grade = a["grade"];
    CHECK(grade == grade_name(grade_completion(completion, answer)));
    const Index m = a["mentions"];
    ++sft_counts[m < 0 ? "arithmetic" : mention_groups()[static_cast<std::size_t>(mention_group_of(m))].name][grade];
    if (i < eval.size() + 5 && !completion.empty()) {  // the confidence is the saved model's P(completion | prompt)
      const double p = completion_confidence(sft, acts, tok->encode(a["asked"].get<std::string>()), tok->encode(completion)).prob;
      CHECK(a["confidence"].get<double>() == Approx(p).epsilon(1e-5));
    }
    if (grade != "I don't know") {
      conf.push_back(a["confidence"]);
      right.push_back(grade == "correct");
    }
  }
  for (const auto& [group, counts] : sft_counts) {
    int n = 0;
    for (const auto& kv : counts) n += kv.second;
    INFO(group);
    const auto& g = report["outcomes"]["sft_chat"][group];
    CHECK(g["n"].get<int>() == n);
    CHECK(g["accuracy"].get<double>() == Approx(counts.count("correct") ? counts.at("correct") / double(n) : 0.0));
    CHECK(g["idk"].get<double>() == Approx(counts.count("I don't know") ? counts.at("I don't know") / double(n) : 0.0));
  }
  // The SFT model's ECE, recomputed here: 15 bins, |accuracy − confidence| weighted by count.
  double ece = 0;
  for (int k = 0; k < 15; ++k) {
    double sc = 0, sy = 0, n = 0;
    for (std::size_t i = 0; i < conf.size(); ++i)
      if (std::min(14, static_cast<int>(conf[i] * 15)) == k) sc += conf[i], sy += right[i], n += 1;
    if (n > 0) ece += n / static_cast<double>(conf.size()) * std::abs(sy / n - sc / n);
  }
  CHECK(report["calibration"][1]["figures"]["ece"].get<double>() == Approx(ece).margin(1e-12));
  // ... and its AUROC, pair by pair: a right answer more confident than a wrong one (ties ½).
  double pairs = 0, above = 0;
  for (std::size_t i = 0; i < conf.size(); ++i)
    for (std::size_t j = 0; j < conf.size(); ++j)
      if (right[i] && !right[j]) pairs += 1, above += conf[i] > conf[j] ? 1.0 : conf[i] == conf[j] ? 0.5 : 0.0;
  const auto& auroc = report["calibration"][1]["figures"]["auroc"];
  if (pairs > 0) CHECK(auroc.get<double>() == Approx(above / pairs).margin(1e-12));
  else CHECK(auroc.is_null());
  CHECK(report["calibration"].size() == 3);  // base, SFT, SFT by self-consistency
  CHECK(report["abstention"]["best"]["score"].get<double>() >= report["abstention"]["answer_all_score"].get<double>());
  CHECK(report["abstention_base"]["best"]["score"].get<double>() >=
        report["abstention_base"]["answer_all_score"].get<double>());
  CHECK_THAT(r.out, Contains("base (cloze), abstaining below tau = t"));

  // Abstaining when the name is unfamiliar. tau: the best t = 0.75 score over every threshold on
  // the rl split's questions, asked greedily here, each scored by its name's familiarity
  // computed alone (confidence.hpp's familiarity after a newline).
  const auto& fam = report["abstention_familiarity"]["sft"];
  const double tau = fam["tau"].is_null() ? std::numeric_limits<double>::infinity() : fam["tau"].get<double>();
  {
    const std::vector<EvalExample> rl = read_world_questions(hp::recipe_dir() + "/data/world.json", Split::rl);
    Rng unused(0);
    const std::vector<AskedQuestion> asked = ask_questions(sft, *tok, rl, AskOptions{}, unused);
    std::vector<double> f;
    for (const EvalExample& e : rl) f.push_back(familiarity(sft, *tok, e.person));
    auto score = [&](double th) {
      double s = 0;
      for (std::size_t i = 0; i < rl.size(); ++i)
        if (asked[i].grade != Grade::idk && f[i] >= th) s += asked[i].grade == Grade::correct ? 1.0 : -3.0;
      return s / static_cast<double>(rl.size());
    };
    double best = score(std::numeric_limits<double>::infinity());  // abstaining on all: 0
    for (double th : f) best = std::max(best, score(th));
    CHECK(fam["rl_split"]["score"].get<double>() == Approx(best).margin(1e-12));
    CHECK(score(tau) == Approx(best).margin(1e-12));
  }
  // The held-out outcomes: each SFT answer listed above, "I don't know" when its person's name
  // is less familiar than tau (arithmetic always answered); and the AUROC of 4+ against 1-3.
  std::map<std::string, std::map<std::string, int>> gated;  // group -> grade -> count
  double known_pairs = 0, known_above = 0;
  std::vector<std::pair<double, bool>> mentioned;  // (familiarity, 4+)
  for (std::size_t i = 0; i < eval.size(); ++i) {
    std::string grade = answers[eval.size() + i]["grade"];
    const Index m = eval[i].mentions;
    if (!eval[i].person.empty()) {
      const double f = familiarity(sft, *tok, eval[i].person);
      if (f < tau) grade = "I don't know";
      if (m >= 1) mentioned.push_back({f, m >= 4});
    }
    ++gated[m < 0 ? "arithmetic" : mention_groups()[static_cast<std::size_t>(mention_group_of(m))].name][grade];
  }
  for (const auto& [group, counts] : gated) {
    int n = 0;
    for (const auto& kv : counts) n += kv.second;
    INFO(group);
    const auto& g = fam["outcomes"][group];
    CHECK(g["n"].get<int>() == n);
    CHECK(g["accuracy"].get<double>() == Approx(counts.count("correct") ? counts.at("correct") / double(n) : 0.0));
    CHECK(g["idk"].get<double>() == Approx(counts.count("I don't know") ? counts.at("I don't know") / double(n) : 0.0));
  }
  for (const auto& [fi, often_i] : mentioned)
    for (const auto& [fj, often_j] : mentioned)
      if (often_i && !often_j) known_pairs += 1, known_above += fi > fj ? 1.0 : fi == fj ? 0.5 : 0.0;
  REQUIRE(known_pairs > 0);
  CHECK(fam["auroc_often_vs_1_to_3"].get<double>() == Approx(known_above / known_pairs).margin(1e-12));
  CHECK((report["abstention_familiarity"]["base_cloze"]["tau"].is_number() || report["abstention_familiarity"]["base_cloze"]["tau"].is_null()));
  CHECK_THAT(r.out, Contains("SFT, abstaining when the name is less familiar than tau"));

  for (const char* picture : {"reliability.svg", "risk_coverage.svg", "risk_coverage_base.svg"}) {
    const test::Xml svg(test::file_bytes(out + "/" + picture));
    CHECK(svg.ok());
  }
}

TEST_CASE("hallucination answers bad flags and bad folders with one line", "[programs][hallucination]") {
  const test::Run no_out = test::run_program("hallucination", "--recipe x");
  CHECK(no_out.status == 2);
  CHECK_THAT(no_out.out, Contains("--out"));
  CHECK(test::run_program("hallucination", "--recipe x --out y --target 1.5").status == 2);
  const test::Run batch = test::run_program("hallucination", "--recipe x --out y --ppo-batch 12");
  CHECK(batch.status == 2);
  CHECK_THAT(batch.out, Contains("--ppo-batch"));
  // A folder that is neither a recipe's nor empty is refused, and left as it was.
  const std::string other = test::temp_dir("hallucination_other");
  detail::write_file_atomic(other + "/notes.txt", "mine\n");
  const test::Run missing = test::run_program("hallucination", "--recipe " + other + " --out " + other + "/o");
  CHECK(missing.status == 1);
  CHECK_THAT(missing.out, Contains(other + "/data/eval.jsonl") && Contains("missing") && Contains("chatgpt_recipe --out"));
  CHECK(std::count(missing.out.begin(), missing.out.end(), '\n') == 1);
  CHECK(std::distance(std::filesystem::directory_iterator(other), std::filesystem::directory_iterator()) == 1);
}

TEST_CASE("hallucination --r-tuning runs the experiments on an SFT model that refuses what the base model does not know",
          "[programs][hallucination]") {
  const std::string out = test::temp_dir("hallucination_r_tuning");
  // The recipe's report.json gives R-Tuning's SFT settings (here 7 steps of 4); --seed seeds it.
  RecipeOptions recipe = RecipeOptions::quick();
  recipe.sft_steps = 7, recipe.sft_batch = 4;
  const std::string recipe_report = hp::recipe_dir() + "/report.json";
  write_report(recipe_report, {{"options", recipe.to_json()}});
  const test::Run r = test::run_program("hallucination", "--recipe " + hp::recipe_dir() + " --out " + out +
                                                             " --r-tuning --quick-recipe --samples 0 --ppo-steps 0 --seed 21");
  std::filesystem::remove(recipe_report);  // the other tests' recipe has none
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Contains("R-Tuning"));
  // The rows: the library's R-Tuning labels of the recipe's base model, written as they are made.
  GPT<float> base = load_model<float>(hp::recipe_dir() + "/base");
  const auto tok = load_tokenizer(hp::recipe_dir() + "/base");
  const RTuningRows expected = r_tuning_demonstrations(base, *tok, read_world_questions(hp::recipe_dir() + "/data/world.json", Split::rl));
  const std::vector<SFTExample> rows = read_sft_jsonl(out + "/r_tuning.jsonl");
  REQUIRE(rows.size() == expected.rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i)
    CHECK((rows[i].prompt == expected.rows[i].prompt && rows[i].completion == expected.rows[i].completion));
  const auto report = test::read_json(out + "/report.json");
  CHECK(report["r_tuning"]["answered"].get<Index>() == expected.answered);
  CHECK(report["r_tuning"]["refused"].get<Index>() == expected.refused);
  CHECK(report["r_tuning"]["sft"]["steps"] == 7);
  CHECK(report["r_tuning"]["sft"]["batch"] == 4);
  CHECK(report["r_tuning"]["sft"]["seed"] == 22);  // RecipeOptions::sft_options: seed + 1
  // The SFT model of the experiments is the saved R-Tuning one, not the recipe's: the listed
  // answers are its greedy answers.
  GPT<float> rt = load_model<float>(out + "/sft-r-tuning");
  CHECK((rt.parameters().flat() != load_model<float>(hp::recipe_dir() + "/sft").parameters().flat()).any());
  const auto answers = hp::jsonl_rows(out + "/answers.jsonl");
  const std::vector<EvalExample> eval = read_eval_jsonl(hp::recipe_dir() + "/data/eval.jsonl");
  for (std::size_t i = 0; i < 6; ++i) {
    const auto& a = answers[eval.size() + i];
    REQUIRE(a["model"] == "sft");
    CHECK(a["completion"] == answer(rt, *tok, eval[i].prompt, AnswerOptions{}).completion);
  }
}

TEST_CASE("hallucination given an empty folder runs the recipe's first three steps into it, as chatgpt_recipe does",
          "[programs][hallucination][recipe]") {
  namespace fs = std::filesystem;
  const std::string dir = test::temp_dir("hallucination_makes_recipe");
  const test::Run r = test::run_program("hallucination", "--recipe " + dir + "/run --out " + dir +
                                                             "/hal --quick-recipe --samples 2 --ppo-steps 1 --ppo-batch 4 --limit 40");
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Contains("running the recipe's steps 1 to 3"));
  for (const char* f : {"data/eval.jsonl", "data/world.json", "data/sft.jsonl", "data/preferences.jsonl", "base/config.json",
                        "sft/model.safetensors", "reward/model.safetensors", "sft_loss.svg", "reward_accuracy.svg"})
    CHECK(fs::exists(dir + "/run/" + f));
  CHECK(!fs::exists(dir + "/run/ppo"));  // step 4 is chatgpt_recipe --from reward's
  CHECK(nlohmann::json::parse(test::file_bytes(dir + "/hal/report.json"))["questions"] == 40);

  // The same folder chatgpt_recipe makes with the same sizes and seed: identical data and
  // models, and the same figures for steps 1 to 3. Then it completes the folder with PPO.
  const test::Run c = test::run_program("chatgpt_recipe", "--quick --ppo-steps 1 --out " + dir + "/c");
  INFO(c.out);
  REQUIRE(c.status == 0);
  for (const char* f : {"data/eval.jsonl", "data/preferences.jsonl", "data/preferences_heldout.jsonl", "base/model.safetensors",
                        "sft/model.safetensors", "reward/model.safetensors"})
    CHECK(test::file_bytes(dir + "/run/" + f) == test::file_bytes(dir + "/c/" + f));
  const auto made = nlohmann::json::parse(test::file_bytes(dir + "/run/report.json"));
  const auto recipe = nlohmann::json::parse(test::file_bytes(dir + "/c/report.json"));
  for (const char* step : {"options", "world", "base", "sft", "reward"}) {
    INFO(step);
    nlohmann::json a = made[step], b = recipe[step];
    if (std::string(step) == "options") a.erase("ppo"), b.erase("ppo");
    CHECK(a == b);
  }
  const test::Run rest = test::run_program("chatgpt_recipe", "--quick --from reward --ppo-steps 1 --out " + dir + "/run");
  INFO(rest.out);
  CHECK(rest.status == 0);
  CHECK(fs::exists(dir + "/run/ppo/model.safetensors"));
}

TEST_CASE("hallucination trains a PPO policy against each grader and scores every policy under every grader",
          "[programs][hallucination][ppo_trainer]") {
  namespace fs = std::filesystem;
  // The stand-in recipe with a reward model beside it: the SFT model with a random score head.
  const std::string recipe = test::temp_dir("hallucination_recipe_rm");
  fs::remove_all(recipe);
  fs::copy(hp::recipe_dir(), recipe, fs::copy_options::recursive);
  GPT<float> sft = load_model<float>(recipe + "/sft");
  const auto tok = load_tokenizer(recipe + "/sft");
  Rng rng(7);
  save_reward_model(RewardModel<float>(sft, rng), recipe + "/reward");
  const RewardModel<float> rm = load_reward_model<float>(recipe + "/reward");

  const std::string out = test::temp_dir("hallucination_ppo");
  const test::Run r = test::run_program(
      "hallucination", "--recipe " + recipe + " --out " + out + " --samples 0 --ppo-steps 2 --ppo-batch 4 --ppo-lr 1e-3 --kl-coef 0.2");
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Contains("Experiment 3") && Contains("Every policy under every grader") && Contains("Targets"));
  const auto report = test::read_json(out + "/report.json");
  const auto& ppo = report["ppo_graders"];
  REQUIRE(ppo["policies"].size() == 3);
  CHECK(ppo["kl_coef"].get<double>() == 0.2);  // --kl-coef reaches every policy's PPO
  for (const auto& p : ppo["policies"])
    for (const auto& s : p["history"]["steps"]) CHECK(s["kl_coef"].get<double>() == 0.2);
  const auto eval = read_eval_jsonl(recipe + "/data/eval.jsonl");
  const std::vector<std::string> graders{"binary", "t0.75", "rm"};
  std::map<std::string, std::map<std::string, double>> never_idk, often_right;  // for the targets
  for (std::size_t k = 0; k < 3; ++k) {
    const auto& p = ppo["policies"][k];
    INFO(graders[k]);
    CHECK(p["grader"] == graders[k]);
    // Two steps, each scored by its grader: binary in [0, 1], the target in [-3, 1], gold in [-2, 1].
    REQUIRE(p["history"]["steps"].size() == 2);
    for (const auto& s : p["history"]["steps"]) {
      if (k == 0) CHECK((s["mean_score"].get<double>() >= 0.0 && s["mean_score"].get<double>() <= 1.0));
      if (k == 1) CHECK((s["mean_score"].get<double>() >= -3.0 && s["mean_score"].get<double>() <= 1.0));
      CHECK((s["mean_gold"].get<double>() >= -2.0 && s["mean_gold"].get<double>() <= 1.0));
    }
    // The saved policy's held-out answers, asked again here and graded by the labeler, give the
    // report's outcomes and its row of the score table.
    // A policy whose rewards were all 0 (the stand-in's answers can all be off-format, which the
    // binary grader scores 0) has zero returns and advantages and must not move; any other must.
    GPT<float> policy = load_model<float>(out + "/ppo-" + graders[k]);
    bool signal = false;
    for (const auto& s : p["history"]["steps"]) signal = signal || s["mean_score"].get<double>() != 0.0;
    CHECK((policy.parameters().flat() != sft.parameters().flat()).any() == signal);
    std::map<std::string, std::map<Grade, int>> counts;
    double right = 0, wrong_or_off = 0, rm_sum = 0;
    for (const EvalExample& e : eval) {
      const ModelAnswer a = answer(policy, *tok, e.prompt);
      const Grade g = grade_completion(a.completion, e.answer);
      ++counts[e.mentions < 0 ? "arithmetic" : mention_groups()[static_cast<std::size_t>(mention_group_of(e.mentions))].name][g];
      right += g == Grade::correct;
      wrong_or_off += g == Grade::wrong || g == Grade::off_format;
      rm_sum += static_cast<double>(rm.score(tok->encode(e.prompt + a.completion)));
    }
    for (const auto& [group, c] : counts) {
      int n = 0;
      for (const auto& kv : c) n += kv.second;
      const auto share = [&](Grade g) { return c.count(g) ? c.at(g) / double(n) : 0.0; };
      INFO(group);
      const auto& o = p["outcomes"][group];
      CHECK(o["n"].get<int>() == n);
      CHECK(o["accuracy"].get<double>() == Approx(share(Grade::correct)));
      CHECK(o["idk"].get<double>() == Approx(share(Grade::idk)));
      CHECK(o["error"].get<double>() == Approx(share(Grade::wrong)));
      never_idk[graders[k]][group] = share(Grade::idk);
      often_right[graders[k]][group] = share(Grade::correct);
    }
    const double n = static_cast<double>(eval.size());
    const auto& row = ppo["scores"][k + 1];  // row 0 is the SFT model
    CHECK(row["policy"] == "PPO " + graders[k]);
    CHECK(row["binary"].get<double>() == Approx(right / n));
    CHECK(row["t0.75"].get<double>() == Approx((right - 3 * wrong_or_off) / n));
    CHECK(row["reward_model"].get<double>() == Approx(rm_sum / n).epsilon(1e-4));
  }
  CHECK(ppo["scores"][0]["policy"] == "SFT");
  // Experiment 1 for the policies: a reliability diagram of the SFT model and each policy.
  CHECK(test::Xml(test::file_bytes(out + "/reliability_ppo.svg")).ok());
  const std::string drawn = test::read_json(out + "/reliability_ppo.json").dump();
  for (const std::string& g : graders) CHECK_THAT(drawn, Contains("PPO " + g + " (chat)"));
  CHECK_THAT(drawn, Contains("SFT (chat)"));
  CHECK(ppo["targets"]["binary_idk_never"].get<double>() == Approx(never_idk["binary"]["never"]));
  CHECK(ppo["targets"]["target_idk_never"].get<double>() == Approx(never_idk["t0.75"]["never"]));
  CHECK(ppo["targets"]["target_accuracy_often"].get<double>() == Approx(often_right["t0.75"]["4+"]));

  // Without DIR/reward the reward-model policy is skipped, with a note.
  const std::string out2 = test::temp_dir("hallucination_ppo_no_rm");
  const test::Run no_rm = test::run_program(
      "hallucination", "--recipe " + hp::recipe_dir() + " --out " + out2 + " --samples 0 --limit 5 --ppo-steps 1 --ppo-batch 2 --skip-equal-scores");
  INFO(no_rm.out);
  REQUIRE(no_rm.status == 0);
  CHECK_THAT(no_rm.out, Contains("no DIR/reward folder"));
  const auto report2 = test::read_json(out2 + "/report.json");
  CHECK(report2["ppo_graders"]["policies"].size() == 2);
  CHECK(report2["ppo_graders"]["reward_model"] == "skipped: no DIR/reward folder");
  CHECK(fs::is_directory(out2 + "/ppo-binary"));
  CHECK_FALSE(fs::exists(out2 + "/ppo-rm"));
  CHECK(report2["ppo_graders"]["advantage"] == "gae");
  CHECK(report2["ppo_graders"]["ptx_coef"].get<double>() == 0.0);
  CHECK(report2["ppo_graders"]["skip_equal_scores"] == true);

  // --rloo and --ptx reach every policy's PPO: K answers a prompt and no value loss; the SFT
  // demonstrations' loss in every step.
  const std::string out3 = test::temp_dir("hallucination_ppo_rloo_ptx");
  const test::Run rloo = test::run_program("hallucination", "--recipe " + hp::recipe_dir() + " --out " + out3 +
                                                                " --samples 0 --limit 5 --ppo-steps 2 --ppo-batch 4 --rloo 2 --ptx 0.5");
  INFO(rloo.out);
  REQUIRE(rloo.status == 0);
  const auto report3 = test::read_json(out3 + "/report.json");
  const auto& p3 = report3["ppo_graders"];
  CHECK(p3["advantage"] == "leave_one_out");
  CHECK(p3["samples_per_prompt"] == 2);
  CHECK(p3["ptx_coef"].get<double>() == 0.5);
  CHECK(p3["skip_equal_scores"] == false);  // the default, as in TRL
  for (const auto& p : p3["policies"])
    for (const auto& s : p["history"]["steps"]) {
      CHECK(s["value_loss"].get<double>() == 0.0);
      CHECK(s["ptx_loss"].get<double>() > 0.0);
    }
  const test::Run odd = test::run_program("hallucination", "--recipe " + hp::recipe_dir() + " --out " + out3 +
                                                               " --samples 0 --limit 5 --ppo-steps 1 --ppo-batch 4 --rloo 3");
  CHECK(odd.status != 0);
  CHECK_THAT(odd.out, Contains("multiple of samples_per_prompt"));
}
