// Tests of tokenizer files: save and load round trips, and a clear error for each bad file.
#include <minigpt/bpe_tokenizer.hpp>
#include <minigpt/bpe_trainer.hpp>
#include <minigpt/char_tokenizer.hpp>
#include <minigpt/load_tokenizer.hpp>

#include <catch2/catch.hpp>
#include "common.hpp"

#include <cstdlib>
#include <string>
#include <vector>

#include <unistd.h>

using namespace minigpt;

namespace {


// A fresh folder under the system's temporary directory.
// The 256 byte tokens spelled GPT-2's way, as "key": id entries, in GPT-2's order.
std::string byte_entries() {
  std::string out;
  for (std::size_t i = 0; i < 256; ++i) {
    const std::uint8_t b = detail::byte_alphabet.byte_order[i];
    out += (i ? "," : "") + nlohmann::json(detail::spell_bytes(std::string(1, static_cast<char>(b)))).dump() +
           ":" + std::to_string(i);
  }
  return out;
}

// Writes vocab.json / merges.txt into dir and returns the FileError message of loading them
// ("" when loading works).
std::string load_error(const std::string& dir, const std::string& vocab, const std::string& merges,
                       std::string* field = nullptr) {
  detail::write_file_atomic(dir + "/vocab.json", vocab);
  detail::write_file_atomic(dir + "/merges.txt", merges);
  try {
    BPETokenizer::from_files(dir + "/vocab.json", dir + "/merges.txt");
  } catch (const FileError& e) {
    if (field) *field = e.field();
    return e.what();
  }
  return "";
}

// The textbook loop, for comparison: merge the lowest-ranked neighbouring pair (leftmost on a
// tie) until none is left. Quadratic, obviously right.
std::vector<TokenId> naive_bpe(const BPETokenizer& tok, const std::string& piece) {
  std::vector<TokenId> s;
  for (unsigned char b : piece) s.push_back(tok.byte_token(b));
  const auto& merges = tok.merges();
  for (;;) {
    std::size_t best_rank = merges.size(), at = 0;
    for (std::size_t i = 0; i + 1 < s.size(); ++i)
      for (std::size_t r = 0; r < best_rank; ++r)
        if (merges[r].first == s[i] && merges[r].second == s[i + 1]) {
          best_rank = r;
          at = i;
          break;
        }
    if (best_rank == merges.size()) return s;
    s[at] = tok.merge_result(static_cast<Index>(best_rank));
    s.erase(s.begin() + static_cast<std::ptrdiff_t>(at) + 1);
  }
}

}  // namespace

TEST_CASE("Long pieces: both long-piece paths give the textbook loop's ids", "[tokenizer][files]") {
  const std::string dir = test::temp_dir("long");
  // Merges 0..4: (b,c) (a,b) (ab,c) (abc,d) (a,bc). "abc" is made by merges 2 and 4, and used
  // by merge 3 in between: not "monotone", so long pieces take the min-heap path.
  const std::string vocab = "{" + byte_entries() + ",\"bc\":256,\"ab\":257,\"abc\":258,\"abcd\":259}";
  REQUIRE(load_error(dir, vocab, "b c\na b\nab c\nabc d\na bc\n") == "");
  const auto odd = BPETokenizer::from_files(dir + "/vocab.json", dir + "/merges.txt");
  // A trained tokenizer is monotone: long pieces sweep the ranks in order.
  BPETrainOptions opt;
  opt.vocab_size = 256 + 300;
  opt.special_tokens = {};
  const auto trained = train_bpe(detail::read_file(test::data("tinyshakespeare.txt")).substr(0, 200000), opt);
  CHECK_FALSE(odd.ranks_monotone());
  CHECK(trained.ranks_monotone());
  std::uint64_t state = 12345;
  auto next = [&] { return (state = state * 6364136223846793005ull + 1442695040888963407ull) >> 33; };
  for (std::size_t round = 0; round < 20; ++round) {
    std::string abcd, letters;
    const std::size_t n = 100 + round * 37;  // both sides of the 128-byte threshold
    for (std::size_t i = 0; i < n; ++i) abcd += "abcd"[next() % 4];
    for (std::size_t i = 0; i < n; ++i) letters += "etaoinshrdlu"[next() % 12];
    INFO("round " << round << ", " << n << " bytes");
    CHECK(odd.encode(abcd) == naive_bpe(odd, abcd));
    CHECK(trained.encode(letters) == naive_bpe(trained, letters));
  }
}

