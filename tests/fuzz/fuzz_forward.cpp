// Fuzz target: the model's forward pass and generate() on arbitrary ids, batch sizes and
// sampling options, with the tiny committed model (V = 101, block size 24).
//
// Input: B and T (int64 each, any value), max_new_tokens, top_k (one byte each), temperature
// and top_p (one byte each, scaled), then ids as little-endian int32s.
//
// Properties: forward throws an ArgumentError exactly when B or T is not positive, the ids do
// not number B*T, the context passes the block size (the message names it) or an id is
// outside the vocabulary (the message names it); otherwise the logits are (B, T, V) and
// finite. generate() crops a prompt longer than the context, as generation.hpp documents, and
// returns ids inside the vocabulary.
#include "fuzz_common.hpp"

#include <minigpt/checkpoint.hpp>
#include <minigpt/generation.hpp>

#include <cmath>
#include <cstring>

using namespace minigpt;

namespace {

GPT<float>& model() {
  static GPT<float> m = load_model<float>(std::string(MINIGPT_TEST_DATA) + "/gpt2-tiny");
  return m;
}

template <typename T>
T take(const std::uint8_t*& p, std::size_t& left) {
  T v{};
  const std::size_t n = left < sizeof(T) ? left : sizeof(T);
  std::memcpy(&v, p, n);
  p += n;
  left -= n;
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)model();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  GPT<float>& m = model();
  const Index V = m.config().vocab_size, block = m.config().n_positions;
  const std::uint8_t* p = data;
  std::size_t left = size;
  const auto B = take<std::int64_t>(p, left);
  const auto T = take<std::int64_t>(p, left);
  const auto max_new = take<std::uint8_t>(p, left);
  const auto top_k = take<std::uint8_t>(p, left);
  const auto temperature = take<std::uint8_t>(p, left);
  const auto top_p = take<std::uint8_t>(p, left);
  std::vector<TokenId> ids(left / 4);
  if (!ids.empty()) std::memcpy(ids.data(), p, ids.size() * 4);
  const auto n = static_cast<Index>(ids.size());

  bool ids_ok = true;
  for (TokenId id : ids) ids_ok = ids_ok && id >= 0 && id < V;
  const bool shape_ok = B > 0 && T > 0 && n % T == 0 && n / T == B;
  const bool fits = T <= block;
  try {
    const Tensor<float>& logits = m.forward(ids, B, T);
    FUZZ_CHECK(shape_ok && fits && ids_ok, "forward accepted bad arguments");
    FUZZ_CHECK((logits.shape() == std::vector<Index>{B, T, V}), "logits shape");
    for (Index i = 0; i < logits.size(); ++i) FUZZ_CHECK(std::isfinite(logits.data()[i]), "non-finite logit");
  } catch (const ArgumentError& e) {
    FUZZ_CHECK(!(shape_ok && fits && ids_ok), std::string("forward refused good arguments: ") + e.what());
    if (shape_ok && !fits) FUZZ_CHECK(fuzz::mentions(e.what(), "block size of " + std::to_string(block)), e.what());
    if (shape_ok && fits) FUZZ_CHECK(fuzz::mentions(e.what(), "outside the vocabulary"), e.what());
  }

  // generate(): B sequences of equal length, cropped to the block size when longer.
  const Index gB = B > 0 && B <= 8 ? B : 1;
  GenerateOptions opt;
  opt.max_new_tokens = max_new % 40;
  opt.sampling.top_k = top_k % 120;
  opt.sampling.temperature = temperature / 64.0;
  opt.sampling.top_p = (top_p + 1) / 256.0;
  Rng rng(static_cast<std::uint64_t>(size));
  const bool prompt_ok = n > 0 && n % gB == 0;
  try {
    const auto out = generate(m, ids, gB, opt, rng);
    FUZZ_CHECK(prompt_ok && ids_ok, "generate accepted a bad prompt");
    FUZZ_CHECK(static_cast<Index>(out.size()) == gB, "generate: rows");
    for (const auto& row : out) {
      FUZZ_CHECK(static_cast<Index>(row.size()) <= opt.max_new_tokens, "generate: too many tokens");
      for (TokenId id : row) FUZZ_CHECK(id >= 0 && id < V, "generate: id outside the vocabulary");
    }
  } catch (const ArgumentError& e) {
    FUZZ_CHECK(!(prompt_ok && ids_ok), std::string("generate refused a good prompt: ") + e.what());
  }
  return 0;
}
