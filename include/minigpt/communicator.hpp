// minigpt/communicator.hpp — what training on several processes needs from them: ranks, sums
// across ranks, broadcasts, and agreeing before going on.
//
// Chapter idea: the models the chapter talks about were pre-trained (사전 학습) on thousands of
// processors at once. The simplest way to share the work is data parallelism: every process
// (a "rank") holds the whole model, reads its own part of each batch, computes the gradient
// of its part, and then all the ranks add their gradients together, so that every rank takes
// the same AdamW step with the gradient of the whole batch:
//
//     g = g_0 + g_1 + ... + g_{N−1}        (allreduce-sum: every rank ends with the sum)
//
// This header is the interface the Trainer (training.hpp) talks to, with nothing of MPI in
// it: the one-rank SingleProcess here, and MPICommunicator in distributed.hpp. A Trainer
// given no communicator, or a one-rank one, trains exactly as a single process does.
//
// Also here: checks that every rank agrees, built on those few calls.
//     check_same(comm, "seed", "1337")      every rank must hold the same value; the error
//                                           names the value and the ranks that differ
//     agree_ok(comm, error, "saving")       every rank says whether its part went well; if
//                                           one failed, all stop with its message
//
// Shapes in: flat buffers of n numbers (the gradient: parameter_count() of them).
// Shapes out: the same buffers, summed over the ranks.
//
// Worked example (2 ranks, allreduce_sum of a 2-number buffer):
//     rank 0 holds (1, 2), rank 1 holds (10, 20)  ->  both hold (11, 22)
#pragma once

#include "error.hpp"
#include "tensor.hpp"

#include <cstdint>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

namespace minigpt {

// Something went wrong between the ranks: a rank disagrees with the others, a rank failed, or
// a collective call did not complete in time (a rank died or hangs).
class DistributedError : public Error {
 public:
  explicit DistributedError(const std::string& what) : Error(what) {}
};

// The processes of one training run. Every call below is collective: each rank must make the
// same calls, in the same order, with the same sizes.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;  // 0 .. size() − 1; rank 0 prints and saves
  virtual int size() const = 0;  // how many ranks
  // data[i] ← Σ over the ranks of data[i], on every rank (the same numbers everywhere).
  virtual void allreduce_sum(float* data, Index n) = 0;
  virtual void allreduce_sum(double* data, Index n) = 0;
  virtual void allreduce_sum(std::int64_t* data, Index n) = 0;
  // Rank root's `bytes` bytes at data, copied into every other rank's data.
  virtual void broadcast(void* data, std::size_t bytes, int root) = 0;
  virtual void barrier() = 0;
};

// One rank: every call has nothing to do.
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce_sum(float*, Index) override {}
  void allreduce_sum(double*, Index) override {}
  void allreduce_sum(std::int64_t*, Index) override {}
  void broadcast(void*, std::size_t, int) override {}
  void barrier() override {}
};

// ---- built on the calls above ----

// Rank root's string into every rank's s (its length first, then its bytes).
inline void broadcast_string(Communicator& comm, std::string& s, int root = 0) {
  std::uint64_t n = s.size();
  comm.broadcast(&n, sizeof n, root);
  s.resize(static_cast<std::size_t>(n));
  if (n > 0) comm.broadcast(&s[0], static_cast<std::size_t>(n), root);
}

// A 64-bit fingerprint of bytes (FNV-1a over 8-byte words, then the tail byte by byte): two
// ranks whose weights differ in one bit get different fingerprints.
inline std::uint64_t bytes_fingerprint(const void* data, std::size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t h = 14695981039346656037ull;
  std::size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 1099511628211ull;
  }
  for (; i < bytes; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

// The ranks (in order) whose flag is set, as text: "1, 3".
inline std::string rank_list(const std::vector<std::int64_t>& flags) {
  std::string s;
  for (std::size_t r = 0; r < flags.size(); ++r)
    if (flags[r] != 0) s += (s.empty() ? "" : ", ") + std::to_string(r);
  return s;
}

// Every rank must hold the same `value` (a short text: a setting, a fingerprint). If one does
// not, every rank throws DistributedError naming `what`, rank 0's value and the ranks that
// differ, e.g. "ranks disagree on the training option 'seed': rank 0 has 1337; rank 1
// differs (its value: 7)".
inline void check_same(Communicator& comm, const std::string& what, const std::string& value) {
  if (comm.size() <= 1) return;
  std::string root_value = value;
  broadcast_string(comm, root_value, 0);
  std::vector<std::int64_t> differs(static_cast<std::size_t>(comm.size()), 0);
  differs[static_cast<std::size_t>(comm.rank())] = root_value != value;
  comm.allreduce_sum(differs.data(), static_cast<Index>(differs.size()));
  const std::string ranks = rank_list(differs);
  if (ranks.empty()) return;
  // The first rank that differs tells its value (so the error shows both sides).
  int first = 0;
  while (differs[static_cast<std::size_t>(first)] == 0) ++first;
  std::string other = value;
  broadcast_string(comm, other, first);
  auto shown = [](const std::string& v) { return v.size() <= 200 ? v : v.substr(0, 200) + "..."; };
  throw DistributedError("ranks disagree on " + what + ": rank 0 has " + shown(root_value) + "; rank" +
                         (ranks.find(',') == std::string::npos ? " " : "s ") + ranks + " differ" +
                         (ranks.find(',') == std::string::npos ? "s" : "") + " (rank " + std::to_string(first) +
                         " has " + shown(other) + ")");
}

// After a part that may fail on some ranks only (reading files, saving): every rank says
// whether it went well (error null) or not. If every rank succeeded this returns; otherwise
// a rank that failed rethrows its own error, and every other rank throws DistributedError
// with the message of the first rank that failed, so that no rank is left waiting.
inline void agree_ok(Communicator& comm, const std::exception_ptr& error, const std::string& doing) {
  if (comm.size() <= 1) {
    if (error) std::rethrow_exception(error);
    return;
  }
  std::vector<std::int64_t> failed(static_cast<std::size_t>(comm.size()), 0);
  failed[static_cast<std::size_t>(comm.rank())] = error != nullptr;
  comm.allreduce_sum(failed.data(), static_cast<Index>(failed.size()));
  const std::string ranks = rank_list(failed);
  if (ranks.empty()) return;
  int first = 0;
  while (failed[static_cast<std::size_t>(first)] == 0) ++first;
  std::string message;
  if (comm.rank() == first) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      message = e.what();
    } catch (...) {
      message = "an unknown error";
    }
  }
  broadcast_string(comm, message, first);
  if (error) std::rethrow_exception(error);
  throw DistributedError("rank " + std::to_string(first) + " failed while " + doing + ": " + message);
}

// Runs f() on every rank and agrees on the outcome (agree_ok): all go on, or all stop.
template <typename F>
void on_every_rank(Communicator& comm, const std::string& doing, F&& f) {
  std::exception_ptr error;
  try {
    f();
  } catch (...) {
    error = std::current_exception();
  }
  agree_ok(comm, error, doing);
}

}  // namespace minigpt
