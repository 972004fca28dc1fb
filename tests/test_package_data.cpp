// package_data.hpp: a program finds the data that comes with it relative to its own folder.
// This test program lives in build/tests, beside build/examples, so the build tree's copy of
// the data (build/share/minigpt, made by CMake) is found the way an installed program finds
// <prefix>/share/minigpt. The copies must be the committed files, byte for byte.
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/load_tokenizer.hpp>
#include <minigpt/package_data.hpp>

#include <climits>
#include <cstdlib>

namespace package_data_test {

std::string real(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) ? std::string(buf) : "";
}

}  // namespace package_data_test

TEST_CASE("package_data finds the bundled GPT-2 vocabulary and tinyshakespeare relative to the program", "[programs][install]") {
  using namespace minigpt;
  CHECK(program_folder() == package_data_test::real(MINIGPT_SNIPPETS_DIR));  // build/tests, where this test is

  const std::string gpt2 = package_data("gpt2", MINIGPT_PACKAGE_DATA);
  CHECK(gpt2.front() == '/');
  CHECK(gpt2.find("/..") == std::string::npos);
  for (const char* f : {"encoder.json", "vocab.bpe"}) {
    INFO(f);
    const std::string copy = test::file_bytes(gpt2 + "/" + f);
    CHECK(!copy.empty());
    CHECK(copy == test::file_bytes(test::data(std::string("gpt2/") + f)));
  }
  CHECK(load_tokenizer(gpt2)->encode("Hello world") == std::vector<TokenId>{15496, 995});
  CHECK(test::file_bytes(package_data("tinyshakespeare.txt", MINIGPT_PACKAGE_DATA)) ==
        test::file_bytes(test::data("tinyshakespeare.txt")));

  // Something that is not there: a FileError naming where it looked.
  try {
    package_data("no-such-file", MINIGPT_PACKAGE_DATA);
    FAIL("no error");
  } catch (const FileError& e) {
    CHECK(e.where() == program_folder() + "/" + MINIGPT_PACKAGE_DATA + "/no-such-file");
    CHECK(std::string(e.what()).find("not found") != std::string::npos);
  }
}
