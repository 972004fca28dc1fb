// The generate program, run as a user runs it: PyTorch's greedy continuation, text in and out,
// and one clear line for a bad flag or a bad model folder.
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

#include <sstream>

using Catch::Matchers::Contains;

namespace {

test::Run run(const std::string& args) { return test::run_program("generate", args); }

std::string join(const std::vector<int>& ids) {
  std::string s;
  for (int id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
  return s;
}

}  // namespace

TEST_CASE("generate --print-ids continues a prompt as PyTorch does", "[programs][generation]") {
  const auto j = test::read_json(test::data("gpt2-tiny/reference.json"));
  const auto prompt = j["greedy"]["prompt_ids"].get<std::vector<int>>();
  const auto expected = j["greedy"]["new_ids"].get<std::vector<int>>();
  const test::Run r = run("--model " + test::data("gpt2-tiny") + " --prompt-ids \"" + join(prompt) +
                    "\" --max-new-tokens " + std::to_string(expected.size()) + " --temperature 0 --print-ids");
  CHECK(r.status == 0);
  CHECK(r.out == join(expected) + "\n");

  // Sampling with a seed: the same seed, the same ids; another seed, other ids.
  const std::string sampled = "--model " + test::data("gpt2-tiny") + " --prompt-ids \"1 2 3\" --max-new-tokens 20 "
                              "--temperature 1.5 --top-k 40 --print-ids --seed ";
  const test::Run a = run(sampled + "7"), b = run(sampled + "7"), c = run(sampled + "8");
  CHECK(a.status == 0);
  CHECK(a.out == b.out);
  CHECK(a.out != c.out);
}

TEST_CASE("generate answers bad flags and bad folders with one line", "[programs][generation]") {
  const test::Run bad_flag = run("--model x --prompt-ids 1 --top-kk 3");
  CHECK(bad_flag.status == 2);
  CHECK_THAT(bad_flag.out, Contains("--top-kk"));
  CHECK(std::count(bad_flag.out.begin(), bad_flag.out.end(), '\n') == 1);

  const test::Run unknown_alone = run("--bogus");
  CHECK(unknown_alone.status == 2);
  CHECK_THAT(unknown_alone.out, Contains("--bogus"));

  const test::Run too_many = run("--model x --prompt-ids 1 --max-new-tokens 99999999999999999999");
  CHECK(too_many.status == 2);
  CHECK_THAT(too_many.out, Contains("--max-new-tokens"));
  CHECK(run("--model x --prompt-ids 1 --top-p 1.5").status == 2);
  CHECK(run("--model x --prompt-ids 1 --temperature -1").status == 2);

  const test::Run no_folder = run("--model does-not-exist --prompt-ids \"1 2\"");
  CHECK(no_folder.status == 1);
  CHECK_THAT(no_folder.out, Contains("does-not-exist") && Contains("not a folder"));

  const test::Run bad_id = run("--model " + test::data("gpt2-tiny") + " --prompt-ids \"1 101\"");
  CHECK(bad_id.status == 1);
  CHECK_THAT(bad_id.out, Contains("token id 101") && Contains("vocabulary"));

  const test::Run not_a_number = run("--model " + test::data("gpt2-tiny") + " --prompt-ids \"1 two\"");
  CHECK(not_a_number.status == 1);
  CHECK_THAT(not_a_number.out, Contains("'two'"));

  const test::Run no_prompt = run("--model " + test::data("gpt2-tiny"));
  CHECK(no_prompt.status == 2);
  CHECK_THAT(no_prompt.out, Contains("prompt"));

  // A text prompt needs tokenizer files, which this folder lacks: the error says so.
  const test::Run no_tokenizer = run("--model " + test::data("gpt2-tiny") + " --prompt \"hello\"");
  CHECK(no_tokenizer.status == 1);
  CHECK_THAT(no_tokenizer.out, Contains("gpt2-tiny"));
}

TEST_CASE("generate --prompt reads text and streams text with the GPT-2 tokenizer", "[programs][generation]") {
  // A small random model over GPT-2's vocabulary, saved beside GPT-2's tokenizer files, as a
  // Hugging Face gpt2 folder holds them.
  using namespace minigpt;
  const std::string dir = test::scratch("generate-text");
  GPT<float> model(GPTConfig::make(1, 2, 16, 64, 50257));
  Rng rng(5);
  model.init_weights(rng);
  save_model(model, dir);
  auto tokenizer = load_tokenizer(test::data("gpt2"));
  tokenizer->save(dir);

  const std::string prompt = "Hello, 세계! The quick brown fox";
  const test::Run text = run("--model " + dir + " --prompt \"" + prompt + "\" --max-new-tokens 12 --seed 3");
  const test::Run ids = run("--model " + dir + " --prompt \"" + prompt + "\" --max-new-tokens 12 --seed 3 --print-ids");
  REQUIRE(text.status == 0);
  REQUIRE(ids.status == 0);
  // The text is the prompt, then exactly the bytes of the generated ids.
  std::vector<TokenId> generated;
  std::istringstream in(ids.out);
  for (int id; in >> id;) generated.push_back(id);
  CHECK(generated.size() == 12);
  CHECK(text.out == prompt + tokenizer->decode(generated) + "\n");
}

TEST_CASE("generate --model FILE.gguf runs F32 and Q8_0 files as llama.cpp does and honours --weights", "[programs][generation][gguf]") {
  const auto ref = test::read_json(test::data("gguf/llama_greedy.json"));
  const auto prompt = ref["prompt_ids"].get<std::vector<int>>();
  for (const char* file : {"gpt2-tiny-f32.gguf", "gpt2-tiny-q8_0.gguf"}) {
    INFO(file);
    const auto expected = ref["files"][file].get<std::vector<int>>();
    const test::Run r = run("--model " + test::data(std::string("gguf/") + file) + " --prompt-ids \"" + join(prompt) +
                            "\" --max-new-tokens " + std::to_string(expected.size()) + " --temperature 0 --print-ids");
    CHECK(r.status == 0);
    CHECK(r.out == join(expected) + "\n");
  }
  // A folder run in bf16 or Q8_0: PyTorch's greedy tokens still (the tiny model's leads are wide).
  const auto j = test::read_json(test::data("gpt2-tiny/reference.json"));
  const auto greedy = j["greedy"]["new_ids"].get<std::vector<int>>();
  for (const char* weights : {"bf16", "q8_0"}) {
    INFO(weights);
    const test::Run r = run("--model " + test::data("gpt2-tiny") + " --weights " + weights + " --prompt-ids \"" +
                            join(j["greedy"]["prompt_ids"].get<std::vector<int>>()) + "\" --max-new-tokens " +
                            std::to_string(greedy.size()) + " --temperature 0 --print-ids");
    CHECK(r.status == 0);
    CHECK(r.out == join(greedy) + "\n");
  }
  const test::Run bad = run("--model " + test::data("gpt2-tiny") + " --weights q4_0 --prompt-ids 1");
  CHECK(bad.status == 1);
  CHECK_THAT(bad.out, Contains("q4_0"));
  const test::Run no_file = run("--model missing.gguf --prompt-ids 1");
  CHECK(no_file.status == 1);
  CHECK_THAT(no_file.out, Contains("missing.gguf"));
}
