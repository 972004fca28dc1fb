// The attention_map program: its numbers are PyTorch's attention probabilities on the
// reference model, its picture is well-formed XML with one cell per unmasked entry and the
// tokens as text on both axes, and bad input is one clear line.
#include "common.hpp"
#include "xml.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

using Catch::Matchers::Contains;
using namespace minigpt;

namespace {

test::Run run_attention_map(const std::string& args) { return test::run_program("attention_map", args); }

std::string joined(const nlohmann::json& ids) {
  std::string s;
  for (int id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
  return s;
}

// A copy of the reference model with a character tokenizer of ours beside it.
std::string model_with_char_tokenizer(const std::string& name, const std::string& alphabet) {
  const std::string dir = test::temp_dir(name);
  for (const char* f : {"config.json", "model.safetensors"})
    detail::write_file_atomic(dir + "/" + f, test::file_bytes(test::data(std::string("gpt2-tiny/") + f)));
  CharTokenizer::from_text(alphabet).save(dir);
  return dir;
}

}  // namespace

TEST_CASE("attention_map --json gives PyTorch's attention probabilities", "[programs][attention_map]") {
  const auto ref = test::read_json(test::data("gpt2-tiny/reference.json"));
  const std::string dir = test::temp_dir("attention_map_torch");
  for (int b = 0; b < 2; ++b) {  // both sequences of the reference batch
    INFO("sequence " << b);
    const std::string svg = dir + "/maps.svg", json = dir + "/maps.json";
    const test::Run r = run_attention_map("--model " + test::data("gpt2-tiny") + " --prompt-ids \"" + joined(ref["input_ids"][b]) +
                            "\" --out " + svg + " --json " + json);
    REQUIRE(r.status == 0);
    const auto j = test::read_json(json);
    const Index L = 2, H = 3, T = 17;
    REQUIRE(j["maps"].size() == static_cast<std::size_t>(L * H));
    CHECK(j["tokens"].size() == static_cast<std::size_t>(T));
    CHECK(j["tokens"][0] == "#" + std::to_string(ref["input_ids"][b][0].get<int>()));  // no tokenizer: ids
    double worst = 0;
    for (Index l = 0; l < L; ++l) {
      const auto golden = test::golden("gpt2-tiny/reference.safetensors", "attn." + std::to_string(l));  // (2, 3, 17, 17)
      for (Index h = 0; h < H; ++h) {
        const auto& m = j["maps"][static_cast<std::size_t>(l * H + h)];
        CHECK(m["layer"] == l);
        CHECK(m["head"] == h);
        for (Index q = 0; q < T; ++q)
          for (Index k = 0; k < T; ++k) {
            const double want = golden[static_cast<std::size_t>(((b * H + h) * T + q) * T + k)];
            const double got = m["attention"][static_cast<std::size_t>(q)][static_cast<std::size_t>(k)];
            worst = std::max(worst, std::abs(got - want));
            if (k > q) CHECK(got == 0.0);
          }
      }
    }
    CHECK(worst <= 1e-5);  // float against PyTorch's float64, probabilities in [0, 1]

    // The picture: every map, one cell per unmasked entry (T (T + 1) / 2 of T²), the masked
    // half drawn as masked, the tokens on the rows (left of each layer) and the columns.
    const test::Xml xml(test::file_bytes(svg));
    REQUIRE(xml.ok());
    CHECK(xml.number("count(//svg:rect[@class='cell'])") == L * H * T * (T + 1) / 2);
    CHECK(xml.number("count(//svg:rect[@class='masked'])") == L * H);
    const auto texts = xml.texts("//svg:text");
    const std::string first = "#" + std::to_string(ref["input_ids"][b][0].get<int>());
    CHECK(std::count(texts.begin(), texts.end(), first) >= L + H);
    for (const char* t : {"layer 1 · head 2", "query (Q): the token that looks", "key (K): the token looked at",
                          "attention weight", "masked (the future)"})
      CHECK(std::count(texts.begin(), texts.end(), std::string(t)) == 1);
  }
}

TEST_CASE("attention_map --layer --head draws one map, large", "[programs][attention_map]") {
  const auto ref = test::read_json(test::data("gpt2-tiny/reference.json"));
  const std::string dir = test::temp_dir("attention_map_one");
  const test::Run r = run_attention_map("--model " + test::data("gpt2-tiny") + " --prompt-ids \"" + joined(ref["input_ids"][0]) +
                          "\" --layer 1 --head 2 --out " + dir + "/one.svg --json " + dir + "/one.json");
  REQUIRE(r.status == 0);
  const auto j = test::read_json(dir + "/one.json");
  REQUIRE(j["maps"].size() == 1);
  const auto golden = test::golden("gpt2-tiny/reference.safetensors", "attn.1");
  const double got = j["maps"][0]["attention"][16][5];
  CHECK(got == Approx(golden[((0 * 3 + 2) * 17 + 16) * 17 + 5]).margin(1e-6));
  const test::Xml xml(test::file_bytes(dir + "/one.svg"));
  REQUIRE(xml.ok());
  CHECK(xml.number("count(//svg:rect[@class='cell'])") == 17 * 18 / 2);
  CHECK(xml.texts("//svg:text[. = 'layer 1 · head 2']").size() == 1);  // the panel's title
  CHECK(xml.texts("//svg:text[. = 'attention map']").size() == 1);
}

TEST_CASE("attention_map labels the axes with the prompt's tokens as text", "[programs][attention_map]") {
  // Korean, an emoji, XML's own characters and a space, one character per token.
  const std::string dir = model_with_char_tokenizer("attention_map_text", "토큰 <&>😀\"'ab");
  const test::Run r = run_attention_map("--model " + dir + " --prompt \"토큰 <&>😀\" --out " + dir + "/map.svg --json " + dir + "/map.json");
  REQUIRE(r.status == 0);
  const test::Xml xml(test::file_bytes(dir + "/map.svg"));
  REQUIRE(xml.ok());
  CHECK(xml.number("count(//svg:rect[@class='cell'])") == 2 * 3 * 7 * 8 / 2);
  const auto texts = xml.texts("//svg:text");
  for (const std::string t : {"토", "큰", "␣", "<", "&", ">", "😀"}) {
    INFO(t);
    CHECK(std::count(texts.begin(), texts.end(), t) == 2 + 3);  // left of 2 layers, under 3 heads
  }
  const auto j = test::read_json(dir + "/map.json");
  CHECK(j["tokens"] == nlohmann::json({"토", "큰", "␣", "<", "&", ">", "😀"}));
}

TEST_CASE("attention_map answers bad input with one clear line", "[programs][attention_map]") {
  const std::string model = " --model " + test::data("gpt2-tiny");
  const std::string dir = test::temp_dir("attention_map_bad");
  const std::string out = " --out " + dir + "/x.svg";
  auto one_line = [](const test::Run& r, int status, const std::string& says) {
    INFO(r.out);
    CHECK(r.status == status);
    CHECK_THAT(r.out, Contains(says));
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
  };
  one_line(run_attention_map("--model does-not-exist --prompt-ids 1" + out), 1, "does-not-exist");
  one_line(run_attention_map(model + " --prompt-ids \"\"" + out), 1, "the prompt is empty");
  std::string past;
  for (int i = 0; i < 25; ++i) past += std::to_string(i) + " ";
  one_line(run_attention_map(model + " --prompt-ids \"" + past + "\"" + out), 1, "25 tokens, past the block size of 24");
  one_line(run_attention_map(model + " --prompt-ids \"1 2\" --layer 2" + out), 1, "--layer 2 is out of range: the model has 2 layers (0..1)");
  one_line(run_attention_map(model + " --prompt-ids \"1 2\" --head 3" + out), 1, "--head 3 is out of range: each layer has 3 heads (0..2)");
  one_line(run_attention_map(model + " --prompt-ids \"1 200\"" + out), 1, "200");
  one_line(run_attention_map(model + " --prompt text" + out), 1, "holds no tokenizer");  // a text prompt needs one
  one_line(run_attention_map(model + " --prompt-ids 1"), 2, "--out");
  one_line(run_attention_map(model + out), 2, "give a prompt");
  one_line(run_attention_map(model + " --prompt-ids 1 --layer x" + out), 2, "--layer");
  const test::Run help = run_attention_map("--help");
  CHECK(help.status == 0);
  CHECK_THAT(help.out, Contains("--prompt-ids") && Contains("--json") && Contains("--head"));
  CHECK_FALSE(detail::file_exists(dir + "/x.svg"));  // nothing drawn for bad input
}
