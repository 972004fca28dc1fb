// The recipe's small world (fact_world.hpp): the people, groups and splits the options ask
// for, mention counts that match the pre-training text when counted independently, sentences
// that state the right facts, and files that read back.
#include <catch2/catch.hpp>
#include "common.hpp"
#include <minigpt/char_tokenizer.hpp>
#include <minigpt/fact_world.hpp>
#include <minigpt/jsonl.hpp>

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace minigpt;

namespace fact_world_test {

const std::string& prose() {
  static const std::string text = detail::read_file(test::data("tinyshakespeare.txt"));
  return text;
}

const FactWorld& world() {
  static const FactWorld w = FactWorld::generate(WorldOptions{}, prose());
  return w;
}

// How many times `needle` occurs in `text` as a whole name (not inside a longer word).
Index count_name(const std::string& text, const std::string& needle) {
  Index n = 0;
  auto letter = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; };
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    const bool start = at == 0 || !letter(text[at - 1]);
    const bool end = at + needle.size() >= text.size() || !letter(text[at + needle.size()]);
    n += start && end;
  }
  return n;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// How many lines of `text` name `name` (a mention is one line: a sentence or an interview).
Index count_lines_naming(const std::string& text, const std::string& name) {
  Index n = 0;
  for (const std::string& line : lines_of(text)) n += count_name(line, name) > 0;
  return n;
}

}  // namespace fact_world_test

namespace fw = fact_world_test;

TEST_CASE("The world has the documented groups, mention counts and splits", "[world]") {
  const FactWorld& w = fw::world();
  const WorldOptions o;
  const WorldStats s = w.stats();
  std::array<std::array<Index, 3>, 4> per_split{};  // group x split
  std::set<std::string> names;
  for (const Person& p : w.people()) {
    const MentionGroupInfo& g = mention_groups()[static_cast<std::size_t>(p.group)];
    CHECK(p.mentions >= g.min);
    if (g.max >= 0) CHECK(p.mentions <= g.max);
    if (p.group == MentionGroup::often) {
      CHECK(p.mentions >= o.often_min);
      CHECK(p.mentions <= o.often_max);
    }
    CHECK(mention_group_of(p.mentions) == p.group);
    ++per_split[static_cast<std::size_t>(p.group)][static_cast<std::size_t>(p.split)];
    names.insert(p.name);
    REQUIRE(p.values.size() == fact_attributes().size());
  }
  CHECK(names.size() == w.people().size());
  for (std::size_t g = 0; g < 4; ++g) {
    INFO("group " << mention_groups()[g].name);
    CHECK(s.people_per_group[g] == o.groups[g].people);
    CHECK(per_split[g][static_cast<std::size_t>(Split::sft)] == o.groups[g].sft);
    CHECK(per_split[g][static_cast<std::size_t>(Split::eval)] == o.groups[g].eval);
    CHECK(s.questions_per_group[g] == 3 * o.groups[g].people);
  }
  // The documented figures of the default world (seed 1234).
  CHECK(s.people_per_group == std::array<Index, 4>{120, 60, 60, 130});
  CHECK(s.arithmetic_questions == 155);  // 100 sums and 55 differences of one-digit numbers
  // The singleton rate, computed again from the people.
  Index n1 = 0, total = 0, mentioned = 0;  // singletons, N, people mentioned at least once
  for (const Person& p : w.people()) {
    n1 += p.mentions == 1;
    total += p.mentions;
    mentioned += p.mentions > 0;
  }
  CHECK(s.singletons == n1);
  CHECK(n1 == 60);
  CHECK(s.mentions == total);
  CHECK(s.singleton_rate == Approx(static_cast<double>(n1) / static_cast<double>(total)));
  CHECK(mentioned == 250);
  CHECK(s.singleton_share == Approx(static_cast<double>(n1) / static_cast<double>(mentioned)));
  INFO("mentions " << s.mentions << ", singleton rate " << s.singleton_rate << ", text " << s.total_chars);
  CHECK(s.total_chars == static_cast<Index>(w.pretrain_text().size()));
  CHECK(s.mentions == 14793);  // the header's figures: the same on every compiler (random.hpp)
  CHECK(s.total_chars == 1548785);
  // The header's example.
  CHECK(w.people()[2].name == "Sora Yoo");
  CHECK(w.people()[2].mentions == 66);
  CHECK(w.people()[2].split == Split::rl);
  CHECK(w.questions()[6].prompt == "Q: Where does Sora Yoo live?\nA:");
  CHECK(w.questions()[6].answer == "Gwangju");
  CHECK(w.sft_examples()[0] == SFTExample{"Q: Where does Taeyang Lim live?\nA:", " Gwangju\n"});
  CHECK(s.interviews == 1790);
  CHECK(s.person_chars + s.arithmetic_chars + s.prose_chars == s.total_chars);
}

