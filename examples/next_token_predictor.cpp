// next_token_predictor — the chapter's whole story in one program: text becomes tokens, a
// small GPT is pre-trained (사전 학습) to predict the next token by lowering its loss (손실),
// and then it predicts.
//
// With no arguments it trains nanoGPT's "baby GPT" on the bundled tinyshakespeare, one token
// per character (4 layers, 4 heads, 128 dims, block 64, batch 12, 2,000 steps: a few minutes
// on a laptop), shows the loss falling, saves the model and its loss curve, and then, for a
// few prompts, prints the five most likely next characters and a sampled continuation.
//
//   next_token_predictor                                   # train, save to shakespeare-char/
//   next_token_predictor --tokenizer bpe:512 --max-iters 500 --out shakespeare-bpe
//   next_token_predictor --predict shakespeare-char        # use a saved model, no training
//   generate --model shakespeare-char --prompt "ROMEO:"    # the saved folder is a model folder
//   mpirun -np 2 next_token_predictor --threads 1          # two processes train together (MPI)
//
// The recipe is nanoGPT's config/train_shakespeare_char.py at its CPU scale: AdamW (beta2
// 0.99, weight decay 0.1), the learning rate warmed up over 100 steps and decayed by a cosine
// to a tenth of its peak at the last step, gradients clipped to length 1, no dropout; the
// validation loss is estimated every 250 steps on 20 batches, and at the end measured on the
// whole validation text (the last 10% of the file, never trained on). One change: the peak
// learning rate is 2e-3, not nanoGPT's 1e-3. In 2,000 steps the baby GPT is still far from
// done, and the bolder rate ends at a validation loss of about 1.82 instead of 1.91
// (--lr 1e-3 runs nanoGPT's recipe exactly).
//
// Built with MINIGPT_USE_MPI, `mpirun -np N` starts N copies ("ranks") that train one model
// together, each on its share of every batch (distributed.hpp, training.hpp): the same run,
// N times the compute. Rank 0 alone prints and saves.
#include <minigpt/minigpt.hpp>

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <unistd.h>

using namespace minigpt;

// The five most likely next tokens after `prompt`, and a sampled continuation.
static void predict(GPT<float>& model, const Tokenizer& tok, const std::string& prompt, Rng& rng) {
  const std::vector<TokenId> ids = tok.encode(prompt);
  const auto dist = next_token_probabilities(model, ids);  // softmax of the last logits, most likely first
  auto shown = [](std::string s) {  // newlines as \n, so each answer stays on one line
    for (std::size_t at = s.find('\n'); at != std::string::npos; at = s.find('\n', at + 2)) s.replace(at, 1, "\\n");
    return s;
  };
  std::printf("\nprompt \"%s\"\n  next token:", shown(prompt).c_str());
  for (std::size_t i = 0; i < 5 && i < dist.size(); ++i)
    std::printf("  '%s' %.1f%%", shown(tok.decode({dist[i].first})).c_str(), 100.0 * dist[i].second);
  GenerateOptions gen;
  gen.max_new_tokens = 120;
  gen.sampling.temperature = 0.8;  // a little sharper than the model's own odds, as nanoGPT samples
  gen.sampling.top_k = 200;
  const std::vector<TokenId> more = generate(model, ids, 1, gen, rng)[0];
  std::printf("\n  continued: %s%s\n", prompt.c_str(), tok.decode(more).c_str());
}

