// Fuzz target: the recipe's JSONL files (sft.jsonl, preferences*.jsonl, eval.jsonl), through
// read_sft_jsonl, read_preferences_jsonl and read_eval_jsonl (the real path API), each with and
// without a character tokenizer and a block size.
//
// Properties: a bad file is a minigpt::FileError naming it, and a bad row a JsonlError whose
// line exists in the file and is named in the message; rows that load have non-empty, valid
// UTF-8 fields (chosen != rejected, mentions >= 0 with a person), fit the block when checked,
// and survive write -> read unchanged.
#include "fuzz_common.hpp"

#include <minigpt/char_tokenizer.hpp>
#include <minigpt/jsonl.hpp>

#include <algorithm>

using namespace minigpt;

namespace {

Index line_count(const std::uint8_t* data, std::size_t size) {
  return 1 + static_cast<Index>(std::count(data, data + size, std::uint8_t('\n')));
}

// Runs read(path, limits); false when it refused the file (after checking the error).
template <typename Rows, typename Read>
bool load(Rows& rows, Read&& read, const std::string& path, const JsonlLimits& limits, Index lines) {
  try {
    rows = read(path, limits);
    return true;
  } catch (const JsonlError& e) {
    FUZZ_CHECK(e.where() == path, e.what());
    FUZZ_CHECK(e.line() >= 1 && e.line() <= lines, e.what());
    FUZZ_CHECK(fuzz::mentions(e.what(), "line " + std::to_string(e.line())), e.what());
  } catch (const FileError& e) {
    FUZZ_CHECK(e.where() == path, e.what());
  }
  return false;
}

bool fits(const Tokenizer& tok, const std::string& prompt, const std::string& rest, Index block) {
  const Index p = static_cast<Index>(tok.encode(prompt).size());
  return p < block && p + static_cast<Index>(tok.encode(rest).size()) <= block;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::scratch_dir() + "/rows.jsonl";
  const std::string again = "rows written again";  // the writers' text, parsed (no disk: faster)
  fuzz::write_bytes(path, data, size);
  const Index lines = line_count(data, size);
  static const CharTokenizer tok = CharTokenizer::from_text("Q: What is 3 + 4?\nA: 7 I don't know. Busan");
  for (const JsonlLimits& limits : {JsonlLimits{}, JsonlLimits{&tok, 24}}) {
    std::vector<SFTExample> sft;
    if (load(sft, read_sft_jsonl, path, limits, lines)) {
      for (const SFTExample& r : sft) {
        FUZZ_CHECK(!r.prompt.empty() && !r.completion.empty(), "empty field loaded");
        FUZZ_CHECK(is_valid_utf8(r.prompt) && is_valid_utf8(r.completion), "invalid UTF-8 loaded");
        if (limits.tokenizer != nullptr) FUZZ_CHECK(fits(tok, r.prompt, r.completion, 24), "row past the block");
      }
      FUZZ_CHECK(parse_sft_jsonl(sft_jsonl_text(sft), again) == sft, "sft rows changed by write -> read");
    }
    std::vector<PreferencePair> prefs;
    if (load(prefs, read_preferences_jsonl, path, limits, lines)) {
      for (const PreferencePair& r : prefs) {
        FUZZ_CHECK(!r.prompt.empty() && !r.chosen.empty() && !r.rejected.empty(), "empty field loaded");
        FUZZ_CHECK(r.chosen != r.rejected, "chosen == rejected loaded");
        FUZZ_CHECK(is_valid_utf8(r.prompt) && is_valid_utf8(r.chosen) && is_valid_utf8(r.rejected), "invalid UTF-8");
        if (limits.tokenizer != nullptr)
          FUZZ_CHECK(fits(tok, r.prompt, r.chosen, 24) && fits(tok, r.prompt, r.rejected, 24), "pair past the block");
      }
      FUZZ_CHECK(parse_preferences_jsonl(preferences_jsonl_text(prefs), again) == prefs,
                 "preference rows changed by write -> read");
    }
    std::vector<EvalExample> eval;
    if (load(eval, read_eval_jsonl, path, limits, lines)) {
      for (const EvalExample& r : eval) {
        FUZZ_CHECK(!r.prompt.empty() && !r.answer.empty(), "empty field loaded");
        FUZZ_CHECK(r.person.empty() ? r.mentions == -1 : r.mentions >= 0, "person and mentions disagree");
        FUZZ_CHECK(is_valid_utf8(r.prompt) && is_valid_utf8(r.answer) && is_valid_utf8(r.person), "invalid UTF-8");
      }
      FUZZ_CHECK(parse_eval_jsonl(eval_jsonl_text(eval), again) == eval, "eval rows changed by write -> read");
    }
  }
  return 0;
}