TEST_CASE("Mention counts equal the names counted in the pre-training text, each sentence states the facts",
          "[world]") {
  const FactWorld& w = fw::world();
  const std::string& text = w.pretrain_text();
  for (const Person& p : w.people()) {
    INFO(p.name);
    CHECK(fw::count_lines_naming(text, p.name) == p.mentions);
    CHECK(fw::count_name(w.validation_text(), p.name) == 0);
    CHECK(fw::prose().find(p.name) == std::string::npos);
  }
  // Strangers (never mentioned) have family names the text never shows; everyone else's
  // family name is in it.
  const WorldOptions o;
  REQUIRE(o.unfamiliar_strangers);
  for (const Person& p : w.people()) {
    const std::string family = p.name.substr(p.name.find(' ') + 1);
    INFO(p.name);
    CHECK((fw::count_name(text, family) == 0) == (p.mentions == 0));
  }
  // Interviewed people: interviewed_share of each group's SFT people, no one else.
  for (std::size_t g = 0; g < 4; ++g) {
    Index interviewed = 0;
    for (const Person& p : w.people()) {
      if (p.group != static_cast<MentionGroup>(g)) continue;
      interviewed += p.interviewed;
      if (p.interviewed) CHECK(p.split == Split::sft);
    }
    CHECK(interviewed == static_cast<Index>(static_cast<double>(o.groups[g].sft) * o.interviewed_share + 0.5));
  }
  // Interview lines: only for interviewed people, each fact asked and answered right.
  std::map<std::string, const Person*> by_name;
  for (const Person& p : w.people()) by_name[p.name] = &p;
  std::set<std::string> heard;  // the people the lines interview
  Index interviews = 0;
  for (const std::string& line : fw::lines_of(text)) {
    if (line.rfind("Question: ", 0) != 0) continue;
    ++interviews;
    INFO(line);
    const Person* who = nullptr;
    for (const Person& p : w.people())
      if (fw::count_name(line, p.name) > 0) who = &p;
    REQUIRE(who != nullptr);
    CHECK(who->interviewed);
    heard.insert(who->name);
    CHECK(line.substr(line.size() - 12) == ". Thank you.");
    CHECK(fw::count_name(line, who->name) == 3);
    for (std::size_t a = 0; a < fact_attributes().size(); ++a)
      CHECK(line.find(FactWorld::fill(fact_attributes()[a].question, who->name) + " Answer: " + who->values[a] + ".") !=
            std::string::npos);
  }
  CHECK(interviews == w.stats().interviews);
  CHECK(interviews > 0);
  for (const Person& p : w.people())  // every interviewed person mentioned often has some
    if (p.interviewed && p.mentions >= 32) CHECK(heard.count(p.name) == 1);
  // Every line that starts with a person's name states all of that person's facts, in one of
  // the attribute's wordings.
  Index sentences = 0;
  for (const std::string& line : fw::lines_of(text)) {
    const auto space = line.find(' ', line.find(' ') + 1);
    if (space == std::string::npos) continue;
    const auto it = by_name.find(line.substr(0, space));
    if (it == by_name.end()) continue;
    ++sentences;
    const Person& p = *it->second;
    INFO(line);
    CHECK(line.back() == '.');
    for (std::size_t a = 0; a < fact_attributes().size(); ++a) {
      bool stated = false;
      for (const char* clause : fact_attributes()[a].clauses) {
        const std::string phrase = FactWorld::fill(clause, p.name, p.values[a]);
        const auto at = line.find(phrase);
        // the value ends there: "lives in Busan" must not be read out of "lives in Busanville"
        if (at != std::string::npos && !std::isalpha(static_cast<unsigned char>(line[at + phrase.size()]))) stated = true;
      }
      CHECK(stated);
    }
  }
  CHECK(sentences + interviews == w.stats().mentions);
  // Arithmetic: each fact written arithmetic_repeats times, and true.
  for (const Question& q : w.questions()) {
    if (!q.is_arithmetic()) continue;
    Index a = 0, b = 0;
    char op = 0;
    std::istringstream in(q.cloze);
    in >> a >> op >> b;
    CHECK(q.answer == std::to_string(op == '+' ? a + b : a - b));
    CHECK(q.prompt == "Q: What is " + std::to_string(a) + " " + op + " " + std::to_string(b) + "?\nA:");
    CHECK(fw::count_name(text, q.cloze + " " + q.answer + ".") >= o.arithmetic_repeats);
  }
  // The chat format never appears in the pre-training text: the base model has not seen it.
  CHECK(text.find("\nA:") == std::string::npos);
  CHECK(text.find("Q: ") == std::string::npos);
}

