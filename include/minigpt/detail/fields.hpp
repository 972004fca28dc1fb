// minigpt/detail/fields.hpp — one table of a settings struct's fields, and what follows from it.
//
// A struct of settings (GPTConfig, TrainOptions) lists its fields once, in a static member
//
//     template <typename F, typename... Self>
//     static void for_each_field(F&& field, Self&... s) {
//       field("n_layer", required, s.n_layer...);
//       field("layer_norm_epsilon", optional, s.layer_norm_epsilon...);
//     }
//
// and visits one object (field(name, spec, member)) or several side by side
// (field(name, spec, a.member, b.member)). Equality (here), and reading and writing JSON
// (field_json.hpp) are derived from that one table, so adding a field is one line.
//
// Shapes in: none.  Shapes out: none.
#pragma once

namespace minigpt {
namespace detail {

// What a file must say about a field: whether it is required (else the struct's default
// stands), and another name older files use for it (or null).
struct FieldSpec {
  bool required = false;
  const char* alias = nullptr;
};
constexpr FieldSpec required{true, nullptr};
constexpr FieldSpec optional{false, nullptr};

// Every field of a equal to the same field of b.
template <typename T>
bool fields_equal(const T& a, const T& b) {
  bool equal = true;
  T::for_each_field([&](const char*, FieldSpec, const auto& x, const auto& y) { equal = equal && x == y; }, a, b);
  return equal;
}

}  // namespace detail
}  // namespace minigpt
