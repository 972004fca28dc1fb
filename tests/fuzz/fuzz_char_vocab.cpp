// Fuzz target: the character-level tokenizer's file (char_vocab.json), through
// load_tokenizer(dir), the way a saved model folder is opened.
//
// Properties: a bad file is a minigpt::FileError naming it; a vocabulary that loads decodes
// every id to one character and encodes it back to that id; save() then load gives the same
// characters; text with a character outside the vocabulary is an ArgumentError.
#include "fuzz_common.hpp"

#include <minigpt/load_tokenizer.hpp>

using namespace minigpt;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string dir = fuzz::scratch_dir() + "/char";
  ::mkdir(dir.c_str(), 0700);
  const std::string path = dir + "/char_vocab.json";
  fuzz::write_bytes(path, data, size);
  std::unique_ptr<Tokenizer> t;
  try {
    t = load_tokenizer(dir);
  } catch (const FileError& e) {
    FUZZ_CHECK(e.where() == path, e.what());
    return 0;
  }
  FUZZ_CHECK(t->kind() == "char", "kind");
  const Index V = t->vocab_size();
  FUZZ_CHECK(V > 0, "empty vocabulary loaded");
  std::vector<TokenId> all;
  for (Index i = 0; i < V; ++i) all.push_back(static_cast<TokenId>(i));
  const std::string text = t->decode(all);
  FUZZ_CHECK(t->encode(text) == all, "encode(decode(every id)) != every id");
  try {
    (void)t->decode({static_cast<TokenId>(V)});
    fuzz::fail("id V decoded");
  } catch (const ArgumentError&) {
  }
  const std::string saved = fuzz::scratch_dir() + "/char-saved";
  t->save(saved);
  const std::unique_ptr<Tokenizer> back = load_tokenizer(saved);
  FUZZ_CHECK(back->vocab_size() == V && back->decode(all) == text, "save/load changed the vocabulary");
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  try {
    const std::vector<TokenId> ids = t->encode(raw);
    FUZZ_CHECK(t->decode(ids) == raw, "round trip of the input itself");
  } catch (const ArgumentError&) {
  }
  return 0;
}
