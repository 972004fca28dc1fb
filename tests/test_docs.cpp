// The docs' C++ cannot rot. Every C++ block of README.md and docs/api.md is marked with the file
// under docs/snippets/ that it shows,
//     <!-- snippet: docs/snippets/api_guide.cpp [load] -->
// the whole file, or the part of it between the lines "// [load]" and "// [end]" less its
// indentation, and must equal it character for character. The test build compiles those files
// (snippet_<name>), and they run here on a model folder of the kind next_token_predictor saves,
// their output checked against the library's own answers.
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

#include <cmath>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

namespace docs_test {

std::string source(const std::string& rel) { return std::string(MINIGPT_SOURCE_DIR) + "/" + rel; }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string trimmed(const std::string& s) {
  const auto a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

// A C++ block of a Markdown file and the marker line before it.
struct ShownCode {
  std::string file, part;  // part "" = the whole file
  std::string code;        // the block's lines, each ending in '\n'
};

std::vector<ShownCode> cpp_blocks(const std::string& markdown) {
  std::vector<ShownCode> out;
  const auto lines = lines_of(markdown);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i] != "```cpp") continue;
    ShownCode c;
    const std::string prefix = "<!-- snippet: ", suffix = " -->";
    const std::string marker = i > 0 ? lines[i - 1] : "";
    if (marker.rfind(prefix, 0) == 0 && marker.size() > prefix.size() + suffix.size() &&
        marker.compare(marker.size() - suffix.size(), suffix.size(), suffix) == 0) {
      std::string what = marker.substr(prefix.size(), marker.size() - prefix.size() - suffix.size());
      const auto bracket = what.find(" [");
      if (bracket != std::string::npos && what.back() == ']') {
        c.part = what.substr(bracket + 2, what.size() - bracket - 3);
        what = what.substr(0, bracket);
      }
      c.file = what;
    }
    for (++i; i < lines.size() && lines[i] != "```"; ++i) c.code += lines[i] + "\n";
    out.push_back(c);
  }
  return out;
}

// The names of the parts of a snippet file ("// [name]" ... "// [end]"), in order.
std::vector<std::string> part_names(const std::string& file_text) {
  std::vector<std::string> names;
  for (const std::string& line : lines_of(file_text)) {
    const std::string t = trimmed(line);
    if (t.size() > 5 && t.rfind("// [", 0) == 0 && t.back() == ']' && t != "// [end]") names.push_back(t.substr(4, t.size() - 5));
  }
  return names;
}

// One part of a snippet file, less the indentation its lines share ("" when there is no such part).
std::string part_text(const std::string& file_text, const std::string& name) {
  std::vector<std::string> body;
  bool inside = false;
  for (const std::string& line : lines_of(file_text)) {
    const std::string t = trimmed(line);
    if (!inside && t == "// [" + name + "]") {
      inside = true;
    } else if (inside && t == "// [end]") {
      std::size_t indent = std::string::npos;
      for (const auto& l : body)
        if (!trimmed(l).empty()) indent = std::min(indent, l.find_first_not_of(' '));
      std::string out;
      for (const auto& l : body) out += (trimmed(l).empty() ? "" : l.substr(indent)) + "\n";
      return out;
    } else if (inside) {
      body.push_back(line);
    }
  }
  return "";
}

// A model folder as next_token_predictor saves it: a training checkpoint of a small
// character-level GPT on tinyshakespeare, with its vocabulary (char_vocab.json).
void save_predictor_model(const std::string& dir) {
  using namespace minigpt;
  const std::string text = test::file_bytes(test::data("tinyshakespeare.txt"));
  const CharTokenizer tok = CharTokenizer::from_text(text);
  TrainOptions train;
  train.batch_size = 4;
  train.block_size = 64;
  train.max_iters = 10;
  train.lr = {2e-3, 2e-4, 2, 10};
  Trainer<float> trainer(GPTConfig::make(2, 2, 32, 64, tok.vocab_size()), train, split_train_val(tok.encode(text), 0.9));
  while (!trainer.done()) trainer.train_step();
  trainer.save_checkpoint(dir, [&](const std::string& d) { tok.save(d); });
}

test::Run run_snippet(const std::string& name, const std::string& folder, const std::string& args = "") {
  return test::run_shell("cd " + test::quoted(folder) + " && " + test::quoted(std::string(MINIGPT_SNIPPETS_DIR) +
                         "/snippet_" + name) + " " + args + " 2>&1");
}

