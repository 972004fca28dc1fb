// minigpt/weight_format.hpp — how many bytes a weight takes while the model runs.
//
// Chapter idea: generating a token reads every weight of the model once (GPT-2 small: 124
// million of them), so decoding goes as fast as memory delivers those bytes. A trained model
// can run on rounded weights instead of its f32 ones:
//
//     format   bytes per weight   a weight comes back as
//     f32      4                  itself (the default, and the reference)
//     bf16     2                  its top 16 bits, rounded to nearest even (7 mantissa bits)
//     q8_0     34/32 = 1.0625     d · q, one fp16 scale d per block of 32, q an int8 in [-127, 127]
//
// bf16 halves the bytes read per token and q8_0 almost quarters them; the error they add is
// measured in docs/model.md (section 9). Only the linear layers' matrices and the LM head take
// the format; biases, layer norms and the position embedding stay f32.
//
// Example:
//     model.set_weight_format(WeightFormat::q8_0);   // gpt.hpp: quantize, then run
//     parse_weight_format("bf16") == WeightFormat::bf16
#pragma once

#include "error.hpp"

#include <cctype>
#include <string>

namespace minigpt {

enum class WeightFormat { f32, bf16, q8_0 };

inline const char* weight_format_name(WeightFormat f) {
  switch (f) {
    case WeightFormat::f32: return "f32";
    case WeightFormat::bf16: return "bf16";
    case WeightFormat::q8_0: return "q8_0";
  }
  return "?";
}

// Bytes per weight, as stored while running (q8_0: a 2-byte scale per 32 one-byte values).
inline double weight_format_bytes(WeightFormat f) {
  switch (f) {
    case WeightFormat::f32: return 4.0;
    case WeightFormat::bf16: return 2.0;
    case WeightFormat::q8_0: return 34.0 / 32.0;
  }
  return 4.0;
}

// "f32", "bf16", "q8_0" (any case) -> the format; anything else is an ArgumentError.
inline WeightFormat parse_weight_format(const std::string& text) {
  std::string s;
  for (char c : text) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "f32") return WeightFormat::f32;
  if (s == "bf16") return WeightFormat::bf16;
  if (s == "q8_0") return WeightFormat::q8_0;
  throw ArgumentError("unknown weight format '" + text + "' (f32, bf16, q8_0)");
}

}  // namespace minigpt
