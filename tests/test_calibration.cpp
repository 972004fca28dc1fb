// Calibration, abstention and the graders (calibration.hpp), on hand-made answers whose ECE,
// Brier score, risk–coverage points and per-group rates were worked out by hand (the sums are
// written beside each check), the singleton rate against the world's own count, and R-Tuning's labels
// against greedy continuations generated here.
#include <catch2/catch.hpp>
#include "common.hpp"
#include "xml.hpp"
#include <minigpt/calibration.hpp>
#include <minigpt/char_tokenizer.hpp>
#include <minigpt/generation.hpp>
#include <minigpt/grading.hpp>
#include <minigpt/hallucination.hpp>
#include <minigpt/load_tokenizer.hpp>
#include <minigpt/r_tuning.hpp>
#include <minigpt/training.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

using namespace minigpt;
using Catch::Matchers::Contains;

TEST_CASE("ECE, MCE and Brier of the header's worked example", "[calibration]") {
  // c = [0.2 0.4 0.6 0.9], y = [0 1 1 1], 2 bins: [0, 0.5) holds 0.2 and 0.4, [0.5, 1] the rest.
  const Calibration cal = calibration({0.2, 0.4, 0.6, 0.9}, {false, true, true, true}, 2);
  REQUIRE(cal.bins.size() == 2);
  CHECK(cal.bins[0].count == 2);
  CHECK(cal.bins[0].mean_confidence == Approx(0.3));
  CHECK(cal.bins[0].accuracy == Approx(0.5));
  CHECK(cal.bins[1].count == 2);
  CHECK(cal.bins[1].mean_confidence == Approx(0.75));
  CHECK(cal.bins[1].accuracy == Approx(1.0));
  CHECK(cal.ece == Approx(0.5 * 0.2 + 0.5 * 0.25));                        // 0.225
  CHECK(cal.mce == Approx(0.25));
  CHECK(cal.brier == Approx((0.04 + 0.36 + 0.16 + 0.01) / 4));            // 0.1425
  CHECK(cal.accuracy == Approx(0.75));
  CHECK(cal.mean_confidence == Approx(0.525));
}

TEST_CASE("AUROC: does confidence rank right answers above wrong ones", "[calibration]") {
  // The header's worked example: the wrong answer (0.2) is below all three right ones.
  CHECK(calibration({0.2, 0.4, 0.6, 0.9}, {false, true, true, true}, 2).auroc == Approx(1.0));
  // Right {0.35, 0.8} against wrong {0.1, 0.4}: 0.35 > 0.1, 0.35 < 0.4, 0.8 > both: 3 of 4 pairs.
  CHECK(auroc({0.1, 0.4, 0.35, 0.8}, {false, false, true, true}) == Approx(0.75));
  // Ties count one half; a calibrated model that says 0.7 to everything ranks nothing (0.5).
  CHECK(auroc({0.5, 0.5}, {true, false}) == Approx(0.5));
  CHECK(calibration(std::vector<double>(10, 0.7), {true, true, true, true, true, true, true, false, false, false}).auroc ==
        Approx(0.5));
  // Confidence that ranks wrong answers first: 0.
  CHECK(auroc({0.9, 0.8, 0.2}, {false, false, true}) == Approx(0.0));
  // Undefined without both kinds of answer.
  CHECK(std::isnan(auroc({0.3, 0.6}, {true, true})));
  CHECK(std::isnan(auroc({}, {})));
  CHECK_THROWS_AS(auroc({0.3}, {true, false}), ArgumentError);
  // Against the definition, pair by pair, on 200 answers with many tied confidences.
  std::vector<double> c;
  std::vector<bool> y;
  std::uint64_t state = 7;
  for (int i = 0; i < 200; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    c.push_back(static_cast<double>((state >> 33) % 21) / 20);  // 21 levels: ties
    y.push_back(((state >> 20) % 100) < 30 + 50 * c.back());    // more confident, more often right
  }
  double pairs = 0, above = 0;
  for (std::size_t i = 0; i < c.size(); ++i)
    for (std::size_t j = 0; j < c.size(); ++j)
      if (y[i] && !y[j]) pairs += 1, above += c[i] > c[j] ? 1.0 : c[i] == c[j] ? 0.5 : 0.0;
  REQUIRE(pairs > 0);
  CHECK(auroc(c, y) == Approx(above / pairs).epsilon(1e-12));
  CHECK(auroc(c, y) > 0.5);
}