TEST_CASE("A small hand-made BPE vocabulary loads and encodes", "[tokenizer][files]") {
  const std::string dir = test::temp_dir("small");
  // 256 bytes, then "ab" (256), "abc" (257), and a special "<eot>" (258).
  const std::string vocab = "{" + byte_entries() + ",\"ab\":256,\"abc\":257,\"<eot>\":258}";
  REQUIRE(load_error(dir, vocab, "#version: 0.2\na b\nab c\n") == "");
  const auto tok = BPETokenizer::from_files(dir + "/vocab.json", dir + "/merges.txt");
  CHECK(tok.vocab_size() == 259);
  CHECK(tok.encode("abc abd") == std::vector<TokenId>{257, tok.byte_token(' '), 256, tok.byte_token('d')});
  CHECK(tok.special_tokens() == std::vector<std::pair<std::string, TokenId>>{{"<eot>", 258}});
  CHECK(tok.encode_with_special("x<eot>") == std::vector<TokenId>{tok.byte_token('x'), 258});
  // No "#version" line, CRLF line ends and no final newline are all fine.
  CHECK(load_error(dir, vocab, "a b\r\nab c") == "");
}

TEST_CASE("Each bad vocabulary or merges file is a FileError naming file and field", "[tokenizer][files]") {
  const std::string dir = test::temp_dir("bad");
  const std::string good_vocab = "{" + byte_entries() + ",\"ab\":256}";
  std::string field;

  CHECK_THAT(load_error(dir, "{\"a\": 0,", "", &field), Catch::Contains("vocab.json") && Catch::Contains("malformed JSON"));
  CHECK(field == "json");
  CHECK_THAT(load_error(dir, "[1, 2]", ""), Catch::Contains("expected an object"));
  CHECK_THAT(load_error(dir, "{\"a\": \"zero\"}", ""), Catch::Contains("id must be an integer"));
  CHECK_THAT(load_error(dir, "{\"a\": 1.5}", ""), Catch::Contains("id must be an integer"));
  CHECK_THAT(load_error(dir, "{\"a\": -1}", ""), Catch::Contains("out of range"));
  CHECK_THAT(load_error(dir, "{\"a\": 0, \"b\": 7}", "", &field), Catch::Contains("out of range"));
  CHECK(field == "token 'b'");
  CHECK_THAT(load_error(dir, "{\"a\": 99999999999999999999}", ""), Catch::Contains("must be an integer"));
  CHECK_THAT(load_error(dir, "{\"a\": 18446744073709551615}", ""), Catch::Contains("out of range"));
  CHECK_THAT(load_error(dir, "{\"a\": 0, \"b\": 0}", ""), Catch::Contains("also used by token"));
  // A vocabulary without all 256 byte tokens.
  CHECK_THAT(load_error(dir, "{\"a\": 0, \"b\": 1}", "", &field), Catch::Contains("no token for this byte"));
  CHECK(field.rfind("byte 0x", 0) == 0);
  // Merges naming an unknown token, a malformed line, a merge whose result is missing.
  CHECK_THAT(load_error(dir, good_vocab, "a b\nq zz\n", &field),
             Catch::Contains("merges.txt") && Catch::Contains("unknown token 'zz'"));
  CHECK(field == "line 2");
  CHECK_THAT(load_error(dir, good_vocab, "a  b\n"), Catch::Contains("two tokens separated by one space"));
  CHECK_THAT(load_error(dir, good_vocab, "ab\n"), Catch::Contains("two tokens separated by one space"));
  CHECK_THAT(load_error(dir, good_vocab, "a b c\n"), Catch::Contains("two tokens separated by one space"));
  CHECK_THAT(load_error(dir, good_vocab, "b c\n"), Catch::Contains("not in the vocabulary"));
  CHECK_THAT(load_error(dir, good_vocab, "a b\na b\n"), Catch::Contains("already merge 0"));
  // Two tokens with the same bytes: "€" spelled in GPT-2's alphabet, and written plainly (as
  // another tool may write an added token).
  CHECK_THAT(load_error(dir, "{" + byte_entries() + "," + nlohmann::json(detail::spell_bytes("€")).dump() +
                                 ":256,\"€\":257}", ""),
             Catch::Contains("same bytes"));
  // Missing files.
  CHECK_THROWS_AS(BPETokenizer::from_files(dir + "/nope.json", dir + "/merges.txt"), FileError);
  CHECK_THROWS_WITH(BPETokenizer::from_files(dir + "/nope.json", dir + "/merges.txt"), Catch::Contains("nope.json"));
}

TEST_CASE("Truncated GPT-2 files are refused, not half-loaded", "[tokenizer][files]") {
  const std::string dir = test::temp_dir("trunc");
  const std::string vocab = detail::read_file(test::data("gpt2/encoder.json"));
  const std::string merges = detail::read_file(test::data("gpt2/vocab.bpe"));
  CHECK_THAT(load_error(dir, vocab.substr(0, vocab.size() / 2), merges), Catch::Contains("malformed JSON"));
  // Half the merges: the vocabulary then holds tokens no merge makes; they would become
  // "special" tokens, so the file pair loads — but a merges file cut mid-line is an error.
  const std::size_t cut = merges.find(' ', merges.size() / 2);
  CHECK_THAT(load_error(dir, vocab, merges.substr(0, cut)), Catch::Contains("one space"));
}

