// minigpt/fact_world.hpp — a small world of facts for the recipe, made from a seed.
//
// Chapter idea: ChatGPT's recipe (비밀 레시피) starts from a model pre-trained (사전 학습) on
// text, then teaches it to answer (SFT, 지도 미세 조정), to prefer good answers (보상 모델, RLHF
// with PPO) and, ideally, to say "I don't know" instead of making something up (환각,
// hallucination). To watch each step at work we need questions whose right answers we know and
// whose presence in the pre-training text we control. This header invents them:
//
//   people      fictional, with Korean-style or other names ("Mina Park", "Omar Novak"), each
//               with a home city, a job and a birth month (the attribute table below);
//   arithmetic  a + b and a − b (a ≥ b) for one-digit a, b;
//   pretraining plain sentences about them, one per mention, clauses in a random order and
//               wording ("Mina Park was born in May, works as a baker and lives in Busan."),
//               or, for half the mentions of half the people SFT demonstrates, an interview line
//               ("Question: Where does Mina Park live? Answer: Busan. Question: ... Thank
//               you."); arithmetic lines ("3 + 4 = 7."), and paragraphs of ordinary prose (the
//               caller passes it; the recipe uses the bundled tinyshakespeare), all shuffled;
//   questions   in the chat format: prompt "Q: Where does Mina Park live?\nA:", completion
//               " Busan\n"; the one honest refusal is the completion " I don't know.\n".
//
// How often the text names a person is the experiment's knob (the hallucination paper, Kalai
// et al. 2025, "Why Language Models Hallucinate"): a fact seen many times can be learned, one
// seen once hardly, one never seen cannot. Mention counts follow a long tail, in four groups:
//
//   group  mentions   people  in SFT  for RM/PPO  held out   mentions drawn
//   never  0             120      60          30         30   -
//   once   1              60       0          30         30   -
//   2-3    2 or 3         60       0          30         30   uniformly
//   4+     32 .. 256     130      70          30         30   P(m) ∝ 1/m (log-uniform)
//
// 370 people, 1,110 person questions (three each: city, job, birth month), plus 155 arithmetic
// questions (78 SFT, 38 RM/PPO, 39 held out). The 4+ group starts at 32 mentions (often_min):
// the recipe's small model learns a fact from one to two hundred readings of its sentence, and
// the pre-training run reads the text about 5 times, so people mentioned 4 to 31 times would
// be half-known and blur the group that stands for "known" (lower often_min for a tail without
// that gap). Measured once (seed 1234; 4 layers, 4 heads, C = 128, T = 128, B = 16, 3,600
// steps of AdamW at peak 2e-3: 7.4 M characters, 4.8 passes), greedy completion of each
// held-out question's cloze ("Sora Yoo lives in" -> " Gwangju"), the share right:
//
//   4+ 96.7%   2-3 16.7%   once 14.4%   never 7.8% (guessing among 12 values: 8.3%)
//   arithmetic 38.5% (its weakest part; arithmetic_repeats is the lever)
//
// Splits are by person: all three questions about a person go to the same split, so held-out
// questions ask about people the fine-tuning never showed. SFT demonstrations answer people the
// pre-training text names often, and say " I don't know.\n" for people it never names (the
// demonstrator's rule: a person with 0 mentions is unknowable; any other gets the right
// answer). The once and 2-3 groups are never demonstrated: the fine-tuned model must decide for
// itself whether it knows them, which is what the hallucination experiments measure. Every
// group has held-out people, and every group has RM/PPO people, so a policy trained against a
// grader meets never-seen people in training and is tested on other never-seen people.
//
// Three choices let a model this small learn, from 130 demonstrated people (60 strangers, 70
// well known), when it knows (all are WorldOptions, on by default; measured with the recipe's
// sizes in docs/recipe.md):
//
//   strangers   people the text never mentions have family names it never shows ("Hyejin
//               Ryu"; stranger_family in the name table). With everyone's names drawn from one
//               table, the SFT model said "I don't know" to about half its well-known people
//               and guessed about a third of the strangers: a 4-layer character model could not
//               tell a new pair of familiar names from a known one. With new family names it
//               can — "how can a model know that it does not know?": the name is new to it. The
//               once and 2-3 groups keep familiar-looking names; their facts are the ones it
//               must guess (the paper's singletons).
//   interviews  question-and-answer text about some people in pre-training (Allen-Zhu and Li
//               2023, "Physics of Language Models: Part 3.1", their mixed training): facts read
//               only in sentences are stored, but questions about other people reach them
//               poorly; text that also asks about some people teaches the model to store facts
//               where a question finds them. Interviews are for SFT people only, so held-out
//               people are known from sentences alone. The interview's labels ("Question:",
//               "Answer:") are not the chat format's, and an answer is never the end of its
//               line, so the base model does not learn to stop after a short answer.
//   half        only half the SFT people are interviewed (interviewed_share); the other half
//               are known from sentences alone, as held-out people are, so SFT demonstrates
//               answering about people of both kinds. Fine-tuned from one base model, the
//               SFT model answered 53% of the held-out well-known people right when SFT
//               demonstrated 40 interviewed people, 64% with 30 people known from sentences
//               alone instead, 79% with all 70.
//
// The singleton rate (Kalai et al., Definition "singleton rate"; Good–Turing's estimate of the
// probability mass of unseen facts): with N the number of person mentions in the pre-training
// text and n1 the number of people mentioned exactly once,
//
//     singleton_rate  = n1 / N                                   (the paper's sr)
//     singleton_share = n1 / #{people mentioned at least once}   ("20% of birthdays appear once")
//
// The default world (seed 1234): N = 14,793 mentions (1,790 of them interview lines), n1 =
// 60, singleton rate 0.41%, singleton share 60 / 250 = 24.0%. The pre-training text is
// 1,548,785 characters: 1,314,673 of person lines (sentences of about 78 characters,
// interviews of about 170), 84,000 of arithmetic, 150,112 of prose; 47,474 more of prose for
// validation. A 4-layer, 128-wide character-level GPT reading 128-character windows runs
// about 32,000 characters a second on 2 idle cores: 3,600 steps read 7.4 M characters, 4.8
// passes over the text, so a person with m mentions is read about 4.8·m times (152 times at
// the 4+ group's minimum, 5 times for a singleton).
//
// Shapes in: options, prose text.  Shapes out: strings (texts, prompts, answers), counts.
//
// Example:
//   FactWorld w = FactWorld::generate(WorldOptions{}, prose);
//   w.people()[2]            // {"Sora Yoo", {"Gwangju", "teacher", "November"}, mentions 66, 4+, rl}
//   w.questions()[6].prompt  // "Q: Where does Sora Yoo live?\nA:"   answer "Gwangju"
//   w.sft_examples()[0]      // {"Q: Where does Taeyang Lim live?\nA:", " Gwangju\n"}
//   w.write("out/data");     // pretrain.txt, pretrain_val.txt, sft.jsonl, eval.jsonl, world.json
#pragma once