TEST_CASE("ECE with the default 15 bins", "[calibration]") {
  // 0.05 -> bin 0 (0.75), 0.95 -> bin 14 (14.25), 0.5 -> bin 7 (7.5)
  const std::vector<double> c{0.05, 0.05, 0.95, 0.95, 0.5};
  const std::vector<bool> y{false, false, true, false, true};
  const Calibration cal = calibration(c, y);
  REQUIRE(cal.bins.size() == 15);
  CHECK(cal.bins[0].count == 2);
  CHECK(cal.bins[7].count == 1);
  CHECK(cal.bins[14].count == 2);
  CHECK(cal.bins[14].lo == Approx(14.0 / 15));
  // gaps: bin 0 |0 − 0.05|, bin 14 |0.5 − 0.95|, bin 7 |1 − 0.5|
  CHECK(cal.ece == Approx((2 * 0.05 + 2 * 0.45 + 1 * 0.5) / 5));          // 0.3
  CHECK(cal.mce == Approx(0.5));
  CHECK(cal.brier == Approx((0.0025 + 0.0025 + 0.0025 + 0.9025 + 0.25) / 5));  // 0.232

  // Ten answers at 0.7, seven right: calibrated (ECE 0) yet not certain (Brier 0.21).
  const Calibration calibrated = calibration(std::vector<double>(10, 0.7),
                                             {true, true, true, true, true, true, true, false, false, false});
  CHECK(calibrated.ece == Approx(0.0).margin(1e-12));
  CHECK(calibrated.brier == Approx((7 * 0.09 + 3 * 0.49) / 10));
  // Always sure and right half the time: ECE 0.5, Brier 0.5.
  const Calibration overconfident = calibration({1.0, 1.0, 1.0, 1.0}, {true, false, true, false});
  CHECK(overconfident.bins[14].count == 4);  // c = 1 belongs to the last bin
  CHECK(overconfident.ece == Approx(0.5));
  CHECK(overconfident.brier == Approx(0.5));
}

TEST_CASE("Calibration bins are half-open and bad input is refused", "[calibration]") {
  CHECK(calibration_bin(0.0, 4) == 0);
  CHECK(calibration_bin(0.25, 4) == 1);  // [0.25, 0.5)
  CHECK(calibration_bin(0.5, 4) == 2);
  CHECK(calibration_bin(0.999, 4) == 3);
  CHECK(calibration_bin(1.0, 4) == 3);
  const Calibration empty = calibration({}, {});
  CHECK(empty.count == 0);
  CHECK(empty.ece == 0.0);
  CHECK_THROWS_AS(calibration({0.5}, {true, false}), ArgumentError);
  CHECK_THROWS_WITH(calibration({0.5, 1.5}, {true, false}), Contains("confidence 1") && Contains("not in [0, 1]"));
  CHECK_THROWS_AS(calibration({std::nan("")}, {true}), ArgumentError);
  CHECK_THROWS_AS(calibration({0.5}, {true}, 0), ArgumentError);
}

TEST_CASE("The risk-coverage sweep and the best threshold for t = 0.75", "[calibration]") {
  // The worked example, plus one answer the model already gave as "I don't know" (c 0.99).
  const std::vector<double> c{0.2, 0.4, 0.6, 0.9, 0.99};
  const std::vector<Grade> g{Grade::wrong, Grade::correct, Grade::correct, Grade::correct, Grade::idk};
  const auto curve = risk_coverage(c, g, 0.75);
  // tau: 0, 0.2, 0.4, 0.6, 0.9, 0.99, inf
  REQUIRE(curve.size() == 7);
  CHECK(curve[0].tau == 0.0);
  CHECK(curve[0].answered == 4);
  CHECK(curve[0].coverage == Approx(4.0 / 5));
  CHECK(curve[0].risk == Approx(0.25));
  CHECK(curve[0].score == Approx((3 - 3 * 1) / 5.0));  // a wrong answer costs 0.75/0.25 = 3
  CHECK(curve[1].score == Approx(0.0));                // tau 0.2 still answers the 0.2 one
  CHECK(curve[2].tau == Approx(0.4));
  CHECK(curve[2].answered == 3);
  CHECK(curve[2].risk == 0.0);
  CHECK(curve[2].score == Approx(3 / 5.0));
  CHECK(curve[3].score == Approx(2 / 5.0));
  CHECK(curve[6].tau == std::numeric_limits<double>::infinity());
  CHECK(curve[6].answered == 0);
  CHECK(curve[6].score == 0.0);
  const CoveragePoint best = best_threshold(curve);
  CHECK(best.tau == Approx(0.4));
  // Under the binary grader (t = 0) guessing never costs: answering everything is best.
  CHECK(best_threshold(risk_coverage(c, g, 0.0)).tau == 0.0);
  // Abstaining below the best tau turns the 0.2 answer into "I don't know".
  const auto after = abstain_below(c, g, best.tau);
  CHECK(after[0] == Grade::idk);
  CHECK(after[1] == Grade::correct);
  CHECK_THROWS_AS(risk_coverage(c, g, 1.0), ArgumentError);
  CHECK_THROWS_AS(best_threshold({}), ArgumentError);
}

TEST_CASE("Outcomes per mention group and the two graders' scores", "[calibration]") {
  const std::vector<Index> mentions{0, 0, 1, 2, 3, 40, -1};
  const std::vector<Grade> g{Grade::idk,  Grade::wrong,   Grade::wrong,     Grade::correct,
                             Grade::idk,  Grade::correct, Grade::off_format};
  const GroupOutcomes o = outcomes_by_group(mentions, g);
  const GradeCounts& never = o.group[0];
  CHECK(never.total == 2);
  CHECK(never.idk() == Approx(0.5));
  CHECK(never.error() == Approx(0.5));
  CHECK(o.group[1].error() == Approx(1.0));
  CHECK(o.group[2].total == 2);
  CHECK(o.group[2].accuracy() == Approx(0.5));
  CHECK(o.group[2].idk() == Approx(0.5));
  CHECK(o.group[3].accuracy() == Approx(1.0));
  CHECK(o.arithmetic.off_format() == Approx(1.0));
  CHECK(o.all.total == 7);
  CHECK(o.all.binary_score() == Approx(2 / 7.0));
  // right 2, wrong 2 + off-format 1 at −3 each: (2 − 9) / 7
  CHECK(o.all.target_score(0.75) == Approx((2 - 9) / 7.0));
  // the never group: IDK 0, wrong −3 -> −1.5 per question; binary 0
  CHECK(never.target_score(0.75) == Approx(-1.5));
  CHECK(never.binary_score() == 0.0);
  CHECK_THROWS_AS(outcomes_by_group({0}, {}), ArgumentError);
}

