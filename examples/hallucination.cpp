// hallucination — why models guess, measured on the recipe's small world (환각, Kalai et al.
// 2025, "Why Language Models Hallucinate"): does the model know what it knows, how often does
// it guess about people it saw once, and when should it say "I don't know"?
//
//   hallucination --recipe DIR --out OUT
//
// DIR is what chatgpt_recipe wrote: DIR/data/eval.jsonl (held-out questions with how often the
// pre-training text mentions each person), DIR/data/world.json (every person's mentions),
// DIR/base and DIR/sft (model folders). The experiments:
//   1. calibration (보정): the base model asked the pre-training way (the cloze "Mina Park lives
//      in"), the SFT model in the chat format; each answer scored by its own probability (and
//      the SFT's also by self-consistency over --samples sampled answers); ECE and a
//      reliability diagram per model;
//   2. singletons: per mention group (never, once, 2-3, 4+) the share right, wrong
//      (hallucinated), "I don't know" and off-format, beside the singleton rate of the text;
//   3. grading decides behaviour (PPO against a binary grader, a t = 0.75 grader and the reward
//      model): NOT YET — it needs the PPO trainer, which is not in the library yet;
//   4. abstention at inference: the SFT model answers only when its confidence >= tau, else
//      "I don't know"; the risk-coverage curve, and the tau that maximises the t = 0.75 score.
// Writes OUT/report.json (every figure), OUT/reliability.svg, OUT/risk_coverage.svg (each with
// its numbers as .json) and OUT/answers.jsonl (every answer, grade and confidence), and prints
// the tables.
#include <minigpt/minigpt.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace minigpt;

// One table row: a label and the four shares of a set of answers.
static void print_row(const std::string& label, const GradeCounts& g) {
  std::printf("  %-18s %5lld  %7.1f%% %7.1f%% %7.1f%% %7.1f%%  %+6.3f\n", label.c_str(),
              static_cast<long long>(g.total), 100 * g.accuracy(), 100 * g.error(), 100 * g.idk(),
              100 * g.off_format(), g.target_score(0.75));
}
static void print_groups(const std::string& model, const GroupOutcomes& o) {
  std::printf("%s\n  %-18s %5s  %8s %8s %8s %8s  %6s\n", model.c_str(), "group", "n", "right", "wrong", "IDK",
              "off", "t=0.75");
  for (std::size_t g = 0; g < 4; ++g) print_row(std::string("mentioned ") + mention_groups()[g].name, o.group[g]);
  print_row("arithmetic", o.arithmetic);
  print_row("all", o.all);
}

