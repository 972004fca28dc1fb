// The catalogue of bad inputs, part 2: saving where saving cannot work. A read-only folder and
// a full disk must give an error naming the path and leave the previous checkpoint exactly as
// it was, with no half-written or temporary file beside it.
//
// How each condition is made, so that the failing write really happens (checked on errno's
// text in the message):
//   - full disk, everywhere: a forked child lowers RLIMIT_FSIZE below the checkpoint's size and
//     ignores SIGXFSZ, so write() fails with EFBIG ("File too large") part-way through;
//   - full disk, where mounting is allowed (root with CAP_SYS_ADMIN, as in CI): a 64 KiB
//     tmpfs filled up, so write() fails with ENOSPC;
//   - read-only folder: as an ordinary user, chmod 0555; as root, where permissions do not stop
//     writes, a tmpfs remounted read-only (EROFS); and, for everyone, a path under a regular
//     file (ENOTDIR).
// A condition that cannot be made here is reported with WARN, never passed in silence; the
// RLIMIT_FSIZE and ENOTDIR cases run everywhere.
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>

#include <dirent.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace minigpt;
using Catch::Matchers::Contains;

namespace {

GPT<float> model_with_seed(std::uint64_t seed) {
  GPT<float> m(GPTConfig::make(2, 2, 16, 8, 30));  // about 30 KB of weights
  Rng rng(seed);
  m.init_weights(rng);
  return m;
}

// Every entry of a folder (not recursive): name -> bytes ("<dir>" for folders).
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  DIR* d = ::opendir(dir.c_str());
  REQUIRE(d != nullptr);
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    files[name] = detail::is_directory(dir + "/" + name) ? "<dir>" : detail::read_file(dir + "/" + name);
  }
  ::closedir(d);
  return files;
}

std::vector<std::string> names(const std::map<std::string, std::string>& files) {
  std::vector<std::string> out;
  for (const auto& kv : files) out.push_back(kv.first);
  return out;
}

// Runs f in a forked child; returns what it threw ("" when it returned normally).
std::string in_child(const std::function<void()>& f) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::string result = "returned";
    try {
      f();
    } catch (const std::exception& e) {
      result = std::string("threw: ") + e.what();
    }
    const ssize_t n = ::write(fds[1], result.data(), result.size());
    ::_exit(n == static_cast<ssize_t>(result.size()) ? 0 : 1);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  return out;
}

// A small tmpfs mounted for the test, unmounted (and its folder removed) at the end.
// ok() is false, with why(), where mounting is not allowed.
class Tmpfs {
 public:
  explicit Tmpfs(const std::string& options) {
    char tmpl[] = "/tmp/minigpt-tmpfs-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      why_ = std::strerror(errno);
      return;
    }
    dir_ = tmpl;
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, options.c_str()) != 0) {
      why_ = std::string("mount -t tmpfs: ") + std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~Tmpfs() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;
  bool ok() const { return mounted_; }
  const std::string& why() const { return why_; }
  const std::string& dir() const { return dir_; }
  bool remount_read_only() {
    return ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, nullptr) == 0;
  }

 private:
  std::string dir_, why_;
  bool mounted_ = false;
};

// Fills the file system holding dir until a write fails; returns that errno.
int fill_up(const std::string& dir) {
  std::FILE* f = std::fopen((dir + "/filler").c_str(), "wb");
  if (f == nullptr) return errno;
  std::setvbuf(f, nullptr, _IONBF, 0);
  const std::string block(4096, 'x');
  int err = 0;
  for (int i = 0; i < 1 << 20; ++i)
    if (std::fwrite(block.data(), 1, block.size(), f) != block.size()) {
      err = errno;
      break;
    }
  // A last partial block may have fitted: write single bytes until the very last is refused.
  while (err == ENOSPC && std::fwrite("x", 1, 1, f) == 1) {
  }
  std::fclose(f);
  return err;
}

// The checks common to every failed save: the previous checkpoint is unchanged, nothing is
// left beside it, and it still loads to the old weights.
void check_untouched(const std::string& dir, const std::map<std::string, std::string>& before, const GPT<float>& old) {
  const auto after = snapshot(dir);
  CHECK(names(after) == names(before));
  CHECK(after == before);
  const GPT<float> back = load_model<float>(dir);
  CHECK((back.parameters().flat() == old.parameters().flat()).all());
}

}  // namespace