#include "detail/io.hpp"
#include "error.hpp"
#include "jsonl.hpp"
#include "random.hpp"
#include "tensor.hpp"
#include "unicode.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace minigpt {

// ---- the chat format ----

// "Q: <question>\nA:"  — the prompt of every question.
inline std::string chat_prompt(const std::string& question) { return "Q: " + question + "\nA:"; }
// " <answer>\n"  — the completion that gives an answer.
inline std::string chat_completion(const std::string& answer) { return " " + answer + "\n"; }
// The one honest refusal.
inline const std::string& idk_answer() {
  static const std::string s = "I don't know.";
  return s;
}
inline std::string idk_completion() { return chat_completion(idk_answer()); }

// ---- the world's tables ----

// What a person has: one row per attribute. "{n}" is the person's name, "{v}" the value.
struct AttributeInfo {
  const char* name;                     // "city"
  const char* question;                 // "Where does {n} live?"
  const char* cloze;                    // "{n} lives in": a pre-training-style way to ask
  std::array<const char*, 2> clauses;   // ways a sentence says it: "lives in {v}", ...
  std::array<const char*, 12> values;   // what it can be (uniformly drawn)
};

inline const std::array<AttributeInfo, 3>& fact_attributes() {
  static const std::array<AttributeInfo, 3> table{{
      {"city", "Where does {n} live?", "{n} lives in", {{"lives in {v}", "has a house in {v}"}},
       {{"Seoul", "Busan", "Incheon", "Daegu", "Daejeon", "Gwangju", "Ulsan", "Suwon", "Jeonju", "Jeju", "Pohang",
         "Sokcho"}}},
      {"job", "What is {n}'s job?", "{n} works as a", {{"works as a {v}", "is a {v} by trade"}},
       {{"baker", "teacher", "nurse", "farmer", "pilot", "doctor", "painter", "lawyer", "chef", "dentist", "writer",
         "singer"}}},
      {"birth month", "When was {n} born?", "{n} was born in", {{"was born in {v}", "has a birthday in {v}"}},
       {{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
         "November", "December"}}},
  }};
  return table;
}

