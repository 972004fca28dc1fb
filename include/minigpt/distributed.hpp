// minigpt/distributed.hpp — pre-training (사전 학습) on several processes and machines, over MPI.
//
// Chapter idea: GPT-3 was trained on thousands of processors; one machine is not enough for
// a model of that size or a text of that length. The work is shared by data parallelism
// (communicator.hpp): N processes ("ranks"), each with the whole model, each computing the
// gradient of its share of every batch; an allreduce adds the N gradients up and every rank
// takes the same AdamW step. MPI is the standard way clusters start and connect such
// processes: `mpirun -np 4 prog`, a hostfile listing the machines, or Slurm's `srun`.
//
// This is the only header that includes <mpi.h>, and only when minigpt is built with
// MINIGPT_USE_MPI (CMake defines MINIGPT_WITH_MPI for programs linked to
// minigpt::distributed). Without MPI the header is still usable, not an error: ProcessGroup
// is then one rank (SingleProcess), so a program is written once and runs either way. (A
// program built without MPI but started by mpirun as one of several ranks refuses to start:
// N copies would each train alone and overwrite each other's checkpoints.)
//
// Faults. A collective call that does not complete within the timeout (MPIOptions: 600 s by
// default, MINIGPT_MPI_TIMEOUT=<seconds> in the environment) throws DistributedError on the
// ranks that wait: every call is started non-blocking and polled against a deadline, and MPI
// errors are returned, not fatal (MPI_ERRORS_RETURN). What happens when a rank dies depends
// on the launcher: Open MPI's mpirun (4.1) notices a rank killed or exiting with an error and
// stops the others itself within a second or two, and says which rank; with
// `mpirun --enable-recovery`, `srun` without --kill-on-bad-exit, or a rank that hangs
// instead of dying, the others would wait for ever in the next allreduce, and the timeout
// stops them with a message. (Open MPI 4.1 has no ULFM, the MPI extension that reports a
// dead process to the survivors; the timeout does not need it.) ProcessGroup::finish(status)
// with a non-zero status calls MPI_Abort, so one rank's error stops every rank at once.
//
// Shapes in: flat buffers of n numbers.  Shapes out: the same buffers, summed over the ranks.
//
// Example (examples/next_token_predictor.cpp):
//     int main(int argc, char** argv) {
//       ProcessGroup world(argc, argv);          // mpirun -np 2 prog: two ranks; else one
//       Trainer<float> trainer(config, options, data, &world.communicator());
//       ...                                      // rank 0 (world.rank() == 0) prints and saves
//       return world.finish(0);
//     }
#pragma once

#include "communicator.hpp"
#include "error.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>

#if defined(MINIGPT_WITH_MPI)
#include <mpi.h>
#include <sched.h>

#include <climits>
#endif

namespace minigpt {

struct MPIOptions {
  // A collective call still waiting after this many seconds throws DistributedError.
  double timeout_seconds = 600;

