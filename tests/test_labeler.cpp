// Grading and the labeler (labeler.hpp) on hand-made answers: the four classes, the ranking,
// every pair the rule prefers and none it does not, and the graders of the hallucination
// experiments against the paper's threshold rule.
#include <catch2/catch.hpp>
#include <minigpt/labeler.hpp>

#include <set>
#include <string>
#include <utility>
#include <vector>

using namespace minigpt;

TEST_CASE("Grading a completion: correct, I don't know, wrong, off-format", "[labeler]") {
  struct Case {
    const char* completion;
    Grade grade;
  };
  const std::vector<Case> cases{
      {" Busan\n", Grade::correct},
      {" I don't know.\n", Grade::idk},
      {" Jeju\n", Grade::wrong},
      {" Busan.\n", Grade::wrong},       // punctuation counts
      {" busan\n", Grade::wrong},        // so does case
      {" Busan is nice\n", Grade::wrong},
      {" I don't know\n", Grade::wrong},  // the refusal is one exact sentence
      {" Busan", Grade::off_format},     // never ended
      {"Busan\n", Grade::off_format},    // no leading space
      {" \n", Grade::off_format},        // empty body
      {"\n", Grade::off_format},
      {"", Grade::off_format},
      {"  Busan\n", Grade::off_format},  // white space inside the frame
      {" Busan \n", Grade::off_format},
      {" Busan\n\n", Grade::off_format},  // a newline inside
      {" Busan\nQ: Where\n", Grade::off_format},
      {" \xFF\n", Grade::off_format},                                           // invalid UTF-8
      {" Gwangjuuuuuuuuuuuuuuuuuuuuuuuuuuu\n", Grade::off_format},                // 33 bytes: chatter
      {" Gwangjuuuuuuuuuuuuuuuuuuuuuuuuuu\n", Grade::wrong},                     // 32 bytes
      {" singer by trade.\n", Grade::wrong},                    // three words, as many as the refusal
      {" has a birthday in June.\n", Grade::off_format},         // five: a sentence going on
      {" I don't know, sorry.\n", Grade::off_format},            // four
      {" Busan  is nice\n", Grade::wrong},                       // words, not spaces, count
  };
  for (const Case& c : cases) {
    INFO("completion '" << escape_bytes(c.completion) << "'");
    CHECK(grade_completion(c.completion, "Busan") == c.grade);
  }
  CHECK(grade_completion(" 7\n", "7") == Grade::correct);
  CHECK(grade_completion(" 17\n", "7") == Grade::wrong);
  CHECK(word_count("I don't know.") == 3);
  CHECK(word_count("a  b") == 2);
  CHECK(word_count("a\tb c") == 3);  // any white space parts words, as it frames the body
  CHECK(GradeOptions{}.max_body_words == 3);  // the refusal's words
  CHECK(word_count("") == 0);
  GradeOptions wide;  // both limits lifted
  wide.max_body_bytes = 64;
  wide.max_body_words = 0;
  CHECK(grade_completion(" Busan Busan Busan Busan Busan Busan\n", "Busan", wide) == Grade::wrong);
  CHECK(grade_completion(" has a birthday in June.\n", "June", wide) == Grade::wrong);
  wide.max_body_words = 5;
  CHECK(grade_completion(" has a birthday in June.\n", "June", wide) == Grade::wrong);
  CHECK(grade_completion(" that has a birthday in June.\n", "June", wide) == Grade::off_format);
  CHECK(std::string(grade_name(Grade::idk)) == "I don't know");
}

TEST_CASE("The labeler ranks correct > I don't know > wrong > off-format and makes every such pair", "[labeler]") {
  // The header's example, given worst-first.
  const LabeledPrompt l = label_answers("Q: Where does Mina Park live?\nA:", "Busan",
                                        {" Busan", " Jeju\n", " I don't know.\n", " Busan\n"});
  REQUIRE(l.ranked.size() == 4);
  CHECK(l.ranked[0].completion == " Busan\n");
  CHECK(l.ranked[1].completion == " I don't know.\n");
  CHECK(l.ranked[2].completion == " Jeju\n");
  CHECK(l.ranked[3].completion == " Busan");
  const std::vector<std::pair<std::string, std::string>> expected{
      {" Busan\n", " I don't know.\n"}, {" Busan\n", " Jeju\n"}, {" Busan\n", " Busan"},
      {" I don't know.\n", " Jeju\n"},  {" I don't know.\n", " Busan"}, {" Jeju\n", " Busan"}};
  REQUIRE(l.pairs.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CHECK(l.pairs[i].prompt == l.prompt);
    CHECK(l.pairs[i].chosen == expected[i].first);
    CHECK(l.pairs[i].rejected == expected[i].second);
  }
}

