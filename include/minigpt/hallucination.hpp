// minigpt/hallucination.hpp — asking a model the fact world's questions and keeping, for each
// answer, its grade and its confidence: the measurements behind the hallucination (환각)
// experiments of examples/hallucination.cpp.
//
// Chapter idea: to see whether a model "knows that it does not know", ask it questions whose
// answers we know, about people the pre-training text (사전 학습 데이터) mentions never, once,
// 2–3 or 4+ times (fact_world.hpp), and keep three things per answer: is it right (labeler.hpp
// grades it), how probable the model found it (confidence.hpp), and how often the model gives
// it again when sampled (self-consistency). calibration.hpp turns those into ECE, reliability
// diagrams, risk–coverage curves and rates per group.
//
// Two ways to ask:
//   chat   the fine-tuned model's format: prompt "Q: Where does Mina Park live?\nA:", the
//          answer up to its newline, " Busan\n", graded as it stands;
//   cloze  the pre-trained model's own way, continuing a sentence: "Mina Park lives in", and
//          the answer is the continuation's first word, " Busan" out of " Busan, works as a
//          ..." (every value of the world is one word; the sentence goes on with "," " and" or
//          "."), graded as the chat completion " Busan\n" and scored by P(" Busan" | cloze); a
//          continuation that does not start with a space and end its word is off-format. A
//          base model never saw "Q:/A:", so its knowledge and its probabilities are read
//          through the cloze.
// The cloze of a question is recovered from its prompt and its person (fact_attributes():
// "Where does {n} live?" <-> "{n} lives in"; "What is 3 + 4?" <-> "3 + 4 =").
//
// Shapes in: eval rows (prompt, answer, person, mentions) (n).  Shapes out: n asked questions.
//
// Example:
//   cloze_of({"Q: Where does Mina Park live?\nA:", "Busan", "Mina Park", 1})  -> "Mina Park lives in"
//   cloze_word(" Busan, works as") -> " Busan";  cloze_word("Busan") -> "" (no leading space)
//   grade_cloze(" Busan", "Busan") -> correct;  grade_cloze("", "Busan") -> off-format
#pragma once

#include "confidence.hpp"
#include "detail/io.hpp"
#include "error.hpp"
#include "fact_world.hpp"
#include "gpt.hpp"
#include "jsonl.hpp"
#include "labeler.hpp"
#include "random.hpp"
#include "tokenizer.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace minigpt {

enum class AskStyle { chat, cloze };

// The sentence start that asks the question of an eval row the pre-training way.
inline std::string cloze_of(const EvalExample& e) {
  if (e.person.empty()) {  // arithmetic: "Q: What is 3 + 4?\nA:" -> "3 + 4 ="
    const std::string head = "Q: What is ", tail = "?\nA:";
    if (e.prompt.size() > head.size() + tail.size() && e.prompt.compare(0, head.size(), head) == 0 &&
        e.prompt.compare(e.prompt.size() - tail.size(), tail.size(), tail) == 0)
      return e.prompt.substr(head.size(), e.prompt.size() - head.size() - tail.size()) + " =";
  } else {
    for (const AttributeInfo& a : fact_attributes())
      if (e.prompt == chat_prompt(FactWorld::fill(a.question, e.person))) return FactWorld::fill(a.cloze, e.person);
  }
  throw ArgumentError("cloze_of: not a question of the fact world: " + escape_bytes(e.prompt));
}

// The first word of a cloze continuation, with its leading space: " Busan" out of
// " Busan, works as a"; "" when the continuation does not start with a space or its word does
// not end (at a space, ',', '.' or a newline) within it.
inline std::string cloze_word(const std::string& continuation) {
  if (continuation.size() < 2 || continuation[0] != ' ') return "";
  const std::size_t end = continuation.find_first_of(" ,.\n", 1);
  if (end == std::string::npos || end == 1) return "";
  return continuation.substr(0, end);
}

// A cloze answer (its first word, " Busan") graded as the chat completion " Busan\n"; an empty
// word is off-format.
inline Grade grade_cloze(const std::string& word, const std::string& answer) {
  if (word.empty()) return Grade::off_format;
  return grade_completion(word + "\n", answer);
}

// One question asked: what was asked, what came back, its grade and confidence.
struct AskedQuestion {
  EvalExample row;
  std::string asked;       // the prompt or the cloze given to the model
  std::string completion;  // the greedy answer, cut after its stop text
  Grade grade = Grade::off_format;
  double confidence = 0;   // P(completion | asked), from one forward pass
  double agreement = -1;   // share of sampled answers equal to it (-1: not sampled)
};

struct AskOptions {
  AskStyle style = AskStyle::chat;
  Index samples = 0;         // self-consistency samples per question (0: none)
  Index max_new_tokens = 24;
};