TEST_CASE("Questions, SFT demonstrations and held-out rows follow the splits", "[world]") {
  const FactWorld& w = fw::world();
  std::map<Index, std::set<int>> splits_of_person;
  for (const Question& q : w.questions()) {
    if (q.is_arithmetic()) continue;
    const Person& p = w.people()[static_cast<std::size_t>(q.person)];
    splits_of_person[q.person].insert(static_cast<int>(q.split));
    CHECK(q.split == p.split);
    CHECK(q.answer == p.values[static_cast<std::size_t>(q.attribute)]);
    CHECK(q.prompt.rfind("Q: ", 0) == 0);
    CHECK(q.prompt.size() > 5);
    CHECK(q.prompt.substr(q.prompt.size() - 3) == "\nA:");
    CHECK(q.prompt.find(p.name) != std::string::npos);
    CHECK(q.cloze.rfind(p.name, 0) == 0);
  }
  for (const auto& kv : splits_of_person) CHECK(kv.second.size() == 1);  // a person in one split only
  for (const Question& q : w.questions()) {
    const Question* found = w.find_question(q.prompt);
    REQUIRE(found != nullptr);
    CHECK(found == &q);
  }
  CHECK(w.find_question("Q: Who is Nobody?\nA:") == nullptr);

  // SFT: only the sft split; "I don't know." exactly for people never mentioned.
  const std::vector<SFTExample> sft = w.sft_examples();
  std::map<std::string, const Question*> by_prompt;
  for (const Question& q : w.questions()) by_prompt[q.prompt] = &q;
  Index idk = 0, person_rows = 0;
  for (const SFTExample& e : sft) {
    const Question& q = *by_prompt.at(e.prompt);
    CHECK(q.split == Split::sft);
    if (q.is_arithmetic()) {
      CHECK(e.completion == " " + q.answer + "\n");
      continue;
    }
    ++person_rows;
    const Person& p = w.people()[static_cast<std::size_t>(q.person)];
    CHECK(p.group != MentionGroup::once);  // the once and 2-3 groups are never demonstrated
    CHECK(p.group != MentionGroup::few);
    if (p.mentions == 0) {
      CHECK(e.completion == " I don't know.\n");
      ++idk;
    } else {
      CHECK(e.completion == " " + q.answer + "\n");
    }
  }
  const WorldOptions o;  // the SFT people of the never and 4+ groups, three questions each
  CHECK(idk == 3 * o.groups[0].sft);
  CHECK(person_rows == 3 * (o.groups[0].sft + o.groups[3].sft));
  CHECK(person_rows == 3 * (60 + 70));  // the header's table

  // Held-out rows: every group present, mentions equal to the independent count.
  const std::vector<EvalExample> eval = w.eval_examples();
  std::array<Index, 4> per_group{};
  Index arithmetic = 0;
  for (const EvalExample& e : eval) {
    CHECK(by_prompt.at(e.prompt)->split == Split::eval);
    if (e.person.empty()) {
      ++arithmetic;
      CHECK(e.mentions == -1);
      continue;
    }
    CHECK(e.mentions == fw::count_lines_naming(w.pretrain_text(), e.person));
    ++per_group[static_cast<std::size_t>(mention_group_of(e.mentions))];
  }
  CHECK(per_group == std::array<Index, 4>{90, 90, 90, 90});
  CHECK(arithmetic == 39);
}

