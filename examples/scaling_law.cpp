// scaling_law — the scaling law (스케일링 법칙), run on this machine: train models of growing
// size on the same text with the same budget, measure each one's validation loss, and fit
// L(N) = (N_c / N)^α + E to the losses on log–log axes (scaling_law.hpp).
//
//   scaling_law --out scaling                  five sizes, 62x apart; minutes on 2 cores
//   scaling_law --out scaling --quick          tiny sizes, a few steps each (a smoke test)
//
// The models: character-level GPTs on tinyshakespeare (V = 65, context 64), from 1 layer of
// 32 numbers to 4 layers of 128 (next_token_predictor's baby GPT), head size 16. N counts the
// non-embedding parameters, as Kaplan et al. do. One recipe for all (the predictor's: AdamW,
// warm-up, cosine decay to a tenth), and one budget for all: the same number of training
// tokens D. A token budget keeps the data term of Chinchilla's L(N, D) = E + A/N^α + B/D^β
// the same for every size, so the losses differ by N alone (a compute budget would give the
// small models more tokens and mix the two effects). Each loss is measured on the WHOLE
// validation split (the last 10% of the text, never trained on).
//
// Writes DIR/report.json (sizes, parameters, tokens, FLOPs = 6·N·D, losses, the fits, R²),
// DIR/scaling.svg (loss against N, the fit, Kaplan's slope beside it) and DIR/curves.svg
// (each size's training loss against compute), each picture with its numbers as JSON.
#include <minigpt/minigpt.hpp>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <unistd.h>
#include <vector>

using namespace minigpt;

struct Size {
  Index n_layer, n_embd;  // head size 16: n_head = n_embd / 16
};

