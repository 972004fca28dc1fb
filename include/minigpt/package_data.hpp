// minigpt/package_data.hpp — where minigpt's programs find the files that come with them.
//
// Not an idea of the chapter but of its programs: `tokenize` reads GPT-2's vocabulary (the
// 토크나이저 the chapter talks about) and `next_token_predictor` trains on tinyshakespeare when
// no file is given. Those files travel with the programs, and a program finds them relative to
// where it is itself, never at a path fixed when it was built. So the same program works in the
// build tree, installed under any prefix, and after the prefix is moved:
//
//   installed    <prefix>/bin/tokenize          <prefix>/share/minigpt/gpt2/encoder.json
//   build tree   build/examples/tokenize        build/share/minigpt/gpt2/encoder.json
//                                               (copied there by CMake when it configures)
//
// The path from the programs' folder to the data folder ("../share/minigpt" in both layouts
// above) is the build's to say: examples/CMakeLists.txt computes it from the install folders
// and hands it to the programs as MINIGPT_PACKAGE_DATA.
//
//   In:  a name inside the data folder ("gpt2", "tinyshakespeare.txt"), the path from the
//        program's folder to the data folder.
//   Out: the absolute path of that file or folder, or a FileError naming where it looked.
//
// Example (a program installed as /opt/minigpt/bin/tokenize):
//   program_folder()                              -> "/opt/minigpt/bin"
//   package_data("gpt2", "../share/minigpt")      -> "/opt/minigpt/share/minigpt/gpt2"
//   load_tokenizer(package_data("gpt2"))          GPT-2's 50,257 tokens, from any working folder
#pragma once

#include "detail/io.hpp"
#include "error.hpp"

#include <climits>
#include <cstdlib>
#include <string>

#include <unistd.h>

namespace minigpt {

// The folder holding the running program (Linux: the link /proc/self/exe).
inline std::string program_folder() {
  std::string path(PATH_MAX, '\0');
  const ssize_t n = ::readlink("/proc/self/exe", &path[0], path.size());
  if (n <= 0 || static_cast<std::size_t>(n) >= path.size())
    throw FileError("/proc/self/exe", "", "cannot tell which folder the running program is in");
  path.resize(static_cast<std::size_t>(n));
  return path.substr(0, path.rfind('/'));
}

// <program folder>/<from_program>/<name>, made absolute and without "..": a file or folder of
// the data that comes with minigpt's programs.
inline std::string package_data(const std::string& name, const std::string& from_program = "../share/minigpt") {
  const std::string path = program_folder() + "/" + from_program + "/" + name;
  char resolved[PATH_MAX];
  if (!detail::file_exists(path) || ::realpath(path.c_str(), resolved) == nullptr)
    throw FileError(path, "",
                    "not found: the data that comes with minigpt's programs belongs there (installed as "
                    "<prefix>/share/minigpt, or copied into the build tree by CMake); name the file yourself instead");
  return resolved;
}

}  // namespace minigpt
