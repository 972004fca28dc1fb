// The multi-threaded paths, tagged [threads]: run by every build, and on their own under
// ThreadSanitizer by .ci/run (clang, -fopenmp with LLVM's libomp and its Archer tool, so that
// TSan sees OpenMP's barriers and fork/join; see docs/robustness.md).
//
// Each test runs a threaded path with several threads and checks its result against the same
// work on one thread: a race that TSan misses can still show up as a different number.
//   - the forward and backward passes (parallel_for over rows, heads and chunks; Eigen's own
//     OpenMP matrix products), the loss, and an AdamW step;
//   - generation with a batch of sequences (the KV cache written by several threads);
//   - Tokenizer::encode_batch (an OpenMP loop over documents sharing one tokenizer);
//   - models and tokenizers used from several std::threads at once (no hidden shared state).
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/adamw.hpp>
#include <minigpt/minigpt.hpp>

#include <thread>

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace minigpt;

namespace {

// Runs f with n OpenMP threads, then restores the previous count.
template <typename F>
auto with_threads(int n, F&& f) {
#ifdef _OPENMP
  const int before = omp_get_max_threads();
  omp_set_num_threads(n);
  struct Restore {
    int n;
    ~Restore() { omp_set_num_threads(n); }
  } restore{before};
#else
  (void)n;
#endif
  return f();
}

void warn_without_openmp() {
#ifndef _OPENMP
  WARN("built without OpenMP: the threaded paths run on one thread here");
#endif
}

// Logits, loss, every gradient and the weights after one AdamW step, flattened.
std::vector<double> train_step_result(const GPTConfig& c) {
  GPT<float> model(c);
  Rng rng(11);
  model.init_weights(rng);
  const Index B = 4, T = c.n_positions;
  std::vector<TokenId> ids(static_cast<std::size_t>(B * T)), targets(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ids[i] = static_cast<TokenId>((i * 7 + 3) % static_cast<std::size_t>(c.vocab_size));
    targets[i] = static_cast<TokenId>((i * 5 + 1) % static_cast<std::size_t>(c.vocab_size));
  }
  model.zero_grad();
  const double loss = loss_and_backward(model, Batch{ids, targets, B, T});
  const Tensor<float>& logits = model.activations().logits;
  std::vector<double> out(logits.data(), logits.data() + logits.size());
  out.push_back(loss);
  const auto& g = model.gradients();
  out.insert(out.end(), g.data(), g.data() + g.size());
  out.push_back(clip_grad_norm(model.gradients(), 1.0));
  AdamW<float> adam(c, AdamWOptions{});
  CHECK(adam.step(model.parameters(), model.gradients(), 1e-3).empty());
  const auto& p = model.parameters();
  out.insert(out.end(), p.data(), p.data() + p.size());
  return out;
}

std::vector<std::string> documents() {
  const std::string text = detail::read_file(test::data("tinyshakespeare.txt")).substr(0, 200000);
  std::vector<std::string> docs;
  for (std::size_t at = 0; at < text.size(); at += 3001) docs.push_back(text.substr(at, 3001));
  docs.push_back("토큰 ≠ 단어 👍🏽 \xff\xfe " + std::string(500, 'a'));
  docs.push_back("");
  return docs;
}

}  // namespace

TEST_CASE("threads: forward, backward, loss and AdamW equal the one-thread run", "[threads]") {
  warn_without_openmp();
  // Big enough that every parallel_for spreads out (rows x cost >= 2^15).
  const GPTConfig c = GPTConfig::make(2, 4, 64, 32, 97);
  const auto one = with_threads(1, [&] { return train_step_result(c); });
  const auto four = with_threads(4, [&] { return train_step_result(c); });
  REQUIRE(one.size() == four.size());
  CHECK(test::relative_error(four.data(), one.data(), one.size()) <= 1e-5);
}

TEST_CASE("threads: batched generation equals the one-thread run", "[threads]") {
  warn_without_openmp();
  GPT<float> model(GPTConfig::make(2, 4, 64, 16, 53));
  Rng init(5);
  model.init_weights(init);
  GenerateOptions opt;
  opt.max_new_tokens = 24;  // past the block size of 16: the cache is refilled
  opt.sampling.temperature = 0.8;
  opt.sampling.top_k = 20;
  const std::vector<TokenId> prompt = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  auto run = [&] {
    Rng rng(99);
    return generate(model, prompt, 4, opt, rng);
  };
  const auto one = with_threads(1, run);
  const auto four = with_threads(4, run);
  REQUIRE(one.size() == 4);
  CHECK(one == four);
}

TEST_CASE("threads: encode_batch shares one tokenizer among threads", "[threads][tokenizer]") {
  warn_without_openmp();
  const auto docs = documents();
  const auto batch = with_threads(4, [&] { return test::gpt2_tokenizer().encode_batch(docs); });
  REQUIRE(batch.size() == docs.size());
  for (std::size_t i = 0; i < docs.size(); ++i) CHECK(batch[i] == test::gpt2_tokenizer().encode(docs[i]));
  // A failing document's exception leaves its thread and reaches the caller.
  const CharTokenizer chars = CharTokenizer::from_text("abc");
  CHECK_THROWS_AS(with_threads(4, [&] { return chars.encode_batch({"abc", "abd", "cab"}); }), ArgumentError);
}

TEST_CASE("threads: models and tokenizers used from several std::threads at once", "[threads]") {
  const GPT<float> base = load_model<float>(test::data("gpt2-tiny"));
  const auto docs = documents();
  std::vector<TokenId> ids(24);
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<TokenId>(i * 4 % 101);
  std::vector<float> expected;
  {
    GPT<float> m = base;
    const Tensor<float>& l = m.forward(ids, 1, 24);
    expected.assign(l.data(), l.data() + l.size());
  }
  const auto expected_ids = test::gpt2_tokenizer().encode(docs[3]);
  std::vector<int> ok(4, 0);
  with_threads(1, [&] {  // std::threads here, not OpenMP ones
    std::vector<std::thread> pool;
    for (int k = 0; k < 4; ++k)
      pool.emplace_back([&, k] {
        GPT<float> m = base;  // each thread its own model (their buffers are per model)
        bool same = true;
        for (int rep = 0; rep < 3; ++rep) {
          const Tensor<float>& l = m.forward(ids, 1, 24);
          same = same && std::equal(expected.begin(), expected.end(), l.data());
          same = same && test::gpt2_tokenizer().encode(docs[3]) == expected_ids;  // one tokenizer, shared
        }
        ok[static_cast<std::size_t>(k)] = same ? 1 : 0;
      });
    for (auto& t : pool) t.join();
    return 0;
  });
  CHECK(ok == std::vector<int>(4, 1));
}