TEST_CASE("full disk while saving (file size limit): the previous checkpoint stays intact", "[bad_input][save]") {
  const std::string dir = test::scratch("full-rlimit");
  const GPT<float> old = model_with_seed(1), next = model_with_seed(2);
  save_model(old, dir);
  const auto before = snapshot(dir);
  REQUIRE(before.at("model.safetensors").size() > 16384);

  const std::string result = in_child([&] {
    std::signal(SIGXFSZ, SIG_IGN);  // write() then fails with EFBIG instead of killing us
    rlimit lim{};
    lim.rlim_cur = lim.rlim_max = 8192;  // the new file runs out half-way through its weights
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) throw std::runtime_error("setrlimit failed");
    save_model(next, dir);
  });
  CHECK_THAT(result, Contains("threw: ") && Contains(dir + "/model.safetensors") && Contains("write failed") &&
                         Contains(std::strerror(EFBIG)) && Contains("previous file is untouched"));
  check_untouched(dir, before, old);

  // The same for the lower-level writers.
  const std::string st = in_child([&] {
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit lim{};
    lim.rlim_cur = lim.rlim_max = 2048;
    ::setrlimit(RLIMIT_FSIZE, &lim);
    save_config(next.config(), dir + "/config.json");  // small: fits
    const std::vector<float> big(10000, 1.0f);
    save_safetensors<float>(dir + "/model.safetensors", {{"x", {10000}, big.data()}});
  });
  CHECK_THAT(st, Contains("threw: ") && Contains(dir + "/model.safetensors") && Contains(std::strerror(EFBIG)));
  check_untouched(dir, before, old);
}

TEST_CASE("full disk while saving (a full tmpfs): the previous checkpoint stays intact", "[bad_input][save]") {
  Tmpfs fs("size=256k");
  if (!fs.ok()) {
    WARN("not run here: a tmpfs cannot be mounted (" << fs.why() << "); the RLIMIT_FSIZE case covers a full disk");
    return;
  }
  const std::string dir = fs.dir() + "/ckpt";
  const GPT<float> old = model_with_seed(1), next = model_with_seed(2);
  save_model(old, dir);
  const auto before = snapshot(dir);
  REQUIRE(fill_up(fs.dir()) == ENOSPC);
  CHECK_THROWS_WITH(save_model(next, dir), Contains(dir + "/model.safetensors") && Contains(std::strerror(ENOSPC)) &&
                                               Contains("previous file is untouched"));
  check_untouched(dir, before, old);
  // The tokenizer's files too: vocab.json is refused, nothing is left half-written.
  const BPETokenizer tok = BPETokenizer::from_parts(
      [] {
        std::vector<std::string> t;
        for (int b = 0; b < 256; ++b) t.emplace_back(1, static_cast<char>(b));
        return t;
      }(),
      {});
  CHECK_THROWS_WITH(tok.save(dir), Contains(dir + "/vocab.json") && Contains(std::strerror(ENOSPC)));
  check_untouched(dir, before, old);
}

TEST_CASE("read-only output folder: save names the path and leaves the folder as it was", "[bad_input][save]") {
  const GPT<float> old = model_with_seed(1), next = model_with_seed(2);

  // Everywhere: a folder that cannot exist, under a regular file.
  const std::string base = test::scratch("readonly");
  std::ofstream(base + "/plain-file") << "not a folder";
  // The error names the file that stands where a folder should be.
  CHECK_THROWS_WITH(save_model(next, base + "/plain-file/model"),
                    Contains(base + "/plain-file") && Contains("is not a folder"));
  CHECK_THROWS_WITH(save_config(next.config(), base + "/plain-file/config.json"),
                    Contains(base + "/plain-file/config.json") && Contains(std::strerror(ENOTDIR)));
  CHECK(snapshot(base).size() == 1);

  if (::geteuid() != 0) {
    // An ordinary user: permissions stop the write.
    const std::string dir = base + "/locked";
    save_model(old, dir);
    const auto before = snapshot(dir);
    REQUIRE(::chmod(dir.c_str(), 0555) == 0);
    CHECK_THROWS_WITH(save_model(next, dir), Contains(dir + "/model.safetensors") && Contains(std::strerror(EACCES)));
    ::chmod(dir.c_str(), 0755);
    check_untouched(dir, before, old);
  } else {
    // Root writes through permissions: a read-only file system stops it instead.
    Tmpfs fs("size=1m");
    if (!fs.ok()) {
      WARN("read-only folder as root not run here (" << fs.why() << "); the path under a file covers it");
      return;
    }
    const std::string dir = fs.dir() + "/ckpt";
    save_model(old, dir);
    const auto before = snapshot(dir);
    REQUIRE(fs.remount_read_only());
    CHECK_THROWS_WITH(save_model(next, dir), Contains(dir + "/model.safetensors") && Contains(std::strerror(EROFS)));
    CHECK_THROWS_WITH(save_config(next.config(), dir + "/config.json"),
                      Contains(dir + "/config.json") && Contains(std::strerror(EROFS)));
    check_untouched(dir, before, old);
  }
}
