// A deliberate data race, built and run by the ThreadSanitizer stage of .ci/run, which
// requires ThreadSanitizer to report it. It proves that the stage's set-up (clang, LLVM's
// libomp, the Archer tool) sees a race inside an OpenMP loop at all, so that a clean run of
// the [threads] tests means something. Not part of any test binary.
#include <cstdio>

int main() {
  long sum = 0;
#pragma omp parallel for num_threads(4)
  for (long i = 0; i < 100000; ++i) sum += i;  // unsynchronised read-modify-write: a race
  std::printf("%ld\n", sum);
  return 0;
}
