// Fuzz target: GPT-2 decode of arbitrary ids (the input read as little-endian int32s).
//
// Properties: an id outside [0, 50257) is an ArgumentError naming that id, never a crash;
// otherwise the bytes are the tokens' bytes joined, and encoding them decodes back to them.
#include "fuzz_common.hpp"
#include "gpt2_tokenizer.hpp"

#include <cstring>

using namespace minigpt;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)fuzz::gpt2();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const BPETokenizer& t = fuzz::gpt2();
  std::vector<TokenId> ids(size / 4);
  if (!ids.empty()) std::memcpy(ids.data(), data, ids.size() * 4);
  const TokenId* bad = nullptr;
  for (const TokenId& id : ids)
    if (id < 0 || id >= t.vocab_size()) {
      bad = &id;
      break;
    }
  std::string bytes;
  try {
    bytes = t.decode(ids);
    FUZZ_CHECK(bad == nullptr, "id " + std::to_string(*bad) + " was decoded");
  } catch (const ArgumentError& e) {
    FUZZ_CHECK(bad != nullptr, e.what());
    FUZZ_CHECK(fuzz::mentions(e.what(), "token id " + std::to_string(*bad) + " "), e.what());
    return 0;
  }
  std::string joined;
  for (TokenId id : ids) joined += t.token_bytes(id);
  FUZZ_CHECK(bytes == joined, "decode is not the tokens' bytes joined");
  FUZZ_CHECK(t.decode(t.encode(bytes)) == bytes, "encode(decode(ids)) does not decode back");
  return 0;
}
