// The next-token predictor, run as a user runs it, on a model small enough to train in
// seconds: it saves a model folder that the library and `generate` load, the loss curve, and
// a `val loss` line that equals the loss the library measures on that saved model; --predict
// gives the same answer without training; bad flags get one line.
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

#include <cmath>
#include <cstdlib>

using Catch::Matchers::Contains;

namespace {

// The number on the line "val loss X.XXXX" (NaN when there is none).
double val_loss(const std::string& out) {
  const std::string key = "\nval loss ";
  const std::size_t at = out.find(key);
  return at == std::string::npos ? std::nan("") : std::strtod(out.c_str() + at + key.size(), nullptr);
}

const std::string small = "--n-layer 1 --n-head 2 --n-embd 32 --block-size 32 --batch-size 8 --max-iters 120 ";

}  // namespace

TEST_CASE("next_token_predictor trains, saves a model folder and reports its validation loss",
          "[programs][training]") {
  using namespace minigpt;
  const std::string dir = test::scratch("predictor");
  const test::Run r = test::run_program("next_token_predictor", small + "--out " + dir + "/model");
  INFO(r.out);
  REQUIRE(r.status == 0);

  // The model folder: Hugging Face layout, vocabulary, loss curve, training state.
  for (const char* f : {"config.json", "model.safetensors", "char_vocab.json", "loss.svg", "optimizer.safetensors",
                        "trainer_state.json"})
    CHECK(std::ifstream(dir + "/model/" + f).good());
  CHECK(test::file_bytes(dir + "/model/loss.svg").find("<svg") != std::string::npos);

  // "val loss" is the loss over the whole last 10% of the text, as the library measures it on
  // the saved model; 120 steps already take it well below guessing (log 65 = 4.17).
  const double printed = val_loss(r.out);
  GPT<float> model = load_model<float>(dir + "/model");
  auto tok = load_tokenizer(dir + "/model");
  CHECK(tok->vocab_size() == 65);
  CHECK(model.config().n_layer == 1);
  CHECK(model.config().n_positions == 32);
  const DataSplit split = split_train_val(tok->encode(test::file_bytes(test::data("tinyshakespeare.txt"))), 0.9);
  const double measured = dataset_loss(model, split.val, 8, 32);
  CHECK(std::abs(printed - measured) < 1e-4);
  CHECK(printed < 3.3);

  // The predictions: five next characters with probabilities, for each prompt.
  CHECK_THAT(r.out, Contains("prompt \"ROMEO:\""));
  CHECK_THAT(r.out, Contains("next token:"));
  CHECK_THAT(r.out, Contains("continued: ROMEO:"));

  // --predict: the saved model, no training, the same validation loss and the same predictions
  const test::Run p = test::run_program("next_token_predictor", "--predict " + dir + "/model");
  REQUIRE(p.status == 0);
  CHECK(val_loss(p.out) == Approx(printed).margin(1e-4));
  CHECK(p.out.substr(p.out.find("prompt \"ROMEO:\"")) == r.out.substr(r.out.find("prompt \"ROMEO:\"")));

  // generate reads the folder too (the character vocabulary saved beside the model)
  const test::Run g = test::run_program("generate", "--model " + dir + "/model --prompt \"ROMEO:\" --max-new-tokens 20");
  CHECK(g.status == 0);
  CHECK(g.out.rfind("ROMEO:", 0) == 0);
}

TEST_CASE("next_token_predictor answers bad flags and bad folders with one line", "[programs][training]") {
  struct Case {
    const char* args;
    const char* named;  // what the one line must name
  };
  const Case cases[] = {{"--max-iter 10", "--max-iter"},
                        {"--n-embd 30 --n-head 4 --max-iters 1 --out x", "n_embd"},
                        {"--predict no-such-folder", "no-such-folder"},
                        {"--data no-such-file.txt", "no-such-file.txt"}};
  for (const Case& c : cases) {
    INFO(c.args);
    const test::Run r = test::run_program("next_token_predictor", c.args);
    CHECK(r.status != 0);
    CHECK_THAT(r.out, Contains(c.named));
  }
}
