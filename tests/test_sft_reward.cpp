// SFT (sft.hpp) and the reward model as a model (reward_model.hpp), checked against
// independent computations: the masked loss of a padded batch against each row's loss
// computed from the full logits by hand; the reward model's gradients (score head and the
// GPT under it, through the Bradley–Terry loss) against finite differences in double; the
// scores against the hidden states read directly; a saved reward model loaded back; bad
// folders refused by name.
#include <catch2/catch.hpp>
#include "common.hpp"
#include <minigpt/char_tokenizer.hpp>
#include <minigpt/checkpoint.hpp>
#include <minigpt/confidence.hpp>
#include <minigpt/reward_model.hpp>
#include <minigpt/sft.hpp>

#include <cmath>
#include <string>
#include <vector>

using namespace minigpt;

namespace {

GPT<double> tiny_model(Index V, std::uint64_t seed = 7) {
  GPT<double> m(GPTConfig::make(2, 2, 16, 32, V));
  Rng rng(seed);
  m.init_weights(rng);
  return m;
}

// −log softmax(row)[t], straight from the definition.
double nll(const double* row, Index V, TokenId t) {
  double max = row[0];
  for (Index v = 1; v < V; ++v) max = std::max(max, row[v]);
  double sum = 0;
  for (Index v = 0; v < V; ++v) sum += std::exp(row[v] - max);
  return -(row[t] - max - std::log(sum));
}

}  // namespace

TEST_CASE("SFT batches mask the prompt, pad the rows and learn the answer tokens only", "[sft]") {
  const Index V = 11;
  const SFTData data = {{{1, 2, 3, 4, 5}, 3}, {{6, 7, 8}, 2}, {{9, 1, 2, 3, 4, 5, 6}, 1}};
  const Batch b = sft_batch(data, {0, 1, 2});
  REQUIRE(b.B == 3);
  REQUIRE(b.T == 6);
  // Row 0: inputs 1 2 3 4 pad pad, targets − − 4 5 − − (the targets after the prompt's 3 ids).
  CHECK(std::vector<TokenId>(b.inputs.begin(), b.inputs.begin() + 6) == std::vector<TokenId>{1, 2, 3, 4, 0, 0});
  CHECK(std::vector<TokenId>(b.targets.begin(), b.targets.begin() + 6) == std::vector<TokenId>{-1, -1, 4, 5, -1, -1});
  CHECK(std::vector<TokenId>(b.targets.begin() + 6, b.targets.begin() + 12) == std::vector<TokenId>{-1, 8, -1, -1, -1, -1});
  CHECK(std::vector<TokenId>(b.targets.begin() + 12, b.targets.end()) == std::vector<TokenId>{1, 2, 3, 4, 5, 6});

  // The batch's loss: the mean over its 9 answer tokens of −log p, each row's computed alone
  // from its own unpadded forward pass (padding must change nothing).
  GPT<double> model = tiny_model(V);
  double total = 0;
  Index counted = 0;
  for (const SFTSequence& s : data) {
    const Index n = static_cast<Index>(s.ids.size()) - 1;
    const Tensor<double>& logits = model.forward(std::vector<TokenId>(s.ids.begin(), s.ids.end() - 1), 1, n);
    for (Index t = s.prompt_tokens - 1; t < n; ++t, ++counted)
      total += nll(logits.data() + t * V, V, s.ids[static_cast<std::size_t>(t + 1)]);
  }
  REQUIRE(counted == 9);
  LossOptions masked;
  masked.masked = true;
  model.zero_grad();
  const double loss = loss_and_backward(model, b, masked);
  CHECK(loss == Approx(total / 9).epsilon(1e-12));

  // Its gradient against finite differences of that loss, for a spread of weights.
  std::vector<double> analytic(model.gradients().data(), model.gradients().data() + model.parameter_count());
  for (Index k = 0; k < model.parameter_count(); k += 97) {
    double& w = model.parameters().data()[k];
    const double numeric = test::central_difference(w, [&] {
      GPTActivations<double> a;
      Parameters<double> g(model.config());
      return loss_and_backward(static_cast<const GPT<double>&>(model), a, g, b.view(), masked);
    });
    INFO("weight " << k);
    CHECK(test::gradient_disagreement(analytic[static_cast<std::size_t>(k)], numeric) < 1e-6);
  }
}

