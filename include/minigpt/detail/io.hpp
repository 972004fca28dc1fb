// minigpt/detail/io.hpp — reading whole files, and saving without ever losing the old copy.
//
// write_file_atomic() writes to a temporary file in the same folder, flushes it to disk, then
// renames it over the target: a crash, a full disk or a read-only folder leaves whatever was
// there before untouched, and the error names the path.
#pragma once

#include "../error.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace minigpt {
namespace detail {

inline std::string errno_text(int err) { return std::strerror(err); }

// The whole file as bytes. Refuses folders and files larger than max_bytes.
inline std::string read_file(const std::string& path,
                             std::size_t max_bytes = std::size_t(1) << 40) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "", "cannot open for reading (" + errno_text(errno) + ")");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw FileError(path, "", "is a folder, not a file");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) throw FileError(path, "", "cannot tell the file size");
  if (static_cast<std::size_t>(size) > max_bytes)
    throw FileError(path, "", "file is " + std::to_string(size) + " bytes, more than the limit of " +
                                  std::to_string(max_bytes));
  in.seekg(0, std::ios::beg);
  std::string bytes(static_cast<std::size_t>(size), '\0');
  if (size > 0 && !in.read(&bytes[0], size))
    throw FileError(path, "", "read failed after " + std::to_string(in.gcount()) + " bytes");
  return bytes;
}

inline bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

inline bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// mkdir -p for one level or more; an error names the folder.
inline void make_directories(const std::string& path) {
  if (path.empty() || is_directory(path)) return;
  const auto slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) make_directories(path.substr(0, slash));
  if (::mkdir(path.c_str(), 0777) != 0 && errno != EEXIST)
    throw FileError(path, "", "cannot create folder (" + errno_text(errno) + ")");
}

// Writes `pieces` one after another into `path`, atomically. Either the new file is complete
// and in place, or the previous file (if any) is untouched and an exception says why.
inline void write_file_atomic(const std::string& path, const std::vector<std::pair<const char*, std::size_t>>& pieces) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw FileError(path, "", "cannot create a temporary file to save (" + errno_text(errno) + ")");
  auto fail = [&](const std::string& what) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    throw FileError(path, "", what + " (" + errno_text(err) + "); the previous file is untouched");
  };
  for (const auto& piece : pieces) {
    const char* p = piece.first;
    std::size_t left = piece.second;
    while (left > 0) {
      const ::ssize_t n = ::write(fd, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("write failed");
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }
  if (::fsync(fd) != 0) fail("fsync failed");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw FileError(path, "", "close failed (" + errno_text(err) + "); the previous file is untouched");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw FileError(path, "", "rename failed (" + errno_text(err) + "); the previous file is untouched");
  }
}

inline void write_file_atomic(const std::string& path, const std::string& bytes) {
  write_file_atomic(path, {{bytes.data(), bytes.size()}});
}

}  // namespace detail
}  // namespace minigpt
