// minigpt/detail/field_json.hpp — reading and writing a settings struct as JSON, from its field table.
//
// fields_to_json(s) writes every field of the table (fields.hpp) under its name;
// fields_from_json(s, j, where, prefix) reads them back, with one message per kind of
// mistake, naming the file (`where`) and the field (prefix + name):
//     missing                         (a required field, and no alias either)
//     must be an integer, got 1.5     (Index fields; "too large" past 2^63 − 1)
//     must be a number, got "x"       (double fields; null means the default)
//     must be a string / must be true or false
//     must be a non-negative integer  (std::uint64_t fields, e.g. seeds)
// Checks across fields (sizes that must divide, ranges) are the struct's own validate().
//
// Shapes in: none.  Shapes out: none.
#pragma once

#include "../error.hpp"
#include "../token_id.hpp"
#include "fields.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <type_traits>

namespace minigpt {
namespace detail {

template <typename T>
nlohmann::json fields_to_json(const T& s) {
  nlohmann::json j = nlohmann::json::object();
  T::for_each_field([&](const char* name, FieldSpec, const auto& value) { j[name] = value; }, s);
  return j;
}

// One value of the JSON into a field of type V.
template <typename V>
void read_field(V& out, const nlohmann::json& v, const std::string& where, const std::string& field) {
  if constexpr (std::is_same<V, Index>::value) {
    if (v.is_number_unsigned()) {
      const auto u = v.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(INT64_MAX)) throw FileError(where, field, "too large");
      out = static_cast<Index>(u);
    } else if (v.is_number_integer()) {
      out = static_cast<Index>(v.get<std::int64_t>());
    } else {
      throw FileError(where, field, "must be an integer, got " + v.dump());
    }
  } else if constexpr (std::is_same<V, std::uint64_t>::value) {
    if (!v.is_number_unsigned()) throw FileError(where, field, "must be a non-negative integer, got " + v.dump());
    out = v.get<std::uint64_t>();
  } else if constexpr (std::is_same<V, double>::value) {
    if (v.is_null()) return;  // the default stands
    if (!v.is_number()) throw FileError(where, field, "must be a number, got " + v.dump());
    out = v.get<double>();
  } else if constexpr (std::is_same<V, bool>::value) {
    if (!v.is_boolean()) throw FileError(where, field, "must be true or false, got " + v.dump());
    out = v.get<bool>();
  } else {
    static_assert(std::is_same<V, std::string>::value, "a field type fields_from_json does not read");
    if (!v.is_string()) throw FileError(where, field, "must be a string, got " + v.dump());
    out = v.get<std::string>();
  }
}

// Reads every field of the table from the JSON object j into s (which holds the defaults).
template <typename T>
void fields_from_json(T& s, const nlohmann::json& j, const std::string& where, const std::string& prefix = "") {
  if (!j.is_object()) throw FileError(where, prefix.empty() ? "" : prefix.substr(0, prefix.size() - 1), "must be a JSON object");
  T::for_each_field(
      [&](const char* name, FieldSpec spec, auto& value) {
        auto it = j.find(name);
        if (it == j.end() && spec.alias != nullptr) it = j.find(spec.alias);
        if (it == j.end()) {
          if (spec.required)
            throw FileError(where, prefix + name,
                            spec.alias == nullptr ? "missing" : std::string("missing (and no ") + spec.alias + " either)");
          return;
        }
        read_field(value, *it, where, prefix + name);
      },
      s);
}

}  // namespace detail
}  // namespace minigpt
