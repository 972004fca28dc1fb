// chatgpt_recipe — the chapter's "secret recipe" (비밀 레시피) in miniature, on 2 CPU cores:
//
//   1. pre-training (사전 학습): a small character-level GPT reads a made-up world's text;
//   2. SFT (지도 미세 조정): it learns to answer "Q: ...\nA:" from demonstrations, the loss
//      on the answer only;
//   3. a reward model (보상 모델): the SFT model with a score head, trained on a labeler's
//      rankings of answers the SFT model sampled (Bradley–Terry);
//   4. PPO (강화학습, ppo_trainer.hpp): the SFT model answers, the reward model scores, the
//      policy moves toward higher scores on a KL leash (β) to the SFT model.
//
//   chatgpt_recipe --out run                       # the whole recipe (about 15 minutes)
//   chatgpt_recipe --out run --from sft            # reuse run/base and run/sft, redo steps 3 and 4
//   chatgpt_recipe --out run --from reward --kl-coef 0.001   # PPO again, on too loose a leash
//   chatgpt_recipe --out trial --often-min 48     # a world whose well-known people are named more
//   generate --model run/ppo --prompt $'Q: What is 3 + 4?\nA:'
//
// A run --from reuses steps made with the options in run/report.json: give the same seed,
// world and sizes of those steps (it stops, naming the first that differs, before writing).
//
// It writes run/data/* (TRL's JSONL files), run/base, run/sft, run/reward, run/ppo (model
// folders with their tokenizer), run/report.json (every figure, per step), run/sft_loss.svg,
// run/reward_accuracy.svg and run/ppo.svg, and ends with held-out questions answered side by side.
#include <minigpt/minigpt.hpp>
#include <minigpt/package_data.hpp>

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <unistd.h>

using namespace minigpt;

