// minigpt/confidence.hpp — how sure is the model of its answer? (확신도, confidence)
//
// Chapter idea: a model that only predicts the next token can still "know whether it knows":
// the probabilities it gives its own answer are its confidence. Kalai et al. 2025 ("Why
// Language Models Hallucinate") find a pre-trained model's probabilities calibrated (of the
// answers it gives with probability 0.7, about 70% are right: calibration.hpp), so the number
// is there to be used; whether an answer is then said or replaced by "I don't know" is what
// the grading decides.
//
// The confidence of a completion a = (a_1 .. a_L) after a prompt x = (x_1 .. x_P), from ONE
// forward pass over the P + L − 1 tokens x_1 .. x_P a_1 .. a_{L−1} (logits (P+L−1, V)):
//   row P − 1 + j of the logits predicts a_{j+1}          (rows counted from 0)
//   p_j     = softmax(logits[P − 1 + j])[a_{j+1}]        per-token probability   (L)
//   H_j     = −Σ_v softmax(...)_v log softmax(...)_v     per-token entropy, nats (L)
//   log P(a | x) = Σ_j log p_j,   confidence = P(a | x) = Π_j p_j
// The product is the probability the model samples exactly this completion at temperature 1;
// the whole answer counts, its end (the newline) included: " Busan\n" must both say Busan and
// stop there.
//
// Self-consistency over N sampled answers s_1 .. s_N (temperature 1, the full distribution):
//   agreement(a) = #{i : s_i = a} / N
// Each sample equals a with probability P(a | x), so agreement(a) estimates the same number
// as the exact product (its standard error sqrt(P(1−P)/N)); the majority answer and its share
// are what a model without access to its logits (an API) can still measure. The exact product
// needs one forward pass; self-consistency needs N generations.
//
// Familiarity of a name (익숙함): how little the model is surprised by the text itself, not by
// an answer about it. For a context c (a newline by default: where a sentence starts) and a
// text s = (s_1 .. s_M), M >= 2, from one forward pass over c s_1 .. s_{M−1}:
//   familiarity(s) = exp( (1/(M−1)) Σ_{j=2..M} log p(s_j | c, s_1 .. s_{j−1}) )
// the geometric mean of the probabilities of s's tokens after its first (any name may start
// with any letter; a known one is then easy to go on with), a number in (0, 1]. A name the
// pre-training text repeated is predicted almost letter by letter; one it showed once or never
// is not. It is what membership inference reads (Carlini et al. 2021: a text's likelihood
// under a model says whether the model was trained on it): the model's sense of whom it has
// heard of.
//
// Shapes: logits (P+L−1, V), prompt (P), completion (L) -> p (L), H (L), log P (scalar);
//         context (P), text (M) -> familiarity (scalar).
//
// Worked example: V = 2, prompt [0], completion [1 0], the model's logits over [0 1] are
//   row 0 (after x_1 = 0):  [0 0]        -> p_1 = softmax[1] = 0.5,   H_1 = log 2 = 0.6931
//   row 1 (after a_1 = 1):  [log 3, 0]   -> p_2 = softmax[0] = 0.75,  H_2 = 0.5623
//   log P = log 0.5 + log 0.75 = −0.9808, confidence = 0.375
//
// Worked example of familiarity, the same logits: context [0], text [1 0]: only s_2 = 0 is
// scored (row 1, after c s_1 = [0 1]): familiarity = exp(log 0.75 / 1) = 0.75.
#pragma once

#include "error.hpp"
#include "generation.hpp"
#include "gpt.hpp"
#include "loss.hpp"
#include "random.hpp"
#include "sampling.hpp"
#include "tensor.hpp"
#include "token_id.hpp"
#include "tokenizer.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace minigpt {

// What the model thinks of one completion.
struct CompletionConfidence {
  std::vector<double> token_prob;     // p_j (L)
  std::vector<double> token_entropy;  // H_j (L), nats
  double log_prob = 0;                // Σ log p_j
  double prob = 0;                    // Π p_j: the confidence
  double min_token_prob = 0;          // the least likely token's p_j
  Index tokens = 0;                   // L
};