// The logits of the last position of `ids`, in double.
std::vector<double> last_logits(minigpt::GPT<float>& model, const std::vector<minigpt::TokenId>& ids) {
  const auto T = static_cast<minigpt::Index>(ids.size());
  const minigpt::Tensor<float>& logits = model.forward(ids, 1, T);
  const minigpt::Index V = model.config().vocab_size;
  return std::vector<double>(&logits(0, T - 1, 0), &logits(0, T - 1, 0) + V);
}

}  // namespace docs_test

TEST_CASE("README.md and docs/api.md show their C++ exactly as the compiled files in docs/snippets", "[docs]") {
  using namespace docs_test;
  for (const char* doc : {"README.md", "docs/api.md"}) {
    INFO(doc);
    const auto blocks = cpp_blocks(test::file_bytes(source(doc)));
    REQUIRE(!blocks.empty());
    std::vector<std::string> parts_shown;
    for (const ShownCode& c : blocks) {
      INFO("the block beginning " << c.code.substr(0, 80));
      REQUIRE(!c.file.empty());  // every C++ block names its source
      const std::string file = test::file_bytes(source(c.file));
      REQUIRE(!file.empty());
      if (c.part.empty()) {
        CHECK(c.code == file);
      } else {
        CHECK(c.code == part_text(file, c.part));
        parts_shown.push_back(c.part);
      }
    }
    if (std::string(doc) == "docs/api.md")  // the guide shows every part of api_guide.cpp, in order
      CHECK(parts_shown == part_names(test::file_bytes(source("docs/snippets/api_guide.cpp"))));
  }
  CHECK(part_names(test::file_bytes(source("docs/snippets/api_guide.cpp"))) ==
        std::vector<std::string>{"load", "tokenize", "forward", "top-k", "attention", "generate", "save"});
}

TEST_CASE("The README's first program runs on the folder next_token_predictor saves", "[docs][programs]") {
  using namespace minigpt;
  using namespace docs_test;
  const std::string dir = test::scratch("first-program");
  save_predictor_model(dir + "/shakespeare-char");
  const test::Run r = run_snippet("first_program", dir);  // no argument: ./shakespeare-char
  INFO(r.out);
  REQUIRE(r.status == 0);
  const auto out = lines_of(r.out);
  REQUIRE(!out.empty());

  GPT<float> model = load_model<float>(dir + "/shakespeare-char");
  const auto tok = load_tokenizer(dir + "/shakespeare-char");
  const std::vector<TokenId> ids = tok->encode("ROMEO:");
  // The next token it names is the one with the largest logit.
  const auto logits = last_logits(model, ids);
  const auto best = static_cast<TokenId>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  CHECK(out[0] == "next token: '" + escape_bytes(tok->decode({best})) + "'");
  // The continuation: 100 sampled characters, the same as the library gives for that seed.
  GenerateOptions options;
  options.max_new_tokens = 100;
  options.sampling.top_k = 40;
  Rng rng(1337);
  const std::string more = tok->decode(generate(model, ids, 1, options, rng)[0]);
  CHECK(more.size() == 100);
  CHECK(r.out.substr(r.out.find('\n') + 1) == "ROMEO:" + more + "\n");

  // Pointed at a GPT-2 in the Hugging Face layout, as OpenAI's is fetched: config.json,
  // model.safetensors, vocab.json and merges.txt (here OpenAI's vocabulary under the Hugging Face
  // names, and a small random model of GPT-2's vocabulary size).
  const std::string hf = dir + "/gpt2-layout";
  GPT<float> small(GPTConfig::make(1, 1, 8, 32, 50257));
  Rng init(3);
  small.init_weights(init);
  save_model(small, hf);
  REQUIRE(test::run_shell("cp " + test::quoted(test::data("gpt2/encoder.json")) + " " + hf + "/vocab.json && cp " +
                          test::quoted(test::data("gpt2/vocab.bpe")) + " " + hf + "/merges.txt").status == 0);
  const test::Run g = run_snippet("first_program", dir, "gpt2-layout");
  INFO(g.out);
  REQUIRE(g.status == 0);
  const auto gpt2 = load_tokenizer(hf);
  const std::vector<TokenId> gpt2_ids = gpt2->encode("ROMEO:");
  CHECK(gpt2->vocab_size() == 50257);  // GPT-2's BPE, found under the Hugging Face names
  const auto gpt2_logits = last_logits(small, gpt2_ids);
  const auto gpt2_best =
      static_cast<TokenId>(std::max_element(gpt2_logits.begin(), gpt2_logits.end()) - gpt2_logits.begin());
  CHECK(lines_of(g.out).at(0) == "next token: '" + escape_bytes(gpt2->decode({gpt2_best})) + "'");
  CHECK(g.out.find("\nROMEO:") != std::string::npos);
}

