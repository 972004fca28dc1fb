// minigpt/labeler.hpp — grading answers, and the labeler that ranks them.
//
// Chapter idea: the reward model (보상 모델) learns from people who rank several answers to
// the same prompt. Our people are a rule that knows the world's answers (fact_world.hpp). It
// grades each answer into one of four classes, ranks the classes, and turns one prompt's K
// answers into all the pairs it prefers — InstructGPT's comparisons (K = 4 to 9 answers per
// prompt, every pair of one prompt kept together in one batch). The reward model never sees
// this rule, only the pairs. The same grades give the scores of the hallucination experiments:
// a grader that rewards only right answers, and one with a confidence target t.
//
// Grading a completion against the right answer, in this order:
//   off-format  not " <body>\n": no leading space, no final newline (the answer never ended),
//               a newline inside, an empty body, white space at either end of the body, a body
//               of more than max_body_bytes (32) bytes or more than max_body_words (3) words,
//               or invalid UTF-8 — a line too long to be an answer is chatter: every answer
//               of the world is one word, the refusal three ("has a birthday in June." is a
//               sentence going on, not an answer)
//   idk         the body is exactly "I don't know."
//   correct     the body is exactly the answer (case and punctuation count: "Busan." is wrong)
//   wrong       any other body: a confident answer that is not the right one
//
// The labeler's preference: correct > idk > wrong > off-format. Identical completions are
// merged first (a person shown the same text twice ranks it once). Two different completions
// of the same class are a tie: the labeler states no preference between them and makes no pair
// (two different wrong guesses are equally wrong). So K distinct answers in classes of sizes
// n_1..n_4 give Σ_{i<j} n_i n_j pairs, at most K(K−1)/2, none when all share one class. Pairs
// come best-first: for each chosen answer in rank order (ties in their sampling order), each
// worse answer in rank order.
//
// Graders (Kalai et al. 2025, "Why Language Models Hallucinate", section 4):
//   binary             correct 1, anything else 0 (guessing never costs anything)
//   confidence target  correct 1, idk 0, wrong −t/(1−t), off-format −t/(1−t) (an answer that
//                      is not "I don't know" is scored as one); answering with confidence p
//                      has expected score p − (1−p)·t/(1−t), which is >= 0 exactly when p >= t
//   gold               the labeler's ranking as a number: correct 1, idk 0, wrong −1,
//                      off-format −2 (the "gold" score PPO reports beside the learned reward)
//
// Shapes in: strings.  Shapes out: grades, ranks, pairs, scores.
//
// Example: answer "Busan", K = 4 completions
//   " Busan\n" (correct), " Jeju\n" (wrong), " I don't know.\n" (idk), " Busan" (off-format)
//   ranked: " Busan\n" 0, " I don't know.\n" 1, " Jeju\n" 2, " Busan" 3  -> 6 pairs:
//   (Busan > IDK), (Busan > Jeju), (Busan > off), (IDK > Jeju), (IDK > off), (Jeju > off)
#pragma once

#include "error.hpp"
#include "fact_world.hpp"
#include "jsonl.hpp"
#include "tensor.hpp"
#include "unicode.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <string_view>
#include <vector>

namespace minigpt {

enum class Grade { correct = 0, idk = 1, wrong = 2, off_format = 3 };

// One row per grade: its name, its rank (0 best) and the scores it earns.
struct GradeInfo {
  Grade grade;
  const char* name;
  Index rank;
  double binary;  // binary grader
  double gold;    // the labeler's ranking as a number
};
inline const std::array<GradeInfo, 4>& grades() {
  static const std::array<GradeInfo, 4> table{{
      {Grade::correct, "correct", 0, 1.0, 1.0},
      {Grade::idk, "I don't know", 1, 0.0, 0.0},
      {Grade::wrong, "wrong", 2, 0.0, -1.0},
      {Grade::off_format, "off-format", 3, 0.0, -2.0},
  }};
  return table;
}
inline const GradeInfo& grade_info(Grade g) { return grades()[static_cast<std::size_t>(g)]; }
inline const char* grade_name(Grade g) { return grade_info(g).name; }

namespace detail {
// White space within a line, as grading sees it.
inline bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }
}  // namespace detail

