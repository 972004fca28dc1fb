// hallucination — why models guess, measured on the recipe's small world (환각, Kalai et al.
// 2025, "Why Language Models Hallucinate"): does the model know what it knows, how often does
// it guess about people it saw once, and when should it say "I don't know"?
//
//   hallucination --recipe DIR --out OUT
//
// DIR is what chatgpt_recipe wrote (data/eval.jsonl: held-out questions, each with how often
// pre-training mentions its person; data/world.json; the base, sft and reward models); given
// an empty or missing DIR, the program first runs the recipe's steps 1 to 3 into it (--seed):
//   1. calibration (보정): the base model asked the pre-training way (the cloze "Mina Park lives
//      in"), the SFT model in the chat format; each answer scored by its own probability (the
//      SFT's also by self-consistency over --samples answers); ECE, AUROC, reliability diagrams;
//   2. singletons: per mention group (never, once, 2-3, 4+) the share right, wrong
//      (hallucinated), "I don't know" and off-format, beside the singleton rate of the text;
//   3. grading decides behaviour: three PPO policies trained from the SFT model on the "rl"
//      split's questions, each against one grader: binary (right 1, else 0), the confidence
//      target t (right 1, wrong -t/(1-t), "I don't know" 0) and the recipe's reward model
//      (DIR/reward; skipped when the folder is not there); each asked the held-out questions:
//      outcomes per mention group, and every policy's score under every grader;
//   4. abstention at inference: the SFT model (and the base model's cloze) answers only when
//      its confidence >= tau, else "I don't know"; risk-coverage, the best tau for the t-score;
//      then only when the person's name is familiar to it (tau chosen on the rl split).
// With --r-tuning they run on another SFT model (R-Tuning): the recipe's demonstrations plus the
// rl split's questions, answered where the base model's cloze is right, refused where not.
// Writes OUT/report.json (every figure), reliability.svg, reliability_ppo.svg (after PPO),
// risk_coverage.svg, risk_coverage_base.svg (numbers beside each as .json), answers.jsonl,
// the PPO policies' model folders (ppo-binary, ppo-t0.75, ppo-rm), sft-r-tuning; prints tables.
#include <minigpt/minigpt.hpp>
#include <minigpt/package_data.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <unistd.h>

using namespace minigpt;

// The outcome tables (calibration.hpp), with the t-score at the confidence target t.
static void print_groups(const std::string& model, const GroupOutcomes& g, double t) { std::fputs(outcome_table(model, g, t).c_str(), stdout); }

