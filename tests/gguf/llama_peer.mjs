// llama.cpp as a peer (through the npm package node-llama-cpp, pinned in package.json, which
// ships llama.cpp prebuilt): loads a GGUF file on the CPU, continues a prompt of token ids
// greedily, and optionally times decoding and a 256-token prefill. Prints one JSON object.
// A maintainer's script: the tests never run it; what it printed is committed where a test
// compares against it (tests/data/gguf/llama_greedy.json).
//
//   cd tests/gguf && npm install
//   node llama_peer.mjs MODEL.gguf --prompt-ids "31 78 52 81 14" --new 12
//   node llama_peer.mjs MODEL.gguf --prompt-ids "464 2068" --new 64 --threads 1 --bench
//
// Flags: --prompt-ids "IDS"  the prompt (default "464 2068 7586")
//        --new N            tokens to generate greedily (default 12)
//        --threads T        llama.cpp's threads (default 1)
//        --bench            also time decode (tokens/s over the --new tokens after the prompt,
//                           best of 3 runs) and prefill (256 tokens at once, best of 3)
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

function parse(argv) {
  const o = {model: null, prompt: [464, 2068, 7586], n: 12, threads: 1, bench: false};
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === "--prompt-ids") o.prompt = argv[++i].trim().split(/\s+/).map(Number);
    else if (a === "--new") o.n = Number(argv[++i]);
    else if (a === "--threads") o.threads = Number(argv[++i]);
    else if (a === "--bench") o.bench = true;
    else if (o.model === null) o.model = a;
    else throw new Error(`unknown argument ${a}`);
  }
  if (o.model === null) throw new Error("usage: node llama_peer.mjs MODEL.gguf [--prompt-ids IDS] [--new N] [--threads T] [--bench]");
  return o;
}

const o = parse(process.argv.slice(2));
// The prebuilt binaries only: nothing is built or downloaded; CPU only.
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: o.threads});
const model = await llama.loadModel({modelPath: o.model, gpuLayers: 0});
const contextSize = Math.min(model.trainContextSize, 1024);
const context = await model.createContext({
  contextSize, batchSize: Math.min(512, contextSize), sequences: 1, threads: {ideal: o.threads, min: o.threads},
});
const sequence = context.getSequence();

// Greedy: temperature 0, no penalties; an end-of-generation token is kept and generation goes on.
async function greedy(prompt, n) {
  await sequence.clearHistory();
  const out = [];
  let first = 0;
  const start = performance.now();
  for await (const token of sequence.evaluate(prompt, {temperature: 0, yieldEogToken: true})) {
    if (out.length === 0) first = performance.now();
    out.push(token);
    if (out.length >= n) break;
  }
  const end = performance.now();
  // tokens after the first (which includes the prompt's prefill) per second of decoding
  return {tokens: out, decode_tokens_per_s: n > 1 ? (n - 1) / ((end - first) / 1000) : null, first_ms: first - start};
}

const result = {
  model: o.model, threads: o.threads, llama_cpp: "node-llama-cpp 3.21.1",
  n_vocab: model.tokens.size ?? null, train_context: model.trainContextSize,
  prompt_ids: o.prompt, ...(await greedy(o.prompt, o.n)),
};
delete result.first_ms;
if (o.bench) {
  let best = 0;
  for (let r = 0; r < 3; ++r) best = Math.max(best, (await greedy(o.prompt, o.n)).decode_tokens_per_s);
  result.decode_tokens_per_s = best;
  const prefill = Array.from({length: 256}, (_, i) => (i * 7919 + 13) % Math.min(50000, model.tokens?.size ?? 50000));
  let bestPrefill = 0;
  if (contextSize >= 256) {
    for (let r = 0; r < 3; ++r) {
      await sequence.clearHistory();
      const t0 = performance.now();
      await sequence.evaluateWithoutGeneratingNewTokens(prefill);
      bestPrefill = Math.max(bestPrefill, 256 / ((performance.now() - t0) / 1000));
    }
    result.prefill_256_tokens_per_s = bestPrefill;
  }
}
console.log(JSON.stringify(result));
await context.dispose();
await model.dispose();
await llama.dispose();
