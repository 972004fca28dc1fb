// An independent reader's view of the GGUF files minigpt wrote (tests/data/gguf/*.gguf): the
// npm package @huggingface/gguf (pinned in package.json) parses each one, and what it found
// (version, metadata with value types, tensor names, ne, ggml types, offsets, where the data
// starts) goes to tests/data/gguf/reference.json, which test_gguf.cpp compares with minigpt's
// own reader. A maintainer's script: the tests never run node.
//
//   cd tests/gguf && npm install && node make_gguf_reference.mjs
import {gguf} from "@huggingface/gguf";
import {readdirSync, writeFileSync} from "node:fs";
import {dirname, join} from "node:path";
import {fileURLToPath} from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dataDir = join(here, "..", "data", "gguf");
// GGUF's value type numbers, by the names @huggingface/gguf gives them.
const typeNames = ["u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"];

// Long arrays (a vocabulary) are summarised: their length, first and last elements.
function summarise(value) {
  const plain = (v) => (typeof v === "bigint" ? Number(v) : v);
  if (!Array.isArray(value)) return {value: plain(value)};
  return {count: value.length, first: value.slice(0, 3).map(plain), last: value.slice(-3).map(plain)};
}

const out = {about: "What @huggingface/gguf 0.4.6 read from each file (made by tests/gguf/make_gguf_reference.mjs).", files: {}};
for (const name of readdirSync(dataDir).filter((f) => f.endsWith(".gguf")).sort()) {
  const r = await gguf(join(dataDir, name), {allowLocalFile: true, typedMetadata: true});
  const metadata = {};
  for (const [key, entry] of Object.entries(r.typedMetadata)) {
    if (key === "version" || key === "tensor_count" || key === "kv_count") continue;
    metadata[key] = {type: typeNames[entry.type], ...(entry.subType !== undefined ? {element_type: typeNames[entry.subType]} : {}),
                     ...summarise(entry.value)};
  }
  out.files[name] = {
    version: Number(r.typedMetadata.version.value),
    tensor_count: Number(r.typedMetadata.tensor_count.value),
    kv_count: Number(r.typedMetadata.kv_count.value),
    data_offset: Number(r.tensorDataOffset),
    metadata,
    tensors: r.tensorInfos.map((t) => ({name: t.name, ne: t.shape.map(Number), type: t.dtype, offset: Number(t.offset)})),
  };
}
writeFileSync(join(dataDir, "reference.json"), JSON.stringify(out, null, 1) + "\n");
console.log(`wrote ${Object.keys(out.files).length} files' views to ${join(dataDir, "reference.json")}`);
