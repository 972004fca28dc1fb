// `mpirun -np 2 next_token_predictor`, run as a user runs it (on a model small enough to
// train in seconds): the two ranks save the model one process with two threads saves, bit
// for bit, and rank 0 alone prints; ranks started with different flags refuse to train,
// naming the flag's setting. (A killed or hung rank: test_mpi_faults.cpp.)
#include "../common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

#include <cstdlib>

using Catch::Matchers::Contains;
using namespace minigpt;

namespace {

const std::string predictor = std::string(MINIGPT_EXAMPLES_DIR) + "/next_token_predictor";
const std::string small = " --n-layer 1 --n-head 2 --n-embd 32 --block-size 32 --batch-size 8 ";

// Runs a shell command, stdout and stderr together.
test::Run run(const std::string& cmd) { return test::run_shell(cmd + " 2>&1"); }

std::string mpirun(int ranks, const std::string& extra = "") {
  return std::string(MINIGPT_MPIEXEC) + " -np " + std::to_string(ranks) + " " + extra + " ";
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
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