TEST_CASE("SFT teaches a small model to answer its demonstrations greedily", "[sft]") {
  const std::string text = "Q: ab?\nA: x\nQ: ba?\nA: yy\nQ: aa?\nA: I don't know.\n";
  const CharTokenizer tok = CharTokenizer::from_text(text);
  const std::vector<SFTExample> rows = {{"Q: ab?\nA:", " x\n"}, {"Q: ba?\nA:", " yy\n"}, {"Q: aa?\nA:", " I don't know.\n"}};
  GPT<float> base(GPTConfig::make(1, 2, 32, 32, tok.vocab_size()));
  Rng rng(1);
  base.init_weights(rng);
  SFTOptions o;
  o.batch_size = 3;
  o.steps = 150;
  o.lr = {1e-2, 1e-3, 10, 150};
  SFTTrainer<float> sft(base, encode_sft(tok, rows, 32), o);
  const std::vector<std::string> prompts = {rows[0].prompt, rows[1].prompt, rows[2].prompt};
  const std::vector<std::string> before = greedy_completions(sft.model(), tok, prompts);
  while (!sft.done()) sft.step();
  CHECK(sft.losses().back() < 0.05 * sft.losses().front());
  const std::vector<std::string> after = greedy_completions(sft.model(), tok, prompts);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    CHECK(after[i] == rows[i].completion);
    CHECK(before[i] != rows[i].completion);
  }
  // Graded as the labeler grades: right, right, and an honest "I don't know".
  const AnswerReport r = grade_answers({{rows[0].prompt, "x", "P", 5}, {rows[1].prompt, "yy", "Q", 0}, {rows[2].prompt, "zz", "", -1}}, after);
  CHECK(r.all.questions == 3);
  CHECK(r.all.in_format == Approx(1.0));
  CHECK(r.all.correct == Approx(2.0 / 3));
  CHECK(r.all.idk == Approx(1.0 / 3));
  CHECK(r.groups[3].correct == Approx(1.0));  // 5 mentions: the 4+ group
  CHECK(r.groups[0].correct == Approx(1.0));  // 0 mentions: never
  CHECK(r.groups[4].idk == Approx(1.0));      // no person: arithmetic
}

TEST_CASE("grade_answers counts shares per group and refuses mismatched lengths", "[sft]") {
  const std::vector<EvalExample> rows = {{"Q: a\nA:", "Busan", "A", 0}, {"Q: b\nA:", "Busan", "B", 1},
                                         {"Q: c\nA:", "7", "", -1}, {"Q: d\nA:", "Jeju", "D", 100}};
  const AnswerReport r = grade_answers(rows, {" Busan\n", " Jeju\n", " 7", " I don't know.\n"});
  CHECK(r.grades == std::vector<Grade>{Grade::correct, Grade::wrong, Grade::off_format, Grade::idk});
  CHECK(r.all.in_format == Approx(0.75));
  CHECK(r.all.correct == Approx(0.25));
  CHECK(r.all.wrong == Approx(0.25));
  CHECK(r.groups[1].wrong == Approx(1.0));
  CHECK(r.groups[4].in_format == Approx(0.0));
  CHECK_THROWS_AS(grade_answers(rows, {" Busan\n"}), ArgumentError);
  CHECK(completion_text(CharTokenizer::from_text("ab\n"), {1, 2, 0, 1}, 0) == "ab\n");
}

TEST_CASE("reward model: r is the score head on the last real token, padding changes nothing", "[reward]") {
  GPT<double> trunk = tiny_model(11);
  Rng rng(5);
  RewardModel<double> rm(trunk, rng);
  const std::vector<std::vector<TokenId>> seqs = {{1, 2, 3}, {4, 5, 6, 7, 8, 9}, {10}};
  const RowVector<double> r = rm.score(seqs);
  for (std::size_t b = 0; b < seqs.size(); ++b) {
    // Directly: the hidden state of the last token of this sequence alone, times w.
    const Index n = static_cast<Index>(seqs[b].size());
    ForwardOptions<double> opt;
    opt.logits = false;
    trunk.forward(seqs[b], 1, n, opt);
    const double direct = trunk.hidden().row(n - 1).dot(rm.score_weight());
    CHECK(r(static_cast<Index>(b)) == Approx(direct).epsilon(1e-12));
    CHECK(rm.score(seqs[b]) == Approx(direct).epsilon(1e-12));
  }
  CHECK_THROWS_AS(rm.score(std::vector<std::vector<TokenId>>{{}}), ArgumentError);
  CHECK_THROWS_AS(RewardModel<double>(trunk, RowVector<double>::Zero(3)), ArgumentError);
}

