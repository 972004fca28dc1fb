// The chapter guides cannot rot. docs/chapter-guide.ko.md and docs/chapter-guide.en.md walk
// through the chapter's concepts in its order, one section "## N. ..." each, and every
// section ends in reference lines: list items ("- ") whose backticked spans are read as
//
//   `include/minigpt/x.hpp`      a header; the identifiers after it on the same line
//   `function_name`              (`name` or `Class::member`) must be declared in that header
//   `tests/test_x.cpp`           a test file compiled into minigpt_tests (test_*.cpp or
//   "test case name"             program_test_*.cpp); the double-quoted names after it on the
//                                line must be TEST_CASEs of that file
//   `examples/x.cpp`             a program: a file of examples/ with a main()
//   `x --flag VALUE ...`         a command: x must be a program of examples/ and each --flag
//                                must appear in its source
//   `docs/x.md`, other paths     must exist
//
// Anywhere in a guide, a backticked path under include/, tests/, examples/ or docs/ must
// exist. The two guides must have the same sections in the chapter's order, each naming the
// chapter's Korean term in its heading, and reference the same things section by section.
#include "common.hpp"
#include "xml.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <regex>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace chapter_guide_test {

// The chapter's concepts in its own order: section N of each guide names term N.
const std::vector<std::string>& chapter_terms() {
  static const std::vector<std::string> terms = {
      "벡터",        "임베딩", "토크나이저",   "어텐션",  "어텐션맵", "마스킹",    "셀프 어텐션",
      "멀티 헤드 어텐션", "GPT-3",  "스케일링 법칙", "손실",    "사전 학습", "미세 조정", "SFT",
      "보상 모델",   "PPO",    "RLHF",         "환각"};
  return terms;
}

// What the checker reads a source tree through: a file's text, or nothing when it is absent.
struct Tree {
  std::map<std::string, std::string> files;  // for tests of the checker itself
  bool on_disk = true;

  bool exists(const std::string& rel) const {
    if (!on_disk) return files.count(rel) > 0;
    std::ifstream in(std::string(MINIGPT_SOURCE_DIR) + "/" + rel);
    return static_cast<bool>(in);
  }
  std::string text(const std::string& rel) const {
    if (!on_disk) return files.at(rel);
    return test::file_bytes(std::string(MINIGPT_SOURCE_DIR) + "/" + rel);
  }
};

struct Section {
  int number = 0;
  std::string heading;
  std::set<std::string> refs;  // "file", "file::name", "file::\"test\"", "$ command"
};

struct Guide {
  std::vector<Section> sections;
  std::vector<std::string> problems;
};

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}
bool is_identifier(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':')) return false;
  return s.find(":::") == std::string::npos && s.front() != ':' && s.back() != ':';
}
bool is_project_path(const std::string& s) {
  if (s.find(' ') != std::string::npos) return false;
  for (const char* top : {"include/", "tests/", "examples/", "docs/"})
    if (starts_with(s, top)) return true;
  return false;
}
std::string file_name(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// The header text without its comments, so that a name mentioned only in a comment does not count.
std::string without_comments(const std::string& code) {
  std::string out;
  for (std::size_t i = 0; i < code.size(); ++i) {
    if (code[i] == '/' && i + 1 < code.size() && code[i + 1] == '/') {
      while (i < code.size() && code[i] != '\n') ++i;
      out += '\n';
    } else if (code[i] == '/' && i + 1 < code.size() && code[i + 1] == '*') {
      i = code.find("*/", i + 2);
      if (i == std::string::npos) break;
      ++i;
    } else {
      out += code[i];
    }
  }
  return out;
}

bool word_at(const std::string& code, std::size_t pos, const std::string& word) {
  const auto ident = [&](std::size_t i) {
    return i < code.size() && (std::isalnum(static_cast<unsigned char>(code[i])) || code[i] == '_');
  };
  return code.compare(pos, word.size(), word) == 0 && (pos == 0 || !ident(pos - 1)) && !ident(pos + word.size());
}

// Is `name` declared in `code`: a type (struct, class, enum, using), or a function whose name
// follows its return type ("bool causal_mask(", "Matrix<S> f(", "const T& forward(", a
// constructor at the start of a line), not a call ("return f(", "x = f(", "g(f(").
bool declares(const std::string& code, const std::string& name) {
  for (std::size_t pos = code.find(name); pos != std::string::npos; pos = code.find(name, pos + 1)) {
    if (!word_at(code, pos, name)) continue;
    std::size_t before = pos;
    while (before > 0 && (code[before - 1] == ' ' || code[before - 1] == '\t')) --before;
    const std::size_t word_end = before;
    std::size_t word_begin = word_end;
    while (word_begin > 0 && (std::isalnum(static_cast<unsigned char>(code[word_begin - 1])) || code[word_begin - 1] == '_'))
      --word_begin;
    const std::string previous = code.substr(word_begin, word_end - word_begin);
    for (const char* kind : {"struct", "class", "using", "enum"})
      if (previous == kind) return true;
    std::size_t after = pos + name.size();
    while (after < code.size() && code[after] == ' ') ++after;
    if (after >= code.size() || code[after] != '(') continue;
    const char p = before > 0 ? code[before - 1] : '\n';
    if (previous == "return" || previous == "throw" || previous == "else" || previous == "new") continue;
    if (std::isalnum(static_cast<unsigned char>(p)) || p == '_' || p == '>' || p == '&' || p == '*' || p == '\n')
      return true;
  }
  return false;
}

// The backticked spans and the double-quoted strings of a line, in order; quoted strings inside
// backticks are part of the span.
struct Token {
  bool quoted;  // "..." outside backticks
  std::string text;
};
std::vector<Token> tokens_of(const std::string& line) {
  std::vector<Token> out;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char open = line[i];
    if (open != '`' && open != '"') continue;
    const std::size_t close = line.find(open, i + 1);
    if (close == std::string::npos) break;
    out.push_back({open == '"', line.substr(i + 1, close - i - 1)});
    i = close;
  }
  return out;
}

