// What every program owes its user, checked for all of examples/ at once (a new program is
// checked without anyone adding it here): --help explains every flag it declares, and a
// model folder that is not there is answered with one line naming it, never a crash.
#include "common.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace help_test {

// The programs: examples/NAME.cpp, by name, with their source text.
std::map<std::string, std::string> programs() {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(std::string(MINIGPT_SOURCE_DIR) + "/examples"))
    if (e.path().extension() == ".cpp") out[e.path().stem().string()] = test::file_bytes(e.path().string());
  return out;
}

// The flags a source declares on an app or subcommand ("--name" as the first argument of
// add_option or add_flag), grouped by the variable they are declared on ("app", "cmd", ...).
std::map<std::string, std::set<std::string>> declared_flags(const std::string& source) {
  std::map<std::string, std::set<std::string>> out;
  for (const char* call : {"add_option(\"", "add_flag(\""}) {
    const std::string c = call;
    for (auto pos = source.find(c); pos != std::string::npos; pos = source.find(c, pos + 1)) {
      const auto begin = pos + c.size(), end = source.find('"', begin);
      std::string flag = source.substr(begin, end - begin);
      flag = flag.substr(flag.find_last_of(',') == std::string::npos ? 0 : flag.find_last_of(',') + 1);
      if (flag.rfind("--", 0) != 0) continue;  // a positional argument
      auto owner_end = pos;
      while (owner_end > 0 && (source[owner_end - 1] == '.' || source[owner_end - 1] == '>' || source[owner_end - 1] == '-'))
        --owner_end;
      auto owner_begin = owner_end;
      while (owner_begin > 0 && (std::isalnum(static_cast<unsigned char>(source[owner_begin - 1])) || source[owner_begin - 1] == '_'))
        --owner_begin;
      out[source.substr(owner_begin, owner_end - owner_begin)].insert(flag);
    }
  }
  return out;
}

// The subcommands a source declares (add_subcommand("name", ...)).
std::vector<std::string> subcommands(const std::string& source) {
  std::vector<std::string> out;
  const std::string c = "add_subcommand(\"";
  for (auto pos = source.find(c); pos != std::string::npos; pos = source.find(c, pos + 1)) {
    const auto begin = pos + c.size();
    out.push_back(source.substr(begin, source.find('"', begin) - begin));
  }
  return out;
}

}  // namespace help_test

TEST_CASE("Every program answers --help with each flag it declares, and exits 0", "[programs][help]") {
  using namespace help_test;
  const auto all = programs();
  REQUIRE(all.size() >= 8);
  for (const auto& [name, source] : all) {
    INFO("program " << name);
    const test::Run help = test::run_program(name, "--help");
    INFO(help.out);
    CHECK(help.status == 0);
    CHECK(help.out.find("Usage") != std::string::npos);
    // Flags of the program itself appear in its help; each subcommand answers its own --help,
    // and together they show every flag declared anywhere in the source.
    std::string every_help = help.out;
    for (const std::string& sub : subcommands(source)) {
      const test::Run h = test::run_program(name, sub + " --help");
      INFO("subcommand " << sub << ": " << h.out);
      CHECK(h.status == 0);
      every_help += h.out;
    }
    const auto flags = declared_flags(source);
    if (flags.count("app")) {
      for (const std::string& flag : flags.at("app")) {
        INFO("flag " << flag);
        CHECK(help.out.find(flag) != std::string::npos);
      }
    }
    for (const auto& [owner, owned] : flags)
      for (const std::string& flag : owned) {
        INFO("flag " << flag << " of " << owner);
        CHECK(every_help.find(flag) != std::string::npos);
      }
  }
}

TEST_CASE("Every program that reads a model folder names a missing one in one line", "[programs][help]") {
  using namespace help_test;
  const std::string dir = test::temp_dir("help_missing_model");
  // The fewest arguments each program needs besides the folder, which is does-not-exist.
  const std::map<std::string, std::string> args = {
      {"attention_map", "--model does-not-exist --prompt-ids 1 --out " + dir + "/x.svg"},
      {"embedding_map", "--model does-not-exist --out " + dir + "/x.svg"},
      {"generate", "--model does-not-exist --prompt-ids 1"},
      {"model_sizes", "--model does-not-exist"},
      {"next_token_predictor", "--predict does-not-exist"},
      {"tokenize", "encode --model does-not-exist < /dev/null"},
      {"convert", "does-not-exist " + dir + "/x.gguf"},
  };
  for (const auto& [name, source] : programs()) {
    INFO("program " << name);
    // A program that takes a model folder must be in the table above.
    if (source.find("\"--model\"") != std::string::npos || source.find("\"--predict\"") != std::string::npos ||
        name == "convert")
      CHECK(args.count(name) == 1);
  }
  for (const auto& [name, a] : args) {
    const test::Run r = test::run_program(name, a);
    INFO(name << " " << a << "\n" << r.out);
    CHECK(r.status == 1);
    CHECK(r.out.find("does-not-exist") != std::string::npos);
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
  }
}