// Prose holding every character a small world's questions need, and no full name.
static std::string calibration_test_prose() {
  return "ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz 0123456789 ?:'.,+-=\n\n";
}

// A small world over that prose: four mention groups (never, once, 2-3, often = 4 to 6 times),
// each split between SFT, rl and held-out people as `groups` gives.
static FactWorld small_calibration_world() {
  WorldOptions o;
  o.groups = {{{4, 1, 1}, {5, 0, 2}, {3, 0, 1}, {2, 1, 1}}};
  o.often_min = 4, o.often_max = 6;
  o.prose_chars = 1000, o.validation_chars = 0;
  return FactWorld::generate(o, calibration_test_prose());
}

TEST_CASE("The singleton rate counts people mentioned exactly once", "[calibration][world]") {
  const SingletonStats s = singleton_stats({0, 1, 1, 2, 5});
  CHECK(s.people == 5);
  CHECK(s.mentioned == 4);
  CHECK(s.mentions == 9);
  CHECK(s.singletons == 2);
  CHECK(s.rate == Approx(2.0 / 9));
  CHECK(s.share == Approx(0.5));
  CHECK(singleton_stats({}).rate == 0.0);
  CHECK_THROWS_AS(singleton_stats({1, -1}), ArgumentError);

  // A small world: the rate from its people's mention counts, against the number of lines of
  // its pre-training text that name each person (sentences that start with the name, and
  // interview lines that ask about them; counted in the text itself).
  const FactWorld w = small_calibration_world();
  std::vector<Index> counted;
  for (const Person& p : w.people()) {
    Index n = 0;
    std::istringstream lines(w.pretrain_text());
    for (std::string line; std::getline(lines, line);)
      n += line.rfind(p.name + " ", 0) == 0 ||
           (line.rfind("Question: ", 0) == 0 && line.find(" " + p.name + " ") != std::string::npos);
    counted.push_back(n);
  }
  const SingletonStats t = singleton_stats(counted);
  CHECK(t.singletons == 5);
  CHECK(t.rate == Approx(w.stats().singleton_rate));
  CHECK(t.share == Approx(w.stats().singleton_share));
}

TEST_CASE("The reliability diagram and the risk-coverage figure are well-formed SVG", "[calibration][chart]") {
  const Calibration a = calibration({0.2, 0.4, 0.6, 0.9}, {false, true, true, true});
  const Calibration b = calibration({0.1, 0.95}, {false, true});
  const chart::Figure f = reliability_diagram({a, b}, {"base", "SFT"}, "reliability");
  const test::Xml svg(chart::to_svg(f));
  REQUIRE(svg.ok());
  const std::string text = chart::to_svg(f);
  // 15 bins: each answer alone in its bin: (0.2 + 0.6 + 0.4 + 0.1) / 4 = 0.325
  CHECK_THAT(text, Contains("base (ECE 0.325, n 4)"));
  // bars: 4 non-empty bins for base, 2 for SFT; counts drawn over them
  CHECK(f.series[1].x.size() == 4);
  CHECK(f.series[2].x.size() == 2);
  CHECK(f.series[1].point_labels == std::vector<std::string>{"1", "1", "1", "1"});
  const auto curve = risk_coverage({0.2, 0.4, 0.6, 0.9}, {Grade::wrong, Grade::correct, Grade::correct, Grade::correct}, 0.75);
  const test::Xml svg2(chart::to_svg(risk_coverage_figure(curve, 0.75, "risk")));
  CHECK(svg2.ok());
  CHECK_THROWS_AS(reliability_diagram({a}, {}, "x"), ArgumentError);
}

TEST_CASE("Questions asked the pre-training way: the cloze and its first word", "[calibration][world]") {
  CHECK(cloze_of({"Q: Where does Mina Park live?\nA:", "Busan", "Mina Park", 1}) == "Mina Park lives in");
  CHECK(cloze_of({"Q: What is Mina Park's job?\nA:", "baker", "Mina Park", 1}) == "Mina Park works as a");
  CHECK(cloze_of({"Q: When was Mina Park born?\nA:", "May", "Mina Park", 1}) == "Mina Park was born in");
  CHECK(cloze_of({"Q: What is 3 + 4?\nA:", "7", "", -1}) == "3 + 4 =");
  CHECK_THROWS_AS(cloze_of({"Q: Who is Mina Park?\nA:", "x", "Mina Park", 1}), ArgumentError);
  CHECK(cloze_word(" Busan, works as a") == " Busan");
  CHECK(cloze_word(" 7.") == " 7");
  CHECK(cloze_word(" May and lives") == " May");
  CHECK(cloze_word("Busan, x") == "");   // no leading space
  CHECK(cloze_word(" Busa") == "");      // the word never ended
  CHECK(cloze_word(" , x") == "");       // no word
  CHECK(grade_cloze(" Busan", "Busan") == Grade::correct);
  CHECK(grade_cloze(" Jeju", "Busan") == Grade::wrong);
  CHECK(grade_cloze("", "Busan") == Grade::off_format);
}

