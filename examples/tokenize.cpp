// tokenize — text to token ids and back, with GPT-2's tokenizer or one you train.
//
// The chapter's first step (토크나이징): a model never sees letters, only token ids.
//
//   echo "Hello world" | tokenize encode                  -> 15496 995 198
//   echo "15496 995" | tokenize decode                    -> Hello world
//   tokenize show "토큰은 단어가 아닙니다"                 pieces, bytes and merges, step by step
//   tokenize train --input shakespeare.txt --vocab-size 1000 --out my_bpe
//   echo "To be" | tokenize encode --model my_bpe         a trained tokenizer, by folder
//
// Without --model or --vocab/--merges, GPT-2's files from the repository's tests/data/gpt2 are
// used. --vocab takes encoder.json or vocab.json; --merges takes vocab.bpe or merges.txt;
// --model DIR means whatever tokenizer DIR holds (vocab.json + merges.txt, encoder.json +
// vocab.bpe, or a character vocabulary char_vocab.json).
#include <minigpt/bpe_trainer.hpp>
#include <minigpt/data_loader.hpp>
#include <minigpt/load_tokenizer.hpp>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <iterator>

using namespace minigpt;

// All of standard input, as bytes.
static std::string read_stdin() {
  std::ios::sync_with_stdio(false);
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

// A token's bytes, printable: "Ġ" style would hide Korean, so show text, and \xNN for broken bytes.
static std::string shown(const std::string& bytes) { return "[" + escape_bytes(bytes) + "]"; }

// `tokenize show`: every piece, its byte tokens, each merge in order, and the ids.
static void show(const BPETokenizer& tok, const std::string& text, bool allow_special) {
  std::size_t total = 0;
  for (const BPEPiece& piece : tok.explain(text, allow_special)) {
    std::cout << "piece " << shown(piece.bytes) << "  " << piece.bytes.size() << " bytes";
    if (piece.special) std::cout << "  (special token)";
    std::cout << "\n";
    if (!piece.special) {
      std::cout << "  bytes:";
      for (TokenId id : piece.byte_tokens) std::cout << ' ' << shown(tok.token_bytes(id));
      std::cout << "\n";
    }
    for (const BPEMerge& m : piece.merges)
      std::cout << "  merge rank " << m.rank << ": " << shown(tok.token_bytes(m.left)) << " + "
                << shown(tok.token_bytes(m.right)) << " -> " << shown(tok.token_bytes(m.result)) << " = id "
                << m.result << "\n";
    std::cout << "  ids:";
    for (TokenId id : piece.ids) std::cout << ' ' << id;
    std::cout << "   (" << piece.ids.size() << (piece.ids.size() == 1 ? " token)\n" : " tokens)\n");
    total += piece.ids.size();
  }
  std::cout << text.size() << " bytes -> " << total << " tokens\n";
}

int main(int argc, char** argv) {
  CLI::App app{"Text to GPT-2 token ids and back; show the merges; train a BPE tokenizer."};
  app.require_subcommand(1);
  app.footer(
      "Each subcommand has its own flags (tokenize SUBCOMMAND --help):\n"
      "  encode|decode|show  [--model DIR | --vocab FILE --merges FILE] [--allow-special]\n"
      "  show TEXT           the text to take apart\n"
      "  train               --input FILE --vocab-size N --out DIR [--special TOKEN ...]\n"
      "Without --model or --vocab/--merges, GPT-2's tokenizer is used.");
  std::string vocab, merges, model_dir;
  bool allow_special = false;

  // The flags that choose a tokenizer, shared by encode, decode and show.
  auto add_tokenizer_flags = [&](CLI::App* cmd) {
    auto* v = cmd->add_option("--vocab", vocab, "vocabulary: encoder.json or vocab.json");
    auto* m = cmd->add_option("--merges", merges, "merges: vocab.bpe or merges.txt");
    v->needs(m);
    m->needs(v);
    cmd->add_option("--model", model_dir, "a folder holding a tokenizer (instead of --vocab/--merges)")
        ->excludes(v)
        ->excludes(m);
    cmd->add_flag("--allow-special", allow_special,
                  "turn special tokens such as <|endoftext|> into their id (default: plain text)");
  };
  CLI::App* encode = app.add_subcommand("encode", "bytes on standard input -> ids on standard output, one line");
  CLI::App* decode = app.add_subcommand("decode", "ids on standard input -> bytes on standard output");
  CLI::App* show_cmd = app.add_subcommand("show", "the pieces of a text and each piece's merges, in order");
  add_tokenizer_flags(encode);
  add_tokenizer_flags(decode);
  add_tokenizer_flags(show_cmd);
  std::string text;
  show_cmd->add_option("text", text, "the text to take apart")->required();

  CLI::App* train = app.add_subcommand("train", "learn a byte-level BPE from a text and save it to a folder");
  std::string input, out_dir;
  Index vocab_size = 0;
  std::vector<std::string> specials = {"<|endoftext|>"};
  train->add_option("--input", input, "the training text")->required();
  train->add_option("--vocab-size", vocab_size, "tokens wanted: 256 bytes + merges + special tokens")->required();
  train->add_option("--out", out_dir, "folder to write vocab.json and merges.txt into")->required();
  train->add_option("--special", specials, "special tokens (default: <|endoftext|>)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "tokenize: " << e.what() << " (see tokenize --help)\n";
    return 2;
  }

  try {
    if (train->parsed()) {
      const std::string corpus = load_text(input);
      const auto start = std::chrono::steady_clock::now();
      BPETrainOptions options;
      options.vocab_size = vocab_size;
      options.special_tokens = specials;
      const BPETokenizer tok = train_bpe(corpus, options);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      tok.save(out_dir);
      std::cerr << "learned " << tok.merges().size() << " merges from " << corpus.size() << " bytes in "
                << seconds << " s; " << tok.vocab_size() << " tokens saved to " << out_dir
                << "/vocab.json and merges.txt\n";
      return 0;
    }

    // Which tokenizer: explicit files, a folder, or GPT-2's from the repository.
    std::unique_ptr<Tokenizer> tok;
    if (!vocab.empty())
      tok = load_tokenizer(vocab, merges);
    else
      tok = load_tokenizer(model_dir.empty() ? std::string(MINIGPT_DATA_DIR) + "/gpt2" : model_dir);

    if (encode->parsed()) {
      const std::string bytes = read_stdin();
      const auto ids = allow_special ? tok->encode_with_special(bytes) : tok->encode(bytes);
      std::string line;
      for (std::size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
      std::cout << line << "\n";
    } else if (decode->parsed()) {
      const std::string bytes = tok->decode(parse_token_ids(read_stdin(), "standard input"));
      std::fwrite(bytes.data(), 1, bytes.size(), stdout);
    } else {
      const auto* bpe = dynamic_cast<const BPETokenizer*>(tok.get());
      if (!bpe) throw ArgumentError("show needs a BPE tokenizer; this folder holds a " + tok->kind() + " tokenizer");
      show(*bpe, text, allow_special);
    }
  } catch (const std::exception& e) {
    std::cerr << "tokenize: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
