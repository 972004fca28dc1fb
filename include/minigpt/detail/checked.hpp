// minigpt/detail/checked.hpp — size arithmetic that refuses to overflow.
//
// Parameter counts and file offsets of large models (GPT-3: 174.6 billion weights) are
// computed in Index (64 bits) with every product and sum checked, so a lying config or
// header gets an error instead of a wrapped-around size.
#pragma once

#include "../error.hpp"
#include "../token_id.hpp"

#include <cstdint>
#include <string>

namespace minigpt {
namespace detail {

inline Index checked_mul(Index a, Index b, const char* what) {
  Index r;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r))
    throw ArgumentError(std::string(what) + ": size overflows 64 bits");
  return r;
}

inline Index checked_add(Index a, Index b, const char* what) {
  Index r;
  if (a < 0 || b < 0 || __builtin_add_overflow(a, b, &r))
    throw ArgumentError(std::string(what) + ": size overflows 64 bits");
  return r;
}

}  // namespace detail
}  // namespace minigpt