// The program a command runs, if its first word names one of examples/.
std::string command_program(const std::string& span) {
  const std::string first = span.substr(0, span.find(' '));
  return "examples/" + first + ".cpp";
}

Guide read_guide(const std::string& markdown, const Tree& tree) {
  Guide g;
  auto problem = [&](const std::string& what) {
    g.problems.push_back((g.sections.empty() ? std::string("(before the first section)")
                                             : "section " + std::to_string(g.sections.back().number)) +
                         ": " + what);
  };
  std::istringstream in(markdown);
  bool in_code_block = false;
  for (std::string line; std::getline(in, line);) {
    if (starts_with(line, "```")) in_code_block = !in_code_block;
    if (in_code_block) continue;
    if (starts_with(line, "## ")) {
      Section s;
      s.heading = line.substr(3);
      s.number = std::atoi(s.heading.c_str());
      g.sections.push_back(s);
      continue;
    }
    const std::vector<Token> tokens = tokens_of(line);
    // Every path, on any line, must exist.
    for (const Token& t : tokens)
      if (!t.quoted && is_project_path(t.text) && !tree.exists(t.text)) problem("`" + t.text + "` does not exist");
    if (!starts_with(line, "- ") || g.sections.empty()) continue;

    Section& s = g.sections.back();
    std::string file;  // the path the names after it belong to
    for (const Token& t : tokens) {
      if (t.quoted) {  // a test case name
        if (!starts_with(file, "tests/")) {
          problem("\"" + t.text + "\" follows no test file");
          continue;
        }
        s.refs.insert(file + "::\"" + t.text + "\"");
        if (tree.exists(file) && tree.text(file).find("TEST_CASE(\"" + t.text + "\"") == std::string::npos)
          problem("`" + file + "` has no TEST_CASE \"" + t.text + "\"");
      } else if (is_project_path(t.text)) {
        file = t.text;
        s.refs.insert(file);
        if (!tree.exists(file)) continue;  // named above
        if (starts_with(file, "tests/")) {
          const std::string name = file_name(file);
          if (file.find('/', 6) != std::string::npos || !ends_with(name, ".cpp") ||
              !(starts_with(name, "test_") || starts_with(name, "program_test_")))
            problem("`" + file + "` is not a test file of minigpt_tests (tests/test_*.cpp, tests/program_test_*.cpp)");
        } else if (starts_with(file, "examples/")) {
          if (file.find('/', 9) != std::string::npos || !ends_with(file, ".cpp") ||
              tree.text(file).find("int main(") == std::string::npos)
            problem("`" + file + "` is not a program (examples/NAME.cpp with a main)");
        }
      } else if (t.text.find(' ') != std::string::npos && is_identifier(t.text.substr(0, t.text.find(' ')))) {
        // A command: its program must be an example, its flags in the program's source.
        const std::string program = command_program(t.text);
        s.refs.insert("$ " + t.text);
        file.clear();
        if (!tree.exists(program)) {
          problem("`" + t.text + "` runs `" + t.text.substr(0, t.text.find(' ')) + "`, which is not a program of examples/");
          continue;
        }
        const std::string source = tree.text(program);
        std::istringstream words(t.text);
        for (std::string w; words >> w;)
          if (starts_with(w, "--") && source.find("\"" + w) == std::string::npos && source.find("," + w) == std::string::npos)
            problem("`" + t.text + "`: " + program + " has no flag " + w);
      } else if (is_identifier(t.text)) {
        if (!(starts_with(file, "include/") && ends_with(file, ".hpp"))) {
          problem("`" + t.text + "` follows no header");
          continue;
        }
        s.refs.insert(file + "::" + t.text);
        if (!tree.exists(file)) continue;
        const std::string code = without_comments(tree.text(file));
        const auto colons = t.text.rfind("::");
        const bool found = colons == std::string::npos
                               ? declares(code, t.text)
                               : declares(code, t.text.substr(0, t.text.find("::"))) &&
                                     declares(code, t.text.substr(colons + 2));
        if (!found) problem("`" + file + "` declares no `" + t.text + "`");
      }
      // anything else in backticks (a number, a formula, a file a program writes) is prose
    }
  }
  return g;
}