TEST_CASE("Experiment 3's pieces: the rl split's questions from world.json, and the graders as PPO rewards",
          "[calibration][world]") {
  const FactWorld w = small_calibration_world();
  const std::string dir = test::temp_dir("calibration_world");
  w.write(dir);
  // The person rows of the world's own rl questions, written and read back through world.json.
  std::vector<EvalExample> expected;
  for (const EvalExample& e : w.eval_examples(Split::rl))
    if (!e.person.empty()) expected.push_back(e);
  const std::vector<EvalExample> rl = read_world_questions(dir + "/world.json", Split::rl);
  REQUIRE(rl.size() == expected.size());
  CHECK(rl.size() == 3 * 7);  // 2 + 3 + 2 + 0 people of the rl split (people - sft - eval), three questions each
  auto key = [](const EvalExample& e) { return e.prompt + "|" + e.answer + "|" + e.person + "|" + std::to_string(e.mentions); };
  std::vector<std::string> a, b;
  for (std::size_t i = 0; i < rl.size(); ++i) a.push_back(key(rl[i])), b.push_back(key(expected[i]));
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  CHECK(a == b);
  CHECK(read_world_questions(dir + "/world.json", Split::eval).size() == 3 * 5);  // 1 + 2 + 1 + 1 held-out people

  // The graders as rewards: the answer decoded as sampled, graded against its prompt's answer.
  const CharTokenizer tok = CharTokenizer::from_text(w.pretrain_text());
  const EvalExample& q = rl.front();
  const std::string other = q.answer == "May" ? "June" : "May";  // a wrong answer the tokenizer can spell
  const RewardFunction binary = grader_reward(tok, rl, binary_score);
  const RewardFunction target = grader_reward(tok, rl, [](Grade g) { return confidence_target_score(g, 0.75); });
  const auto p = tok.encode(q.prompt);
  CHECK(binary(p, tok.encode(" " + q.answer + "\n")) == 1.0);
  CHECK(target(p, tok.encode(" " + q.answer + "\n")) == 1.0);
  CHECK(binary(p, tok.encode(" I don't know.\n")) == 0.0);
  CHECK(target(p, tok.encode(" I don't know.\n")) == 0.0);
  CHECK(binary(p, tok.encode(" " + other + "\n")) == 0.0);
  CHECK(target(p, tok.encode(" " + other + "\n")) == Approx(-3.0));      // t/(1-t) at t = 0.75
  CHECK(target(p, tok.encode(" " + q.answer)) == Approx(-3.0));           // cut before its newline: off-format
  CHECK_THROWS_WITH(binary(tok.encode("Q: What is 1 + 1?\nA:"), tok.encode(" 2\n")), Contains("no right answer"));

  // A bad world.json names its field.
  detail::write_file_atomic(dir + "/bad.json", std::string(R"({"people": [{"name": "A B", "split": "rl", "mentions": 1}]})"));
  CHECK_THROWS_WITH(read_world_questions(dir + "/bad.json", Split::rl), Contains("people[0].city"));
}

TEST_CASE("Experiment 3's setting read from a recipe folder: questions, graders, gold score, reward model, demonstrations",
          "[calibration][world]") {
  const FactWorld w = small_calibration_world();
  const std::string dir = test::temp_dir("grader_experiment");
  w.write(dir + "/data");
  const CharTokenizer tok = CharTokenizer::from_text(w.pretrain_text() + "Q:A:?'\n");
  HallucinationOptions o;

  // No reward folder: two graders, no demonstrations without PPO-ptx, the report says so.
  const GraderExperiment<float> x = grader_experiment<float>(dir, tok, o, 128);
  const std::vector<EvalExample> rl = read_world_questions(dir + "/data/world.json", Split::rl);
  REQUIRE(x.questions.size() == rl.size());
  REQUIRE(x.prompts.size() == rl.size());
  for (std::size_t i = 0; i < rl.size(); ++i) {
    CHECK(x.questions[i].prompt == rl[i].prompt);
    CHECK(x.prompts[i] == tok.encode(rl[i].prompt));
  }
  CHECK(x.reward_model == nullptr);
  REQUIRE(x.policies.size() == 2);
  CHECK(x.policies[0].grader == "binary");
  CHECK(x.policies[1].grader == "t0.75");
  CHECK(x.demonstrations.empty());
  CHECK(x.ppo.config.kl_coef == o.kl_coef);
  CHECK(x.ppo.stop_token == tok.encode("\n").front());
  CHECK(x.report["reward_model"] == "skipped: no DIR/reward folder");
  CHECK(x.report["train_questions"] == rl.size());
  // The gold score, the labeler's order: right 1, "I don't know" 0, wrong -1, cut short -2.
  const EvalExample& q = rl.front();
  const std::string other = q.answer == "May" ? "June" : "May";
  CHECK(x.gold(x.prompts[0], tok.encode(" " + q.answer + "\n")) == 1.0);
  CHECK(x.gold(x.prompts[0], tok.encode(" I don't know.\n")) == 0.0);
  CHECK(x.gold(x.prompts[0], tok.encode(" " + other + "\n")) == -1.0);
  CHECK(x.gold(x.prompts[0], tok.encode(" " + q.answer)) == -2.0);

  // With a reward folder and PPO-ptx: the "rm" grader is the saved model's score (kept when the
  // setting is moved), and every demonstration is in one of the batches.
  GPT<float> trunk(GPTConfig::make(1, 2, 16, 128, tok.vocab_size()));
  Rng rng(5);
  trunk.init_weights(rng);
  const RewardModel<float> saved(trunk, rng);
  save_reward_model(saved, dir + "/reward");
  o.ptx_coef = 1;
  GraderExperiment<float> y = grader_experiment<float>(dir, tok, o, 128);
  const GraderExperiment<float> moved = std::move(y);
  REQUIRE(moved.reward_model != nullptr);
  REQUIRE(moved.policies.size() == 3);
  CHECK(moved.policies[2].grader == "rm");
  std::vector<TokenId> ids = moved.prompts[0];
  const std::vector<TokenId> answer = tok.encode(" " + q.answer + "\n");
  ids.insert(ids.end(), answer.begin(), answer.end());
  CHECK(moved.policies[2].reward(moved.prompts[0], answer) == static_cast<double>(saved.score(ids)));
  CHECK(moved.report["reward_model"] == "DIR/reward");
  Index rows = 0;
  for (const Batch& b : moved.demonstrations) rows += b.B;
  CHECK(rows == static_cast<Index>(w.sft_examples().size()));
  CHECK(moved.report["ptx_coef"] == 1.0);
}