  // The defaults, with MINIGPT_MPI_TIMEOUT=<seconds> from the environment when it is set.
  static MPIOptions from_environment() {
    MPIOptions o;
    if (const char* t = std::getenv("MINIGPT_MPI_TIMEOUT")) {
      char* end = nullptr;
      const double s = std::strtod(t, &end);
      if (end == t || *end != '\0' || !(s > 0))
        throw ArgumentError(std::string("MINIGPT_MPI_TIMEOUT=") + t + ": expected a number of seconds > 0");
      o.timeout_seconds = s;
    }
    return o;
  }
};

#if defined(MINIGPT_WITH_MPI)

// The ranks of an MPI communicator (a private duplicate of MPI_COMM_WORLD by default).
class MPICommunicator final : public Communicator {
 public:
  explicit MPICommunicator(MPI_Comm parent = MPI_COMM_WORLD, MPIOptions options = MPIOptions::from_environment())
      : options_(options) {
    check(MPI_Comm_dup(parent, &comm_), "MPI_Comm_dup");
    check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  }
  ~MPICommunicator() override {
    if (comm_ != MPI_COMM_NULL && !failed_) MPI_Comm_free(&comm_);
  }
  MPICommunicator(const MPICommunicator&) = delete;
  MPICommunicator& operator=(const MPICommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  // True once a call has failed or timed out: the ranks can no longer be trusted to meet.
  bool failed() const { return failed_; }
  const MPIOptions& options() const { return options_; }

  void allreduce_sum(float* data, Index n) override { allreduce(data, n, MPI_FLOAT); }
  void allreduce_sum(double* data, Index n) override { allreduce(data, n, MPI_DOUBLE); }
  void allreduce_sum(std::int64_t* data, Index n) override { allreduce(data, n, MPI_INT64_T); }

  void broadcast(void* data, std::size_t bytes, int root) override {
    auto* p = static_cast<char*>(data);
    for (std::size_t done = 0; done < bytes;) {  // MPI counts are ints: pieces of at most 1 GiB
      const std::size_t len = std::min<std::size_t>(bytes - done, std::size_t(1) << 30);
      MPI_Request req;
      start(MPI_Ibcast(p + done, static_cast<int>(len), MPI_BYTE, root, comm_, &req), "MPI_Ibcast");
      wait(req, "a broadcast from rank " + std::to_string(root));
      done += len;
    }
  }

  void barrier() override {
    MPI_Request req;
    start(MPI_Ibarrier(comm_, &req), "MPI_Ibarrier");
    wait(req, "a barrier");
  }

 private:
  template <typename T>
  void allreduce(T* data, Index n, MPI_Datatype type) {
    const Index piece = Index(1) << 28;  // MPI counts are ints
    for (Index done = 0; done < n;) {
      const Index len = std::min(n - done, piece);
      MPI_Request req;
      start(MPI_Iallreduce(MPI_IN_PLACE, data + done, static_cast<int>(len), type, MPI_SUM, comm_, &req),
            "MPI_Iallreduce");
      wait(req, "an allreduce of " + std::to_string(len) + " numbers");
      done += len;
    }
  }

  [[noreturn]] void fail(const std::string& what) {
    failed_ = true;
    throw DistributedError("rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ": " + what);
  }

  void check(int rc, const char* call) {
    if (rc != MPI_SUCCESS) fail(std::string(call) + " failed: " + error_text(rc));
  }

  void start(int rc, const char* call) {
    if (failed_) fail("an earlier collective call failed; the ranks can no longer meet");
    check(rc, call);
  }

  // Polls req until it completes, MPI reports an error, or the timeout passes.
  void wait(MPI_Request& req, const std::string& what) {
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + std::chrono::duration<double>(options_.timeout_seconds);
    for (;;) {
      int done = 0;
      const int rc = MPI_Test(&req, &done, MPI_STATUS_IGNORE);
      if (rc != MPI_SUCCESS) fail(what + " failed: " + error_text(rc) + " (has another rank died?)");
      if (done) return;
      if (clock::now() > deadline)
        fail(what + " did not complete within " + seconds_text(options_.timeout_seconds) +
             ": another rank has died, hangs, or is far behind (MINIGPT_MPI_TIMEOUT sets the limit); stopping");
      sched_yield();  // let a rank that shares this core make progress
    }
  }

  static std::string error_text(int rc) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(rc);
    return std::string(text, static_cast<std::size_t>(len));
  }

  static std::string seconds_text(double s) {
    std::string t = std::to_string(s);
    t.erase(t.find_last_not_of('0') + 1);
    if (!t.empty() && t.back() == '.') t.pop_back();
    return t + " s";
  }

  MPIOptions options_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  bool failed_ = false;
};

#endif  // MINIGPT_WITH_MPI

// True when minigpt was built with MPI (MINIGPT_USE_MPI).
constexpr bool mpi_available() {
#if defined(MINIGPT_WITH_MPI)
  return true;
#else
  return false;
#endif
}

// The processes of this program. With MPI: initialises MPI (unless the program already has),
// and its communicator holds every rank mpirun, srun or a hostfile started (one, when the
// program was started alone). Without MPI: one rank.
class ProcessGroup {
 public:
  ProcessGroup(int& argc, char**& argv, const MPIOptions& options = MPIOptions::from_environment()) {
#if defined(MINIGPT_WITH_MPI)
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      int provided = 0;  // OpenMP's threads never call MPI: only the main thread does
      if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        throw DistributedError("MPI_Init_thread failed");
      owns_mpi_ = true;
    }
    mpi_ = std::make_unique<MPICommunicator>(MPI_COMM_WORLD, options);
#else
    (void)argc;
    (void)argv;
    (void)options;
    for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
      const char* n = std::getenv(var);
      if (n != nullptr && std::atoi(n) > 1)
        throw DistributedError(std::string("started as one of ") + n + " ranks (" + var +
                               "), but minigpt was built without MPI (MINIGPT_USE_MPI=OFF): each rank would train "
                               "alone; rebuild with -DMINIGPT_USE_MPI=ON");
    }
#endif
  }
  ~ProcessGroup() {
    if (!finished_) finish(0);
  }
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  Communicator& communicator() {
#if defined(MINIGPT_WITH_MPI)
    return *mpi_;
#else
    return single_;
#endif
  }
  int rank() { return communicator().rank(); }
  int size() { return communicator().size(); }

  // Ends the program's part in the group and returns status (for main's return). Status 0:
  // MPI_Finalize. Otherwise, with several ranks, MPI_Abort: a rank that stops alone would
  // leave the others waiting (until their timeout), so it stops them all at once.
  int finish(int status) {
    if (finished_) return status;
    finished_ = true;
#if defined(MINIGPT_WITH_MPI)
    const bool others = mpi_->size() > 1;
    const bool failed = mpi_->failed();
    if (status != 0 && others) MPI_Abort(MPI_COMM_WORLD, status);
    if (failed && others) MPI_Abort(MPI_COMM_WORLD, 1);
    mpi_.reset();
    if (owns_mpi_) MPI_Finalize();
#endif
    return status;
  }

 private:
  bool finished_ = false;
#if defined(MINIGPT_WITH_MPI)
  bool owns_mpi_ = false;
  std::unique_ptr<MPICommunicator> mpi_;
#else
  SingleProcess single_;
#endif
};

}  // namespace minigpt
