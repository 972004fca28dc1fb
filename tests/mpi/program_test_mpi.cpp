// `mpirun -np 2 next_token_predictor`, run as a user runs it (on a model small enough to
// train in seconds): the two ranks save the model one process with two threads saves, bit
// for bit, and rank 0 alone prints; a rank killed mid-run stops the other within seconds with
// a message naming it, and the last checkpoint stays whole and resumable; ranks started with
// different flags refuse to train, naming the flag's setting.
#include "../common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <thread>

using Catch::Matchers::Contains;
using namespace minigpt;

namespace {

using clock_type = std::chrono::steady_clock;

const std::string predictor = std::string(MINIGPT_EXAMPLES_DIR) + "/next_token_predictor";
const std::string small = " --n-layer 1 --n-head 2 --n-embd 32 --block-size 32 --batch-size 8 ";

// Runs a shell command, stdout and stderr together.
test::Run run(const std::string& cmd) {
  test::Run r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string mpirun(int ranks, const std::string& extra = "") {
  return std::string(MINIGPT_MPIEXEC) + " -np " + std::to_string(ranks) + " " + extra + " ";
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The step of the checkpoint in dir (-1 while there is none).
Index checkpoint_step(const std::string& dir) {
  try {
    const auto j = detail::read_json_file(dir + "/trainer_state.json");
    return j.at("step").get<Index>();
  } catch (...) {
    return -1;
  }
}

// The process of rank `rank` among the children of the mpirun whose ranks carry `tag` in
// their environment (0 when there is none).
pid_t find_rank(const std::string& tag, int rank) {
  namespace fs = std::filesystem;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string env = test::file_bytes(entry.path().string() + "/environ");
    if (env.find("MINIGPT_TEST_TAG=" + tag + '\0') != std::string::npos &&
        env.find(std::string("OMPI_COMM_WORLD_RANK=") + std::to_string(rank) + '\0') != std::string::npos)
      return static_cast<pid_t>(std::stol(name));
  }
  return 0;
}

// The text's last 10% as the predictor splits it, tokenized by the folder's vocabulary.
DataSplit predictor_data(const std::string& dir) {
  auto tok = load_tokenizer(dir);
  return split_train_val(tok->encode(test::file_bytes(test::data("tinyshakespeare.txt"))), 0.9);
}

// Starts a long 2-rank run, waits for its first checkpoint, then does something to rank 1
// (signal) and measures how long mpirun takes to end. Returns mpirun's output and exit.
struct Fault {
  test::Run run;
  double seconds_to_stop = 0;
  Index checkpoint = -1;
};

Fault fault_run(const std::string& name, int signal, const std::string& mpirun_flags, const std::string& env) {
  const std::string dir = test::scratch(name) + "/model";
  const std::string tag = name + "-" + std::to_string(::getpid());
  const std::string cmd = env + " MINIGPT_TEST_TAG=" + tag + " " + mpirun(2, mpirun_flags + " -x MINIGPT_TEST_TAG") +
                          predictor + small + "--max-iters 1000000 --threads 1 --out " + dir;
  auto job = std::async(std::launch::async, [cmd] { return run(cmd); });
  Fault f;
  const auto start = clock_type::now();
  while (checkpoint_step(dir) < 250 && clock_type::now() - start < std::chrono::seconds(120))
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const pid_t rank1 = find_rank(tag, 1);
  REQUIRE(rank1 > 0);
  const auto hit = clock_type::now();
  ::kill(rank1, signal);
  REQUIRE(job.wait_for(std::chrono::seconds(120)) == std::future_status::ready);
  f.seconds_to_stop = std::chrono::duration<double>(clock_type::now() - hit).count();
  f.run = job.get();
  if (signal == SIGSTOP) ::kill(rank1, SIGKILL);  // in case it is still there
  f.checkpoint = checkpoint_step(dir);
  // The last checkpoint is whole: it resumes (as one process) and trains on.
  const DataSplit data = predictor_data(dir);
  Trainer<float> resumed = Trainer<float>::resume(dir, data);
  CHECK(resumed.step() == f.checkpoint);
  CHECK(resumed.step() % 250 == 0);
  CHECK(std::isfinite(resumed.train_step().loss));
  return f;
}

}  // namespace

TEST_CASE("mpirun -np 2 next_token_predictor saves the model one process with two threads saves",
          "[mpi][programs]") {
  const std::string dir = test::scratch("mpi-predictor");
  const test::Run one = run(predictor + small + "--max-iters 60 --threads 2 --out " + dir + "/one");
  const test::Run two = run(mpirun(2) + predictor + small + "--max-iters 60 --threads 1 --out " + dir + "/two");
  INFO(one.out);
  INFO(two.out);
  REQUIRE(one.status == 0);
  REQUIRE(two.status == 0);
  CHECK_THAT(one.out, Contains("1 rank x 2 threads, 2 shards"));
  CHECK_THAT(two.out, Contains("2 ranks x 1 threads, 2 shards"));
  // Rank 0 alone prints: every line once.
  CHECK(count(two.out, "val loss") == 1);
  CHECK(count(two.out, "prompt \"ROMEO:\"") == 1);
  // The same weights, the same validation loss, the same predictions.
  CHECK(test::file_bytes(dir + "/one/model.safetensors") == test::file_bytes(dir + "/two/model.safetensors"));
  CHECK(test::file_bytes(dir + "/one/optimizer.safetensors") == test::file_bytes(dir + "/two/optimizer.safetensors"));
  CHECK(one.out.substr(one.out.find("\nval loss")) == two.out.substr(two.out.find("\nval loss")));
}

TEST_CASE("a rank killed mid-run: mpirun stops the other within seconds, naming it; the checkpoint resumes",
          "[mpi][programs][fault]") {
  const Fault f = fault_run("mpi-kill", SIGKILL, "", "");
  INFO(f.run.out);
  CHECK(f.run.status != 0);
  CHECK_THAT(f.run.out, Contains("rank 1") && Contains("signal 9"));
  CHECK(f.seconds_to_stop < 30);
  std::printf("killed rank 1 at checkpoint step %lld: mpirun ended %.1f s later\n", (long long)f.checkpoint,
              f.seconds_to_stop);
}

TEST_CASE("a rank killed when mpirun lets the others run on: their collective times out with a message",
          "[mpi][programs][fault]") {
  // --enable-recovery: Open MPI keeps the survivors running; without a timeout rank 0 would
  // wait in its allreduce for ever.
  const Fault f = fault_run("mpi-recovery", SIGKILL, "--enable-recovery", "MINIGPT_MPI_TIMEOUT=5");
  INFO(f.run.out);
  CHECK_THAT(f.run.out, Contains("rank 0 of 2") && Contains("did not complete within 5 s") &&
                            Contains("another rank has died"));
  CHECK(f.seconds_to_stop < 60);
  std::printf("killed rank 1 (--enable-recovery) at checkpoint step %lld: rank 0 stopped %.1f s later\n",
              (long long)f.checkpoint, f.seconds_to_stop);
}

TEST_CASE("a rank that hangs: the others time out with a message and stop the job", "[mpi][programs][fault]") {
  const Fault f = fault_run("mpi-hang", SIGSTOP, "", "MINIGPT_MPI_TIMEOUT=5");
  INFO(f.run.out);
  CHECK(f.run.status != 0);
  CHECK_THAT(f.run.out, Contains("rank 0 of 2") && Contains("did not complete within 5 s"));
  CHECK(f.seconds_to_stop < 60);
  std::printf("stopped rank 1 (SIGSTOP) at checkpoint step %lld: the job ended %.1f s later\n",
              (long long)f.checkpoint, f.seconds_to_stop);
}

TEST_CASE("ranks started with different flags refuse to train, naming what differs", "[mpi][programs][mismatch]") {
  const std::string dir = test::scratch("mpi-flags");
  struct Case {
    const char* rank0;
    const char* rank1;
    const char* named;
  };
  const Case cases[] = {{"--seed 1", "--seed 2", "the training option 'seed': rank 0 has 1; rank 1 differs"},
                        {"--n-layer 1", "--n-layer 2", "the model config's 'n_layer'"},
                        {"--batch-size 8", "--batch-size 4", "the training option 'batch_size'"}};
  for (const Case& c : cases) {
    const std::string common = " --n-head 2 --n-embd 32 --block-size 32 --max-iters 5 --out " + dir + "/m ";
    const test::Run r = run(std::string(MINIGPT_MPIEXEC) + " -np 1 " + predictor + common + c.rank0 + " : -np 1 " +
                            predictor + common + c.rank1);
    INFO(r.out);
    CHECK(r.status != 0);
    CHECK_THAT(r.out, Contains(c.named));
    CHECK_FALSE(r.out.find("step 5") != std::string::npos);  // nothing trained
  }
}
