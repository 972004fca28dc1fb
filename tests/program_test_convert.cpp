// The convert program, run as a user runs it: a folder to GGUF and back, GGUF to GGUF in
// another type, the tokenizer carried along, and one clear line for bad flags and bad files.
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

using namespace minigpt;
using Catch::Matchers::Contains;

namespace {

test::Run convert_run(const std::string& args) { return test::run_program("convert", args); }

}  // namespace

TEST_CASE("convert: folder -> GGUF -> folder keeps every weight, and -> q8_0 is the writer's file", "[programs][gguf]") {
  const std::string dir = test::scratch("convert-roundtrip");
  const test::Run to_gguf = convert_run(test::data("gpt2-tiny") + " " + dir + "/tiny.gguf");
  REQUIRE(to_gguf.status == 0);
  CHECK_THAT(to_gguf.out, Contains("62640 parameters") && Contains("f32") && Contains("no tokenizer"));
  // The file is byte for byte the committed one that llama.cpp and @huggingface/gguf read.
  CHECK(test::file_bytes(dir + "/tiny.gguf") == test::file_bytes(test::data("gguf/gpt2-tiny-f32.gguf")));

  const test::Run back = convert_run(dir + "/tiny.gguf " + dir + "/back");
  REQUIRE(back.status == 0);
  const GPT<float> a = load_model<float>(test::data("gpt2-tiny")), b = load_model<float>(dir + "/back");
  CHECK(a.config() == b.config());
  CHECK((a.parameters().flat() == b.parameters().flat()).all());

  const test::Run q8 = convert_run(dir + "/tiny.gguf " + dir + "/tiny-q8.gguf --type Q8_0");
  REQUIRE(q8.status == 0);
  CHECK(test::file_bytes(dir + "/tiny-q8.gguf") == test::file_bytes(test::data("gguf/gpt2-tiny-q8_0.gguf")));
}

TEST_CASE("convert: the tokenizer of a folder goes into the GGUF file and out again", "[programs][gguf]") {
  const std::string dir = test::scratch("convert-tokenizer");
  GPT<float> model(GPTConfig::make(1, 2, 32, 16, 50257));
  Rng rng(8);
  model.init_weights(rng);
  save_model(model, dir + "/in");
  test::gpt2_tokenizer().save(dir + "/in");
  const test::Run r = convert_run(dir + "/in " + dir + "/m.gguf --type bf16");
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Contains("tokenizer of 50257 tokens") && Contains("bf16"));
  REQUIRE(convert_run(dir + "/m.gguf " + dir + "/out").status == 0);
  CHECK(test::file_bytes(dir + "/out/vocab.json") == test::file_bytes(dir + "/in/vocab.json"));
  CHECK(test::file_bytes(dir + "/out/merges.txt") == test::file_bytes(dir + "/in/merges.txt"));
}

TEST_CASE("convert answers bad flags and bad files with one line", "[programs][gguf]") {
  const std::string dir = test::scratch("convert-bad");
  const test::Run type = convert_run(test::data("gpt2-tiny") + " " + dir + "/x.gguf --type q4_0");
  CHECK(type.status == 2);
  CHECK_THAT(type.out, Contains("--type"));
  CHECK(std::count(type.out.begin(), type.out.end(), '\n') == 1);

  const test::Run folder_type = convert_run(test::data("gpt2-tiny") + " " + dir + "/folder --type q8_0");
  CHECK(folder_type.status == 2);
  CHECK_THAT(folder_type.out, Contains("--type q8_0 applies to a .gguf output"));

  CHECK(convert_run(test::data("gpt2-tiny")).status == 2);  // OUT missing

  const test::Run missing = convert_run(dir + "/nope.gguf " + dir + "/out");
  CHECK(missing.status == 1);
  CHECK_THAT(missing.out, Contains("nope.gguf") && Contains("cannot open"));
  CHECK(std::count(missing.out.begin(), missing.out.end(), '\n') == 1);

  const std::string bad = dir + "/bad.gguf";
  std::ofstream(bad, std::ios::binary) << "GGUF\x03";
  const test::Run truncated = convert_run(bad + " " + dir + "/out");
  CHECK(truncated.status == 1);
  CHECK_THAT(truncated.out, Contains("bad.gguf") && Contains("version") && Contains("truncated"));
  CHECK(!detail::file_exists(dir + "/out"));
}