int main(int argc, char** argv) {
  CLI::App app{"ChatGPT's recipe in miniature: pre-training, SFT, a reward model and PPO"};
  std::string out, from = "none", prose_path;  // prose: the bundled tinyshakespeare unless given
  bool quick = false;
  RecipeOptions o;  // the sizes: --quick's smaller ones when given; the flags below override either
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--quick") o = RecipeOptions::quick();
  app.add_option("--out", out, "folder for the data, the models, the report and the charts")->required();
  app.add_option("--from", from, "reuse the saved steps up to this one: base, sft or reward")
      ->check(CLI::IsMember({"none", "base", "sft", "reward"}));
  app.add_option("--prose", prose_path, "ordinary prose mixed into the pre-training text");
  app.add_flag("--quick", quick, "a tiny model and a few steps of each kind (seconds; for tests)");
  app.add_option("--seed", o.seed, "world, weights, batches and samples");
  app.add_option("--often-min", o.often_min, "the world's well-known people are named often-min to often-max times")
      ->check(CLI::Range(Index(4), Index(100000)));
  app.add_option("--often-max", o.often_max)->check(CLI::Range(Index(4), Index(100000)));
  app.add_option("--n-layer", o.n_layer);
  app.add_option("--n-embd", o.n_embd);
  app.add_option("--pretrain-steps", o.pretrain_steps);
  app.add_option("--sft-steps", o.sft_steps);
  app.add_option("--rm-steps", o.rm_steps);
  app.add_option("--answers-per-prompt", o.answers_per_prompt, "K answers the labeler ranks");
  app.add_option("--ppo-steps", o.ppo_steps, "PPO steps of rollouts and updates");
  app.add_option("--ptx", o.ptx_coef, "PPO-ptx: weight of the SFT demonstrations' loss in PPO's updates (0: off)");
  app.add_option("--kl-coef", o.kl_coef, "β, the KL leash to the SFT model (TRL's 0.05; try 0.001)");
  CLI11_PARSE(app, argc, argv);
  try {
    if (prose_path.empty()) prose_path = package_data("tinyshakespeare.txt", MINIGPT_PACKAGE_DATA);  // beside the program
    const int reuse = from == "none" ? 0 : from == "base" ? 1 : from == "sft" ? 2 : 3;  // steps loaded
    const bool tty = isatty(2);
    Rng rng(o.seed);
    nlohmann::ordered_json report;  // a resumed run keeps the figures of the steps it reuses
    if (reuse > 0) {  // the steps it reuses were made with these options, or it stops here
      report = read_report(out + "/report.json");
      check_resumed_options(report, out + "/report.json", o, reuse);
    }

    // ---- the world: people, facts, questions; its files in out/data ----
    const RecipeWorld w = make_recipe_world(o, load_text(prose_path), out, reuse > 0);  // a resumed run: the saved world
    const FactWorld& world = w.world;
    const CharTokenizer& tok = w.tok;
    const std::vector<EvalExample>& eval = w.eval;  // the held-out questions, as data/eval.jsonl holds them
    w.describe(report, o);
    auto answers_of = [&](GPT<float>& m) { return greedy_completions(m, tok, w.prompts); };
    auto say = [&](const char* step, const AnswerReport& r) {
      std::printf("%s: held-out answers in the format %.1f%%, correct %.1f%%, \"I don't know\" %.1f%%\n", step,
                  100 * r.all.in_format, 100 * r.all.correct, 100 * r.all.idk);
    };

    // ---- step 1: pre-training on the world's text ----
    GPT<float> base(GPTConfig::make(o.n_layer, o.n_head, o.n_embd, o.block_size, tok.vocab_size()));
    if (reuse >= 1) {
      base = load_model<float>(out + "/base");
    } else {  // the existing trainer (AdamW, warm-up, cosine decay); saves out/base
      std::printf("step 1: pre-training on %zu characters\n", world.pretrain_text().size());
      ProgressBar bar(std::cerr, o.pretrain_steps, tty);
      RecipeStep<float> step = run_pretraining_step<float>(world, tok, o, out, [&](const StepResult& r) {
        bar.update(r.step, r.loss, r.tokens);
      });
      bar.finish();
      report["base"] = step.report;
      base = std::move(step.model);
    }
    const std::vector<std::string> base_answers = answers_of(base);
    const AnswerReport base_report = grade_answers(eval, base_answers);
    report["base"]["answers"] = base_report.to_json();
    say("base", base_report);

    // ---- step 2: SFT on the demonstrations, prompts masked out of the loss ----
    GPT<float> sft = base;
    if (reuse >= 2) {
      sft = load_model<float>(out + "/sft");
    } else {  // the loss on the answer tokens only; saves out/sft and out/sft_loss.svg
      std::printf("step 2: SFT on %zu demonstrations\n", world.sft_examples().size());
      ProgressBar bar(std::cerr, o.sft_steps, tty, 50);
      RecipeStep<float> step = run_sft_step(base, tok, world, o, out, [&](Index i, double loss) { bar.update(i, loss, 0); });
      bar.finish();
      report["sft"] = step.report;
      sft = std::move(step.model);
    }
    const std::vector<std::string> sft_answers = answers_of(sft);
    const AnswerReport sft_report = grade_answers(eval, sft_answers);
    report["sft"]["answers"] = sft_report.to_json();
    say("SFT", sft_report);

    // ---- step 3: the reward model, from the labeler's rankings of SFT answers ----
    if (reuse < 3) {
      std::printf("step 3: the labeler ranks %lld answers per prompt; the reward model learns its pairs\n",
                  static_cast<long long>(o.answers_per_prompt));
      ProgressBar bar(std::cerr, o.rm_steps, tty, 50);
      report["reward"] = run_reward_step(sft, tok, world, o, out, rng, [&](Index step, double loss) { bar.update(step, loss, 0); });
      bar.finish();
      const auto& r = report["reward"];
      std::printf("reward model: %lld training pairs; held-out pairwise accuracy %.1f%% (%.1f%% before training; the\n"
                  "  SFT model's own likelihood orders %.1f%% of the held-out pairs as the labeler did)\n",
                  r["train"]["pairs"].get<long long>(), 100 * r["heldout_accuracy"].get<double>(),
                  100 * r["heldout_accuracy_before"].get<double>(), 100 * r["heldout_accuracy_sft_likelihood"].get<double>());
      for (const auto& [kind, k] : r["heldout_by_kind"].items())  // which comparisons it makes, which it misses
        std::printf("  %-26s %4lld pairs: reward model %5.1f%%, likelihood %5.1f%%\n", kind.c_str(),
                    k["pairs"].get<long long>(), 100 * k["reward_model"].get<double>(), 100 * k["sft_likelihood"].get<double>());
    }

    // ---- step 4: PPO against the reward model, a KL leash to the SFT model ----
    std::printf("step 4: PPO, %lld steps of %lld rollouts, β = %g\n", static_cast<long long>(o.ppo_steps),
                static_cast<long long>(o.ppo_batch), o.kl_coef);
    ProgressBar ppo_bar(std::cerr, o.ppo_steps, tty, 5, "policy loss");
    PPOStepResult<float> ppo = run_ppo_step(sft, load_reward_model<float>(out + "/reward"), tok, world, o, out,
                                            [&](const PPOStepStats& s) {  // the bar: the policy's loss, tokens sampled
                                              ppo_bar.update(s.step, s.policy_loss, std::lround(s.mean_length * o.ppo_batch));
                                            });
    ppo_bar.finish();
    const auto& first = ppo.report["first_steps"];
    const auto& last = ppo.report["last_steps"];
    std::printf("PPO: reward %.3f -> %.3f, gold %.3f -> %.3f, KL to SFT %.2f -> %.2f nats\n",
                first["mean_score"].get<double>(), last["mean_score"].get<double>(), first["mean_gold"].get<double>(),
                last["mean_gold"].get<double>(), first["mean_kl"].get<double>(), last["mean_kl"].get<double>());
    report["ppo"] = ppo.report;
    const std::vector<std::string> ppo_answers = answers_of(ppo.policy);
    const AnswerReport ppo_report = grade_answers(eval, ppo_answers);
    report["ppo"]["answers"] = ppo_report.to_json();
    say("PPO", ppo_report);

    // ---- the report, and held-out questions answered side by side ----
    write_report(out + "/report.json", report);
    std::printf("\n%-34s | %-16s | %-16s | %s\n", "held-out question (mentions)", "base", "SFT", "PPO");
    auto shown = [](const std::string& s) { return escape_bytes(s.substr(0, 16)); };
    for (std::size_t i : showcase_questions(eval)) {
      const std::string q = eval[i].prompt.substr(3, eval[i].prompt.size() - 6) +
                            (eval[i].mentions >= 0 ? " (" + std::to_string(eval[i].mentions) + ")" : "");
      std::printf("%-34s | %-16s | %-16s | %s\n", q.c_str(), shown(base_answers[i]).c_str(),
                  shown(sft_answers[i]).c_str(), shown(ppo_answers[i]).c_str());
    }
    std::printf("(right answers in %s/data/eval.jsonl; every figure in %s/report.json)\n", out.c_str(), out.c_str());
  } catch (const std::exception& e) {
    std::cerr << "chatgpt_recipe: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
