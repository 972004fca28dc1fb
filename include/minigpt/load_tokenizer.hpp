// minigpt/load_tokenizer.hpp — 토크나이저 from disk: open whatever tokenizer a folder holds.
//
// Chapter idea: 토크나이저. A trained model is useless without the exact tokenizer it was
// trained with; the two travel together in one folder. load_tokenizer() looks at the folder
// and picks the right kind:
//
//   dir/vocab.json + dir/merges.txt      -> BPETokenizer (Hugging Face names; what save() writes)
//   dir/encoder.json + dir/vocab.bpe     -> BPETokenizer (OpenAI's names for the same formats)
//   dir/char_vocab.json                  -> CharTokenizer
//
//   In:  a folder, or explicit vocab + merges paths.
//   Out: a Tokenizer (see tokenizer.hpp), or a FileError naming the path and what is wrong.
//
// make_tokenizer(spec, text) is the programs' --tokenizer flag: "char" (one token per
// character of the text), "bpe:N" (a byte-level BPE of N tokens trained on the text,
// bpe_trainer.hpp) or a folder as above.
//
// Example:
//   auto gpt2 = load_tokenizer("tests/data/gpt2");                          // 50,257 tokens
//   auto same = load_tokenizer("tests/data/gpt2/encoder.json", "tests/data/gpt2/vocab.bpe");
//   auto mine = load_tokenizer("runs/shakespeare");  // what CharTokenizer::save wrote there
//   auto chars = make_tokenizer("char", "to be, or not to be");  // 8 tokens: " ,benort"
//   auto bpe = make_tokenizer("bpe:300", text);  // 256 bytes, 43 merges, <|endoftext|>
#pragma once

#include "bpe_tokenizer.hpp"
#include "bpe_trainer.hpp"
#include "char_tokenizer.hpp"
#include "detail/io.hpp"
#include "error.hpp"
#include "tokenizer.hpp"

#include <memory>
#include <string>

namespace minigpt {

// A BPE tokenizer from a vocabulary (encoder.json or vocab.json) and merges (vocab.bpe or
// merges.txt).
inline std::unique_ptr<Tokenizer> load_tokenizer(const std::string& vocab_path, const std::string& merges_path) {
  return std::make_unique<BPETokenizer>(BPETokenizer::from_files(vocab_path, merges_path));
}

// Whatever tokenizer the folder holds (see the table above).
inline std::unique_ptr<Tokenizer> load_tokenizer(const std::string& dir) {
  if (!detail::is_directory(dir)) {
    if (!detail::file_exists(dir)) throw FileError(dir, "", "no such folder");
    throw FileError(dir, "", "is a file; expected a folder holding a tokenizer");
  }
  const std::string base = dir.empty() || dir.back() == '/' ? dir : dir + "/";
  auto has = [&](const char* name) { return detail::file_exists(base + name); };
  if (has("char_vocab.json")) return std::make_unique<CharTokenizer>(CharTokenizer::load(base + "char_vocab.json"));
  if (has("vocab.json") && has("merges.txt")) return load_tokenizer(base + "vocab.json", base + "merges.txt");
  if (has("encoder.json") && has("vocab.bpe")) return load_tokenizer(base + "encoder.json", base + "vocab.bpe");
  throw FileError(dir, "", "holds no tokenizer: expected vocab.json + merges.txt, encoder.json + vocab.bpe, "
                           "or char_vocab.json");
}

// A tokenizer for `text` chosen by name: "char", "bpe:N" or a folder holding a saved one.
inline std::unique_ptr<Tokenizer> make_tokenizer(const std::string& spec, const std::string& text) {
  if (spec == "char") return std::make_unique<CharTokenizer>(CharTokenizer::from_text(text));
  if (spec.rfind("bpe:", 0) == 0) {
    const std::string n = spec.substr(4);
    if (n.empty() || n.size() > 7 || n.find_first_not_of("0123456789") != std::string::npos)
      throw ArgumentError("tokenizer " + spec + ": expected bpe:N with N a vocabulary size, e.g. bpe:512");
    BPETrainOptions options;
    options.vocab_size = std::stoll(n);
    return std::make_unique<BPETokenizer>(train_bpe(text, options));
  }
  return load_tokenizer(spec);
}

}  // namespace minigpt