TEST_CASE("The labeler: ties make no pair, copies are merged, K = 9 gives the sum over class pairs", "[labeler]") {
  // Nine samples: 2 correct (the same text twice), 2 I don't know (identical), 3 distinct
  // wrong, 2 distinct off-format. Distinct: 1, 1, 3, 2 -> pairs 1·1 + 1·3 + 1·2 + 1·3 + 1·2 + 3·2 = 17.
  const std::vector<std::string> k9{" Jeju\n", " Busan\n", " Seoul\n", " I don't know.\n", " Busan\n",
                                    " I don't know.\n", " Ulsan\n", " Busan", "Busan\n"};
  const LabeledPrompt l = label_answers("Q: Where does Mina Park live?\nA:", "Busan", k9);
  REQUIRE(l.ranked.size() == 7);
  CHECK(l.ranked[0].copies == 2);
  CHECK(l.ranked[1].copies == 2);
  CHECK(l.pairs.size() == 17);
  // Independently: every pair of distinct texts in different classes, better one chosen, once.
  std::set<std::pair<std::string, std::string>> want, got;
  for (const std::string& a : k9)
    for (const std::string& b : k9)
      if (a != b && grade_info(grade_completion(a, "Busan")).rank < grade_info(grade_completion(b, "Busan")).rank)
        want.insert({a, b});
  for (const PreferencePair& p : l.pairs) got.insert({p.chosen, p.rejected});
  CHECK(got.size() == l.pairs.size());  // no pair twice
  CHECK(got == want);
  // Wrong answers among themselves are a tie: the labeler prefers none of them.
  for (const PreferencePair& p : l.pairs)
    CHECK(grade_completion(p.chosen, "Busan") != grade_completion(p.rejected, "Busan"));
  // Ties in their sampling order: " Jeju\n" was sampled before " Seoul\n" and " Ulsan\n".
  CHECK(l.ranked[2].completion == " Jeju\n");
  CHECK(l.ranked[3].completion == " Seoul\n");
  CHECK(l.ranked[4].completion == " Ulsan\n");
  // All in one class: nothing to learn from.
  CHECK(label_answers("p", "Busan", {" Jeju\n", " Seoul\n", " Ulsan\n", " Daegu\n"}).pairs.empty());
  CHECK(label_answers("p", "Busan", {" Busan\n", " Busan\n", " Busan\n", " Busan\n"}).pairs.empty());
  CHECK_THROWS_AS(label_answers("p", "Busan", {}), ArgumentError);
}

TEST_CASE("Graders: binary rewards guessing, a confidence target t rewards it only above t", "[labeler]") {
  CHECK(binary_score(Grade::correct) == 1.0);
  CHECK(binary_score(Grade::idk) == 0.0);
  CHECK(binary_score(Grade::wrong) == 0.0);
  CHECK(binary_score(Grade::off_format) == 0.0);
  CHECK(confidence_target_score(Grade::correct, 0.75) == 1.0);
  CHECK(confidence_target_score(Grade::idk, 0.75) == 0.0);
  CHECK(confidence_target_score(Grade::wrong, 0.75) == -3.0);  // the paper's "wrong costs 3 points" at t = 3/4
  CHECK(confidence_target_score(Grade::off_format, 0.75) == -3.0);
  CHECK(confidence_target_score(Grade::wrong, 0.5) == -1.0);
  CHECK(confidence_target_score(Grade::wrong, 0.0) == 0.0);  // t = 0 is the binary grader
  CHECK_THROWS_AS(confidence_target_score(Grade::wrong, 1.0), ArgumentError);
  // Answering with confidence p scores p·1 + (1 − p)·(wrong) against 0 for abstaining:
  // under the binary grader never below 0 (guess!); under t, >= 0 exactly when p >= t.
  for (double t : {0.5, 0.75, 0.9}) {
    auto answer = [&](double p) {
      return p * confidence_target_score(Grade::correct, t) + (1 - p) * confidence_target_score(Grade::wrong, t);
    };
    INFO("t = " << t);
    CHECK(answer(t) == Approx(0).margin(1e-12));
    CHECK(answer(t - 0.01) < 0);
    CHECK(answer(t + 0.01) > 0);
    CHECK(answer(t - 0.01) < confidence_target_score(Grade::idk, t));
  }
  for (double p : {0.0, 0.1, 0.5})
    CHECK(p * binary_score(Grade::correct) + (1 - p) * binary_score(Grade::wrong) >= binary_score(Grade::idk));
  // The gold score orders the classes as the labeler does.
  for (std::size_t i = 0; i + 1 < grades().size(); ++i) {
    CHECK(grades()[i].rank < grades()[i + 1].rank);
    CHECK(gold_score(grades()[i].grade) > gold_score(grades()[i + 1].grade));
  }
}