int main(int argc, char** argv) {
  // ---- 0. the processes: one, or the N ranks that mpirun started ----
  std::unique_ptr<ProcessGroup> world;
  try {
    world = std::make_unique<ProcessGroup>(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "next_token_predictor: " << e.what() << "\n";
    return 1;
  }
  const bool chief = world->rank() == 0;                  // rank 0 alone prints and saves
  if (!chief) std::freopen("/dev/null", "w", stdout);     // the others' output goes nowhere
  const std::string who = chief ? "" : "rank " + std::to_string(world->rank()) + ": ";

  // ---- 1. flags ----
  CLI::App app{"Train a small GPT to predict the next token of a text, then let it predict."};
  std::string data, tokenizer_spec = "char";  // data: the bundled tinyshakespeare unless --data names a file
  std::string out = "shakespeare-char", predict_dir;
  GPTConfig config = GPTConfig::make(4, 4, 128, 64, 0);  // nanoGPT's baby GPT; V comes from the tokenizer
  TrainOptions train;                                     // batch 12, 2,000 steps ... (training.hpp)
  double lr = 2e-3;
  int threads = 0;
  app.add_option("--data", data, "training text (default: the bundled tinyshakespeare)");
  app.add_option("--tokenizer", tokenizer_spec, "char, bpe:N (train a BPE of N tokens on the data) or a folder");
  app.add_option("--n-layer", config.n_layer, "decoder blocks (default 4)")->check(CLI::PositiveNumber);
  app.add_option("--n-head", config.n_head, "attention heads (default 4)")->check(CLI::PositiveNumber);
  app.add_option("--n-embd", config.n_embd, "embedding width C (default 128)")->check(CLI::PositiveNumber);
  app.add_option("--block-size", config.n_positions, "context length T (default 64)")->check(CLI::PositiveNumber);
  app.add_option("--batch-size", train.batch_size, "sequences per step B (default 12)")->check(CLI::PositiveNumber);
  app.add_option("--max-iters", train.max_iters, "training steps (default 2000)")->check(CLI::NonNegativeNumber);
  app.add_option("--lr", lr, "peak learning rate (default 2e-3; nanoGPT's recipe uses 1e-3)")->check(CLI::PositiveNumber);
  app.add_option("--seed", train.seed, "random seed: weights, batches, sampling (default 1337)");
  app.add_option("--out", out,
                 "folder for the model, its vocabulary and loss.svg (default shakespeare-char, in the current folder)");
  app.add_option("--predict", predict_dir, "use the model saved in this folder; do not train");
  app.add_option("--threads", threads, "threads per process (default: every core; under mpirun, per rank)")
      ->check(CLI::PositiveNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return world->finish(0);
  } catch (const CLI::ParseError& e) {
    std::cerr << who << "next_token_predictor: " << e.what() << " (see --help)\n";
    return world->finish(2);
  }
  if (threads > 0) Trainer<float>::set_threads(threads);

  try {
    // ---- 2. text -> tokens (토큰) ----
    if (data.empty()) data = package_data("tinyshakespeare.txt", MINIGPT_PACKAGE_DATA);  // found beside the program
    const std::string text = load_text(data);
    std::unique_ptr<Tokenizer> tok;
    std::unique_ptr<GPT<float>> model;
    if (!predict_dir.empty()) {
      model = std::make_unique<GPT<float>>(load_model<float>(predict_dir));
      tok = load_tokenizer(predict_dir);
    } else {
      tok = make_tokenizer(tokenizer_spec, text);
    }
    const DataSplit split = split_train_val(tok->encode(text), 0.9);  // the last 10% is never trained on
    std::printf("%s: %zu bytes -> %zu tokens (vocabulary V = %lld)\n", data.c_str(), text.size(),
                split.train.size() + split.val.size(), static_cast<long long>(tok->vocab_size()));

    // ---- 3. pre-training: batches -> logits -> loss -> gradients -> AdamW ----
    if (predict_dir.empty()) {
      config.vocab_size = tok->vocab_size();
      config.validate("flags");
      train.block_size = config.n_positions;
      train.lr = {lr, lr / 10, std::min<Index>(100, train.max_iters / 10), train.max_iters};  // warm-up, cosine
      Trainer<float> trainer(config, train, split, &world->communicator());  // every rank the same
      std::printf("model: %lld layers, %lld heads, C = %lld, T = %lld: %lld parameters; %lld tokens per step, "
                  "%lld steps (%d rank%s x %d threads, %lld shards)\n",
                  (long long)config.n_layer, (long long)config.n_head, (long long)config.n_embd,
                  (long long)config.n_positions, (long long)trainer.model().parameter_count(),
                  (long long)trainer.tokens_per_step(), (long long)train.max_iters, trainer.ranks(),
                  trainer.ranks() > 1 ? "s" : "", Trainer<float>::threads(), (long long)trainer.shards());
      Index saved = 0;
      auto save = [&] {  // every rank calls it; rank 0 writes
        trainer.save_checkpoint(out, [&](const std::string& dir) { tok->save(dir); });
        saved = trainer.step();
      };
      save();  // step 0: a bad --out fails now, not after minutes of training

      const double log_v = std::log(static_cast<double>(config.vocab_size));
      std::ostream nowhere(nullptr);
      ProgressBar bar(chief ? std::cerr : nowhere, train.max_iters, ::isatty(2) != 0);
      try {
        while (!trainer.done()) {
          const StepResult r = trainer.train_step();
          bar.update(r.step, r.loss, r.tokens);
          if (r.step % 250 == 0 || trainer.done()) {
            const EvalPoint e = trainer.evaluate();  // 20 batches of each split: an estimate, quick
            char line[160];
            std::snprintf(line, sizeof line,
                          "step %lld: train loss %.4f, val loss %.4f (estimates on 20 batches; guessing: %.4f)",
                          (long long)r.step, e.train_loss, e.val_loss, log_v);
            bar.message(line);
            save();
          }
        }
      } catch (const TrainingDiverged& e) {  // every rank stops at the same step: rank 0 says so
        bar.finish();
        if (chief)
          std::cerr << "next_token_predictor: " << e.what() << "\n  the last good checkpoint, step " << saved
                    << ", is in " << out << "/\n";
        return world->finish(1);
      }
      bar.finish();
      std::printf("trained %lld steps in %.1f s (%.0f tokens/s)\n", (long long)train.max_iters, bar.seconds(),
                  bar.tokens_per_second());
      const std::string curve_title = "next-token predictor: " + std::to_string(trainer.model().parameter_count()) +
                                      " parameters, V = " + std::to_string(config.vocab_size);
      if (chief) {
        save_loss_curve_svg(out + "/loss.svg", trainer.history(), curve_title, log_v);
        save_loss_curve_json(out + "/loss.json", trainer.history(), curve_title, log_v);  // the numbers drawn
      }
      std::printf("saved the model, its vocabulary, loss.svg and loss.json in %s/\n", out.c_str());
      // the whole split; every rank takes part in this evaluation
      const double val_loss = trainer.split_loss(Trainer<float>::Split::val);
      if (!chief) return world->finish(0);
      std::printf("val loss %.4f (the whole validation split, %zu tokens)\n", val_loss, split.val.size());
      model = std::make_unique<GPT<float>>(trainer.model());
    } else {  // a saved model: its loss on this text's validation part
      std::printf("val loss %.4f (the whole validation split, %zu tokens)\n",
                  dataset_loss(*model, split.val, train.batch_size, model->config().n_positions), split.val.size());
    }

    // ---- 4. prediction: the most likely next tokens, and a sampled continuation ----
    Rng rng(train.seed);
    for (const char* prompt : {"ROMEO:", "First Citizen:\nWe are", "To be, or not to be, that is"}) {
      try {
        predict(*model, *tok, prompt, rng);
      } catch (const ArgumentError& e) {  // e.g. a character this vocabulary never saw
        std::printf("\nprompt \"%s\": skipped (%s)\n", prompt, e.what());
      }
    }
  } catch (const std::exception& e) {
    std::cerr << who << "next_token_predictor: " << e.what() << "\n";
    return world->finish(1);  // with several ranks: stops them all
  }
  return world->finish(0);
}