// Asks every row, greedily; on_done(i), when given, hears each finished question (progress).
template <typename S>
std::vector<AskedQuestion> ask_questions(GPT<S>& model, const Tokenizer& tok, const std::vector<EvalExample>& rows,
                                         const AskOptions& opt, Rng& rng,
                                         const std::function<void(Index)>& on_done = {}) {
  AnswerOptions a;
  a.max_new_tokens = opt.max_new_tokens;
  a.stop = opt.style == AskStyle::chat ? "\n" : ".";
  std::vector<AskedQuestion> out;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    AskedQuestion q;
    q.row = rows[i];
    q.asked = opt.style == AskStyle::chat ? rows[i].prompt : cloze_of(rows[i]);
    const ModelAnswer m = answer(model, tok, q.asked, a);
    q.completion = m.completion;
    q.confidence = m.confidence.prob;
    if (opt.style == AskStyle::chat) {
      q.grade = grade_completion(q.completion, q.row.answer);
    } else {  // the first word is the answer, scored alone
      const std::string word = cloze_word(m.completion);
      q.grade = grade_cloze(word, q.row.answer);
      if (!word.empty()) {
        q.completion = word;
        q.confidence = completion_confidence(model, model.activations(), tok.encode(q.asked), tok.encode(word)).prob;
      }
    }
    if (opt.samples > 0) {
      std::vector<std::string> samples = sample_answers(model, tok, q.asked, opt.samples, rng, a);
      if (opt.style == AskStyle::cloze)
        for (std::string& x : samples) x = cloze_word(x);
      q.agreement = self_consistency(samples, q.completion).agreement;
    }
    out.push_back(q);
    if (on_done) on_done(static_cast<Index>(i));
  }
  return out;
}

// Columns of asked questions, for calibration.hpp.
inline std::vector<Grade> grades_of(const std::vector<AskedQuestion>& qs) {
  std::vector<Grade> g;
  for (const AskedQuestion& q : qs) g.push_back(q.grade);
  return g;
}
inline std::vector<Index> mentions_of(const std::vector<AskedQuestion>& qs) {
  std::vector<Index> m;
  for (const AskedQuestion& q : qs) m.push_back(q.row.mentions);
  return m;
}
inline std::vector<double> confidences_of(const std::vector<AskedQuestion>& qs, bool agreement = false) {
  std::vector<double> c;
  for (const AskedQuestion& q : qs) c.push_back(agreement ? q.agreement : q.confidence);
  return c;
}

// The answers the model committed to (not "I don't know"): their confidences (or agreement
// shares) and whether each was right. What a reliability diagram is drawn from.
struct CommittedAnswers {
  std::vector<double> confidence;
  std::vector<bool> right;
};
inline CommittedAnswers committed_answers(const std::vector<AskedQuestion>& qs, bool agreement = false) {
  CommittedAnswers c;
  for (const AskedQuestion& q : qs) {
    if (q.grade == Grade::idk) continue;
    c.confidence.push_back(agreement ? q.agreement : q.confidence);
    c.right.push_back(q.grade == Grade::correct);
  }
  return c;
}

// Every person's mention count from a world.json (FactWorld::write): its "people" list, each
// with a whole "mentions" >= 0. A FileError names the file and the field otherwise.
inline std::vector<Index> read_world_mentions(const std::string& path) {
  const nlohmann::json world = detail::read_json_file(path);
  if (!world.is_object() || !world.contains("people") || !world["people"].is_array())
    throw FileError(path, "people", "is missing or not a list");
  std::vector<Index> mentions;
  for (std::size_t i = 0; i < world["people"].size(); ++i) {
    const nlohmann::json& p = world["people"][i];
    const std::string field = "people[" + std::to_string(i) + "].mentions";
    if (!p.is_object() || !p.contains("mentions") || !p["mentions"].is_number_integer() || p["mentions"].get<Index>() < 0)
      throw FileError(path, field, "is missing or not a whole number >= 0");
    mentions.push_back(p["mentions"].get<Index>());
  }
  return mentions;
}

// Asked questions as JSONL, one answer a line ({"model", "asked", "answer", "mentions",
// "completion", "grade", "confidence", "agreement"}), written atomically.
inline void write_answers_jsonl(const std::string& path,
                                const std::vector<std::pair<std::string, const std::vector<AskedQuestion>*>>& sets) {
  std::string text;
  for (const auto& [model, qs] : sets)
    for (const AskedQuestion& q : *qs)
      text += nlohmann::json{{"model", model},           {"asked", q.asked},
                             {"answer", q.row.answer},   {"mentions", q.row.mentions},
                             {"completion", q.completion}, {"grade", grade_name(q.grade)},
                             {"confidence", q.confidence}, {"agreement", q.agreement}}
                  .dump() +
              "\n";
  detail::make_directories(detail::parent_directory(path));
  detail::write_file_atomic(path, text);
}

}  // namespace minigpt