TEST_CASE("The API guide's program runs on a model folder and prints what the library computes", "[docs][programs]") {
  using namespace minigpt;
  using namespace docs_test;
  const std::string dir = test::scratch("api-guide");
  save_predictor_model(dir + "/model");
  const test::Run r = run_snippet("api_guide", dir, "model");
  INFO(r.out);
  REQUIRE(r.status == 0);
  const auto out = lines_of(r.out);

  GPT<float> model = load_model<float>(dir + "/model");
  const auto tok = load_tokenizer(dir + "/model");
  const std::vector<TokenId> ids = tok->encode("ROMEO:");
  const auto T = static_cast<Index>(ids.size());
  REQUIRE(T == 6);
  REQUIRE(out.size() > 6 + static_cast<std::size_t>(T));

  // [load]
  CHECK(out[0] == "2 layers, 2 heads, C = 32, up to T = 64 tokens, V = 65: " +
                      std::to_string(model.parameters().size()) + " parameters");
  // [tokenize]
  std::string expect;
  for (TokenId id : ids) expect += std::to_string(id) + " '" + escape_bytes(tok->decode({id})) + "'  ";
  CHECK(out[1] == expect);
  // [forward]
  CHECK(out[2] == "logits (B, T, V) = (1, 6, 65)");
  // [top-k]: the five most likely next characters and their probabilities, by a softmax in
  // double here.
  const auto logits = last_logits(model, ids);
  const double top = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  std::vector<std::pair<double, TokenId>> probs;
  for (std::size_t v = 0; v < logits.size(); ++v) sum += std::exp(logits[v] - top);
  for (std::size_t v = 0; v < logits.size(); ++v) probs.push_back({std::exp(logits[v] - top) / sum, TokenId(v)});
  std::sort(probs.begin(), probs.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::istringstream shown(out[3]);
  for (int i = 0; i < 5; ++i) {
    std::string entry;  // 'c' 12.3%
    REQUIRE(std::getline(shown, entry, '%'));
    entry = trimmed(entry);
    const auto space = entry.rfind(' ');
    CHECK(entry.substr(0, space) == "'" + escape_bytes(tok->decode({probs[i].second})) + "'");
    CHECK(std::abs(std::stod(entry.substr(space + 1)) - 100 * probs[i].first) < 0.051);
  }
  // [attention]: rows of layer 0, head 0; causal (zero above the diagonal), each row sums to 1,
  // and equal to the maps the library keeps.
  ForwardOptions<float> keep;
  keep.attention_maps = true;
  model.forward(ids, 1, T, keep);
  const Tensor<float>& map = model.attention_maps().at(0);
  CHECK(out[4] == "layer 0, head 0 (rows: queries, columns: keys; above the diagonal: masked)");
  for (Index q = 0; q < T; ++q) {
    std::istringstream row(out[5 + static_cast<std::size_t>(q)]);
    double row_sum = 0;
    for (Index k = 0; k < T; ++k) {
      double a = -1;
      REQUIRE(row >> a);
      row_sum += a;
      if (k > q) CHECK(a == 0);
      CHECK(std::abs(a - map(0, 0, q, k)) <= 0.0005001);
    }
    CHECK(std::abs(row_sum - 1) < 0.0005 * static_cast<double>(T));
  }
  // [generate]: 60 characters after the prompt, as the library samples them with that seed
  // (they may hold line breaks), then [save]'s line.
  GenerateOptions options;
  options.max_new_tokens = 60;
  options.sampling.temperature = 0.8;
  options.sampling.top_k = 20;
  Rng rng(1337);
  const std::string more = tok->decode(generate(model, ids, 1, options, rng)[0]);
  std::size_t rest = 0;
  for (Index line = 0; line < 5 + T; ++line) rest = r.out.find('\n', rest) + 1;
  CHECK(r.out.substr(rest) == "ROMEO:" + more + "\nsaved in my-model/ and loaded back: the same weights\n");
  // [save]: the folder it wrote loads, with the same weights and tokenizer.
  const GPT<float> again = load_model<float>(dir + "/my-model");
  REQUIRE(again.parameters().size() == model.parameters().size());
  CHECK(std::equal(again.parameters().data(), again.parameters().data() + again.parameters().size(),
                   model.parameters().data()));
  CHECK(load_tokenizer(dir + "/my-model")->encode("ROMEO:") == ids);

  // A folder that is not there: one line naming it, exit status 1.
  const test::Run missing = run_snippet("api_guide", dir, "no-such-model");
  CHECK(missing.status == 1);
  CHECK(missing.out.rfind("api_guide: no-such-model: ", 0) == 0);
  CHECK(std::count(missing.out.begin(), missing.out.end(), '\n') == 1);
}