// The differences between two guides: sections, order of the chapter's terms, references.
std::vector<std::string> compare_guides(const Guide& ko, const Guide& en) {
  std::vector<std::string> out;
  const auto& terms = chapter_terms();
  for (const auto* g : {&ko, &en}) {
    const std::string which = g == &ko ? "ko" : "en";
    if (g->sections.size() != terms.size())
      out.push_back(which + ": " + std::to_string(g->sections.size()) + " sections, the chapter has " +
                    std::to_string(terms.size()) + " concepts");
    for (std::size_t i = 0; i < std::min(g->sections.size(), terms.size()); ++i) {
      const Section& s = g->sections[i];
      if (s.number != static_cast<int>(i + 1)) out.push_back(which + ": section \"" + s.heading + "\" should be number " + std::to_string(i + 1));
      if (s.heading.find(terms[i]) == std::string::npos)
        out.push_back(which + ": section " + std::to_string(i + 1) + " \"" + s.heading + "\" does not name " + terms[i]);
      if (s.refs.empty()) out.push_back(which + ": section " + std::to_string(i + 1) + " references nothing");
    }
  }
  for (std::size_t i = 0; i < std::min(ko.sections.size(), en.sections.size()); ++i) {
    for (const auto* pair : {&ko, &en}) {
      const Section& a = pair->sections[i];
      const Section& b = (pair == &ko ? en : ko).sections[i];
      for (const std::string& r : a.refs)
        if (!b.refs.count(r))
          out.push_back("section " + std::to_string(i + 1) + ": " + r + " is in the " + (pair == &ko ? "ko" : "en") +
                        " guide only");
    }
  }
  return out;
}

std::string listed(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

}  // namespace chapter_guide_test

TEST_CASE("The chapter guides reference files, functions, tests and programs that exist, the same in both",
          "[docs][chapter_guide]") {
  using namespace chapter_guide_test;
  const Tree tree;
  const Guide ko = read_guide(tree.text("docs/chapter-guide.ko.md"), tree);
  const Guide en = read_guide(tree.text("docs/chapter-guide.en.md"), tree);
  INFO("ko:\n" << listed(ko.problems) << "en:\n" << listed(en.problems));
  CHECK(ko.problems.empty());
  CHECK(en.problems.empty());
  const auto differences = compare_guides(ko, en);
  INFO(listed(differences));
  CHECK(differences.empty());

  // Every concept points at code, at a test and at a program or a picture: count the kinds.
  std::size_t headers = 0, functions = 0, tests = 0, programs = 0;
  for (const Section& s : ko.sections)
    for (const std::string& r : s.refs) {
      if (starts_with(r, "include/")) (r.find("::") == std::string::npos ? headers : functions) += 1;
      if (starts_with(r, "tests/") && r.find("::") != std::string::npos) ++tests;
      if (starts_with(r, "examples/") || starts_with(r, "$ ")) ++programs;
    }
  CHECK(headers >= chapter_terms().size());
  CHECK(functions >= chapter_terms().size());
  CHECK(tests >= chapter_terms().size());
  CHECK(programs >= 10);

  // The README links the guides first in its list of docs.
  const std::string readme = tree.text("README.md");
  const auto docs_line = readme.find("The docs: ");
  REQUIRE(docs_line != std::string::npos);
  const auto first_link = readme.find("](docs/", docs_line);
  CHECK(readme.compare(first_link, 27, "](docs/chapter-guide.ko.md)") == 0);
  CHECK(readme.find("](docs/chapter-guide.en.md)", docs_line) != std::string::npos);
}