TEST_CASE("BPE save then load gives the same tokenizer", "[tokenizer][files]") {
  const std::string dir = test::temp_dir("roundtrip");
  const auto gpt2 = BPETokenizer::from_files(test::data("gpt2/encoder.json"), test::data("gpt2/vocab.bpe"));
  gpt2.save(dir + "/gpt2");
  const auto again = load_tokenizer(dir + "/gpt2");
  REQUIRE(again->vocab_size() == gpt2.vocab_size());
  for (TokenId id = 0; id < gpt2.vocab_size(); id += 97) CHECK(again->token_bytes(id) == gpt2.token_bytes(id));
  const std::string text = detail::read_file(test::data("tokenizer/texts/multilingual.txt"));
  CHECK(again->encode(text) == gpt2.encode(text));
  CHECK(again->special_token("<|endoftext|>") == std::optional<TokenId>(50256));
  // The saved files are byte-identical to OpenAI's apart from JSON spacing: same merges.
  const std::string merges = detail::read_file(dir + "/gpt2/merges.txt");
  const std::string original = detail::read_file(test::data("gpt2/vocab.bpe"));
  CHECK(merges.substr(merges.find('\n')) == original.substr(original.find('\n')));
}

TEST_CASE("load_tokenizer tells what a folder holds", "[tokenizer][files]") {
  const std::string dir = test::temp_dir("folders");
  CHECK_THROWS_WITH(load_tokenizer(dir + "/missing"), Catch::Contains("no such folder"));
  detail::make_directories(dir + "/empty");
  CHECK_THROWS_WITH(load_tokenizer(dir + "/empty"), Catch::Contains("holds no tokenizer"));
  detail::write_file_atomic(dir + "/afile", "x");
  CHECK_THROWS_WITH(load_tokenizer(dir + "/afile"), Catch::Contains("is a file"));
  const auto chars = CharTokenizer::from_text("hello world");
  chars.save(dir + "/char");
  const auto back = load_tokenizer(dir + "/char");
  CHECK(back->kind() == "char");
  CHECK(back->encode("hello") == chars.encode("hello"));
}

TEST_CASE("token ids written as text parse, and anything else is named", "[tokenizer]") {
  CHECK(parse_token_ids("15496 995\n", "stdin") == std::vector<TokenId>{15496, 995});
  CHECK(parse_token_ids("  0\t2147483647 ", "stdin") == std::vector<TokenId>{0, 2147483647});
  CHECK(parse_token_ids("", "stdin").empty());
  CHECK_THROWS_WITH(parse_token_ids("1 two", "stdin"), Catch::Matchers::Contains("stdin: 'two'"));
  CHECK_THROWS_WITH(parse_token_ids("-1", "x"), Catch::Matchers::Contains("'-1'"));
  CHECK_THROWS_WITH(parse_token_ids("2147483648", "x"), Catch::Matchers::Contains("not a token id"));
  CHECK_THROWS_WITH(parse_token_ids("99999999999999999999", "x"), Catch::Matchers::Contains("not a token id"));
}

TEST_CASE("make_tokenizer: char, bpe:N trained on the text, a folder, or a named error", "[tokenizer][files]") {
  const std::string text = "to be, or not to be, that is the question: to be, or not to be";
  const auto chars = make_tokenizer("char", "to be, or not to be");
  CHECK(chars->kind() == "char");
  CHECK(chars->vocab_size() == 8);  // " ,benort"
  CHECK(chars->decode(chars->encode("not to be")) == "not to be");
  // bpe:N: the merges train_bpe learns from the same text, with the same options
  const auto bpe = make_tokenizer("bpe:270", text);
  BPETrainOptions o;
  o.vocab_size = 270;
  const BPETokenizer direct = train_bpe(text, o);
  REQUIRE(bpe->vocab_size() == 270);
  CHECK(bpe->encode(text) == direct.encode(text));
  CHECK(bpe->encode(text).size() < text.size());
  // a folder: whatever it holds
  const std::string dir = test::temp_dir("make_tokenizer");
  direct.save(dir);
  CHECK(make_tokenizer(dir, "ignored")->encode(text) == direct.encode(text));
  // anything else is named
  for (const char* bad : {"bpe:", "bpe:12x", "bpe:-5", "bpe:123456789"})
    CHECK_THROWS_WITH(make_tokenizer(bad, text), Catch::Contains(std::string("tokenizer ") + bad + ": expected bpe:N"));
  CHECK_THROWS_WITH(make_tokenizer("bpe:100", text), Catch::Contains("vocab_size 100"));
  CHECK_THROWS_WITH(make_tokenizer("no-such-kind", text), Catch::Contains("no such folder"));
}