// The whole text of a file.
static std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "", "cannot be read");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int main(int argc, char** argv) {
  // ---- 1. flags ----
  CLI::App app{"Train GPTs of growing size with one token budget and fit the scaling law L(N) = (N_c/N)^a + E."};
  std::string out, data = std::string(MINIGPT_DATA_DIR) + "/tinyshakespeare.txt";
  bool quick = false;
  Index tokens = 3000000;
  std::uint64_t seed = 1337;
  app.add_option("--out", out, "folder for report.json, scaling.svg and curves.svg (required)");
  app.add_flag("--quick", quick, "tiny models, a few steps each: a check that everything runs, not a result");
  app.add_option("--tokens", tokens, "training tokens per model, the same for every size (default 3,000,000)")
      ->check(CLI::Range(Index(1000), Index(1000000000)));
  app.add_option("--data", data, "training text (default: the bundled tinyshakespeare)");
  app.add_option("--seed", seed, "random seed for weights and batches (default 1337)");
  try {
    app.parse(argc, argv);
    if (out.empty()) throw CLI::ValidationError("--out DIR is required");
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "scaling_law: " << e.what() << " (see --help)\n";
    return 2;
  }

  const auto start = std::chrono::steady_clock::now();
  try {
    // ---- 2. the data: one token per character, the last 10% held out ----
    const std::string text = read_text(data);
    const CharTokenizer tok = CharTokenizer::from_text(text);
    const DataSplit split = split_train_val(tok.encode(text), 0.9);

    // ---- 3. the sizes and the one recipe ----
    const std::vector<Size> sizes = quick ? std::vector<Size>{{1, 16}, {1, 32}, {2, 32}, {2, 48}, {3, 64}}
                                          : std::vector<Size>{{1, 32}, {2, 48}, {3, 64}, {4, 96}, {4, 128}};
    TrainOptions recipe;  // AdamW (0.9, 0.99), weight decay 0.1, clipping at 1
    recipe.batch_size = quick ? 4 : 12;
    recipe.block_size = quick ? 32 : 64;
    recipe.seed = seed;
    if (quick) tokens = 40 * recipe.batch_size * recipe.block_size;
    recipe.max_iters = std::max<Index>(1, tokens / (recipe.batch_size * recipe.block_size));
    const Index D = recipe.max_iters * recipe.batch_size * recipe.block_size;  // tokens each model trains on
    const double lr = 2e-3;
    recipe.lr = {lr, lr / 10, std::min<Index>(100, recipe.max_iters / 10), recipe.max_iters};
    std::printf("%s: %zu training and %zu validation tokens (V = %lld); %lld tokens per model (%.2f epochs), "
                "%lld steps of %lld x %lld\n",
                data.c_str(), split.train.size(), split.val.size(), (long long)tok.vocab_size(), (long long)D,
                static_cast<double>(D) / static_cast<double>(split.train.size()), (long long)recipe.max_iters,
                (long long)recipe.batch_size, (long long)recipe.block_size);

    // ---- 4. train each size, then its loss on the whole validation split ----
    nlohmann::json models = nlohmann::json::array();
    std::vector<double> N, L;
    chart::Figure curves;
    curves.title = "training loss against compute, one line per model size";
    curves.x = {"training compute C = 6 N D so far (FLOPs)", chart::Scale::log};
    curves.y = {"training loss (50-step average, nats per character)", chart::Scale::log};
    for (std::size_t k = 0; k < sizes.size(); ++k) {
      const GPTConfig config = GPTConfig::make(sizes[k].n_layer, sizes[k].n_embd / 16,
                                               sizes[k].n_embd, recipe.block_size, tok.vocab_size());
      const ModelSizes counts = model_sizes(config);
      const auto n = static_cast<double>(counts.non_embedding_parameters);
      const std::string name = "L" + std::to_string(config.n_layer) + " C" + std::to_string(config.n_embd);
      std::printf("\nmodel %zu/%zu: %s, %lld heads: N = %lld non-embedding parameters (%lld in all)\n", k + 1,
                  sizes.size(), name.c_str(), (long long)config.n_head, (long long)counts.non_embedding_parameters,
                  (long long)counts.parameters);
      std::fflush(stdout);
      Trainer<float> trainer(config, recipe, split);
      ProgressBar bar(std::cerr, recipe.max_iters, ::isatty(2) != 0, std::max<Index>(1, recipe.max_iters / 5));
      while (!trainer.done()) {
        const StepResult r = trainer.train_step();
        bar.update(r.step, r.loss, r.tokens);
      }
      bar.finish();
      const double train_seconds = bar.seconds(), speed = bar.tokens_per_second();
      const double val = trainer.split_loss(Trainer<float>::Split::val);  // every validation token
      std::printf("  trained in %.1f s (%.0f tokens/s); validation loss %.4f (the whole split, %.1f s)\n",
                  train_seconds, speed, val, bar.seconds() - train_seconds);
      // Its learning curve against compute: the 50-step average at ~150 steps evenly spaced
      // on the log axis.
      const chart::Series smooth = loss_curve_figure(trainer.history(), name).series[1];
      chart::Series line{name + " (" + chart::short_number(n) + ")", {}, {}, chart::Mark::line, chart::palette(k)};
      std::size_t last = 0;
      for (int i = 0; i <= 150; ++i) {
        const auto at = static_cast<std::size_t>(std::pow(static_cast<double>(smooth.x.size()), i / 150.0)) - 1;
        if (at >= smooth.x.size() || (i > 0 && at == last)) continue;
        line.x.push_back(6.0 * n * smooth.x[at] * static_cast<double>(recipe.batch_size * recipe.block_size));
        line.y.push_back(smooth.y[at]);
        last = at;
      }
      N.push_back(n);
      L.push_back(val);
      models.push_back({{"name", name}, {"n_layer", config.n_layer}, {"n_head", config.n_head},
                        {"n_embd", config.n_embd}, {"parameters", counts.parameters},
                        {"non_embedding_parameters", counts.non_embedding_parameters}, {"tokens", D},
                        {"flops", 6.0 * n * static_cast<double>(D)}, {"val_loss", val},
                        {"train_loss_last_50_steps", smooth.y.back()}, {"train_seconds", train_seconds},
                        {"seconds", bar.seconds()}});
      curves.series.push_back(line);
    }

    // ---- 5. the fits: L = (N_c/N)^α + E, and the pure power law (E = 0) ----
    const PowerLawFit fit = fit_power_law_with_floor(N, L), pure = fit_power_law(N, L);
    std::printf("\nfit L(N) = (N_c/N)^a + E: a = %.3f, N_c = %.3g, E = %.3f, R^2 = %.4f%s\n", fit.alpha, fit.n_c,
                fit.floor, fit.r2, fit.floor_at_bound ? " (E at the edge of its range: not pinned down)" : "");
    std::printf("pure power law L(N) = (N_c/N)^a: a = %.3f, R^2 = %.4f (Kaplan et al.: a = 0.076)\n", pure.alpha, pure.r2);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("trained and measured %zu models in %.0f s\n", sizes.size(), seconds);

    // ---- 6. the chart: measured points, the fits, Kaplan's slope drawn through our middle ----
    std::vector<std::string> names;
    for (const auto& m : models) names.push_back(m["name"].get<std::string>());
    const chart::Figure f = scaling_law_figure(N, L, names, "every model trained on the same " +
                                                                chart::short_number(static_cast<double>(D)) +
                                                                " characters; loss on the whole validation split");
    chart::save(f, out + "/scaling.svg", out + "/scaling.json");
    chart::save(curves, out + "/curves.svg", out + "/curves.json");
    auto fit_json = [](const PowerLawFit& p, const char* form) {
      return nlohmann::json{{"form", form}, {"alpha", p.alpha}, {"N_c", p.n_c}, {"E", p.floor}, {"r2", p.r2},
                            {"rmse_log", p.rmse_log}, {"E_at_bound", p.floor_at_bound}};
    };
    chart::save_json(out + "/report.json",
                     {{"data", data}, {"tokenizer", "char"}, {"vocab_size", tok.vocab_size()},
                      {"train_tokens", split.train.size()}, {"val_tokens", split.val.size()},
                      {"budget", {{"kind", "tokens"}, {"tokens_per_model", D},
                                  {"why", "one D for all: Chinchilla's data term B/D^beta is the same for every size"}}},
                      {"recipe", {{"batch_size", recipe.batch_size}, {"block_size", recipe.block_size},
                                  {"steps", recipe.max_iters}, {"lr", lr}, {"min_lr", lr / 10},
                                  {"warmup_steps", recipe.lr.warmup}, {"seed", seed}, {"head_size", 16}}},
                      {"N", "non-embedding parameters"}, {"flops", "6 N D"}, {"models", models},
                      {"fit", fit_json(fit, "L(N) = (N_c/N)^alpha + E, least squares in log L")},
                      {"fit_pure_power_law", fit_json(pure, "L(N) = (N_c/N)^alpha, least squares in log L")},
                      {"kaplan_alpha_N", 0.076}, {"seconds", seconds}, {"quick", quick}});
    std::printf("wrote %s/report.json, scaling.svg and curves.svg (with their numbers as .json)\n", out.c_str());
  } catch (const std::exception& e) {
    std::cerr << "scaling_law: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