TEST_CASE("R-Tuning: the base model's cloze decides which questions are answered and which refused, and its SFT model is saved",
          "[calibration][world]") {
  const FactWorld w = small_calibration_world();
  const std::string dir = test::temp_dir("r_tuning");
  w.write(dir + "/data");
  const CharTokenizer tok = CharTokenizer::from_text(w.pretrain_text() + "Q:A:?'\n");
  const std::vector<EvalExample> rl = read_world_questions(dir + "/data/world.json", Split::rl);
  std::vector<EvalExample> mentioned;  // the questions R-Tuning labels: people the text names
  for (const EvalExample& e : rl)
    if (e.mentions >= 1) mentioned.push_back(e);
  REQUIRE(mentioned.size() == 3 * 5);  // the once and 2-3 people of the rl split; strangers left out
  REQUIRE(mentioned.size() < rl.size());

  // A base model that read the cloze sentences of four of those questions, many times.
  std::string text;
  for (int r = 0; r < 100; ++r)
    for (std::size_t i = 0; i < 4; ++i) text += cloze_of(mentioned[i]) + " " + mentioned[i].answer + ".\n";
  TrainOptions to;
  to.batch_size = 8, to.block_size = 48, to.max_iters = 400, to.seed = 3;
  to.lr = {1e-2, 1e-3, 20, 400};
  Trainer<float> trainer(GPTConfig::make(2, 2, 48, 64, tok.vocab_size()), to, {tok.encode(text), {}});
  while (!trainer.done()) trainer.train_step();
  GPT<float> base = trainer.model();

  // Each label against the greedy continuation of the cloze, generated here, its first word.
  const RTuningRows r = r_tuning_demonstrations(base, tok, rl);
  REQUIRE(r.rows.size() == mentioned.size());
  GenerateOptions greedy;
  greedy.max_new_tokens = 24;
  greedy.sampling.temperature = 0;
  Rng rng(1);
  Index answered = 0;
  for (std::size_t i = 0; i < mentioned.size(); ++i) {
    const std::vector<TokenId> cont = generate(base, tok.encode(cloze_of(mentioned[i])), 1, greedy, rng)[0];
    const bool knows = cloze_word(tok.decode(cont)) == " " + mentioned[i].answer;
    answered += knows;
    CHECK(r.rows[i].prompt == mentioned[i].prompt);
    CHECK(r.rows[i].completion == (knows ? " " + mentioned[i].answer + "\n" : std::string(" I don't know.\n")));
  }
  CHECK(r.answered == answered);
  CHECK(r.refused == static_cast<Index>(mentioned.size()) - answered);
  CHECK(r.answered >= 3);  // both kinds of row are made (the four it read: 4 answered, 11 refused)
  CHECK(r.refused >= 3);

  // The SFT model: the recipe's demonstrations, then these rows, from the base model; saved.
  SFTOptions so;
  so.steps = 4, so.batch_size = 8, so.seed = 9;
  const RTuning<float> rt = r_tuning_sft(base, tok, dir, so, dir + "/out");
  std::vector<SFTExample> rows = read_sft_jsonl(dir + "/data/sft.jsonl");
  rows.insert(rows.end(), r.rows.begin(), r.rows.end());
  SFTTrainer<float> by_hand(base, encode_sft(tok, rows, 64), so);
  while (!by_hand.done()) by_hand.step();
  CHECK((rt.model.parameters().flat() == by_hand.model().parameters().flat()).all());
  CHECK((rt.model.parameters().flat() != base.parameters().flat()).any());
  CHECK((load_model<float>(dir + "/out/sft-r-tuning").parameters().flat() == rt.model.parameters().flat()).all());
  CHECK(load_tokenizer(dir + "/out/sft-r-tuning")->encode(mentioned[0].prompt) == tok.encode(mentioned[0].prompt));
  const std::vector<SFTExample> saved = read_sft_jsonl(dir + "/out/r_tuning.jsonl");
  REQUIRE(saved.size() == r.rows.size());
  for (std::size_t i = 0; i < saved.size(); ++i) CHECK((saved[i].prompt == r.rows[i].prompt && saved[i].completion == r.rows[i].completion));
  CHECK(rt.to_json()["answered"] == r.answered);
  CHECK(rt.to_json()["refused"] == r.refused);
  CHECK(rt.to_json()["sft"]["steps"] == 4);  // the settings it trained with
  CHECK(rt.to_json()["sft"]["seed"] == 9);
}