// The words of a body: runs of characters that are not white space ("I don't know." has 3).
inline std::size_t word_count(std::string_view body) {
  std::size_t words = 0;
  for (std::size_t i = 0; i < body.size(); ++i)
    words += !detail::is_blank(body[i]) && (i == 0 || detail::is_blank(body[i - 1]));
  return words;
}

struct GradeOptions {
  std::size_t max_body_bytes = 32;  // a longer one-line body is chatter, not an answer
  // So is one of more words than the refusal (0: no limit); every other answer is one word.
  std::size_t max_body_words = word_count(idk_answer());
};

// The body of a completion in the chat format (" <body>\n"), or nothing when it is off-format.
inline bool completion_body(std::string_view completion, std::string_view& body, const GradeOptions& options = {}) {
  if (completion.size() < 3 || completion.front() != ' ' || completion.back() != '\n') return false;
  body = completion.substr(1, completion.size() - 2);
  if (body.find('\n') != std::string_view::npos || body.size() > options.max_body_bytes) return false;
  if (detail::is_blank(body.front()) || detail::is_blank(body.back())) return false;
  if (options.max_body_words > 0 && word_count(body) > options.max_body_words) return false;
  return is_valid_utf8(body);
}

// The grade of a completion against the right answer (no space, no newline: "Busan").
inline Grade grade_completion(std::string_view completion, std::string_view answer, const GradeOptions& options = {}) {
  std::string_view body;
  if (!completion_body(completion, body, options)) return Grade::off_format;
  if (body == idk_answer()) return Grade::idk;
  if (body == answer) return Grade::correct;
  return Grade::wrong;
}

// ---- graders ----

inline double binary_score(Grade g) { return grade_info(g).binary; }

// Confidence target t in [0, 1): correct 1, idk 0, wrong and off-format −t/(1−t).
inline double confidence_target_score(Grade g, double t) {
  if (!(t >= 0.0 && t < 1.0)) throw ArgumentError("confidence target t must be in [0, 1), got " + std::to_string(t));
  switch (g) {
    case Grade::correct: return 1.0;
    case Grade::idk: return 0.0;
    default: return -t / (1.0 - t);
  }
}

inline double gold_score(Grade g) { return grade_info(g).gold; }

// ---- the labeler ----

struct RankedAnswer {
  std::string completion;
  Grade grade = Grade::off_format;
  Index rank = 0;    // the grade's rank: 0 correct, 1 idk, 2 wrong, 3 off-format (ties share it)
  Index copies = 1;  // how many of the K samples were this exact text
};

// One prompt's comparisons: the distinct answers best-first, and every pair the labeler prefers.
struct LabeledPrompt {
  std::string prompt;
  std::vector<RankedAnswer> ranked;
  std::vector<PreferencePair> pairs;
};

// Ranks K completions of one prompt (K >= 1) whose right answer is `answer`.
inline LabeledPrompt label_answers(const std::string& prompt, const std::string& answer,
                                   const std::vector<std::string>& completions, const GradeOptions& options = {}) {
  if (completions.empty()) throw ArgumentError("label_answers: no completions to rank for prompt " + escape_bytes(prompt));
  LabeledPrompt out;
  out.prompt = prompt;
  for (const std::string& c : completions) {  // merge identical texts, keep first-seen order
    auto same = std::find_if(out.ranked.begin(), out.ranked.end(), [&](const RankedAnswer& r) { return r.completion == c; });
    if (same != out.ranked.end()) {
      ++same->copies;
      continue;
    }
    const Grade g = grade_completion(c, answer, options);
    out.ranked.push_back({c, g, grade_info(g).rank, 1});
  }
  std::stable_sort(out.ranked.begin(), out.ranked.end(),
                   [](const RankedAnswer& a, const RankedAnswer& b) { return a.rank < b.rank; });
  for (std::size_t i = 0; i < out.ranked.size(); ++i)
    for (std::size_t j = i + 1; j < out.ranked.size(); ++j)
      if (out.ranked[i].rank < out.ranked[j].rank)
        out.pairs.push_back({prompt, out.ranked[i].completion, out.ranked[j].completion});
  return out;
}

}  // namespace minigpt
