#!/usr/bin/env bash
# llama.cpp's greedy continuation of the same prompt on each committed GGUF file
# (tests/data/gguf/gpt2-tiny-*.gguf), written to tests/data/gguf/llama_greedy.json, which
# test_gguf.cpp compares with minigpt's own greedy tokens on the same files.
#
#   cd tests/gguf && npm install && ./make_llama_greedy.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="$here/../data/gguf"
prompt="31 78 52 81 14"
new=19
{
  for f in "$data"/gpt2-tiny-*.gguf; do
    node "$here/llama_peer.mjs" "$f" --prompt-ids "$prompt" --new "$new"
  done
} | node -e '
  const lines = require("fs").readFileSync(0, "utf8").trim().split("\n").map(JSON.parse);
  const out = {about: "Greedy tokens of llama.cpp (node-llama-cpp 3.21.1, CPU) on each file, made by tests/gguf/make_llama_greedy.sh",
               prompt_ids: lines[0].prompt_ids, files: {}};
  for (const r of lines) out.files[require("path").basename(r.model)] = r.tokens;
  process.stdout.write(JSON.stringify(out, null, 1) + "\n");
' > "$data/llama_greedy.json"
echo "wrote $data/llama_greedy.json"