// Names: given name + family name, Korean-style or from elsewhere. Strangers' family names are
// kept for the people the text never mentions (WorldOptions::unfamiliar_strangers), so the
// text never shows them.
struct NameTable {
  std::vector<const char*> given, family, stranger_family;
};
inline const std::array<NameTable, 2>& fact_names() {
  static const std::array<NameTable, 2> table{{
      {{"Mina", "Jisoo", "Minho", "Seojin", "Jiwoo", "Yuna", "Dohyun", "Haeun", "Sora", "Taeyang", "Eunji", "Junho",
        "Hana", "Somin", "Woojin", "Yerin", "Siwoo", "Nari", "Bora", "Hyejin", "Jaemin", "Sungmin", "Dahye",
        "Kyungsoo", "Chaewon", "Minseo", "Jihun", "Seoyeon", "Hyunwoo", "Yejin"},
       {"Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim", "Han", "Oh", "Seo", "Shin", "Kwon",
        "Hwang", "Ahn", "Song", "Yoo", "Hong"},
       {"Baek", "Moon", "Nam", "Yang", "Jeon", "Ryu"}},
      {{"Lucas", "Emma", "Noah", "Olivia", "Omar", "Sofia", "Ivan", "Chloe", "Mateo", "Aisha", "Leo", "Nina", "Kenji",
        "Priya", "Elena", "Tomas", "Amara", "Felix", "Ines", "Rafael"},
       {"Garcia", "Novak", "Silva", "Mori", "Khan", "Berg", "Rossi", "Dubois", "Okafor", "Petrov", "Nakamura", "Costa",
        "Fischer", "Larsen", "Moreau"},
       {"Ivanov", "Haddad", "Quinn", "Weber"}},
  }};
  return table;
}

// How often the pre-training text names a person, in the four groups of the experiments.
enum class MentionGroup { never = 0, once = 1, few = 2, often = 3 };
struct MentionGroupInfo {
  MentionGroup group;
  const char* name;  // as reports print it
  Index min, max;    // mention counts in the group (max -1: no limit)
};
inline const std::array<MentionGroupInfo, 4>& mention_groups() {
  static const std::array<MentionGroupInfo, 4> table{{
      {MentionGroup::never, "never", 0, 0},
      {MentionGroup::once, "once", 1, 1},
      {MentionGroup::few, "2-3", 2, 3},
      {MentionGroup::often, "4+", 4, -1},
  }};
  return table;
}
inline MentionGroup mention_group_of(Index mentions) {
  if (mentions < 0) throw ArgumentError("mention_group_of: mentions must be >= 0, got " + std::to_string(mentions));
  for (const MentionGroupInfo& g : mention_groups())
    if (mentions >= g.min && (g.max < 0 || mentions <= g.max)) return g.group;
  return MentionGroup::often;  // not reached
}
inline const char* mention_group_name(MentionGroup g) { return mention_groups()[static_cast<std::size_t>(g)].name; }

// Where a question is used: SFT demonstrations, RM comparisons and PPO prompts, or held out.
enum class Split { sft = 0, rl = 1, eval = 2 };
inline const char* split_name(Split s) {
  static const std::array<const char*, 3> names{{"sft", "rl", "eval"}};
  return names[static_cast<std::size_t>(s)];
}

// ---- options ----

// People per mention group and how many of them go to SFT and to the held-out set (the rest
// are for the reward model and PPO).
struct GroupPlan {
  Index people = 0, sft = 0, eval = 0;
};

