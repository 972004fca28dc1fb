// Fuzz target: the tokenizer's vocab and merges loaders (BPETokenizer::from_files).
//
// Input: the vocabulary (JSON {token: id}) and the merges text, separated by the first NUL
// byte (a NUL cannot appear unescaped in JSON, so nothing is lost by splitting there).
//
// Properties: bad files are a minigpt::FileError naming one of the two files; a tokenizer
// that loads encodes any bytes (the input itself, and a few fixed texts) and decodes them back
// exactly, with and without special tokens; save() then from_files() gives the same
// tokenizer back (same token bytes, same merges, same ids).
#include "fuzz_common.hpp"

#include <minigpt/bpe_tokenizer.hpp>

#include <string_view>

using namespace minigpt;

namespace {

void check_round_trip(const BPETokenizer& t, std::string_view text) {
  const std::vector<TokenId> ids = t.encode(text);
  FUZZ_CHECK(t.decode(ids) == text, "decode(encode(x)) != x");
  for (TokenId id : ids) FUZZ_CHECK(id >= 0 && id < t.vocab_size(), "id out of range");
  const std::vector<TokenId> sp = t.encode_with_special(text);
  FUZZ_CHECK(t.decode(sp) == text, "decode(encode_with_special(x)) != x");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = all.find('\0');
  const std::string_view vocab = all.substr(0, nul);
  const std::string_view merges = nul == std::string_view::npos ? std::string_view() : all.substr(nul + 1);
  const std::string vocab_path = fuzz::scratch_dir() + "/vocab.json";
  const std::string merges_path = fuzz::scratch_dir() + "/merges.txt";
  fuzz::write_bytes(vocab_path, std::string(vocab));
  fuzz::write_bytes(merges_path, std::string(merges));
  BPETokenizer t;
  try {
    t = BPETokenizer::from_files(vocab_path, merges_path);
  } catch (const FileError& e) {
    FUZZ_CHECK(e.where() == vocab_path || e.where() == merges_path, e.what());
    return 0;
  }
  check_round_trip(t, all);
  check_round_trip(t, merges);
  check_round_trip(t, "Hello world, it's 2024!  \n\t\xED\x86\xA0\xFF\xC3");

  const std::string saved = fuzz::scratch_dir() + "/saved";
  t.save(saved);
  const BPETokenizer back = BPETokenizer::from_files(saved + "/vocab.json", saved + "/merges.txt");
  FUZZ_CHECK(back.vocab_size() == t.vocab_size(), "vocab size changed by save/load");
  for (Index id = 0; id < t.vocab_size(); ++id)
    FUZZ_CHECK(back.token_view(static_cast<TokenId>(id)) == t.token_view(static_cast<TokenId>(id)),
               "token " + std::to_string(id) + " changed by save/load");
  FUZZ_CHECK(back.merges() == t.merges(), "merges changed by save/load");
  FUZZ_CHECK(back.encode(all) == t.encode(all), "ids changed by save/load");
  return 0;
}
