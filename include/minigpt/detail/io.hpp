// minigpt/detail/io.hpp — reading whole files, and saving without ever losing the old copy.
//
// write_file_atomic() writes to a temporary file in the same folder, flushes it to disk, then
// renames it over the target: a crash, a full disk or a read-only folder leaves whatever was
// there before untouched, and the error names the path. write_files_atomic() does the same
// for a set of files (a model's config.json and model.safetensors): all are written before
// any is renamed.
#pragma once

#include "../error.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
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

// A whole JSON file, parsed; malformed JSON is a FileError naming the file.
inline nlohmann::json read_json_file(const std::string& path, std::size_t max_bytes = std::size_t(256) << 20) {
  const std::string text = read_file(path, max_bytes);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw FileError(path, "json", std::string("malformed JSON: ") + e.what());
  }
}

inline bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

inline bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// mkdir -p for one level or more; an error names the folder (or the file in the way).
inline void make_directories(const std::string& path) {
  if (path.empty() || is_directory(path)) return;
  if (file_exists(path)) throw FileError(path, "", "exists and is not a folder");
  const auto slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) make_directories(path.substr(0, slash));
  if (::mkdir(path.c_str(), 0777) != 0 && errno != EEXIST)
    throw FileError(path, "", "cannot create folder (" + errno_text(errno) + ")");
}

// Flushes a folder's entries (new names, renames) to disk.
inline void fsync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: some filesystems refuse to open folders
  (void)::fsync(fd);
  ::close(fd);
}

inline std::string parent_directory(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// One file to write: its path and its bytes, in pieces (e.g. a header, then a tensor buffer).
struct FileToWrite {
  std::string path;
  std::vector<std::pair<const char*, std::size_t>> pieces;
};

// Writes every file, atomically as a set as far as a filesystem allows:
//   1. each file goes to a temporary of its own in its folder (path.tmp.XXXXXX, unique even
//      between threads) and is flushed to disk;
//   2. only when all are complete are they renamed over their targets, and the folders flushed.
// A failure in step 1 (a full disk, a read-only folder, a missing path) removes the temporaries
// and leaves every previous file untouched; the exception names the file. Step 2 is a few
// renames within one folder, which do not fail for want of space.
inline void write_files_atomic(const std::vector<FileToWrite>& files) {
  std::vector<std::string> temps;
  auto discard = [&] {
    for (const auto& t : temps) ::unlink(t.c_str());
  };
  for (const FileToWrite& f : files) {
    std::string tmp = f.path + ".tmp.XXXXXX";
    const int fd = ::mkstemp(&tmp[0]);
    if (fd < 0) {
      const int err = errno;
      discard();
      throw FileError(f.path, "", "cannot create a temporary file to save (" + errno_text(err) +
                                      "); the previous file is untouched");
    }
    temps.push_back(tmp);
    auto fail = [&](const std::string& what) {
      const int err = errno;
      ::close(fd);
      discard();
      throw FileError(f.path, "", what + " (" + errno_text(err) + "); the previous file is untouched");
    };
    if (::fchmod(fd, 0644) != 0) fail("cannot set permissions");
    for (const auto& piece : f.pieces) {
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
      discard();
      throw FileError(f.path, "", "close failed (" + errno_text(err) + "); the previous file is untouched");
    }
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (::rename(temps[i].c_str(), files[i].path.c_str()) != 0) {
      const int err = errno;
      for (std::size_t j = i; j < temps.size(); ++j) ::unlink(temps[j].c_str());
      throw FileError(files[i].path, "", "rename failed (" + errno_text(err) + ")");
    }
  }
  for (const FileToWrite& f : files) fsync_directory(parent_directory(f.path));
}

// One file, atomically: the new file complete and in place, or the old one untouched.
inline void write_file_atomic(const std::string& path, const std::vector<std::pair<const char*, std::size_t>>& pieces) {
  write_files_atomic({FileToWrite{path, pieces}});
}

inline void write_file_atomic(const std::string& path, const std::string& bytes) {
  write_file_atomic(path, {{bytes.data(), bytes.size()}});
}

}  // namespace detail
}  // namespace minigpt
