// Data-parallel training speed: tokens per second of one optimiser step on this process's
// ranks, and what the gradient's allreduce costs, for
//   baby:  nanoGPT's shakespeare_char CPU config (4 layers, 4 heads, C 128, T 64, B 12, V 65);
//   124M:  the GPT-2 124M shape at B = 4, T = 64 (V 50,257).
// B is the global batch: each rank trains on B / N of its sequences. Run it as
//   bench_distributed --threads 2                    one rank, two threads
//   mpirun -np 2 bench_distributed --threads 1       two ranks, one thread each
// and compare the tokens/s. Every communicator call is timed (a Communicator that wraps the
// real one), so the allreduce's share of the step and the bytes it sums are measured, not
// assumed. The whole measurement runs --rounds times (default 2) and the best median counts:
// the machine is shared and noisy.
// Usage: [mpirun -np N] bench_distributed [--threads N] [--iters N] [--big-iters N] [--rounds N] [--no-big]
#include "bench_common.hpp"

#include <minigpt/distributed.hpp>
#include <minigpt/minigpt.hpp>
#include <minigpt/training.hpp>

#include <cstdio>
#include <cstring>

using namespace minigpt;

namespace {

// Forwards every call to another communicator and adds up the time and the bytes.
class TimedCommunicator final : public Communicator {
 public:
  explicit TimedCommunicator(Communicator& inner) : inner_(inner) {}
  int rank() const override { return inner_.rank(); }
  int size() const override { return inner_.size(); }
  void allreduce_sum(float* d, Index n) override { timed(n * 4, [&] { inner_.allreduce_sum(d, n); }); }
  void allreduce_sum(double* d, Index n) override { timed(n * 8, [&] { inner_.allreduce_sum(d, n); }); }
  void allreduce_sum(std::int64_t* d, Index n) override { timed(n * 8, [&] { inner_.allreduce_sum(d, n); }); }
  void broadcast(void* d, std::size_t b, int root) override { inner_.broadcast(d, b, root); }
  void barrier() override { inner_.barrier(); }

  double seconds = 0;  // in allreduce_sum since the last reset()
  double bytes = 0;    // summed by allreduce_sum since the last reset()
  void reset() { seconds = bytes = 0; }

 private:
  template <typename F>
  void timed(Index b, F&& f) {
    const double t0 = bench::now();
    f();
    seconds += bench::now() - t0;
    bytes += double(b);
  }
  Communicator& inner_;
};

struct Result {
  double ms = 0;            // median ms per step
  double allreduce_ms = 0;  // median ms per step in allreduce_sum (waiting for the slower rank included)
  double alone_ms = 0;      // median ms of the gradient's allreduce alone, the ranks started together
  double bytes = 0;         // summed per step
  Index shards = 0;
};

Result time_training(TimedCommunicator& comm, const GPTConfig& c, Index B, Index T, int iters) {
  Rng rng(7);
  std::vector<TokenId> tokens(200000);
  for (auto& t : tokens) t = static_cast<TokenId>(rng.below(static_cast<std::uint64_t>(c.vocab_size)));
  TrainOptions o;
  o.batch_size = B;
  o.block_size = T;
  o.max_iters = iters + 2;
  Trainer<float> trainer(c, o, split_train_val(tokens), &comm);
  trainer.train_step();
  trainer.train_step();
  std::vector<double> ms, comm_ms;
  double bytes = 0;
  for (int i = 0; i < iters; ++i) {
    comm.barrier();  // every rank starts the step together
    comm.reset();
    const double t0 = bench::now();
    trainer.train_step();
    ms.push_back((bench::now() - t0) * 1e3);
    comm_ms.push_back(comm.seconds * 1e3);
    bytes = comm.bytes;
  }
  std::vector<double> alone;
  std::vector<float> grad(static_cast<std::size_t>(trainer.model().parameter_count()), 1.0f);
  for (int i = 0; i < 5; ++i) {
    comm.barrier();
    const double t0 = bench::now();
    comm.allreduce_sum(grad.data(), static_cast<Index>(grad.size()));
    alone.push_back((bench::now() - t0) * 1e3);
  }
  return {bench::median(ms), bench::median(comm_ms), bench::median(alone), bytes, trainer.shards()};
}

}  // namespace

int main(int argc, char** argv) {
  ProcessGroup world(argc, argv);
  TimedCommunicator comm(world.communicator());
  const bool chief = comm.rank() == 0;
  int iters = 30, big_iters = 5, rounds = 2, threads = 0;
  bool big = true;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--iters") && i + 1 < argc) iters = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--big-iters") && i + 1 < argc) big_iters = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--no-big")) big = false;
    else {
      if (chief)
        std::fprintf(stderr, "usage: [mpirun -np N] bench_distributed [--threads N] [--iters N] [--big-iters N] "
                             "[--rounds N] [--no-big]\n");
      return world.finish(2);
    }
  }
  if (threads > 0) Trainer<float>::set_threads(threads);
  const int N = comm.size();
  if (chief)
    std::printf("data-parallel training: %d rank%s x %d thread%s%s; median ms per optimiser step, best of %d rounds\n",
                N, N > 1 ? "s" : "", Trainer<float>::threads(), Trainer<float>::threads() > 1 ? "s" : "",
                mpi_available() ? "" : " (built without MPI: one rank)", rounds);

  struct Case {
    const char* name;
    GPTConfig config;
    Index B, T;
    int iters;
  };
  std::vector<Case> cases = {{"baby", GPTConfig::make(4, 4, 128, 64, 65), 12, 64, iters}};
  if (big) cases.push_back({"124M", GPTConfig::gpt2(), 4, 64, big_iters});
  for (const Case& k : cases) {
    Result best;
    for (int r = 0; r < rounds; ++r) {
      const Result res = time_training(comm, k.config, k.B, k.T, k.iters);
      if (best.ms == 0 || res.ms < best.ms) best = res;
    }
    if (!chief) continue;
    const double tokens = double(k.B * k.T);
    const double grad_bytes = 4.0 * double(k.config.parameter_count());
    std::printf("%-5s B %2lld T %lld, %lld shards: %9.1f ms/step  %8.0f tokens/s\n"
                "      allreduce in the step %7.1f ms (%4.1f%% of it, waiting for the slower rank included); "
                "alone %7.1f ms\n"
                "      %.2f MB summed per step (the gradient: %.2f MB); a ring allreduce sends %.2f MB per rank\n",
                k.name, (long long)k.B, (long long)k.T, (long long)best.shards, best.ms, tokens / (best.ms * 1e-3),
                best.allreduce_ms, 100.0 * best.allreduce_ms / best.ms, best.alone_ms, best.bytes / 1e6,
                grad_bytes / 1e6, N > 1 ? 2.0 * (N - 1) / N * best.bytes / 1e6 : 0.0);
  }
  return world.finish(0);
}
