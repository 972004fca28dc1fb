// Helpers shared by the libFuzzer targets in this folder (see CMakeLists.txt and
// docs/robustness.md for how to build and run them).
//
// Each target feeds arbitrary bytes to one of minigpt's ways in and checks two things: a bad
// input is refused with a minigpt::Error (any other exception, a crash, a sanitizer report, a
// hang or an unbounded allocation is a finding), and a good input satisfies the properties
// the target states (e.g. decode(encode(x)) == x). A broken property calls fuzz_fail(), which
// aborts, so libFuzzer keeps the input as a crash.
#pragma once

#include <minigpt/error.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fuzz {

[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "\nFUZZ PROPERTY BROKEN: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

#define FUZZ_CHECK(cond, what)                                          \
  do {                                                                  \
    if (!(cond)) ::fuzz::fail(std::string(#cond) + ": " + (what));      \
  } while (0)

// A folder of this process's own under $TMPDIR (or /tmp), made once and removed with its
// files when the fuzzer exits normally.
struct ScratchDir {
  std::string path;
  ScratchDir() {
    const char* t = std::getenv("TMPDIR");
    path = std::string(t && *t ? t : "/tmp") + "/minigpt-fuzz-" + std::to_string(::getpid());
    ::mkdir(path.c_str(), 0700);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};
inline const std::string& scratch_dir() {
  static const ScratchDir dir;
  return dir.path;
}

// Writes bytes to path (replacing it); aborts if the file system refuses, since then the
// target would test nothing.
inline void write_bytes(const std::string& path, const std::uint8_t* data, std::size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) fail("cannot write " + path);
  if (size > 0 && std::fwrite(data, 1, size, f) != size) fail("short write to " + path);
  std::fclose(f);
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  write_bytes(path, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

// True when msg mentions needle (messages must name the file and the field).
inline bool mentions(const char* msg, const std::string& needle) {
  return std::string(msg).find(needle) != std::string::npos;
}

}  // namespace fuzz