TEST_CASE("reward model: Bradley–Terry gradients through the head and the GPT match finite differences", "[reward]") {
  GPT<double> trunk = tiny_model(11, 3);
  Rng rng(3);
  RewardModel<double> rm(trunk, rng);
  // Two prompts: one with three answers and every pair, one with two answers and one pair.
  const PreferenceGroup g1{"p", {{1, 2, 3, 4}, {1, 2, 5}, {1, 2, 6, 7, 8, 9}}, {{0, 1}, {0, 2}, {1, 2}}};
  const PreferenceGroup g2{"q", {{3, 3, 3}, {3, 3, 4, 4, 4}}, {{1, 0}}};
  const std::vector<const PreferenceGroup*> groups{&g1, &g2};
  for (const double center : {0.0, 0.01}) {
    const BradleyTerryOptions bt{center};
    GPTActivations<double> a;
    Parameters<double> grads(trunk.config());
    grads.zero();
    RowVector<double> dw;
    const RewardBatchResult res = reward_batch(rm, a, groups, bt, &grads, &dw, 1.0);
    REQUIRE(res.pairs == 4);
    auto loss = [&] {
      GPTActivations<double> b;
      return reward_batch(rm, b, groups, bt).loss;
    };
    CHECK(loss() == Approx(res.loss).epsilon(1e-12));
    INFO("center " << center);
    for (Index c = 0; c < dw.size(); ++c) {
      const double numeric = test::central_difference(rm.score_weight()(c), loss);
      CHECK(test::gradient_disagreement(dw(c), numeric) < 1e-6);
    }
    for (Index k = 0; k < trunk.parameter_count(); k += 61) {
      const double numeric = test::central_difference(rm.trunk().parameters().data()[k], loss);
      INFO("weight " << k);
      CHECK(test::gradient_disagreement(grads.data()[k], numeric) < 1e-6);
    }
  }
}

TEST_CASE("reward model: comparisons grouped by prompt, each answer scored once", "[reward]") {
  const CharTokenizer tok = CharTokenizer::from_text("Q:ab?\n IDK.xy");
  const std::vector<PreferencePair> rows = {{"Q:a?", " x\n", " y\n"}, {"Q:b?", " x\n", " IDK.\n"},
                                            {"Q:a?", " x\n", " IDK.\n"}, {"Q:a?", " IDK.\n", " y\n"}};
  const std::vector<PreferenceGroup> g = encode_preferences(tok, rows, 16);
  REQUIRE(g.size() == 2);
  CHECK(g[0].prompt == "Q:a?");
  CHECK(g[0].sequences.size() == 3);
  CHECK(g[0].sequences[0] == tok.encode("Q:a? x\n"));
  CHECK(g[0].pairs == std::vector<std::pair<Index, Index>>{{0, 1}, {0, 2}, {2, 1}});
  CHECK(g[1].pairs.size() == 1);
  CHECK_THROWS_AS(encode_preferences(tok, rows, 6), ArgumentError);  // "Q:a? x\n" is 7 tokens
}