int main(int argc, char** argv) {
  // ---- 1. flags (their defaults: HallucinationOptions, hallucination.hpp) ----
  CLI::App app{"Measure calibration, singleton errors, graders and abstention on the recipe's models."};
  std::string recipe, out;
  HallucinationOptions o;
  app.add_option("--recipe", recipe, "the folder chatgpt_recipe wrote (data/, base/, sft/), or an empty one to make (required)");
  app.add_option("--out", out, "folder for report.json, the pictures and answers.jsonl (required)");
  app.add_option("--samples", o.samples, "sampled answers per question for self-consistency (0: none)")
      ->check(CLI::Range(Index(0), Index(1000)))->capture_default_str();
  app.add_option("--limit", o.limit, "ask only the first N held-out questions (0: all)")->check(CLI::Range(Index(0), Index(1000000)));
  app.add_option("--target", o.target, "the confidence target t of experiments 3 and 4")
      ->check(CLI::Range(0.0, 0.99))->capture_default_str();
  app.add_option("--seed", o.seed, "seed of the sampled answers and of PPO (and of the recipe, when DIR is empty)")->capture_default_str();
  app.add_option("--ppo-steps", o.ppo_steps, "PPO steps per policy in experiment 3 (0: skip it)")
      ->check(CLI::Range(Index(0), Index(100000)))->capture_default_str();
  app.add_option("--ppo-batch", o.ppo_batch, "PPO rollouts per step (below 8, or a multiple of 8)")
      ->check(CLI::Range(Index(2), Index(4096)))->capture_default_str();
  app.add_option("--ppo-lr", o.ppo_lr, "PPO's learning rate")->check(CLI::Range(1e-7, 1e-1))->capture_default_str();
  app.add_option("--rloo", o.rloo_k, "K answers a prompt, each against the others' mean (RLOO) instead of a value head (0: value head)")
      ->check(CLI::Range(Index(0), Index(64)));
  app.add_option("--ptx", o.ptx_coef, "PPO-ptx: weight of the SFT demonstrations' loss in each PPO update (0: off)")
      ->check(CLI::Range(0.0, 100.0))->capture_default_str();
  app.add_option("--kl-coef", o.kl_coef, "PPO's β, the KL leash to the SFT model")->check(CLI::Range(0.0, 10.0))->capture_default_str();
  app.add_option("--temperature", o.temperature, "T of the policy PPO trains: rollouts from softmax(logits / T)")
      ->check(CLI::Range(0.05, 10.0))->capture_default_str();
  bool quick_recipe = false;
  app.add_flag("--quick-recipe", quick_recipe, "the recipe, when DIR is empty, at chatgpt_recipe's --quick sizes (for tests)");
  app.add_flag("--skip-equal-scores", o.skip_equal_scores, "no PPO update from a batch whose scores are all equal");
  bool r_tuning = false;
  app.add_flag("--r-tuning", r_tuning, "experiment on an SFT model that also learned to refuse what the base model does not know");
  try {
    app.parse(argc, argv);
    if (recipe.empty() || out.empty()) throw CLI::ValidationError("--recipe DIR and --out DIR are required");
    if (o.ppo_batch > o.ppo_mini_batch && o.ppo_batch % o.ppo_mini_batch != 0)
      throw CLI::ValidationError("--ppo-batch must be below " + std::to_string(o.ppo_mini_batch) + " or a multiple of it");
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "hallucination: " << e.what() << " (see --help)\n";
    return 2;
  }

  try {
    // ---- 2. the recipe's folder (an empty DIR: steps 1 to 3 run into it first), its questions,
    //      and how often the pre-training text mentions everyone ----
    RecipeOptions recipe_options = quick_recipe ? RecipeOptions::quick() : RecipeOptions{};
    recipe_options.seed = o.seed;
    ensure_recipe_folder<float>(recipe, recipe_options, package_data("tinyshakespeare.txt", MINIGPT_PACKAGE_DATA), std::cerr, isatty(2) != 0);
    const std::string recipe_report = recipe + "/report.json";
    if (std::filesystem::exists(recipe_report)) {  // the recipe's own settings: R-Tuning's SFT trains with them
      recipe_options = RecipeOptions::from_json(read_report(recipe_report)["options"], recipe_report);
      recipe_options.seed = o.seed;
    }
    std::vector<EvalExample> rows = read_eval_jsonl(recipe + "/data/eval.jsonl");
    if (o.limit > 0 && static_cast<Index>(rows.size()) > o.limit) rows.resize(static_cast<std::size_t>(o.limit));
    const double t = o.target;
    const std::vector<Index> mentions = read_world_mentions(recipe + "/data/world.json");  // everyone
    const SingletonStats singletons = singleton_stats(mentions);

    // ---- 3. ask both models every question, keeping each answer's grade and confidence ----
    const auto tok = load_tokenizer(recipe + "/sft");  // the base model's is the same
    auto ask = [&](GPT<float>& model, const std::string& name, AskStyle style, Index n_samples) {
      Rng rng(o.seed);
      ProgressBar bar(std::cerr, static_cast<Index>(rows.size()), isatty(2) != 0, 100);
      std::cerr << "asking the " << name << " model " << rows.size() << " questions\n";
      auto qs = ask_questions(model, *tok, rows, AskOptions{style, n_samples}, rng, [&](Index i) { bar.update(i + 1); });
      bar.finish();
      return qs;
    };
    GPT<float> base_model = load_model<float>(recipe + "/base"), sft_model = load_model<float>(recipe + "/sft");
    nlohmann::ordered_json r_tuning_report = "off";
    if (r_tuning) {
      ProgressBar bar(std::cerr, recipe_options.sft_steps, isatty(2) != 0, 25);
      std::cerr << "R-Tuning: SFT again from the base model, refusing what its cloze gets wrong\n";
      const RTuning<float> rt = r_tuning_sft(base_model, *tok, recipe, recipe_options.sft_options(), out, [&](Index s) { bar.update(s); });
      bar.finish();
      std::cerr << "R-Tuning: " << rt.demonstrations.answered << " rl questions answered, " << rt.demonstrations.refused << " refused\n";
      sft_model = rt.model;
      r_tuning_report = rt.to_json();
    }
    const std::vector<AskedQuestion> base = ask(base_model, "base", AskStyle::cloze, 0);
    const std::vector<AskedQuestion> sft = ask(sft_model, "sft", AskStyle::chat, o.samples);

    // ---- 4. experiment 1: calibration of the answers each model committed to ----
    const CommittedAnswers base_c = committed_answers(base), sft_c = committed_answers(sft);
    std::vector<Calibration> cals{calibration(base_c.confidence, base_c.right), calibration(sft_c.confidence, sft_c.right)};
    std::vector<std::string> names{"base (cloze), P(answer)", "SFT (chat), P(answer)"};
    if (o.samples > 0) {
      const CommittedAnswers sc = committed_answers(sft, true);
      cals.push_back(calibration(sc.confidence, sc.right));
      names.push_back("SFT, self-consistency (" + std::to_string(o.samples) + " samples)");
    }
    chart::save(reliability_diagram(cals, names, "Is the model's confidence its accuracy?"), out + "/reliability.svg",
                out + "/reliability.json");
    std::printf("\nExperiment 1: calibration (15 equal-width bins)\n%s", calibration_table(names, cals).c_str());

    // ---- 5. experiment 2: who gets hallucinated about ----
    const GroupOutcomes base_o = outcomes_by_group(mentions_of(base), grades_of(base));
    const GroupOutcomes sft_o = outcomes_by_group(mentions_of(sft), grades_of(sft));
    std::printf("\nExperiment 2: outcomes by how often pre-training mentioned the person\n");
    print_groups("base model (cloze)", base_o, t);
    print_groups("SFT model (chat)", sft_o, t);
    std::printf("  singleton rate n1/N = %lld/%lld = %.2f%%  (share of mentioned people seen once: %.1f%%)\n"
                "  wrong on people mentioned once: base %.1f%%, SFT %.1f%%\n",
                static_cast<long long>(singletons.singletons), static_cast<long long>(singletons.mentions),
                100 * singletons.rate, 100 * singletons.share, 100 * base_o.group[1].error(), 100 * sft_o.group[1].error());

    // ---- 6. experiment 4: answer only when sure enough: the SFT model, and the base model's cloze ----
    const Abstention a = abstention(confidences_of(sft), grades_of(sft), mentions_of(sft), t);
    const Abstention base_a = abstention(confidences_of(base), grades_of(base), mentions_of(base), t);
    chart::save(risk_coverage_figure(a.curve, t, "SFT model: abstaining below a confidence threshold"),
                out + "/risk_coverage.svg", out + "/risk_coverage.json");
    chart::save(risk_coverage_figure(base_a.curve, t, "Base model (cloze): abstaining below a confidence threshold"),
                out + "/risk_coverage_base.svg", out + "/risk_coverage_base.json");
    std::printf("\nExperiment 4: abstention (score: right 1, wrong -%.0f, IDK 0 at t = %.2f)\n%s%s", t / (1 - t), t,
                abstention_text("SFT", a).c_str(), abstention_text("base (cloze)", base_a).c_str());
    // ... and abstaining when the name is unfamiliar: has the model heard of this person?
    std::cerr << "asking both models the rl split's questions, to choose tau for the names' familiarity\n";
    const std::vector<EvalExample> rl_rows = read_world_questions(recipe + "/data/world.json", Split::rl);
    const FamiliarityAbstention fam = familiarity_abstention(sft_model, *tok, rl_rows, sft, AskStyle::chat, t);
    const FamiliarityAbstention base_fam = familiarity_abstention(base_model, *tok, rl_rows, base, AskStyle::cloze, t);
    std::printf("%s%s", familiarity_text("SFT", fam).c_str(), familiarity_text("base (cloze)", base_fam).c_str());

    // ---- 7. experiment 3: PPO from the SFT model against each grader, on the rl split ----
    nlohmann::ordered_json ppo_report = "skipped: --ppo-steps 0";
    if (o.ppo_steps > 0) {
      const GraderExperiment<float> x = grader_experiment<float>(recipe, *tok, o, sft_model.config().n_positions);
      const RewardModel<float>* rm = x.reward_model.get();  // the recipe's reward model, when it made one
      std::printf("\nExperiment 3: PPO from the SFT model, %lld steps of %lld rollouts on the %zu questions of the rl split\n%s",
                  static_cast<long long>(o.ppo_steps), static_cast<long long>(o.ppo_batch), x.questions.size(),
                  rm ? "" : "  no DIR/reward folder: the reward-model policy is skipped\n");
      ppo_report = x.report;
      GraderResults res(sft, cals[1], names[1]);  // the SFT model's answers, then each policy's
      for (const GraderPolicy& p : x.policies) {
        GPT<float> policy = sft_model;
        ProgressBar bar(std::cerr, o.ppo_steps, isatty(2) != 0, 10, "mean score");
        std::cerr << "PPO against the " << p.grader << " grader\n";
        const PPOHistory h = run_ppo(policy, sft_model, p.reward, x.gold, x.prompts, x.ppo,
                                     [&](const PPOStepStats& s) { bar.update(s.step, s.mean_score, 0); }, x.demonstrations);
        bar.finish();
        save_model_folder(policy, *tok, out + "/ppo-" + p.grader);
        print_groups("PPO against the " + p.grader + " grader", res.add(p.grader, ask(policy, "ppo-" + p.grader, AskStyle::chat, 0), h), t);
      }
      chart::save(reliability_diagram(res.calibrations, res.names, "After PPO: is each policy's confidence its accuracy?"),
                  out + "/reliability_ppo.svg", out + "/reliability_ppo.json");
      const NamedGraderScores scores = res.scores(t, rm, *tok);  // every policy under every grader
      std::printf("Every policy under every grader (mean score a held-out question)\n%s", grader_score_table(scores, o.target_name()).c_str());
      ppo_report["policies"] = res.policies;
      ppo_report["scores"] = to_json(scores, o.target_name());
      const GradingTargets g = res.targets();
      ppo_report["targets"] = to_json(g);
      std::fputs(targets_text(g, o.target_name()).c_str(), stdout);
    }

    // ---- 8. the report and every answer ----
    nlohmann::ordered_json report;
    report["questions"] = rows.size();
    report["r_tuning"] = r_tuning_report;
    report["singletons"] = to_json(singletons);
    report["calibration"] = nlohmann::ordered_json::array();
    for (std::size_t i = 0; i < cals.size(); ++i) report["calibration"].push_back({{"answers", names[i]}, {"figures", to_json(cals[i])}});
    report["outcomes"] = {{"base_cloze", to_json(base_o)}, {"sft_chat", to_json(sft_o)}};
    report["abstention"] = to_json(a);
    report["abstention_base"] = to_json(base_a);
    report["abstention_familiarity"] = {{"sft", to_json(fam)}, {"base_cloze", to_json(base_fam)}};
    report["ppo_graders"] = ppo_report;
    chart::save_json(out + "/report.json", report);
    write_answers_jsonl(out + "/answers.jsonl", {{"base", &base}, {"sft", &sft}});
    std::printf("\nwrote %s/report.json, the pictures (.svg, numbers in .json) and answers.jsonl\n", out.c_str());
  } catch (const std::exception& e) {
    std::cerr << "hallucination: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
