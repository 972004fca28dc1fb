// The benchmark peer of tests/bench/bench_tokenizer.cpp: the same GPT-2 encoding measured with
// OpenAI's tiktoken (npm `tiktoken`, Rust compiled to WebAssembly, one thread) and Hugging Face's
// tokenizers (npm `tokenizers`, native Rust; its batch call uses all threads), on the same text.
//
//   node bench_peer.mjs TEXT_FILE VOCAB_JSON MERGES_TXT DOC_BYTES
//
// Prints one JSON object per line: {"name", "seconds", "mb_per_s", "tokens", "checksum"}.
// The checksum (sum of id * (position + 1), mod 2^32) lets the C++ side check that every
// tokenizer produced the very same ids.
import { readFileSync } from 'node:fs';
import { get_encoding } from 'tiktoken';
import hf from 'tokenizers';
const { BPE, Tokenizer, byteLevelPreTokenizer } = hf;

const [file, vocab, merges, docArg] = process.argv.slice(2);
const bytes = readFileSync(file);
const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
const mb = bytes.length / 1e6;
const docBytes = Number(docArg ?? 10000);

// The text cut into documents at line ends, about docBytes each (same rule as the C++ side).
const docs = [];
{
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(bytes.length, start + docBytes);
    while (end < bytes.length && bytes[end - 1] !== 0x0a) ++end;
    docs.push(bytes.subarray(start, end).toString('utf8'));
    start = end;
  }
}

function checksum(lists) {
  let sum = 0, pos = 0, count = 0;
  for (const ids of lists) for (const id of ids) { sum = (sum + id * ++pos) % 4294967296; ++count; }
  return { tokens: count, checksum: sum };
}
function report(name, seconds, megabytes, lists) {
  console.log(JSON.stringify({ name, seconds, mb_per_s: megabytes / seconds, ...(lists ? checksum(lists) : {}) }));
}
async function best(runs, fn) {
  let bestTime = Infinity, result;
  for (let r = 0; r < runs; ++r) {
    const t0 = performance.now();
    result = await fn();
    bestTime = Math.min(bestTime, (performance.now() - t0) / 1000);
  }
  return [bestTime, result];
}

// ---- tiktoken ----
{
  const [load, enc] = await best(1, () => get_encoding('gpt2'));
  report('tiktoken load', load, 0);
  const [t, ids] = await best(3, () => enc.encode_ordinary(text));
  report('tiktoken encode, 1 thread', t, mb, [ids]);
  const [tb, lists] = await best(3, () => docs.map((d) => enc.encode_ordinary(d)));
  report('tiktoken documents, 1 thread', tb, mb, lists);
  enc.free();
}

// ---- Hugging Face tokenizers ----
{
  const [load, tok] = await best(1, async () => {
    const t = new Tokenizer(await BPE.fromFile(vocab, merges));
    t.setPreTokenizer(byteLevelPreTokenizer(false, true));
    return t;
  });
  report('HF tokenizers load', load, 0);
  const [t, enc] = await best(3, () => tok.encode(text));
  report('HF tokenizers encode, 1 thread', t, mb, [enc.getIds()]);
  const [tb, encs] = await best(3, () => tok.encodeBatch(docs));
  report('HF tokenizers documents, all threads', tb, mb, encs.map((e) => e.getIds()));
}