struct WorldOptions {
  std::uint64_t seed = 1234;
  // never, once, 2-3, 4+ (the table in the header's comment).
  std::array<GroupPlan, 4> groups{{{120, 60, 30}, {60, 0, 30}, {60, 0, 30}, {130, 70, 30}}};
  // The 4+ group's mentions: P(m) ∝ 1/m on often_min..often_max. A 4-layer, 128-wide
  // character model needs one to two hundred readings of a sentence to learn its facts
  // (about 5 passes over the text make 32 mentions about 150 readings).
  Index often_min = 32, often_max = 256;
  // The share of each group's SFT people who are interviewed (the others, like held-out
  // people, are known from sentences alone), the share of an interviewed person's mentions
  // written as an interview line (a question and its answer for each fact), and whether
  // never-mentioned people carry family names the text never shows (the header's comment says
  // why all three).
  double interviewed_share = 0.5, interview_share = 0.5;
  bool unfamiliar_strangers = true;
  // Arithmetic: operands 0..arithmetic_max; each fact written `arithmetic_repeats` times;
  // shares of the facts for SFT and held out (the rest for RM/PPO).
  Index arithmetic_max = 9, arithmetic_repeats = 48;
  double arithmetic_sft = 0.5, arithmetic_eval = 0.25;
  // Prose: the first prose_chars (whole paragraphs) of the caller's text go into the
  // pre-training text, the next validation_chars into validation_text() (never trained on;
  // paragraphs holding a character the pre-training text lacks are left out of it).
  Index prose_chars = 150000, validation_chars = 50000;

  void validate() const {
    auto bad = [](const std::string& what) { throw ArgumentError("world options: " + what); };
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const GroupPlan& p = groups[g];
      const std::string name = mention_groups()[g].name;
      if (p.people < 0 || p.sft < 0 || p.eval < 0) bad("group " + name + ": counts must be >= 0");
      if (p.sft + p.eval > p.people) bad("group " + name + ": sft + eval exceed its people");
    }
    Index people = 0, names = 0;
    for (const GroupPlan& p : groups) people += p.people;
    for (const NameTable& t : fact_names()) names += static_cast<Index>(t.given.size() * t.family.size());
    if (people > names / 2)
      bad(std::to_string(people) + " people: the name table makes " + std::to_string(names) +
          " names, enough for at most " + std::to_string(names / 2) + " people");
    Index stranger_names = 0;
    for (const NameTable& t : fact_names()) stranger_names += static_cast<Index>(t.given.size() * t.stranger_family.size());
    if (unfamiliar_strangers && groups[0].people > stranger_names / 2)
      bad(std::to_string(groups[0].people) + " never-mentioned people: strangers' family names make " +
          std::to_string(stranger_names) + " names, enough for at most " + std::to_string(stranger_names / 2));
    if (!(interview_share >= 0 && interview_share <= 1)) bad("interview_share must be in 0..1");
    if (!(interviewed_share >= 0 && interviewed_share <= 1)) bad("interviewed_share must be in 0..1");
    if (often_min < 4 || often_max < often_min) bad("need 4 <= often_min <= often_max");
    if (often_max > 100000) bad("often_max must be <= 100000");
    if (arithmetic_max < 0 || arithmetic_max > 99) bad("arithmetic_max must be in 0..99");
    if (arithmetic_repeats < 1 || arithmetic_repeats > 1000) bad("arithmetic_repeats must be in 1..1000");
    if (!(arithmetic_sft >= 0 && arithmetic_eval >= 0 && arithmetic_sft + arithmetic_eval <= 1))
      bad("arithmetic_sft and arithmetic_eval must be >= 0 and add up to at most 1");
    if (prose_chars < 0 || validation_chars < 0) bad("prose_chars and validation_chars must be >= 0");
  }
};

// ---- the world ----

struct Person {
  std::string name;                 // "Mina Park"
  std::vector<std::string> values;  // one per attribute, in fact_attributes() order
  Index mentions = 0;               // sentences of the pre-training text that name them
  MentionGroup group = MentionGroup::never;
  Split split = Split::rl;
  bool interviewed = false;         // interview lines are among its mentions (SFT people only)
};

struct Question {
  std::string prompt;       // chat_prompt(...)
  std::string answer;       // the right answer, no space, no newline: "Busan", "7"
  std::string cloze;        // the same question as pre-training text asks it: "Mina Park lives in"
  Index person = -1;        // index into people(); -1 for arithmetic
  Index attribute = -1;     // index into fact_attributes(); -1 for arithmetic
  Split split = Split::rl;

  bool is_arithmetic() const { return person < 0; }
};

// The figures of one world.
struct WorldStats {
  std::array<Index, 4> people_per_group{};     // never, once, 2-3, 4+
  std::array<Index, 4> questions_per_group{};  // person questions
  Index arithmetic_questions = 0;
  Index mentions = 0;        // N: lines of the pre-training text that name a person
  Index interviews = 0;      // of which interview lines
  Index singletons = 0;      // n1: people mentioned exactly once
  double singleton_rate = 0;   // n1 / N (Kalai et al.'s sr)
  double singleton_share = 0;  // n1 / people mentioned at least once
  Index person_chars = 0, arithmetic_chars = 0, prose_chars = 0, total_chars = 0, validation_chars = 0;
};