// From the logits (rows, V) of a forward pass over prompt + completion without its last
// token: rows P − 1 .. P + L − 2 are read (rows may hold more positions after them).
template <typename S>
CompletionConfidence completion_confidence(const ConstMatrixRef<S>& logits, Index prompt_length,
                                           const std::vector<TokenId>& completion) {
  const Index P = prompt_length, L = static_cast<Index>(completion.size()), V = logits.cols();
  if (P < 1 || L < 1)
    throw ArgumentError("completion_confidence: need a prompt and a completion of at least one token each (P = " +
                        std::to_string(P) + ", L = " + std::to_string(L) + ")");
  if (logits.rows() < P + L - 1)
    throw ArgumentError("completion_confidence: " + std::to_string(logits.rows()) + " rows of logits, need P + L - 1 = " +
                        std::to_string(P + L - 1));
  check_token_ids(completion, V, "completion_confidence: the completion");
  const ConstMatrixRef<S> rows = logits.middleRows(P - 1, L);  // row j predicts a_{j+1}
  const std::vector<S> logp = token_log_probs<S>(rows, completion.data());
  const std::vector<S> h = token_entropy<S>(rows);
  CompletionConfidence c;
  c.tokens = L;
  c.min_token_prob = 1.0;
  for (Index j = 0; j < L; ++j) {
    const double lp = static_cast<double>(logp[static_cast<std::size_t>(j)]);
    c.token_prob.push_back(std::exp(lp));
    c.token_entropy.push_back(static_cast<double>(h[static_cast<std::size_t>(j)]));
    c.log_prob += lp;
    c.min_token_prob = std::min(c.min_token_prob, c.token_prob.back());
  }
  c.prob = std::exp(c.log_prob);
  return c;
}

// One forward pass of `model` over prompt + completion (minus its last token), in `a`.
// Throws ArgumentError when P + L − 1 exceeds the model's block size (n_positions).
template <typename S>
CompletionConfidence completion_confidence(const GPT<S>& model, GPTActivations<S>& a, const std::vector<TokenId>& prompt,
                                           const std::vector<TokenId>& completion) {
  if (prompt.empty() || completion.empty())
    throw ArgumentError("completion_confidence: the prompt and the completion must each hold a token");
  std::vector<TokenId> ids = prompt;
  ids.insert(ids.end(), completion.begin(), completion.end() - 1);
  const Index T = static_cast<Index>(ids.size());
  if (T > model.config().n_positions)
    throw ArgumentError("completion_confidence: prompt + completion need " + std::to_string(T) +
                        " positions, the model reads at most " + std::to_string(model.config().n_positions));
  const Tensor<S>& logits = model.forward(a, ids, 1, T);  // (1, T, V)
  return completion_confidence<S>(logits.matrix(), static_cast<Index>(prompt.size()), completion);
}

// The familiarity of `text` after `context` (ids), from one forward pass (above). Throws
// ArgumentError when the context is empty, the text has fewer than two tokens, or both
// together exceed the model's block size.
template <typename S>
double familiarity(const GPT<S>& model, GPTActivations<S>& a, const std::vector<TokenId>& context,
                   const std::vector<TokenId>& text) {
  if (context.empty() || text.size() < 2)
    throw ArgumentError("familiarity: need a context of at least one token and a text of at least two (got " +
                        std::to_string(context.size()) + " and " + std::to_string(text.size()) + ")");
  std::vector<TokenId> prompt = context;
  prompt.push_back(text[0]);  // s_1 is read, not scored
  const CompletionConfidence c = completion_confidence(model, a, prompt, std::vector<TokenId>(text.begin() + 1, text.end()));
  return std::exp(c.log_prob / static_cast<double>(c.tokens));
}
// The same on text: familiarity(model, tok, "Mina Park") after a newline.
template <typename S>
double familiarity(const GPT<S>& model, const Tokenizer& tok, const std::string& text, const std::string& context = "\n") {
  GPTActivations<S> a;
  return familiarity(model, a, tok.encode(context), tok.encode(text));
}

// ---- answers in text ----

struct AnswerOptions {
  Index max_new_tokens = 24;  // an answer that has not ended by then is cut (ended = false)
  std::string stop = "\n";    // the text that ends an answer (kept in the completion)
};

// A completion of a prompt, cut after the first `stop`, and the model's confidence in it.
struct ModelAnswer {
  std::string completion;             // " Busan\n"
  bool ended = false;                 // it contains `stop`
  CompletionConfidence confidence;    // of completion's tokens after prompt's
};

// The text up to and including the first `stop` (all of it when there is none).
inline std::string cut_at_stop(const std::string& text, const std::string& stop, bool* ended = nullptr) {
  const std::size_t at = stop.empty() ? std::string::npos : text.find(stop);
  if (ended != nullptr) *ended = at != std::string::npos;
  return at == std::string::npos ? text : text.substr(0, at + stop.size());
}