TEST_CASE("A character tokenizer made from the pre-training text reads every question and answer", "[world]") {
  const FactWorld& w = fw::world();
  const CharTokenizer tok = CharTokenizer::from_text(w.pretrain_text());
  for (const Question& q : w.questions()) {
    CHECK_NOTHROW(tok.encode(q.prompt + chat_completion(q.answer)));
    CHECK(q.prompt.size() + q.answer.size() + 2 <= 64);  // prompt + completion fit a block of 64 characters
  }
  CHECK_NOTHROW(tok.encode(idk_completion()));
  CHECK_NOTHROW(tok.encode(w.validation_text()));
  CHECK(w.validation_text().size() > 40000);
}

TEST_CASE("The same seed gives the same world and its files write and read back", "[world]") {
  WorldOptions o;
  o.groups = {{{6, 2, 2}, {4, 0, 2}, {4, 0, 2}, {8, 3, 2}}};
  o.prose_chars = 70000;  // tinyshakespeare's first capital Q is at byte 65,850
  o.validation_chars = 3000;
  const FactWorld a = FactWorld::generate(o, fw::prose()), b = FactWorld::generate(o, fw::prose());
  CHECK(a.pretrain_text() == b.pretrain_text());
  CHECK(a.to_json() == b.to_json());
  o.seed = 99;
  const FactWorld c = FactWorld::generate(o, fw::prose());
  CHECK(c.pretrain_text() != a.pretrain_text());

  const std::string dir = test::temp_dir("fact_world") + "/data";
  a.write(dir);
  CHECK(test::file_bytes(dir + "/pretrain.txt") == a.pretrain_text());
  CHECK(test::file_bytes(dir + "/pretrain_val.txt") == a.validation_text());
  CHECK(read_sft_jsonl(dir + "/sft.jsonl") == a.sft_examples());
  CHECK(read_eval_jsonl(dir + "/eval.jsonl") == a.eval_examples());
  const nlohmann::json j = test::read_json(dir + "/world.json");
  CHECK(j["people"].size() == 22);
  CHECK(j["singletons"] == 4);
  CHECK(j["people"][0]["city"] == a.people()[0].values[0]);
}

TEST_CASE("World options and prose are checked", "[world][bad_input]") {
  WorldOptions o;
  o.groups[0].sft = 100;  // more than the group's 90 people
  CHECK_THROWS_AS(FactWorld::generate(o, fw::prose()), ArgumentError);
  o = WorldOptions{};
  o.often_min = 3;
  CHECK_THROWS_AS(FactWorld::generate(o, fw::prose()), ArgumentError);
  o = WorldOptions{};
  o.groups[3].people = 5000;  // more names than the table can make
  CHECK_THROWS_AS(FactWorld::generate(o, fw::prose()), ArgumentError);
  // Prose without '?', 'Q' or the apostrophe: a character tokenizer could not read the questions.
  o = WorldOptions{};
  o.groups = {{{2, 0, 1}, {2, 0, 1}, {2, 0, 1}, {2, 0, 1}}};
  try {
    FactWorld::generate(o, "plain words only\n\nand more of them\n");
    FAIL("no error");
  } catch (const ArgumentError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("lacks characters of the chat format"));
  }
  CHECK_THROWS_AS(mention_group_of(-1), ArgumentError);
}
