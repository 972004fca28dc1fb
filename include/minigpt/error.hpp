// minigpt/error.hpp — how minigpt says no.
//
// Every input from outside (a file, a flag, a prompt, a list of ids) is checked, and a bad one
// is answered with an exception whose message names the file (or argument) and the field,
// e.g.  "model/model.safetensors: tensor 'h.0.attn.c_attn.weight': shape [768, 2304]
// expected, file has [768, 768]". Nothing in minigpt aborts or returns garbage instead.
//
// Shapes in: none.  Shapes out: none.
#pragma once

#include <stdexcept>
#include <string>

namespace minigpt {

// Base of every exception minigpt throws on purpose.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// A file (or stream) that is missing, unreadable, or says something impossible.
// where() is the path; field() names the part of the file at fault (may be empty).
class FileError : public Error {
 public:
  FileError(std::string where, std::string field, const std::string& what)
      : Error(where + (field.empty() ? "" : ": " + field) + ": " + what),
        where_(std::move(where)),
        field_(std::move(field)) {}
  const std::string& where() const { return where_; }
  const std::string& field() const { return field_; }

 private:
  std::string where_, field_;
};

// A call that breaks the contract in its shape comment: wrong shape, id out of range,
// context longer than the block size, a bad option value.
class ArgumentError : public Error {
 public:
  explicit ArgumentError(const std::string& what) : Error(what) {}
};

}  // namespace minigpt
