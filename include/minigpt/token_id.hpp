// minigpt/token_id.hpp — the two whole-number types everything shares, and the one check of ids.
//
// Chapter idea: a language model never sees text, only token ids (토큰): whole numbers from 0
// to V − 1, where V is the size of the vocabulary. Every part of minigpt, the tokenizers as
// much as the model, counts sizes with Index and names tokens with TokenId. This header needs
// nothing but the standard library, so a tokenizer can be used without Eigen.
//
// An id at or past V (or below 0) would read past the end of the embedding table, so ids are
// checked where they come in from outside — a prompt, a training text, a list typed on the
// command line — by the one function below, and every check says the same thing:
//
//     token id 101 at (b 0, t 1) is out of range: outside the vocabulary 0..100 of 101 tokens
//
// Shapes in: ids (n), or (B, T) row after row.  Shapes out: none (a thrown ArgumentError).
//
// Example:
//     check_token_ids({5, 7}, 10, "generate");          // fine
//     check_token_ids({5, 70}, 10, "generate");         // "generate: token id 70 at (token 1) ..."
#pragma once

#include "error.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace minigpt {

using Index = std::ptrdiff_t;  // every size and offset; never int (Eigen::Index is the same type)
using TokenId = std::int32_t;  // a token id, 0 .. V − 1

// The error for id at `position` ("(b 0, t 1)", "(token 7)"; may be empty) against a
// vocabulary of V tokens. `who` (may be empty) names the caller or the file.
inline ArgumentError token_id_error(const std::string& who, TokenId id, const std::string& position, Index V) {
  return ArgumentError((who.empty() ? "" : who + ": ") + "token id " + std::to_string(id) +
                       (position.empty() ? "" : " at " + position) + " is out of range: outside the vocabulary 0.." +
                       std::to_string(V - 1) + " of " + std::to_string(V) + " tokens");
}

// Every id of ids[0 .. n) must be in 0 .. V − 1. With T > 0 the ids are (B, T), row after row,
// and the first bad one is named by (b, t); else by its index.
inline void check_token_ids(const TokenId* ids, Index n, Index V, const std::string& who, Index T = 0) {
  for (Index i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= V) {
      const std::string position = T > 0 ? "(b " + std::to_string(i / T) + ", t " + std::to_string(i % T) + ")"
                                          : "(token " + std::to_string(i) + ")";
      throw token_id_error(who, ids[i], position, V);
    }
}

inline void check_token_ids(const std::vector<TokenId>& ids, Index V, const std::string& who, Index T = 0) {
  check_token_ids(ids.data(), static_cast<Index>(ids.size()), V, who, T);
}

}  // namespace minigpt