TEST_CASE("The chapter-guide checker finds each kind of broken reference", "[docs][chapter_guide]") {
  using namespace chapter_guide_test;
  Tree tree;
  tree.on_disk = false;
  tree.files["include/minigpt/a.hpp"] =
      "// a_mentioned_only_here(x)\n"
      "inline bool a_function(int x) { return a_called(x); }\n"
      "template <typename S>\nMatrix<S> a_template(const S& x) {}\n"
      "struct AType {\n  const Tensor<S>& member(int) const;\n};\n";
  tree.files["tests/test_a.cpp"] = "TEST_CASE(\"a works\", \"[a]\") {}\n";
  tree.files["tests/common.hpp"] = "";
  tree.files["examples/run.cpp"] = "int main(int argc, char** argv) { app.add_option(\"--out\", out); }\n";
  tree.files["examples/helper.hpp"] = "";

  const std::string good =
      "## 1. 벡터\n"
      "- `include/minigpt/a.hpp` `a_function`, `a_template`, `AType`, `AType::member`\n"
      "- `tests/test_a.cpp` \"a works\"\n"
      "- `examples/run.cpp`: `run --out x.svg`\n";
  const Guide ok = read_guide(good, tree);
  INFO(listed(ok.problems));
  CHECK(ok.problems.empty());
  REQUIRE(ok.sections.size() == 1);
  CHECK(ok.sections[0].refs.size() == 9);

  const std::string bad =
      "## 1. 벡터\n"
      "Prose naming `docs/missing.md`.\n"
      "- `include/minigpt/missing.hpp` `anything`\n"                 // 1 file missing
      "- `include/minigpt/a.hpp` `a_called`, `a_mentioned_only_here`, `AType::other`\n"  // 3 not declared
      "- `tests/test_a.cpp` \"a fails\"\n"                           // 1 no such test case
      "- `tests/common.hpp`\n"                                       // 1 not a test file
      "- `examples/helper.hpp`\n"                                    // 1 not a program
      "- `tokenize encode hello`\n"                                  // 1 not a program of the tree
      "- `run --out x.svg --layer 3`\n"                              // 1 unknown flag
      "- \"orphan test\" `orphan_function`\n";                        // 2 names with no file before them
  const Guide broken = read_guide(bad, tree);
  INFO(listed(broken.problems));
  CHECK(broken.problems.size() == 12);  // the prose path, and the eleven marked above

  // Both guides must reference the same things, section by section, in the chapter's order.
  Guide ko = ok, en = ok;
  en.sections[0].refs.erase("include/minigpt/a.hpp::AType");
  en.sections[0].refs.insert("include/minigpt/a.hpp::AType::member2");
  const auto differences = compare_guides(ko, en);
  INFO(listed(differences));
  const auto mentions = [&](const std::string& what) {
    return std::any_of(differences.begin(), differences.end(),
                       [&](const std::string& d) { return d.find(what) != std::string::npos; });
  };
  CHECK(mentions("a.hpp::AType is in the ko guide only"));
  CHECK(mentions("a.hpp::AType::member2 is in the en guide only"));
  CHECK(mentions("ko: 1 sections, the chapter has 18 concepts"));
}

TEST_CASE("The docs' links and pictures exist, the pictures are well-formed SVG, and no placeholder is left",
          "[docs][chapter_guide]") {
  namespace fs = std::filesystem;
  const fs::path root(MINIGPT_SOURCE_DIR);
  std::vector<fs::path> docs = {root / "README.md"};
  for (const auto& e : fs::directory_iterator(root / "docs"))
    if (e.path().extension() == ".md") docs.push_back(e.path());
  REQUIRE(docs.size() >= 8);
  const std::regex link(R"((!?)\[[^\]]*\]\(([^)\s#]+)(#[^)]*)?\))");
  const std::regex placeholder(R"((^|#\s*)[A-Z]+(_[A-Z]+)+\s*$)");
  std::size_t pictures = 0;
  for (const fs::path& doc : docs) {
    const std::string text = test::file_bytes(doc.string());
    INFO(doc.filename().string());
    CHECK(text.find("@@") == std::string::npos);
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      INFO(line);
      CHECK_FALSE(std::regex_search(line, placeholder));
      for (std::sregex_iterator m(line.begin(), line.end(), link), end; m != end; ++m) {
        const std::string target = (*m)[2];
        if (target.find("://") != std::string::npos || target.rfind("mailto:", 0) == 0) continue;
        const fs::path file = doc.parent_path() / target;
        INFO("link " << target);
        CHECK(fs::exists(file));
        if ((*m)[1] == "!" && file.extension() == ".svg" && fs::exists(file)) {
          ++pictures;
          const test::Xml svg(test::file_bytes(file.string()));
          INFO(svg.error());
          REQUIRE(svg.ok());
          CHECK(svg.number("count(/svg:svg)") == 1);
        }
      }
    }
  }
  CHECK(pictures >= 6);  // the companion's attention maps, embeddings, scaling law, curves and loss
}