namespace confidence_detail {
// The id that alone spells `stop`, or −1 when it takes more than one token.
inline TokenId stop_token(const Tokenizer& tok, const std::string& stop) {
  const std::vector<TokenId> ids = tok.encode(stop);
  return ids.size() == 1 ? ids[0] : TokenId(-1);
}
template <typename S>
std::vector<TokenId> prompt_ids(const GPT<S>& model, const Tokenizer& tok, const std::string& prompt,
                                const AnswerOptions& opt) {
  std::vector<TokenId> ids = tok.encode(prompt);
  if (ids.empty()) throw ArgumentError("answer: the prompt is empty");
  if (static_cast<Index>(ids.size()) + opt.max_new_tokens > model.config().n_positions)
    throw ArgumentError("answer: a prompt of " + std::to_string(ids.size()) + " tokens and " +
                        std::to_string(opt.max_new_tokens) + " new ones exceed the block size " +
                        std::to_string(model.config().n_positions));
  return ids;
}
}  // namespace confidence_detail

// The model's answer with `sampling` (greedy by default) and its confidence: the completion
// is generated, cut after the stop text, encoded again and scored by one forward pass.
template <typename S>
ModelAnswer answer(GPT<S>& model, const Tokenizer& tok, const std::string& prompt, const AnswerOptions& opt = {},
                   const SamplingOptions& sampling = {0.0, 0, 1.0}, Rng* rng = nullptr) {
  const std::vector<TokenId> p = confidence_detail::prompt_ids(model, tok, prompt, opt);
  GenerateOptions g;
  g.max_new_tokens = opt.max_new_tokens;
  g.sampling = sampling;
  g.stop_token = confidence_detail::stop_token(tok, opt.stop);
  Rng fallback(0);
  const std::vector<TokenId> out = generate(model, p, 1, g, rng != nullptr ? *rng : fallback)[0];
  ModelAnswer a;
  a.completion = cut_at_stop(tok.decode(out), opt.stop, &a.ended);
  const std::vector<TokenId> c = tok.encode(a.completion);
  if (!c.empty()) a.confidence = completion_confidence(model, model.activations(), p, c);
  return a;
}

// N completions of a prompt sampled with `sampling` (temperature 1, no top-k/top-p: the
// full distribution, by default), each cut after the stop text; N sequences generated as one
// batch.
template <typename S>
std::vector<std::string> sample_answers(GPT<S>& model, const Tokenizer& tok, const std::string& prompt, Index N, Rng& rng,
                                        const AnswerOptions& opt = {}, const SamplingOptions& sampling = {}) {
  if (N < 1) throw ArgumentError("sample_answers: N must be >= 1, got " + std::to_string(N));
  const std::vector<TokenId> p = confidence_detail::prompt_ids(model, tok, prompt, opt);
  std::vector<TokenId> batch;
  for (Index i = 0; i < N; ++i) batch.insert(batch.end(), p.begin(), p.end());
  GenerateOptions g;
  g.max_new_tokens = opt.max_new_tokens;
  g.sampling = sampling;
  g.stop_token = confidence_detail::stop_token(tok, opt.stop);
  std::vector<std::string> out;
  for (const std::vector<TokenId>& row : generate(model, batch, N, g, rng)) out.push_back(cut_at_stop(tok.decode(row), opt.stop));
  return out;
}

// Self-consistency: how many of N samples agree.
struct SelfConsistency {
  Index samples = 0;
  std::string majority;        // the most frequent sample (on ties, the first to reach that count)
  double majority_share = 0;   // its share of the samples
  double agreement = 0;        // the share equal to the answer asked about
};

inline SelfConsistency self_consistency(const std::vector<std::string>& samples, const std::string& answer) {
  if (samples.empty()) throw ArgumentError("self_consistency: no samples");
  SelfConsistency s;
  s.samples = static_cast<Index>(samples.size());
  std::map<std::string, Index> count;
  Index best = 0, same = 0;
  for (const std::string& x : samples) {
    const Index n = ++count[x];
    if (n > best) best = n, s.majority = x;
    same += x == answer;
  }
  s.majority_share = static_cast<double>(best) / static_cast<double>(s.samples);
  s.agreement = static_cast<double>(same) / static_cast<double>(s.samples);
  return s;
}

}  // namespace minigpt