class FactWorld {
 public:
  // The world of `options`, with `prose` (any text; tinyshakespeare in the recipe) mixed into
  // the pre-training text. Names that occur in the prose are never used. Throws ArgumentError
  // for bad options, or when the pre-training text would lack a character of the chat format
  // (a character-level tokenizer made from it could not read the questions).
  static FactWorld generate(const WorldOptions& options, std::string_view prose) {
    options.validate();
    FactWorld w;
    w.options_ = options;
    Rng rng(options.seed);
    w.make_people(rng, prose);
    w.make_questions(rng);
    w.make_texts(rng, prose);
    return w;
  }

  const WorldOptions& options() const { return options_; }
  const std::vector<Person>& people() const { return people_; }
  const std::vector<Question>& questions() const { return questions_; }
  const std::string& pretrain_text() const { return pretrain_; }
  const std::string& validation_text() const { return validation_; }

  // The question whose prompt this is (the labeler needs its answer), or null.
  const Question* find_question(const std::string& prompt) const {
    const auto it = by_prompt_.find(prompt);
    return it == by_prompt_.end() ? nullptr : &questions_[static_cast<std::size_t>(it->second)];
  }

  // The questions of one split, in questions() order.
  std::vector<Question> questions_in(Split s) const {
    std::vector<Question> out;
    for (const Question& q : questions_)
      if (q.split == s) out.push_back(q);
    return out;
  }

  // The demonstrator's completion: " I don't know.\n" about a person the pre-training text
  // never names, the right answer otherwise.
  std::string demonstration(const Question& q) const {
    if (!q.is_arithmetic() && people_[static_cast<std::size_t>(q.person)].mentions == 0) return idk_completion();
    return chat_completion(q.answer);
  }

  // SFT rows: the demonstrations of the sft split.
  std::vector<SFTExample> sft_examples() const {
    std::vector<SFTExample> out;
    for (const Question& q : questions_)
      if (q.split == Split::sft) out.push_back({q.prompt, demonstration(q)});
    return out;
  }

  // eval.jsonl rows for the questions of a split (held-out by default).
  std::vector<EvalExample> eval_examples(Split s = Split::eval) const {
    std::vector<EvalExample> out;
    for (const Question& q : questions_) {
      if (q.split != s) continue;
      EvalExample e{q.prompt, q.answer, "", -1};
      if (!q.is_arithmetic()) {
        const Person& p = people_[static_cast<std::size_t>(q.person)];
        e.person = p.name;
        e.mentions = p.mentions;
      }
      out.push_back(e);
    }
    return out;
  }

  WorldStats stats() const {
    WorldStats s;
    Index mentioned = 0;
    for (const Person& p : people_) {
      ++s.people_per_group[static_cast<std::size_t>(p.group)];
      s.mentions += p.mentions;
      if (p.mentions == 1) ++s.singletons;
      if (p.mentions >= 1) ++mentioned;
    }
    for (const Question& q : questions_) {
      if (q.is_arithmetic())
        ++s.arithmetic_questions;
      else
        ++s.questions_per_group[static_cast<std::size_t>(people_[static_cast<std::size_t>(q.person)].group)];
    }
    s.singleton_rate = s.mentions > 0 ? static_cast<double>(s.singletons) / static_cast<double>(s.mentions) : 0.0;
    s.singleton_share = mentioned > 0 ? static_cast<double>(s.singletons) / static_cast<double>(mentioned) : 0.0;
    s.interviews = interviews_;
    s.person_chars = person_chars_;
    s.arithmetic_chars = arithmetic_chars_;
    s.prose_chars = prose_chars_;
    s.total_chars = static_cast<Index>(pretrain_.size());
    s.validation_chars = static_cast<Index>(validation_.size());
    return s;
  }

