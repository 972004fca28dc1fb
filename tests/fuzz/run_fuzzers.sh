#!/usr/bin/env bash
# Runs the fuzz targets built in BUILD_DIR, each for SECONDS, starting from the committed seed
# corpus (tests/fuzz/corpus/<target>) plus a working corpus kept in BUILD_DIR/corpus/<target>.
# Prints one summary line per target (runs, coverage, features) and fails on the first crash,
# leak, timeout, out-of-memory or broken property, printing libFuzzer's report.
#
#   tests/fuzz/run_fuzzers.sh build-fuzz 30                 # every target, 30 s each
#   tests/fuzz/run_fuzzers.sh build-fuzz 600 encode decode  # some, longer
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$1"
seconds="$2"
shift 2
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(safetensors gguf config bpe_files char_vocab encode decode forward jsonl); fi

status=0
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/fuzz_$t"
  work="$build/corpus/$t"
  log="$build/fuzz_$t.log"
  mkdir -p "$work" "$build/crashes"
  extra=()
  case "$t" in
    encode) extra=(-max_len=1024 -len_control=0) ;;  # pieces past 128 bytes take the heap path
  esac
  if "$bin" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$build/crashes/$t-" "${extra[@]}" "$work" "$here/corpus/$t" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    printf 'fuzz_%-12s %4s s  %9s runs  cov %5s  ft %6s  corpus %s\n' "$t" "$seconds" "$runs" "$cov" "$ft" \
      "$(ls "$work" | wc -l) files"
  else
    echo "fuzz_$t FAILED; libFuzzer's report ($log):"
    grep -v -E '^#[0-9]+ +(NEW|REDUCE|pulse|INITED)' "$log" | tail -60
    ls "$build/crashes" | sed "s|^|  input kept: $build/crashes/|"
    status=1
  fi
done
exit $status
