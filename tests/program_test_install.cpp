// The installed programs find what is installed with them (share/minigpt: GPT-2's vocabulary and
// tinyshakespeare) relative to themselves, from any working folder, after the whole prefix has
// been moved: nothing of the build or source tree is built into them. The build tree is
// installed into a temporary prefix with `cmake --install`, as a user installs it.
#include "common.hpp"

#include <catch2/catch.hpp>

#include <climits>
#include <cstdlib>

using Catch::Matchers::Contains;

TEST_CASE("Installed tokenize and next_token_predictor work from another folder after the prefix moves",
          "[programs][install]") {
  if (!MINIGPT_INSTALLS_PROGRAMS) {
    WARN("configured with MINIGPT_INSTALL_PROGRAMS=OFF: no programs to install");
    return;
  }
  const std::string base = test::temp_dir("install");
  const std::string prefix = base + "/prefix", moved = base + "/moved", elsewhere = base + "/elsewhere";
  const test::Run install = test::run_shell("rm -rf " + test::quoted(prefix) + " " + test::quoted(moved) + " && " +
                                            MINIGPT_CMAKE_COMMAND + " --install " + test::quoted(MINIGPT_BUILD_DIR) +
                                            " --prefix " + test::quoted(prefix) + " 2>&1");
  INFO(install.out);
  REQUIRE(install.status == 0);
  REQUIRE(test::run_shell("mv " + test::quoted(prefix) + " " + test::quoted(moved) + " && mkdir -p " +
                          test::quoted(elsewhere)).status == 0);
  CHECK(test::file_bytes(moved + "/share/minigpt/gpt2/encoder.json") == test::file_bytes(test::data("gpt2/encoder.json")));
  CHECK(test::file_bytes(moved + "/share/minigpt/gpt2/vocab.bpe") == test::file_bytes(test::data("gpt2/vocab.bpe")));
  const std::string in_elsewhere = "cd " + test::quoted(elsewhere) + " && " + test::quoted(moved + "/bin/");

  // tokenize: OpenAI's ids for the reference texts (English, Korean, code), with no --model.
  for (const char* text : {"english.txt", "korean.txt", "code.txt"}) {
    const std::string path = test::data(std::string("gpt2/samples/") + text);
    INFO(text);
    const test::Run r = test::run_shell(in_elsewhere + "tokenize encode < " + test::quoted(path) + " 2>&1");
    CHECK(r.status == 0);
    const std::vector<minigpt::TokenId> openai = test::read_ids(path + ".ids");
    REQUIRE(!openai.empty());
    std::string line;
    for (std::size_t i = 0; i < openai.size(); ++i) line += (i ? " " : "") + std::to_string(openai[i]);
    CHECK(r.out == line + "\n");
  }

  // next_token_predictor: trains on the bundled tinyshakespeare, found beside it.
  const test::Run p = test::run_shell(in_elsewhere +
                                      "next_token_predictor --n-layer 1 --n-head 1 --n-embd 8 --block-size 8 "
                                      "--max-iters 2 --out m 2>&1");
  INFO(p.out);
  CHECK(p.status == 0);
  char real[PATH_MAX];
  REQUIRE(::realpath(moved.c_str(), real) != nullptr);
  CHECK_THAT(p.out, Contains(std::string(real) + "/share/minigpt/tinyshakespeare.txt: 1115394 bytes"));
  CHECK(!test::file_bytes(elsewhere + "/m/model.safetensors").empty());
  test::run_shell("rm -rf " + test::quoted(base));
}