  // The whole world as JSON: options, figures, every person and question (world.json).
  nlohmann::ordered_json to_json() const {
    const WorldStats s = stats();
    nlohmann::ordered_json j;
    j["seed"] = options_.seed;
    nlohmann::ordered_json groups = nlohmann::ordered_json::array();
    for (std::size_t g = 0; g < 4; ++g)
      groups.push_back({{"group", mention_groups()[g].name},
                        {"people", s.people_per_group[g]},
                        {"questions", s.questions_per_group[g]},
                        {"sft", options_.groups[g].sft},
                        {"eval", options_.groups[g].eval}});
    j["groups"] = groups;
    j["often_mentions"] = {options_.often_min, options_.often_max};
    j["arithmetic_questions"] = s.arithmetic_questions;
    j["mentions"] = s.mentions;
    j["interviews"] = s.interviews;
    j["singletons"] = s.singletons;
    j["singleton_rate"] = s.singleton_rate;
    j["singleton_share"] = s.singleton_share;
    j["characters"] = {{"person_sentences", s.person_chars},
                       {"arithmetic", s.arithmetic_chars},
                       {"prose", s.prose_chars},
                       {"pretrain", s.total_chars},
                       {"validation", s.validation_chars}};
    nlohmann::ordered_json people = nlohmann::ordered_json::array();
    for (const Person& p : people_) {
      nlohmann::ordered_json pj{{"name", p.name}};
      for (std::size_t a = 0; a < fact_attributes().size(); ++a) pj[fact_attributes()[a].name] = p.values[a];
      pj["mentions"] = p.mentions;
      pj["group"] = mention_group_name(p.group);
      pj["split"] = split_name(p.split);
      pj["interviewed"] = p.interviewed;
      people.push_back(pj);
    }
    j["people"] = people;
    return j;
  }

  // Writes dir/pretrain.txt, dir/pretrain_val.txt, dir/sft.jsonl, dir/eval.jsonl and
  // dir/world.json, each atomically, all complete before any is renamed into place.
  // (preferences.jsonl and preferences_heldout.jsonl come later, from the labeler.)
  void write(const std::string& dir) const {
    detail::make_directories(dir);
    const std::string sft = sft_jsonl_text(sft_examples(), dir + "/sft.jsonl");
    const std::string eval = eval_jsonl_text(eval_examples(), dir + "/eval.jsonl");
    const std::string world = to_json().dump(1) + "\n";
    detail::write_files_atomic({{dir + "/pretrain.txt", {{pretrain_.data(), pretrain_.size()}}},
                                {dir + "/pretrain_val.txt", {{validation_.data(), validation_.size()}}},
                                {dir + "/sft.jsonl", {{sft.data(), sft.size()}}},
                                {dir + "/eval.jsonl", {{eval.data(), eval.size()}}},
                                {dir + "/world.json", {{world.data(), world.size()}}}});
  }

