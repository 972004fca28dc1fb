// Makes the reference ids the C++ tests compare against, with the npm package `tiktoken`
// (OpenAI's tokenizer compiled to WebAssembly), encoding "gpt2":
//   - tests/data/tokenizer/cases.json: every case of cases.mjs with
//       "ordinary": encode_ordinary(text)        (special tokens are plain text)
//       "special":  encode(text, "all")           (special tokens allowed)
//   - tests/data/tokenizer/texts/NAME.txt.ids for each NAME.txt there: encode_ordinary of
//     the file's bytes, as decimal ids separated by single spaces on one line.
// Also checks that decoding the ids gives the text back, and reports (without storing) whether
// Hugging Face tokenizers gives the same ids.
//
// Run from this folder after `npm install` (versions pinned in package.json):
//   node make_references.mjs [path/to/tests/data/tokenizer]
import { get_encoding } from 'tiktoken';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import cases from './cases.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const dataDir = process.argv[2] ?? path.join(here, '..', 'data', 'tokenizer');
const version = JSON.parse(readFileSync(path.join(here, 'node_modules', 'tiktoken', 'package.json'), 'utf8')).version;
const enc = get_encoding('gpt2');
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });  // keep a leading U+FEFF

function check(text, ids) {
  const back = utf8.decode(enc.decode(ids));
  if (back !== text) throw new Error(`round trip failed for ${JSON.stringify(text).slice(0, 60)}`);
}

const out = [];
for (const { name, text } of cases) {
  const ordinary = Array.from(enc.encode_ordinary(text));
  const special = Array.from(enc.encode(text, 'all'));
  check(text, ordinary);
  check(text, special);
  out.push({ name, text, ordinary, special });
}
const doc = {
  about: 'Reference GPT-2 token ids made by tests/tokenizer/make_references.mjs from tests/tokenizer/cases.mjs',
  reference: `npm tiktoken ${version}, get_encoding("gpt2"): ordinary = encode_ordinary(text), special = encode(text, "all")`,
  cases: out,
};
// One case per line, so a diff shows which case changed.
const lines = out.map((c) => '  ' + JSON.stringify(c));
writeFileSync(path.join(dataDir, 'cases.json'),
  `{"about": ${JSON.stringify(doc.about)},\n "reference": ${JSON.stringify(doc.reference)},\n "cases": [\n${lines.join(',\n')}\n]}\n`);
console.log(`cases.json: ${out.length} cases`);

const textDir = path.join(dataDir, 'texts');
for (const file of readdirSync(textDir).filter((f) => f.endsWith('.txt')).sort()) {
  const text = utf8.decode(readFileSync(path.join(textDir, file)));
  const ids = Array.from(enc.encode_ordinary(text));
  check(text, ids);
  writeFileSync(path.join(textDir, file + '.ids'), ids.join(' ') + '\n');
  console.log(`texts/${file}: ${Buffer.byteLength(text)} bytes, ${ids.length} ids`);
}
enc.free();

// Optional: how far Hugging Face tokenizers (npm `tokenizers`) agrees with the reference on the
// same cases. Printed only; the committed ids are tiktoken's.
try {
  const { default: hf } = await import('tokenizers');
  const gpt2 = path.join(here, '..', 'data', 'gpt2');
  const tok = new hf.Tokenizer(await hf.BPE.fromFile(path.join(gpt2, 'encoder.json'), path.join(gpt2, 'vocab.bpe')));
  tok.setPreTokenizer(hf.byteLevelPreTokenizer(false, true));
  const differ = [];
  for (const c of out) {
    const ids = (await tok.encode(c.text)).getIds();
    if (ids.join(' ') !== c.ordinary.join(' ')) differ.push(c.name);
  }
  console.log(`HF tokenizers agrees on ${out.length - differ.length} of ${out.length} cases` +
    (differ.length ? `; differs on: ${differ.join('; ')}` : ''));
} catch (e) {
  console.log(`HF tokenizers comparison skipped: ${e.message}`);
}