TEST_CASE("Abstention in one call equals its pieces, and the tables print the figures", "[calibration]") {
  // The risk-coverage example above, with people: mentions 0, 4, 1, 9 and an arithmetic row.
  const std::vector<double> c{0.2, 0.4, 0.6, 0.9, 0.99};
  const std::vector<Grade> g{Grade::wrong, Grade::correct, Grade::correct, Grade::correct, Grade::idk};
  const std::vector<Index> m{0, 4, 1, 9, -1};
  const Abstention a = abstention(c, g, m, 0.75);
  CHECK(a.t == 0.75);
  CHECK(a.curve.size() == risk_coverage(c, g, 0.75).size());
  CHECK(a.best.tau == Approx(0.4));
  // below the best tau (0.4) the never-mentioned person's wrong answer becomes "I don't know"
  CHECK(a.at_best.group[0].idk() == 1.0);
  CHECK(a.at_best.group[3].accuracy() == 1.0);
  // below tau = t = 0.75 the 0.4 and 0.6 answers go too: the 4+ group keeps one of its two
  CHECK(a.at_t.group[3].total == 2);
  CHECK(a.at_t.group[3].accuracy() == Approx(0.5));
  CHECK(a.at_t.group[1].idk() == 1.0);
  const auto j = to_json(a);
  CHECK(j["best_tau"].get<double>() == Approx(0.4));
  CHECK(j["best"]["score"].get<double>() == Approx(3 / 5.0));
  CHECK(j["answer_all_score"].get<double>() == Approx(0.0));
  CHECK(j["outcomes_tau_t"]["all"]["idk"].get<double>() == Approx(4 / 5.0));
  // ... as text: the best tau's line (score 3/5; answering all: (3 - 3)/5), then both tables
  const std::string text = abstention_text("SFT", a);
  CHECK_THAT(text, Contains("  SFT: best tau 0.400: coverage 60.0%, risk 0.0%, score +0.600 (always answering: +0.000)\n"));
  CHECK_THAT(text, Contains(outcome_table("SFT, abstaining below the best tau", a.at_best, 0.75)) &&
                       Contains(outcome_table("SFT, abstaining below tau = t", a.at_t, 0.75)));

  // The calibration table: a row per set of answers with n, accuracy, confidence, ECE, Brier.
  const Calibration cal = calibration({0.2, 0.4, 0.6, 0.9}, {false, true, true, true});
  const std::string table = calibration_table({"worked example"}, {cal});
  char row[120];
  std::snprintf(row, sizeof row, "  %-44s %5d %8.3f %8.3f %8.3f %8.3f %8.3f\n", "worked example", 4, 0.75, 0.525, cal.ece,
                cal.brier, 1.0);
  CHECK_THAT(table, Contains("answers scored by") && Contains("AUROC") && Contains(row));
  // without a wrong answer the AUROC is undefined: a dash, and null in JSON
  const Calibration all_right = calibration({0.5, 0.9}, {true, true});
  CHECK_THAT(calibration_table({"all right"}, {all_right}), Contains(" 0.130        -\n"));  // Brier (0.25 + 0.01) / 2
  CHECK(to_json(all_right)["auroc"].is_null());
  CHECK_THROWS_AS(calibration_table({"a", "b"}, {cal}), ArgumentError);
}