int main(int argc, char** argv) {
  // ---- 1. flags ----
  CLI::App app{"Measure calibration, singleton errors and abstention on the recipe's models."};
  std::string recipe, out;
  Index samples = 8, limit = 0;
  double t = 0.75;
  std::uint64_t seed = 1234;
  app.add_option("--recipe", recipe, "the folder chatgpt_recipe wrote (data/, base/, sft/) (required)");
  app.add_option("--out", out, "folder for report.json, the pictures and answers.jsonl (required)");
  app.add_option("--samples", samples, "sampled answers per question for self-consistency (0: none; default 8)")
      ->check(CLI::Range(Index(0), Index(1000)));
  app.add_option("--limit", limit, "ask only the first N held-out questions (0: all)")->check(CLI::Range(Index(0), Index(1000000)));
  app.add_option("--target", t, "the confidence target t of the abstention experiment (default 0.75)")
      ->check(CLI::Range(0.0, 0.99));
  app.add_option("--seed", seed, "seed of the sampled answers (default 1234)");
  try {
    app.parse(argc, argv);
    if (recipe.empty() || out.empty()) throw CLI::ValidationError("--recipe DIR and --out DIR are required");
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "hallucination: " << e.what() << " (see --help)\n";
    return 2;
  }

  try {
    // ---- 2. the questions, and how often the pre-training text mentions everyone ----
    std::vector<EvalExample> rows = read_eval_jsonl(recipe + "/data/eval.jsonl");
    if (limit > 0 && static_cast<Index>(rows.size()) > limit) rows.resize(static_cast<std::size_t>(limit));
    const std::vector<Index> mentions = read_world_mentions(recipe + "/data/world.json");  // everyone
    const SingletonStats singletons = singleton_stats(mentions);

    // ---- 3. ask both models every question, keeping each answer's grade and confidence ----
    auto ask = [&](const std::string& name, AskStyle style, Index n_samples) {
      GPT<float> model = load_model<float>(recipe + "/" + name);
      const auto tok = load_tokenizer(recipe + "/" + name);
      Rng rng(seed);
      ProgressBar bar(std::cerr, static_cast<Index>(rows.size()), isatty(2) != 0, 100);
      std::cerr << "asking the " << name << " model " << rows.size() << " questions\n";
      AskOptions opt;
      opt.style = style;
      opt.samples = n_samples;
      auto qs = ask_questions(model, *tok, rows, opt, rng, [&](Index i) { bar.update(i + 1, 0, 0); });
      bar.finish();
      return qs;
    };
    const std::vector<AskedQuestion> base = ask("base", AskStyle::cloze, 0);
    const std::vector<AskedQuestion> sft = ask("sft", AskStyle::chat, samples);

    // ---- 4. experiment 1: calibration of the answers each model committed to ----
    const CommittedAnswers base_c = committed_answers(base), sft_c = committed_answers(sft);
    std::vector<Calibration> cals{calibration(base_c.confidence, base_c.right), calibration(sft_c.confidence, sft_c.right)};
    std::vector<std::string> names{"base (cloze), P(answer)", "SFT (chat), P(answer)"};
    if (samples > 0) {
      const CommittedAnswers sc = committed_answers(sft, true);
      cals.push_back(calibration(sc.confidence, sc.right));
      names.push_back("SFT, self-consistency (" + std::to_string(samples) + " samples)");
    }
    chart::save(reliability_diagram(cals, names, "Is the model's confidence its accuracy?"), out + "/reliability.svg",
                out + "/reliability.json");
    std::printf("\nExperiment 1: calibration (15 equal-width bins)\n  %-44s %5s %8s %8s %8s %8s\n", "answers scored by",
                "n", "acc", "conf", "ECE", "Brier");
    for (std::size_t i = 0; i < cals.size(); ++i)
      std::printf("  %-44s %5lld %8.3f %8.3f %8.3f %8.3f\n", names[i].c_str(), static_cast<long long>(cals[i].count),
                  cals[i].accuracy, cals[i].mean_confidence, cals[i].ece, cals[i].brier);

    // ---- 5. experiment 2: who gets hallucinated about ----
    const GroupOutcomes base_o = outcomes_by_group(mentions_of(base), grades_of(base));
    const GroupOutcomes sft_o = outcomes_by_group(mentions_of(sft), grades_of(sft));
    std::printf("\nExperiment 2: outcomes by how often pre-training mentioned the person\n");
    print_groups("base model (cloze)", base_o);
    print_groups("SFT model (chat)", sft_o);
    std::printf("  singleton rate n1/N = %lld/%lld = %.2f%%  (share of mentioned people seen once: %.1f%%)\n"
                "  wrong on people mentioned once: base %.1f%%, SFT %.1f%%\n",
                static_cast<long long>(singletons.singletons), static_cast<long long>(singletons.mentions),
                100 * singletons.rate, 100 * singletons.share, 100 * base_o.group[1].error(), 100 * sft_o.group[1].error());

    // ---- 6. experiment 4: answer only when sure enough ----
    const std::vector<CoveragePoint> curve = risk_coverage(confidences_of(sft), grades_of(sft), t);
    const CoveragePoint best = best_threshold(curve);
    const GroupOutcomes abstained = outcomes_by_group(mentions_of(sft), abstain_below(confidences_of(sft), grades_of(sft), best.tau));
    const GroupOutcomes at_t = outcomes_by_group(mentions_of(sft), abstain_below(confidences_of(sft), grades_of(sft), t));
    chart::save(risk_coverage_figure(curve, t, "SFT model: abstaining below a confidence threshold"),
                out + "/risk_coverage.svg", out + "/risk_coverage.json");
    std::printf("\nExperiment 4: abstention (score: right 1, wrong -%.0f, IDK 0 at t = %.2f)\n"
                "  best tau %.3f: coverage %.1f%%, risk %.1f%%, score %+.3f (always answering: %+.3f)\n",
                t / (1 - t), t, best.tau, 100 * best.coverage, 100 * best.risk, best.score, curve.front().score);
    print_groups("SFT, abstaining below the best tau", abstained);
    print_groups("SFT, abstaining below tau = t", at_t);
    std::printf("\nExperiment 3 (PPO against binary, t = 0.75 and reward-model graders): not yet run; it needs the "
                "PPO trainer.\n");

    // ---- 7. the report and every answer ----
    nlohmann::ordered_json report;
    report["questions"] = rows.size();
    report["singletons"] = to_json(singletons);
    report["calibration"] = nlohmann::ordered_json::array();
    for (std::size_t i = 0; i < cals.size(); ++i) report["calibration"].push_back({{"answers", names[i]}, {"figures", to_json(cals[i])}});
    report["outcomes"] = {{"base_cloze", to_json(base_o)}, {"sft_chat", to_json(sft_o)}};
    report["abstention"] = {{"t", t},
                            {"best_tau", best.tau},
                            {"best", {{"coverage", best.coverage}, {"risk", best.risk}, {"score", best.score}}},
                            {"answer_all_score", curve.front().score},
                            {"outcomes_best_tau", to_json(abstained)},
                            {"outcomes_tau_t", to_json(at_t)}};
    report["ppo_graders"] = "not yet: needs the PPO trainer";
    chart::save_json(out + "/report.json", report);
    write_answers_jsonl(out + "/answers.jsonl", {{"base", &base}, {"sft", &sft}});
    std::printf("\nwrote %s/report.json, reliability.svg, risk_coverage.svg, answers.jsonl\n", out.c_str());
  } catch (const std::exception& e) {
    std::cerr << "hallucination: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
