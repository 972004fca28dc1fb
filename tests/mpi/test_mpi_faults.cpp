// Faults in a real 2-rank run: `mpirun -np 2 minigpt_mpi_tests --victim DIR` trains, saving a
// checkpoint every 10 steps; once there is one at step 30 or later, rank 1 is killed or
// stopped, and the test measures how long the job takes to end, reads what it printed, and
// resumes the last checkpoint (as one process) to show that it is whole.
//   - SIGKILL under a plain mpirun: Open MPI notices the dead rank and ends the job itself,
//     naming the rank and the signal;
//   - SIGKILL under `mpirun --enable-recovery` (Open MPI keeps the survivors running, as
//     `srun` without --kill-on-bad-exit does): rank 0 would wait in its allreduce for ever;
//     the timeout (MINIGPT_MPI_TIMEOUT=5) stops it with a message;
//   - SIGSTOP (a rank that hangs instead of dying; mpirun sees nothing wrong): the same.
// These test cases run outside mpirun (`minigpt_mpi_tests --launcher "[launcher]"`); their tag
// is hidden, so the ranks of the [mpi] run skip them.
#include "mpi_common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/training.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <future>
#include <thread>

using namespace minigpt;
using Catch::Matchers::Contains;

namespace test {

int victim(ProcessGroup& world, const std::string& dir) {
  Communicator& comm = world.communicator();
  try {
    detail::write_file_atomic(dir + "/rank-" + std::to_string(comm.rank()) + ".pid", std::to_string(::getpid()));
    TrainOptions o;
    o.batch_size = 6;
    o.block_size = 8;
    o.max_iters = 1000000000;
    o.lr = {3e-3, 3e-4, 2, 8};
    o.shards = 2;
    Trainer<float> t(GPTConfig::make(2, 2, 16, 16, 11), o, victim_data(), &comm);
    for (;;) {
      t.train_step();
      if (t.step() % 10 == 0) t.save_checkpoint(dir + "/run");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "training stopped: %s\n", e.what());
    return world.finish(1);  // stops every rank (MPI_Abort)
  }
}

}  // namespace test

namespace {

using clock_type = std::chrono::steady_clock;

// Runs a shell command, stdout and stderr together.
test::Run run(const std::string& cmd) { return test::run_shell(cmd + " 2>&1"); }

// The step of the checkpoint in dir (-1 while there is none).
Index checkpoint_step(const std::string& dir) {
  try {
    return detail::read_json_file(dir + "/trainer_state.json").at("step").get<Index>();
  } catch (...) {
    return -1;
  }
}

struct Fault {
  test::Run run;
  double seconds_to_stop = 0;  // from the signal to mpirun's exit
  Index checkpoint = -1;       // the step of the checkpoint left on disk
};

Fault fault_run(const std::string& name, int signal, const std::string& mpirun_flags, const std::string& timeout) {
  const std::string dir = test::scratch(name);
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string cmd = "MINIGPT_MPI_TIMEOUT=" + timeout + " OMP_NUM_THREADS=1 " + MINIGPT_MPIEXEC + " -np 2 " +
                          mpirun_flags + " -x MINIGPT_MPI_TIMEOUT -x OMP_NUM_THREADS " + self + " --victim " + dir;
  auto job = std::async(std::launch::async, [cmd] { return run(cmd); });
  const auto start = clock_type::now();
  while (checkpoint_step(dir + "/run") < 30 && clock_type::now() - start < std::chrono::seconds(120) &&
         job.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
  }
  REQUIRE(job.wait_for(std::chrono::seconds(0)) != std::future_status::ready);  // still training
  const pid_t rank1 = static_cast<pid_t>(std::stol(test::file_bytes(dir + "/rank-1.pid")));
  REQUIRE(rank1 > 0);
  const auto hit = clock_type::now();
  ::kill(rank1, signal);
  const bool ended = job.wait_for(std::chrono::seconds(120)) == std::future_status::ready;
  if (!ended || signal == SIGSTOP) ::kill(rank1, SIGKILL);  // never leave it behind
  REQUIRE(ended);
  Fault f;
  f.seconds_to_stop = std::chrono::duration<double>(clock_type::now() - hit).count();
  f.run = job.get();
  f.checkpoint = checkpoint_step(dir + "/run");
  // The last checkpoint is whole: it resumes (as one process) and trains on.
  Trainer<float> resumed = Trainer<float>::resume(dir + "/run", test::victim_data());
  CHECK(resumed.step() == f.checkpoint);
  CHECK(resumed.step() >= 30);
  CHECK(resumed.step() % 10 == 0);
  CHECK(std::isfinite(resumed.train_step().loss));
  return f;
}

}  // namespace

TEST_CASE("a rank killed mid-run: mpirun ends the job within seconds naming it, the checkpoint resumes",
          "[.launcher][fault]") {
  const Fault f = fault_run("mpi-kill", SIGKILL, "", "60");
  INFO(f.run.out);
  CHECK(f.run.status != 0);
  CHECK_THAT(f.run.out, Contains("rank 1") && Contains("signal 9"));
  CHECK(f.seconds_to_stop < 30);
  std::printf("killed rank 1 after checkpoint step %lld: the job ended %.1f s later\n", (long long)f.checkpoint,
              f.seconds_to_stop);
}

TEST_CASE("a rank killed while mpirun lets the others run on: rank 0 times out with a message",
          "[.launcher][fault]") {
  const Fault f = fault_run("mpi-recovery", SIGKILL, "--enable-recovery", "5");
  INFO(f.run.out);  // (mpirun's exit status is 0 here: with recovery on, it does not count the dead rank)
  CHECK_THAT(f.run.out, Contains("training stopped: rank 0 of 2") &&
                            (Contains("did not complete within 5 s") || Contains("has another rank died")));
  CHECK(f.seconds_to_stop < 60);
  std::printf("killed rank 1 (--enable-recovery) after checkpoint step %lld: the job ended %.1f s later\n",
              (long long)f.checkpoint, f.seconds_to_stop);
}

TEST_CASE("a rank that hangs: rank 0 times out with a message and stops the job", "[.launcher][fault]") {
  const Fault f = fault_run("mpi-hang", SIGSTOP, "", "5");
  INFO(f.run.out);
  CHECK(f.run.status != 0);
  CHECK_THAT(f.run.out, Contains("training stopped: rank 0 of 2") && Contains("did not complete within 5 s") &&
                            Contains("another rank has died, hangs"));
  CHECK(f.seconds_to_stop < 60);
  std::printf("stopped rank 1 (SIGSTOP) after checkpoint step %lld: the job ended %.1f s later\n",
              (long long)f.checkpoint, f.seconds_to_stop);
}