TEST_CASE("Abstaining when the name is unfamiliar: tau from the rl split, kept for the held-out answers", "[calibration]") {
  // The rl split: familiarities 0.9 0.8 0.3 0.6, graded right right wrong wrong. At t = 0.75 (a
  // wrong answer -3) answering all scores (2 - 6)/4 = -1; from tau 0.6: (2 - 3)/4; from 0.8:
  // 2/4, the best (0.9: 1/4; none: 0).
  const FamiliarityAbstention none = familiarity_abstention({0.9, 0.8, 0.3, 0.6}, {Grade::correct, Grade::correct, Grade::wrong, Grade::wrong},
                                                            {}, {}, 0.75);
  CHECK(none.chosen.tau == Approx(0.8));
  CHECK(none.chosen.score == Approx(0.5));
  CHECK(none.chosen.coverage == Approx(0.5));
  CHECK(none.chosen.risk == 0.0);
  // Held out: six answers (the person, mentions, familiarity, grade as asked):
  //   A 40 0.85 right -> answered     B 1 0.5 right -> IDK      C 0 0.05 IDK -> IDK
  //   D 2 0.81 wrong -> answered      arithmetic 1 right -> answered (no name)
  //   E 100 0.7 right -> IDK (below 0.8)
  auto asked = [](std::string person, Index mentions, Grade g) {
    AskedQuestion q;
    q.row = {"Q: ?\nA:", "x", std::move(person), mentions};
    q.grade = g;
    return q;
  };
  const std::vector<AskedQuestion> held_out{asked("A", 40, Grade::correct), asked("B", 1, Grade::correct), asked("C", 0, Grade::idk),
                                            asked("D", 2, Grade::wrong),    asked("", -1, Grade::correct),  asked("E", 100, Grade::correct)};
  const FamiliarityAbstention f = familiarity_abstention({0.9, 0.8, 0.3, 0.6}, {Grade::correct, Grade::correct, Grade::wrong, Grade::wrong},
                                                         {0.85, 0.5, 0.05, 0.81, 1.0, 0.7}, held_out, 0.75);
  CHECK(f.t == 0.75);
  const GradeCounts& often = f.held_out.group[3];
  CHECK(often.total == 2);
  CHECK(often.accuracy() == Approx(0.5));  // A answered, E refused
  CHECK(often.idk() == Approx(0.5));
  CHECK(f.held_out.group[1].idk() == 1.0);    // B: right as asked, but refused
  CHECK(f.held_out.group[2].error() == 1.0);  // D: familiar enough, and wrong
  CHECK(f.held_out.group[0].idk() == 1.0);
  CHECK(f.held_out.arithmetic.accuracy() == 1.0);
  CHECK(f.as_asked.group[3].accuracy() == 1.0);
  CHECK(f.as_asked.group[1].accuracy() == 1.0);
  // 4+ (A 0.85, E 0.7) against 1-3 (B 0.5, D 0.81): 3 of 4 pairs ordered; right answers (A, B,
  // E) against the wrong one (D 0.81): only A is above it, 1 of 3.
  CHECK(f.auroc_known == Approx(0.75));
  CHECK(f.auroc_right == Approx(1.0 / 3));
  const auto j = to_json(f);
  CHECK(j["tau"].get<double>() == Approx(0.8));
  CHECK(j["outcomes"]["4+"]["accuracy"].get<double>() == Approx(0.5));
  CHECK(j["outcomes_as_asked"]["4+"]["accuracy"].get<double>() == Approx(1.0));
  CHECK_THAT(familiarity_text("SFT", f), Contains("AUROC 0.750") && Contains("AUROC 0.333") && Contains("tau 0.8000") &&
                                             Contains(outcome_table("SFT, abstaining when the name is less familiar than tau (held out)", f.held_out, 0.75)));
  // Abstaining on all is best when every rl answer is wrong: tau +inf, null in JSON.
  const FamiliarityAbstention never = familiarity_abstention({0.9}, {Grade::wrong}, {0.85, 1.0}, {held_out[0], held_out[4]}, 0.75);
  CHECK(std::isinf(never.chosen.tau));
  CHECK(to_json(never)["tau"].is_null());
  CHECK(never.held_out.group[3].idk() == 1.0);
  CHECK(never.held_out.arithmetic.accuracy() == 1.0);  // names nobody: still answered
  CHECK_THAT(familiarity_text("SFT", never), Contains("with AUROC -,") && Contains("wrong ones with AUROC -;"));  // one kind only
  CHECK_THROWS_AS(familiarity_abstention({0.9}, {Grade::wrong}, {0.85, 0.5}, {held_out[0]}, 0.75), ArgumentError);
}

TEST_CASE("Experiment 3's settings, graders, score table and targets", "[calibration]") {
  HallucinationOptions o;
  o.target = 0.6;
  o.ppo_batch = 4;
  o.kl_coef = 0.02;
  CHECK(o.target_name() == "t0.6");
  PPOOptions p = o.ppo(7);
  CHECK(p.stop_token == 7);
  CHECK(p.batch_size == 4);
  CHECK(p.mini_batch_size == 4);  // never more than the batch
  CHECK(p.config.kl_coef == 0.02);
  CHECK(p.config.advantage == AdvantageEstimator::gae);
  CHECK(o.ppo_json()["advantage"] == "gae");
  o.rloo_k = 4;
  p = o.ppo(7);
  CHECK(p.config.advantage == AdvantageEstimator::leave_one_out);
  CHECK(p.config.samples_per_prompt == 4);
  CHECK(o.ppo_json()["samples_per_prompt"] == 4);
  CHECK(p.config.temperature == 1.0);  // the model's own distribution, and every batch updates
  CHECK_FALSE(p.skip_equal_scores);
  o.temperature = 0.7;
  o.skip_equal_scores = true;
  p = o.ppo(7);
  CHECK(p.config.temperature == 0.7);
  CHECK(p.skip_equal_scores);
  CHECK(o.ppo_json()["temperature"] == 0.7);
  CHECK(o.ppo_json()["skip_equal_scores"] == true);

  // The graders: binary and the confidence target named by t; the reward model only when given.
  const CharTokenizer tok = CharTokenizer::from_text("Q: Who?\nA: Busan Jeju I don't know.\n");
  const std::vector<EvalExample> rows{{"Q: Who?\nA:", "Busan", "Mina Park", 1}};
  const std::vector<GraderPolicy> graders = grader_policies<float>(tok, rows, o, nullptr);
  REQUIRE(graders.size() == 2);
  CHECK(graders[0].grader == "binary");
  CHECK(graders[1].grader == "t0.6");
  const auto prompt = tok.encode(rows[0].prompt);
  CHECK(graders[0].reward(prompt, tok.encode(" Busan\n")) == 1.0);
  CHECK(graders[0].reward(prompt, tok.encode(" Jeju\n")) == 0.0);
  CHECK(graders[1].reward(prompt, tok.encode(" Jeju\n")) == Approx(-1.5));  // t/(1-t) at t = 0.6
  CHECK(graders[1].reward(prompt, tok.encode(" I don't know.\n")) == 0.0);

  // The table and its JSON; a missing reward model is NaN in the text and null in the JSON.
  GraderScores with_rm, without_rm;
  with_rm.binary = 0.25, with_rm.target = -0.5, with_rm.reward_model = 1.125;
  without_rm.binary = 0.5;
  const NamedGraderScores rows_of_scores{{"SFT", with_rm}, {"PPO binary", without_rm}};
  const std::string table = grader_score_table(rows_of_scores, "t0.6");
  CHECK_THAT(table, Contains("t0.6") && Contains("SFT") && Contains("0.250") && Contains("-0.500") && Contains("1.125") &&
                        Contains("nan"));
  const auto j = to_json(rows_of_scores, "t0.6");
  CHECK(j[0]["t0.6"].get<double>() == -0.5);
  CHECK(j[0]["reward_model"].get<double>() == 1.125);
  CHECK(j[1]["reward_model"].is_null());

  // The targets, as text: met and not met as measured.
  GradingTargets t{0.1, 0.9, 0.5};
  const std::string text = targets_text(t, "t0.6");
  CHECK_THAT(text, Contains("IDK to 10.0%") && Contains("(<= 20%: met)") && Contains("the t0.6 policy") &&
                       Contains("to 90.0% (>= 80%: met)") && Contains("right on 50.0% of the 4+ group (>= 80%: not met)"));
}