TEST_CASE("reward model yardstick: the language model's own likelihood orders pairs as completion_confidence does", "[reward]") {
  const CharTokenizer tok = CharTokenizer::from_text("Q:abc?\n IDK.xyz");
  GPT<double> model(GPTConfig::make(1, 2, 8, 16, tok.vocab_size()));
  Rng rng(3);
  model.init_weights(rng);
  model.parameters().flat() *= 20.0;  // far from uniform: the answers' likelihoods differ
  const std::vector<PreferencePair> rows = {{"Q:a?", " x\n", " y\n"},   {"Q:a?", " y\n", " IDK.\n"},
                                            {"Q:a?", " x\n", " IDK.\n"}, {"Q:b?", " z\n", " x\n"},
                                            {"Q:c?", " IDK.\n", " z\n"}, {"Q:c?", " y\n", " z\n"},
                                            {"Q:b?", " IDK.\n", " y\n"}, {"Q:c?", " x\n", " IDK.\n"}};
  // Independently: log P(answer | prompt) of each answer from completion_confidence.
  GPTActivations<double> a;
  Index right = 0;
  for (const PreferencePair& r : rows) {
    const double c = completion_confidence(model, a, tok.encode(r.prompt), tok.encode(r.chosen)).log_prob;
    const double j = completion_confidence(model, a, tok.encode(r.prompt), tok.encode(r.rejected)).log_prob;
    right += c > j;
  }
  INFO(right << " of 8 pairs ordered by the likelihood");
  CHECK(right > 0);
  CHECK(right < 8);  // both outcomes present: the test can tell a wrong comparison
  CHECK(likelihood_pairwise_accuracy(model, encode_preferences(tok, rows, 16)) == Approx(right / 8.0));
  CHECK_THROWS_WITH(likelihood_pairwise_accuracy(model, encode_preferences(tok, {{"Q:abc?abc?abc?", " IDK.\n", " x\n"}}, 32)),
                    Catch::Contains("past the block size 16"));
}

TEST_CASE("reward model: saved as GPT2ForSequenceClassification, loaded back with the same scores", "[reward]") {
  const std::string dir = test::temp_dir("reward_save");
  GPT<float> trunk(GPTConfig::make(2, 2, 16, 32, 11));
  Rng rng(9);
  trunk.init_weights(rng);
  const RewardModel<float> rm(trunk, rng);
  save_reward_model(rm, dir + "/rm");
  const std::vector<std::vector<TokenId>> seqs = {{1, 2, 3}, {4, 5, 6, 7, 8, 9, 10}};
  const RewardModel<float> back = load_reward_model<float>(dir + "/rm");
  CHECK(back.score(seqs) == rm.score(seqs));  // bit for bit
  CHECK(back.score_weight() == rm.score_weight());

  // The layout transformers reads: config.json with one label, the head (1, C), "transformer." names.
  const nlohmann::json config = test::read_json(dir + "/rm/config.json");
  CHECK(config["num_labels"] == 1);
  CHECK(config["architectures"][0] == "GPT2ForSequenceClassification");
  CHECK(config["id2label"].size() == 1);
  const SafetensorsReader file(dir + "/rm/model.safetensors");
  REQUIRE(file.find("score.weight") != nullptr);
  CHECK(file.find("score.weight")->shape == std::vector<Index>{1, 16});
  CHECK(file.find("transformer.wte.weight") != nullptr);
  CHECK(file.find("lm_head.weight") == nullptr);
  // The folder also loads as the language model under the head.
  CHECK((load_model<float>(dir + "/rm").parameters().flat() == trunk.parameters().flat()).all());

  // A language-model folder has no score head: a clear error naming the tensor.
  save_model(trunk, dir + "/lm");
  try {
    load_reward_model<float>(dir + "/lm");
    FAIL("a folder without a score head loaded");
  } catch (const FileError& e) {
    CHECK_THAT(e.what(), Catch::Contains("num_labels"));
  }
  nlohmann::json with_label = test::read_json(dir + "/lm/config.json");
  with_label["num_labels"] = 1;
  detail::write_file_atomic(dir + "/lm/config.json", with_label.dump());
  try {
    load_reward_model<float>(dir + "/lm");
    FAIL("a folder without a score head loaded");
  } catch (const FileError& e) {
    CHECK_THAT(e.what(), Catch::Contains("score.weight") && Catch::Contains("model.safetensors"));
  }
  // Two labels is a classifier, not a reward model.
  nlohmann::json two = test::read_json(dir + "/rm/config.json");
  two["num_labels"] = 2;
  detail::write_file_atomic(dir + "/rm/config.json", two.dump());
  CHECK_THROWS_WITH(load_reward_model<float>(dir + "/rm"), Catch::Contains("num_labels"));
  CHECK_THROWS_AS(load_reward_model<float>(dir + "/no-such-folder"), FileError);
}
