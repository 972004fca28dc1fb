// Fuzz target: GPT-2 encode of arbitrary bytes (valid UTF-8 or not).
//
// Properties: decode(encode(x)) == x; the ids equal those of the deliberately simple
// reference BPE (include/minigpt/bpe_educational.hpp, encoder.py's algorithm on strings); the pieces of
// explain(x) carry the same ids; with special tokens allowed the round trip holds too.
#include "fuzz_common.hpp"
#include "gpt2_tokenizer.hpp"

#include <minigpt/bpe_educational.hpp>

#include <string_view>

using namespace minigpt;

namespace {

const EducationalBPE& reference() {
  static const EducationalBPE r(fuzz::gpt2_dir() + "/encoder.json", fuzz::gpt2_dir() + "/vocab.bpe");
  return r;
}

std::string show(const std::vector<TokenId>& ids) {
  std::string s;
  for (TokenId id : ids) s += std::to_string(id) + " ";
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)fuzz::gpt2();
  (void)reference();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const BPETokenizer& t = fuzz::gpt2();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::vector<TokenId> ids = t.encode(text);
  FUZZ_CHECK(t.decode(ids) == text, "round trip");
  const std::vector<TokenId> ref = reference().encode(text);
  FUZZ_CHECK(ids == ref, "ids " + show(ids) + "!= reference " + show(ref));
  std::vector<TokenId> explained;
  for (const BPEPiece& p : t.explain(text)) explained.insert(explained.end(), p.ids.begin(), p.ids.end());
  FUZZ_CHECK(explained == ids, "explain() ids differ from encode()");
  const std::vector<TokenId> special = t.encode_with_special(text);
  FUZZ_CHECK(t.decode(special) == text, "round trip with special tokens");
  return 0;
}