  // "{n}" and "{v}" in a template replaced by a name and a value.
  static std::string fill(std::string_view pattern, const std::string& name, const std::string& value = "") {
    std::string out;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
      if (pattern[i] == '{' && i + 2 < pattern.size() && pattern[i + 2] == '}' &&
          (pattern[i + 1] == 'n' || pattern[i + 1] == 'v')) {
        out += pattern[i + 1] == 'n' ? name : value;
        i += 2;
      } else {
        out += pattern[i];
      }
    }
    return out;
  }

 private:
  // A mention count for the 4+ group: P(m) ∝ 1/m on [often_min, often_max], drawn by
  // inverting the cumulative sum (exact in IEEE arithmetic, so the same on every compiler).
  Index draw_often(Rng& rng) const {
    double total = 0;
    for (Index m = options_.often_min; m <= options_.often_max; ++m) total += 1.0 / static_cast<double>(m);
    const double u = rng.uniform() * total;
    double cum = 0;
    for (Index m = options_.often_min; m <= options_.often_max; ++m) {
      cum += 1.0 / static_cast<double>(m);
      if (u < cum) return m;
    }
    return options_.often_max;
  }

  void make_people(Rng& rng, std::string_view prose) {
    Index total = 0;
    for (const GroupPlan& g : options_.groups) total += g.people;
    std::set<std::string> used;
    Index attempts = 0;
    const auto& attrs = fact_attributes();
    for (std::size_t g = 0; g < 4; ++g) {
      std::vector<Person> group;
      for (Index i = 0; i < options_.groups[g].people; ++i) {
        Person p;
        for (;;) {  // a fresh name: not used, not in the prose, not inside another name
          if (++attempts > 100000)
            throw ArgumentError("world options: " + std::to_string(total) + " people need more distinct names than the "
                                "name table gives");
          const NameTable& t = fact_names()[rng.uniform() < 0.75 ? 0 : 1];
          const std::vector<const char*>& families =
              g == 0 && options_.unfamiliar_strangers ? t.stranger_family : t.family;
          // Two draws, one statement each: inside one expression their order would be the
          // compiler's choice, and the same seed would give another world under clang.
          const char* family = families[rng.below(families.size())];
          const char* given = t.given[rng.below(t.given.size())];
          p.name = std::string(given) + " " + family;
          if (used.count(p.name) != 0 || prose.find(p.name) != std::string_view::npos) continue;
          bool nested = false;
          for (const std::string& other : used)
            if (other.find(p.name) != std::string::npos || p.name.find(other) != std::string::npos) nested = true;
          if (!nested) break;
        }
        used.insert(p.name);
        for (const AttributeInfo& a : attrs) p.values.push_back(a.values[rng.below(a.values.size())]);
        p.group = static_cast<MentionGroup>(g);
        switch (p.group) {
          case MentionGroup::never: p.mentions = 0; break;
          case MentionGroup::once: p.mentions = 1; break;
          case MentionGroup::few: p.mentions = 2 + static_cast<Index>(rng.below(2)); break;
          case MentionGroup::often: p.mentions = draw_often(rng); break;
        }
        group.push_back(std::move(p));
      }
      // Splits: a random sft share, then a random eval share, the rest rl.
      std::vector<std::size_t> order(group.size());
      for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
      shuffle(order, rng);
      for (std::size_t k = 0; k < order.size(); ++k) {
        const Index r = static_cast<Index>(k);
        group[order[k]].split = r < options_.groups[g].sft                            ? Split::sft
                                : r < options_.groups[g].sft + options_.groups[g].eval ? Split::eval
                                                                                       : Split::rl;
        group[order[k]].interviewed =
            r < static_cast<Index>(static_cast<double>(options_.groups[g].sft) * options_.interviewed_share + 0.5);
      }
      for (Person& p : group) people_.push_back(std::move(p));
    }
    shuffle(people_, rng);  // groups interleaved in people() order
  }

  void make_questions(Rng& rng) {
    const auto& attrs = fact_attributes();
    for (std::size_t i = 0; i < people_.size(); ++i) {
      const Person& p = people_[i];
      for (std::size_t a = 0; a < attrs.size(); ++a) {
        Question q;
        q.prompt = chat_prompt(fill(attrs[a].question, p.name));
        q.answer = p.values[a];
        q.cloze = fill(attrs[a].cloze, p.name);
        q.person = static_cast<Index>(i);
        q.attribute = static_cast<Index>(a);
        q.split = p.split;
        questions_.push_back(std::move(q));
      }
    }
    // Arithmetic: a + b, and a − b for a >= b; a random share to each split.
    std::vector<Question> arith;
    for (Index a = 0; a <= options_.arithmetic_max; ++a)
      for (Index b = 0; b <= options_.arithmetic_max; ++b) {
        for (int minus = 0; minus < 2; ++minus) {
          if (minus == 1 && a < b) continue;
          const std::string expr = std::to_string(a) + (minus ? " - " : " + ") + std::to_string(b);
          Question q;
          q.prompt = chat_prompt("What is " + expr + "?");
          q.answer = std::to_string(minus ? a - b : a + b);
          q.cloze = expr + " =";
          arith.push_back(std::move(q));
        }
      }
    shuffle(arith, rng);
    const auto n = static_cast<double>(arith.size());
    const auto n_sft = static_cast<std::size_t>(n * options_.arithmetic_sft + 0.5);
    const auto n_eval = static_cast<std::size_t>(n * options_.arithmetic_eval + 0.5);
    for (std::size_t k = 0; k < arith.size(); ++k)
      arith[k].split = k < n_sft ? Split::sft : k < n_sft + n_eval ? Split::eval : Split::rl;
    std::stable_sort(arith.begin(), arith.end(), [](const Question& x, const Question& y) {
      return static_cast<int>(x.split) < static_cast<int>(y.split);
    });
    for (Question& q : arith) questions_.push_back(std::move(q));
    for (std::size_t i = 0; i < questions_.size(); ++i) by_prompt_[questions_[i].prompt] = static_cast<Index>(i);
    if (by_prompt_.size() != questions_.size()) throw ArgumentError("FactWorld: two questions share a prompt");
  }

  // One mention: the person's clauses in a random order and wording.
  // The attributes' indices in a random order: how a sentence or an interview orders the facts.
  static std::vector<std::size_t> shuffled_attributes(Rng& rng) {
    std::vector<std::size_t> order(fact_attributes().size());
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
    shuffle(order, rng);
    return order;
  }

  std::string mention_sentence(const Person& p, Rng& rng) const {
    const auto& attrs = fact_attributes();
    const std::vector<std::size_t> order = shuffled_attributes(rng);
    std::string s = p.name;
    for (std::size_t k = 0; k < order.size(); ++k) {
      const AttributeInfo& a = attrs[order[k]];
      s += k == 0 ? " " : k + 1 == order.size() ? " and " : ", ";
      s += fill(a.clauses[rng.below(a.clauses.size())], p.name, p.values[order[k]]);
    }
    return s + ".";
  }

  // "Question: What is Mina Park's job? Answer: baker. Question: Where does Mina Park live?
  // Answer: Busan. Question: When was Mina Park born? Answer: May. Thank you." (questions in a
  // random order; an answer is always followed by more of the line, never by its end, so that
  // a base model does not learn to stop after a short answer: the chat format stays SFT's)
  std::string interview_line(const Person& p, Rng& rng) const {
    const auto& attrs = fact_attributes();
    std::string s;
    for (std::size_t a : shuffled_attributes(rng))
      s += (s.empty() ? "" : " ") + std::string("Question: ") + fill(attrs[a].question, p.name) + " Answer: " +
           p.values[a] + ".";
    return s + " Thank you.";
  }

  void make_texts(Rng& rng, std::string_view prose) {
    // Pieces of the pre-training text, each ending in '\n'; prose paragraphs end in "\n\n".
    std::vector<std::string> pieces;
    for (const Person& p : people_)
      for (Index m = 0; m < p.mentions; ++m) {
        const bool interview = p.interviewed && rng.uniform() < options_.interview_share;
        pieces.push_back((interview ? interview_line(p, rng) : mention_sentence(p, rng)) + "\n");
        person_chars_ += static_cast<Index>(pieces.back().size());
        interviews_ += interview;
      }
    for (const Question& q : questions_)
      if (q.is_arithmetic())
        for (Index r = 0; r < options_.arithmetic_repeats; ++r) {
          pieces.push_back(q.cloze + " " + q.answer + ".\n");
          arithmetic_chars_ += static_cast<Index>(pieces.back().size());
        }
    // Prose: whole paragraphs (separated by blank lines), in order.
    std::size_t pos = 0;
    auto next_paragraph = [&](std::string& out) {
      while (pos < prose.size() && prose[pos] == '\n') ++pos;
      if (pos >= prose.size()) return false;
      std::size_t end = prose.find("\n\n", pos);
      if (end == std::string_view::npos) end = prose.size();
      out = std::string(prose.substr(pos, end - pos));
      while (!out.empty() && out.back() == '\n') out.pop_back();
      pos = end;
      return true;
    };
    std::string para;
    while (prose_chars_ < options_.prose_chars && next_paragraph(para)) {
      pieces.push_back("\n" + para + "\n\n");
      prose_chars_ += static_cast<Index>(pieces.back().size());
    }
    std::vector<std::string> validation;
    for (Index taken = 0; taken < options_.validation_chars && next_paragraph(para);) {
      validation.push_back(para + "\n\n");
      taken += static_cast<Index>(validation.back().size());
    }
    shuffle(pieces, rng);
    for (const std::string& piece : pieces) pretrain_ += piece;
    std::array<bool, 256> seen{};
    for (unsigned char c : pretrain_) seen[c] = true;
    // Validation paragraphs with a byte the pre-training text lacks are left out, so that a
    // character-level tokenizer made from the pre-training text reads everything written here.
    for (const std::string& v : validation)
      if (std::all_of(v.begin(), v.end(), [&](char c) { return seen[static_cast<unsigned char>(c)]; }))
        validation_ += v;
    // The chat format must be readable by such a tokenizer too.
    std::string chat = idk_completion();
    for (const Question& q : questions_) chat += q.prompt + chat_completion(q.answer);
    std::string missing;
    for (unsigned char c : chat)
      if (!seen[c]) {
        seen[c] = true;
        missing += escape_bytes(std::string(1, static_cast<char>(c))) + " ";
      }
    if (!missing.empty())
      throw ArgumentError("FactWorld: the pre-training text lacks characters of the chat format (" + missing +
                          "); pass prose that has them, e.g. tinyshakespeare");
  }

  WorldOptions options_;
  std::vector<Person> people_;
  std::vector<Question> questions_;
  std::map<std::string, Index> by_prompt_;  // prompt -> index into questions_
  std::string pretrain_, validation_;
  Index person_chars_ = 0, arithmetic_chars_ = 0, prose_chars_ = 0, interviews_ = 0;
};

}  // namespace minigpt
