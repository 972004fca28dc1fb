// Data-parallel training speed on this machine, every layout measured in the same run:
//   1 rank  x 1 thread    rank 0 trains alone (the others sleep): the baseline;
//   1 rank  x 2 threads   rank 0 alone with two threads: the other way to use two cores;
//   N ranks x 1 thread    every rank, the gradient summed by an allreduce each step.
// Run it as `mpirun -np 2 bench_distributed` (without mpirun, or built without MPI, only the
// one-rank layouts are measured). The global batch is the same in every layout: B sequences
// of T tokens per optimiser step; with N ranks each trains on B / N of them. Scaling
// efficiency = (tokens/s on N ranks) / (N x tokens/s on 1 rank x 1 thread): 100% when the
// ranks add their cores' worth of speed and the allreduce costs nothing.
// Cases:
//   baby:  nanoGPT's shakespeare_char CPU config (4 layers, 4 heads, C 128, T 64, B 12, V 65);
//   124M:  the GPT-2 124M shape at B = 4, T = 64 (V 50,257), with --big (about 2.3 GB per rank).
// Every communicator call of the N-rank layout is timed (a Communicator that wraps the real
// one), so the allreduce's share of the step and the bytes it sums are measured, not assumed.
// The layouts take turns, --rounds times (default 3), and the best median of each counts:
// the machine is shared and noisy.
// Usage: [mpirun -np N] bench_distributed [--iters N] [--big] [--big-iters N] [--rounds N]
#include "bench_common.hpp"

#include <minigpt/distributed.hpp>
#include <minigpt/training.hpp>

#include <cstdio>
#include <cstring>
#include <thread>

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

// A barrier that sleeps while it waits: a rank left out of a one-rank layout must not spin
// on a core (MPI's own waits poll, and would take a core from the rank that works).
void sleeping_barrier() {
#if defined(MINIGPT_WITH_MPI)
  MPI_Request req;
  MPI_Ibarrier(MPI_COMM_WORLD, &req);
  for (int done = 0; !done;) {
    MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
#endif
}

struct Case {
  const char* name;
  GPTConfig config;
  Index B, T;
  int iters;
};

struct Result {
  double ms = 0;            // median ms per optimiser step
  double allreduce_ms = 0;  // median ms per step in allreduce_sum (waiting for the slower rank included)
  double alone_ms = 0;      // median ms of the gradient's allreduce alone, the ranks started together
  double bytes = 0;         // summed by allreduce per step
  Index shards = 0;
};

// Median step time of a run of the case on comm's ranks (comm null: this process alone).
Result time_training(TimedCommunicator* comm, const Case& k) {
  Rng rng(7);
  std::vector<TokenId> tokens(200000);
  for (auto& t : tokens) t = static_cast<TokenId>(rng.below(static_cast<std::uint64_t>(k.config.vocab_size)));
  TrainOptions o;
  o.batch_size = k.B;
  o.block_size = k.T;
  o.max_iters = k.iters + 2;
  Trainer<float> trainer(k.config, o, split_train_val(tokens), comm);
  trainer.train_step();  // warm-up: buffers sized, pages touched
  std::vector<double> ms, comm_ms;
  double bytes = 0;
  for (int i = 0; i < k.iters; ++i) {
    if (comm) {
      comm->barrier();  // every rank starts the step together
      comm->reset();
    }
    const double t0 = bench::now();
    trainer.train_step();
    ms.push_back((bench::now() - t0) * 1e3);
    if (comm) {
      comm_ms.push_back(comm->seconds * 1e3);
      bytes = comm->bytes;
    }
  }
  Result r{bench::median(ms), bench::median(comm_ms), 0, bytes, trainer.shards()};
  if (comm) {
    std::vector<float> grad(static_cast<std::size_t>(trainer.model().parameter_count()), 1.0f);
    std::vector<double> alone;
    for (int i = 0; i < 5; ++i) {
      comm->barrier();
      const double t0 = bench::now();
      comm->allreduce_sum(grad.data(), static_cast<Index>(grad.size()));
      alone.push_back((bench::now() - t0) * 1e3);
    }
    r.alone_ms = bench::median(alone);
  }
  return r;
}

void keep_best(Result& best, const Result& r) {
  if (best.ms == 0 || r.ms < best.ms) best = r;
}

}  // namespace

int main(int argc, char** argv) {
  ProcessGroup world(argc, argv);
  TimedCommunicator comm(world.communicator());
  const int N = comm.size();
  const bool chief = comm.rank() == 0;
  int iters = 20, big_iters = 3, rounds = 3;
  bool big = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--iters") && i + 1 < argc) iters = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--big-iters") && i + 1 < argc) big_iters = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--big")) big = true;
    else {
      if (chief)
        std::fprintf(stderr, "usage: [mpirun -np N] bench_distributed [--iters N] [--big] [--big-iters N] [--rounds N]\n");
      return world.finish(2);
    }
  }
  if (chief)
    std::printf("data-parallel training, %d rank%s%s; %u hardware threads; median ms per optimiser step, best of %d "
                "rounds\n",
                N, N > 1 ? "s" : "", mpi_available() ? "" : " (built without MPI)", std::thread::hardware_concurrency(),
                rounds);

  std::vector<Case> cases = {{"baby", GPTConfig::make(4, 4, 128, 64, 65), 12, 64, iters}};
  if (big) cases.push_back({"124M", GPTConfig::gpt2(), 4, 64, big_iters});
  for (const Case& k : cases) {
    Result one1, one2, many;
    for (int r = 0; r < rounds; ++r) {
      for (int threads : {1, 2}) {  // rank 0 alone; the others sleep
        if (chief) {
          Trainer<float>::set_threads(threads);
          keep_best(threads == 1 ? one1 : one2, time_training(nullptr, k));
        }
        sleeping_barrier();
      }
      if (N > 1) {
        Trainer<float>::set_threads(1);
        keep_best(many, time_training(&comm, k));
      }
    }
    if (!chief) continue;
    const double tokens = double(k.B * k.T);
    auto line = [&](const char* layout, const Result& r) {
      std::printf("  %-22s %3lld shards %9.1f ms/step %9.0f tokens/s\n", layout, (long long)r.shards, r.ms,
                  tokens / (r.ms * 1e-3));
    };
    std::printf("%s: %lld parameters, B %lld x T %lld = %.0f tokens per step\n", k.name,
                (long long)k.config.parameter_count(), (long long)k.B, (long long)k.T, tokens);
    line("1 rank  x 1 thread", one1);
    line("1 rank  x 2 threads", one2);
    if (N > 1) {
      char layout[64];
      std::snprintf(layout, sizeof layout, "%d ranks x 1 thread", N);
      line(layout, many);
      const double grad_mb = 4.0 * double(k.config.parameter_count()) / 1e6;
      std::printf("  scaling efficiency %d ranks: %.0f%% of %d x (1 rank x 1 thread); against 1 rank x 2 threads: %.2fx\n"
                  "  allreduce in the step %.1f ms (%.1f%% of it, waiting for the slower rank included); alone %.1f ms\n"
                  "  %.2f MB summed per step (the gradient: %.2f MB); a ring allreduce sends %.2f MB per rank\n",
                  N, 100.0 * one1.ms / (N * many.ms), N, one2.ms / many.ms, many.allreduce_ms,
                  100.0 * many.allreduce_ms / many.ms, many.alone_ms, many.bytes / 1e6, grad_mb,
                  2.0 * (N - 1) / N * many.bytes / 1e6);
    }
  }
  return world.finish(0);
}
