// The docs show `tokenize` as it runs: every line "$ tokenize ..." inside a ``` block of
// README.md or docs/*.md is run here as written (from a folder where tests/data/... resolves),
// and the lines after it, up to the next "$ " line or the end of the block, must be exactly
// what it prints on standard output.
#include "common.hpp"

#include <catch2/catch.hpp>

#include <dirent.h>

#include <sstream>
#include <string>
#include <vector>

namespace docs_program_test {

struct ShownCommand {
  std::string doc, command, output;
};

std::vector<ShownCommand> tokenize_commands(const std::string& doc, const std::string& markdown) {
  std::vector<ShownCommand> out;
  std::istringstream in(markdown);
  bool fenced = false;
  ShownCommand* current = nullptr;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("```", 0) == 0) {
      fenced = !fenced;
      current = nullptr;
    } else if (fenced && line.rfind("$ ", 0) == 0) {
      current = nullptr;
      if (line.rfind("$ tokenize ", 0) == 0) {
        out.push_back({doc, line.substr(2), ""});
        current = &out.back();
      }
    } else if (current) {
      current->output += line + "\n";
    }
  }
  return out;
}

}  // namespace docs_program_test

TEST_CASE("Every `tokenize` command the docs show prints what the docs say", "[programs][docs][tokenizer]") {
  using namespace docs_program_test;
  const std::string source = MINIGPT_SOURCE_DIR;
  std::vector<std::string> docs = {"README.md"};
  if (DIR* d = ::opendir((source + "/docs").c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name.size() > 3 && name.compare(name.size() - 3, 3, ".md") == 0) docs.push_back("docs/" + name);
    }
    ::closedir(d);
  }
  std::vector<ShownCommand> commands;
  for (const std::string& doc : docs) {
    const auto found = tokenize_commands(doc, test::file_bytes(source + "/" + doc));
    commands.insert(commands.end(), found.begin(), found.end());
  }
  REQUIRE(commands.size() >= 5);  // docs/tokenizer.md's two, docs/korean.md's three

  // A folder of its own, where the docs' relative paths (tests/data/...) lead to the sources.
  const std::string dir = test::scratch("docs-commands");
  REQUIRE(test::run_shell("ln -s " + test::quoted(source + "/tests") + " " + dir + "/tests").status == 0);
  for (const ShownCommand& c : commands) {
    INFO(c.doc << ": $ " << c.command);
    const test::Run r = test::run_shell("cd " + dir + " && " + MINIGPT_EXAMPLES_DIR + "/" + c.command +
                                        " 2>/dev/null");
    CHECK(r.status == 0);
    CHECK(r.out == c.output);
  }
}
