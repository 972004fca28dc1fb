// The GPT-2 tokenizer the encode and decode fuzzers run, loaded once per process from
// tests/data/gpt2 (encoder.json + vocab.bpe), or from the folder in $MINIGPT_GPT2_DIR.
#pragma once

#include <minigpt/bpe_tokenizer.hpp>

#include <cstdlib>
#include <string>

namespace fuzz {

inline std::string gpt2_dir() {
  const char* env = std::getenv("MINIGPT_GPT2_DIR");
  return env && *env ? std::string(env) : std::string(MINIGPT_TEST_DATA) + "/gpt2";
}

inline const minigpt::BPETokenizer& gpt2() {
  static const minigpt::BPETokenizer t =
      minigpt::BPETokenizer::from_files(gpt2_dir() + "/encoder.json", gpt2_dir() + "/vocab.bpe");
  return t;
}

}  // namespace fuzz