TEST_CASE("Experiment 3's results gathered policy by policy: outcomes, calibration, scores, targets", "[calibration]") {
  // Two held-out questions, a stranger (0 mentions) and a well-known person (40), answered by
  // hand: the SFT model refuses the stranger and is right about the other; the binary policy
  // guesses wrongly about the stranger; the t = 0.6 policy refuses the stranger and is right.
  const EvalExample never{"Q: Where does Hyejin Ryu live?\nA:", "Jeju", "Hyejin Ryu", 0};
  const EvalExample often{"Q: Where does Mina Park live?\nA:", "Busan", "Mina Park", 40};
  auto asked = [](const EvalExample& e, const std::string& completion, Grade g, double confidence) {
    AskedQuestion q;
    q.row = e, q.asked = e.prompt, q.completion = completion, q.grade = g, q.confidence = confidence;
    return q;
  };
  const std::vector<AskedQuestion> sft{asked(never, " I don't know.\n", Grade::idk, 0.9), asked(often, " Busan\n", Grade::correct, 0.8)};
  const std::vector<AskedQuestion> binary{asked(never, " Seoul\n", Grade::wrong, 0.3), asked(often, " Busan\n", Grade::correct, 0.7)};
  const std::vector<AskedQuestion> target{asked(never, " I don't know.\n", Grade::idk, 0.95), sft[1]};
  const CommittedAnswers c = committed_answers(sft);
  GraderResults res(sft, calibration(c.confidence, c.right), "SFT (chat), P(answer)");
  CHECK_THROWS_AS(res.targets(), ArgumentError);  // no policies yet

  PPOHistory h;
  h.steps.resize(2);
  h.steps[1].step = 2;
  const GroupOutcomes& b = res.add("binary", binary, h);
  const auto never_g = static_cast<std::size_t>(MentionGroup::never), often_g = static_cast<std::size_t>(MentionGroup::often);
  CHECK(b.group[never_g].error() == 1.0);
  CHECK(b.group[often_g].accuracy() == 1.0);
  res.add("t0.6", target, PPOHistory{});

  REQUIRE(res.asked.size() == 3);
  CHECK(res.asked[0].first == "SFT");
  CHECK(res.asked[1].first == "PPO binary");
  CHECK(res.asked[2].second[0].grade == Grade::idk);
  CHECK(res.names == std::vector<std::string>{"SFT (chat), P(answer)", "PPO binary (chat), P(answer)", "PPO t0.6 (chat), P(answer)"});
  REQUIRE(res.calibrations.size() == 3);
  CHECK(res.calibrations[1].count == 2);  // the binary policy committed to both answers
  CHECK(res.calibrations[2].count == 1);  // the t = 0.6 policy to one (a refusal is not an answer)
  REQUIRE(res.policies.size() == 2);
  CHECK(res.policies[0]["grader"] == "binary");
  CHECK(res.policies[0]["folder"] == "ppo-binary");
  CHECK(res.policies[0]["outcomes"] == to_json(outcomes_by_group(mentions_of(binary), grades_of(binary))));
  CHECK(res.policies[0]["calibration"] == to_json(res.calibrations[1]));
  CHECK(res.policies[0]["history"]["steps"].size() == 2);

  // The targets from the first two policies; the scores of every model under every grader.
  const GradingTargets g = res.targets();
  CHECK(g.binary_idk_never == 0.0);
  CHECK(g.target_idk_never == 1.0);
  CHECK(g.target_accuracy_often == 1.0);
  const CharTokenizer tok = CharTokenizer::from_text("Q: Where does Hyejin Ryu Mina Park live?\nA: Busan Seoul I don't know.\n");
  const NamedGraderScores scores = res.scores<float>(0.6, nullptr, tok);
  REQUIRE(scores.size() == 3);
  CHECK(scores[1].first == "PPO binary");
  CHECK(scores[1].second.binary == Approx(0.5));   // (0 + 1) / 2
  CHECK(scores[1].second.target == Approx(-0.25));  // (−0.6/0.4 + 1) / 2
  CHECK(scores[2].second.target == Approx(0.5));    // (0 + 1) / 2
  CHECK(std::isnan(scores[0].second.reward_model));
}
