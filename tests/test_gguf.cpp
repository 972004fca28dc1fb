// GGUF (gguf.hpp): round trips of a small GPT-2 in F32, F16, BF16 and Q8_0 against the
// definitions of each type; the layout llama.cpp needs; our reader against an independent one
// (@huggingface/gguf, tests/data/gguf/reference.json); greedy tokens against llama.cpp's on the
// same files (tests/data/gguf/llama_greedy.json); and the catalogue of bad GGUF files, each a
// FileError naming the file and the key or tensor.
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

#include <cstdint>
#include <cstring>
#include <limits>

using namespace minigpt;
using Catch::Matchers::Contains;

namespace {

GPT<float> gguf_tiny() { return load_model<float>(test::data("gpt2-tiny")); }

// The bytes x would become in the file, read back: the type's own rounding.
float gguf_through(GGMLType t, float x) {
  if (t == GGMLType::F16) return detail::half_to_float(detail::float_to_half(x));
  if (t == GGMLType::BF16) return detail::bf16_to_float(detail::float_to_bf16(x));
  return x;
}

std::vector<TokenId> gguf_greedy(GPT<float>& model, const std::vector<TokenId>& prompt, Index n) {
  GenerateOptions opt;
  opt.max_new_tokens = n;
  opt.sampling.temperature = 0;
  Rng rng(1);
  return generate(model, prompt, 1, opt, rng)[0];
}

// ---- a GGUF file by hand, byte by byte (independent of GGUFWriter) ----
struct GGUFBytes {
  std::string s;
  GGUFBytes& u8(std::uint8_t v) { return raw(&v, 1); }
  GGUFBytes& u32(std::uint32_t v) { return raw(&v, 4); }
  GGUFBytes& u64(std::uint64_t v) { return raw(&v, 8); }
  GGUFBytes& f32(float v) { return raw(&v, 4); }
  GGUFBytes& str(const std::string& t) { return u64(t.size()).raw(t.data(), t.size()); }
  GGUFBytes& raw(const void* p, std::size_t n) {
    s.append(static_cast<const char*>(p), n);
    return *this;
  }
  GGUFBytes& pad(std::size_t a = 32) {
    s.append((a - s.size() % a) % a, '\0');
    return *this;
  }
};

// "GGUF", version 3, counts.
GGUFBytes gguf_header(std::uint64_t tensors, std::uint64_t kvs, std::uint32_t version = 3) {
  GGUFBytes b;
  b.raw("GGUF", 4).u32(version).u64(tensors).u64(kvs);
  return b;
}

std::string gguf_write(const std::string& dir, const std::string& name, const std::string& bytes) {
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string gguf_open_error(const std::string& path) {
  try {
    GGUFReader r(path);
  } catch (const FileError& e) {
    CHECK(e.where() == path);
    return e.what();
  }
  FAIL("opened " + path + " without an error");
  return "";
}

std::string gguf_load_error(const std::string& path) {
  try {
    (void)load_gguf(path);
  } catch (const FileError& e) {
    CHECK(e.where() == path);
    return e.what();
  }
  FAIL("loaded " + path + " without an error");
  return "";
}

// One F32 tensor "t" of ne {2} after the given metadata bytes (kvs entries).
std::string gguf_one_tensor_file(const std::string& kv_bytes, std::uint64_t kvs, const std::string& tensor_info) {
  GGUFBytes b = gguf_header(1, kvs);
  b.s += kv_bytes;
  b.s += tensor_info;
  b.pad();
  b.f32(1).f32(2);
  return b.s;
}

std::string gguf_f32_info(const std::string& name, std::vector<std::uint64_t> ne, std::uint32_t type = 0, std::uint64_t offset = 0) {
  GGUFBytes b;
  b.str(name).u32(static_cast<std::uint32_t>(ne.size()));
  for (auto d : ne) b.u64(d);
  b.u32(type).u64(offset);
  return b.s;
}

}  // namespace

// ---- round trips ----

TEST_CASE("GGUF round trip of gpt2-tiny: F32 bit for bit, F16 and BF16 within their rounding", "[gguf]") {
  const std::string dir = test::scratch("gguf-roundtrip");
  GPT<float> m = gguf_tiny();
  const Parameters<float>& p = m.parameters();
  for (GGMLType t : {GGMLType::F32, GGMLType::F16, GGMLType::BF16}) {
    INFO("type " << ggml_type_name(static_cast<std::uint32_t>(t)));
    const std::string path = dir + "/m.gguf";
    save_gguf(m, nullptr, path, t);
    GGUFModel g = load_gguf(path);
    CHECK(g.model.config() == m.config());
    CHECK(!g.tokenizer);  // gpt2-tiny has none: the file's vocabulary is padding
    for (const TensorInfo& info : p.table().entries()) {
      // 2-D weights but the position embedding take the type; the rest stay F32.
      const bool typed = info.shape.size() == 2 && info.name != "wpe.weight";
      for (Index i = 0; i < info.size; ++i) {
        const float x = p.data()[info.offset + i];
        REQUIRE(g.model.parameters().data()[info.offset + i] == (typed ? gguf_through(t, x) : x));
      }
    }
  }
}

TEST_CASE("GGUF round trip in Q8_0: rows of 32 quantized as ggml does, others in F16", "[gguf]") {
  const std::string dir = test::scratch("gguf-q8");
  GPT<float> m = gguf_tiny();  // C = 48: only mlp.c_proj (rows of 4C = 192 inputs) is a whole number of blocks
  save_gguf(m, nullptr, dir + "/m.gguf", GGMLType::Q8_0);
  GGUFReader r(dir + "/m.gguf");
  CHECK(r.find_tensor("blk.0.ffn_down.weight")->type == 8);
  CHECK(r.find_tensor("blk.0.ffn_up.weight")->type == 1);  // rows of 48: F16, as llama.cpp's converter falls back
  CHECK(r.find_tensor("token_embd.weight")->type == 1);
  CHECK(r.find_tensor("position_embd.weight")->type == 0);
  CHECK(r.find_tensor("blk.1.ffn_down.bias")->type == 0);
  CHECK(r.get_index("general.file_type") == 7);

  GGUFModel g = load_gguf(dir + "/m.gguf", true);
  const Index C = m.config().n_embd;
  for (int layer = 0; layer < 2; ++layer) {
    const std::string name = "h." + std::to_string(layer) + ".mlp.c_proj.weight";  // (4C, C) = (in, out)
    const Eigen::MatrixXf W = m.parameters().get(name);
    const Eigen::MatrixXf Wt = W.transpose();  // (out, in), row-major below
    std::vector<float> rows(static_cast<std::size_t>(C * 4 * C));
    for (Index o = 0; o < C; ++o)
      for (Index i = 0; i < 4 * C; ++i) rows[static_cast<std::size_t>(o * 4 * C + i)] = Wt(o, i);
    const detail::Q8_0Matrix expected = detail::quantize_matrix_q8_0(rows.data(), C, 4 * C);
    // The blocks kept for a quantized forward pass are ggml's, unchanged, as (out, in) rows.
    REQUIRE(g.q8_0.count(name));
    const detail::Q8_0Matrix& kept = g.q8_0.at(name);
    CHECK(kept.rows == C);
    CHECK(kept.cols == 4 * C);
    CHECK(std::memcmp(kept.blocks.data(), expected.blocks.data(), expected.blocks.size() * sizeof(detail::BlockQ8_0)) == 0);
    // The f32 model holds them dequantized, transposed back to (in, out).
    std::vector<float> deq(rows.size());
    detail::dequantize_q8_0(expected.blocks.data(), deq.data(), static_cast<Index>(deq.size()));
    const Eigen::MatrixXf got = g.model.parameters().get(name);
    for (Index o = 0; o < C; ++o)
      for (Index i = 0; i < 4 * C; ++i) REQUIRE(got(i, o) == deq[static_cast<std::size_t>(o * 4 * C + i)]);
  }
  CHECK(g.q8_0.size() == 2);
}

TEST_CASE("GGUF: the layout llama.cpp needs (names, (out, in) rows, metadata)", "[gguf]") {
  const std::string dir = test::scratch("gguf-layout");
  GPT<float> m = gguf_tiny();
  save_gguf(m, nullptr, dir + "/m.gguf");
  GGUFReader r(dir + "/m.gguf");
  const Index C = 48;
  CHECK(r.version() == 3);
  CHECK(r.get_string("general.architecture") == "gpt2");
  CHECK(r.get_index("gpt2.block_count") == 2);
  CHECK(r.get_index("gpt2.context_length") == 24);
  CHECK(r.get_index("gpt2.embedding_length") == C);
  CHECK(r.get_index("gpt2.feed_forward_length") == 4 * C);
  CHECK(r.get_index("gpt2.attention.head_count") == 3);
  CHECK(r.get_float("gpt2.attention.layer_norm_epsilon") == static_cast<double>(1e-5f));
  CHECK(r.get_string("tokenizer.ggml.model") == "gpt2");
  CHECK(r.get_strings("tokenizer.ggml.tokens").size() == 101);
  CHECK(r.tensors().size() == 4 + 12 * 2);  // tied: no output.weight
  CHECK(r.find_tensor("output.weight") == nullptr);
  // c_attn (in, out) = (C, 3C) is stored as rows of outputs: ne {C, 3C}, element (o, i) at o*C + i.
  const GGUFTensorInfo* qkv = r.find_tensor("blk.1.attn_qkv.weight");
  REQUIRE(qkv);
  CHECK(qkv->ne == std::vector<Index>{C, 3 * C});
  CHECK(qkv->shape() == std::vector<Index>{3 * C, C});
  const std::vector<float> stored = r.read_f32("blk.1.attn_qkv.weight");
  const auto W = m.parameters().get("h.1.attn.c_attn.weight");
  for (Index o = 0; o < 3 * C; ++o)
    for (Index i = 0; i < C; ++i) REQUIRE(stored[static_cast<std::size_t>(o * C + i)] == W(i, o));
  CHECK(r.find_tensor("token_embd.weight")->ne == std::vector<Index>{C, 101});
  // ggml's layout: offsets in order, each padded to the alignment, data after the header.
  Index at = 0;
  for (const GGUFTensorInfo& t : r.tensors()) {
    CHECK(t.offset == at);
    at += (t.bytes + 31) / 32 * 32;
  }
  CHECK(r.data_offset() % 32 == 0);
  CHECK(static_cast<Index>(test::file_bytes(dir + "/m.gguf").size()) == r.data_offset() + at);
}

TEST_CASE("GGUF: an untied head is written as output.weight and read back untied", "[gguf]") {
  const std::string dir = test::scratch("gguf-untied");
  GPTConfig c = GPTConfig::make(1, 2, 32, 8, 40);
  c.tie_word_embeddings = false;
  GPT<float> m(c);
  Rng rng(3);
  m.init_weights(rng);
  save_gguf(m, nullptr, dir + "/u.gguf", GGMLType::Q8_0);
  GGUFReader r(dir + "/u.gguf");
  REQUIRE(r.find_tensor("output.weight"));
  CHECK(r.find_tensor("output.weight")->type == 8);
  GGUFModel g = load_gguf(dir + "/u.gguf");
  CHECK(!g.model.config().tie_word_embeddings);
  // An output.weight that repeats token_embd.weight (as older converters wrote) is the tied head.
  GPTConfig tied = c;
  tied.tie_word_embeddings = true;
  GPT<float> t(tied);
  t.parameters().flat() = 0.25f;
  GGUFWriter w = gguf_writer(t, nullptr, GGMLType::F32);
  const std::vector<float> wte(40 * 32, 0.25f);
  w.add_tensor("output.weight", {32, 40}, 0, std::string(reinterpret_cast<const char*>(wte.data()), wte.size() * 4));
  w.save(dir + "/tied.gguf");
  CHECK(load_gguf(dir + "/tied.gguf").model.config().tie_word_embeddings);
}

TEST_CASE("GGUF: GPT-2's tokenizer goes in and comes out the same", "[gguf]") {
  const std::string dir = test::scratch("gguf-tokenizer");
  const BPETokenizer& tok = test::gpt2_tokenizer();
  GPT<float> m(GPTConfig::make(1, 2, 32, 16, 50257));
  Rng rng(4);
  m.init_weights(rng);
  save_gguf(m, tok, dir + "/t.gguf", GGMLType::BF16);
  GGUFReader r(dir + "/t.gguf");
  CHECK(r.get_strings("tokenizer.ggml.tokens")[995] == "Ġworld");
  CHECK(r.get_strings("tokenizer.ggml.merges")[0] == "Ġ t");
  CHECK(r.get("tokenizer.ggml.token_type").ints[50256] == 3);  // <|endoftext|> is a control token
  CHECK(r.get("tokenizer.ggml.token_type").ints[0] == 1);
  CHECK(r.get_index("tokenizer.ggml.eos_token_id") == 50256);
  GGUFModel g = load_gguf(dir + "/t.gguf");
  REQUIRE(g.tokenizer);
  CHECK(g.tokenizer->vocab_size() == 50257);
  CHECK(g.tokenizer->merges() == tok.merges());
  for (const char* sample : {"english.txt", "korean.txt", "code.txt", "emoji.txt"}) {
    const std::string text = test::file_bytes(test::data(std::string("gpt2/samples/") + sample));
    CHECK(g.tokenizer->encode(text) == test::read_ids(test::data(std::string("gpt2/samples/") + sample + ".ids")));
  }
  CHECK(g.tokenizer->special_token("<|endoftext|>") == TokenId(50256));

  // A model wider than its tokenizer: the extra ids are padding, and the tokenizer is unchanged.
  GPT<float> wide(GPTConfig::make(1, 2, 32, 16, 50304));
  wide.init_weights(rng);
  save_gguf(wide, tok, dir + "/wide.gguf", GGMLType::Q8_0);
  GGUFModel w = load_gguf(dir + "/wide.gguf");
  CHECK(w.model.config().vocab_size == 50304);
  REQUIRE(w.tokenizer);
  CHECK(w.tokenizer->vocab_size() == 50257);
  CHECK(GGUFReader(dir + "/wide.gguf").get_strings("tokenizer.ggml.tokens")[50300] == "[PAD50300]");
  // A tokenizer larger than the model is refused before anything is written.
  GPT<float> narrow(GPTConfig::make(1, 2, 32, 16, 300));
  CHECK_THROWS_WITH(save_gguf(narrow, tok, dir + "/narrow.gguf"), Contains("50257 tokens") && Contains("300"));
  CHECK(!detail::file_exists(dir + "/narrow.gguf"));
}

TEST_CASE("GGUF: our reader sees what @huggingface/gguf sees in the committed files", "[gguf]") {
  const auto ref = test::read_json(test::data("gguf/reference.json"));
  REQUIRE(ref["files"].size() == 4);
  for (auto it = ref["files"].begin(); it != ref["files"].end(); ++it) {
    INFO("file " << it.key());
    const auto& j = it.value();
    GGUFReader r(test::data("gguf/" + it.key()));
    CHECK(r.version() == j["version"].get<std::uint32_t>());
    CHECK(r.data_offset() == j["data_offset"].get<Index>());
    CHECK(r.metadata().size() == j["kv_count"].get<std::size_t>());
    CHECK(r.metadata().size() == j["metadata"].size());
    for (const auto& [key, v] : r.metadata()) {
      INFO("key " << key);
      REQUIRE(j["metadata"].contains(key));
      const auto& e = j["metadata"][key];
      CHECK(e["type"] == gguf_value_type_name(v.type));
      if (v.is_array()) {
        CHECK(e["element_type"] == gguf_value_type_name(v.element_type));
        CHECK(e["count"].get<std::size_t>() == v.size());
        const std::size_t n = v.size();
        for (std::size_t k = 0; k < std::min<std::size_t>(3, n); ++k) {
          const std::size_t last = n - std::min<std::size_t>(3, n) + k;
          if (v.element_type == GGUFValueType::STRING) {
            CHECK(e["first"][k] == v.strings[k]);
            CHECK(e["last"][k] == v.strings[last]);
          } else {
            CHECK(e["first"][k] == v.ints[k]);
            CHECK(e["last"][k] == v.ints[last]);
          }
        }
      } else if (v.type == GGUFValueType::STRING) {
        CHECK(e["value"] == v.strings[0]);
      } else if (v.type == GGUFValueType::FLOAT32 || v.type == GGUFValueType::FLOAT64) {
        CHECK(e["value"].get<double>() == v.floats[0]);
      } else {
        CHECK(e["value"].get<std::int64_t>() == v.ints[0]);
      }
    }
    REQUIRE(r.tensors().size() == j["tensors"].size());
    for (std::size_t k = 0; k < r.tensors().size(); ++k) {
      const GGUFTensorInfo& t = r.tensors()[k];
      const auto& e = j["tensors"][k];
      CHECK(t.name == e["name"].get<std::string>());
      CHECK(t.ne == e["ne"].get<std::vector<Index>>());
      CHECK(t.type == e["type"].get<std::uint32_t>());
      CHECK(t.offset == e["offset"].get<Index>());
    }
  }
}

TEST_CASE("GGUF: the committed files are what the writer makes, byte for byte", "[gguf]") {
  const std::string dir = test::scratch("gguf-committed");
  GPT<float> m = gguf_tiny();
  for (const char* t : {"f32", "f16", "bf16", "q8_0"}) {
    INFO("type " << t);
    save_gguf(m, nullptr, dir + "/m.gguf", parse_ggml_type(t));
    CHECK(test::file_bytes(dir + "/m.gguf") == test::file_bytes(test::data(std::string("gguf/gpt2-tiny-") + t + ".gguf")));
  }
}

TEST_CASE("GGUF: greedy tokens equal llama.cpp's on the same files", "[gguf][generation]") {
  const auto ref = test::read_json(test::data("gguf/llama_greedy.json"));
  const auto prompt = ref["prompt_ids"].get<std::vector<TokenId>>();
  // PyTorch's greedy tokens on the original model (the first 12) agree as well.
  const auto torch = test::read_json(test::data("gpt2-tiny/reference.json"))["greedy"]["new_ids"].get<std::vector<TokenId>>();
  REQUIRE(ref["files"].size() == 4);
  for (auto it = ref["files"].begin(); it != ref["files"].end(); ++it) {
    INFO("file " << it.key());
    const auto expected = it.value().get<std::vector<TokenId>>();
    GGUFModel g = load_gguf(test::data("gguf/" + it.key()));
    const std::vector<TokenId> ours = gguf_greedy(g.model, prompt, static_cast<Index>(expected.size()));
    CHECK(ours == expected);
    CHECK(std::equal(torch.begin(), torch.end(), ours.begin()));
  }
}

// ---- the catalogue of bad GGUF files ----

TEST_CASE("GGUF bad input: empty, wrong magic, versions, big-endian", "[bad_input][gguf]") {
  const std::string dir = test::scratch("bad-gguf-magic");
  CHECK_THAT(gguf_open_error(gguf_write(dir, "empty.gguf", "")), Contains("empty.gguf") && Contains("magic") && Contains("truncated"));
  CHECK_THAT(gguf_open_error(gguf_write(dir, "st.gguf", std::string("\x08\0\0\0\0\0\0\0{}      ", 16))), Contains("st.gguf") && Contains("not a GGUF file"));
  CHECK_THAT(gguf_open_error(gguf_write(dir, "v1.gguf", gguf_header(0, 0, 1).s)), Contains("version") && Contains("1 is not supported"));
  CHECK_THAT(gguf_open_error(gguf_write(dir, "v4.gguf", gguf_header(0, 0, 4).s)), Contains("version") && Contains("4 is not supported"));
  CHECK_THAT(gguf_open_error(gguf_write(dir, "be.gguf", gguf_header(0, 0, 0x03000000).s)), Contains("version") && Contains("big-endian"));
  CHECK_THAT(gguf_open_error(gguf_write(dir, "short.gguf", gguf_header(0, 0).s.substr(0, 15))), Contains("tensor_count") && Contains("truncated"));
  GGUFReader ok(gguf_write(dir, "ok.gguf", gguf_header(0, 0).s));  // a file with nothing in it is valid
  CHECK(ok.tensors().empty());
}

TEST_CASE("GGUF bad input: a valid file cut at every byte of its header and data", "[bad_input][gguf]") {
  const std::string dir = test::scratch("bad-gguf-cut");
  const std::string good = test::file_bytes(test::data("gguf/gpt2-tiny-q8_0.gguf"));
  GGUFReader whole(test::data("gguf/gpt2-tiny-q8_0.gguf"));
  const std::size_t header_end = static_cast<std::size_t>(whole.data_offset());
  std::vector<std::size_t> cuts;
  for (std::size_t n = 0; n < header_end; n += 7) cuts.push_back(n);
  for (std::size_t n = header_end; n < good.size(); n += 997) cuts.push_back(n);
  cuts.push_back(good.size() - 1);
  for (std::size_t n : cuts) {
    INFO("cut at " << n << " of " << good.size());
    const std::string path = gguf_write(dir, "cut.gguf", good.substr(0, n));
    REQUIRE_THAT(gguf_open_error(path), Contains("cut.gguf") && (Contains("truncated") || Contains("runs past the end") || Contains("cannot fit")));
  }
}

TEST_CASE("GGUF bad input: counts and lengths that lie, near 2^64", "[bad_input][gguf]") {
  const std::string dir = test::scratch("bad-gguf-counts");
  const std::uint64_t huge = std::numeric_limits<std::uint64_t>::max();
  CHECK_THAT(gguf_open_error(gguf_write(dir, "kv.gguf", gguf_header(0, huge).s)), Contains("kv_count") && Contains("cannot fit"));
  CHECK_THAT(gguf_open_error(gguf_write(dir, "tensors.gguf", gguf_header(huge, 0).s)), Contains("tensor_count") && Contains("cannot fit"));
  CHECK_THAT(gguf_open_error(gguf_write(dir, "tensors2.gguf", gguf_header(3, 0).s + std::string(40, '\0'))),
             Contains("tensor_count") && Contains("3 tensors"));
  for (std::uint64_t n : {huge, huge - 7, std::uint64_t(1) << 63, std::uint64_t(1000)}) {
    INFO("key length " << n);
    GGUFBytes b = gguf_header(0, 1);
    b.u64(n).raw("abc", 3).u32(4).u32(7);
    CHECK_THAT(gguf_open_error(gguf_write(dir, "keylen.gguf", b.s)),
               Contains("keylen.gguf") && Contains("metadata entry 0") && Contains("truncated") && Contains(std::to_string(n)));
    GGUFBytes v = gguf_header(0, 1);
    v.str("general.name").u32(8).u64(n).raw("x", 1);
    CHECK_THAT(gguf_open_error(gguf_write(dir, "strlen.gguf", v.s)),
               Contains("key 'general.name'") && Contains("truncated") && Contains(std::to_string(n)));
  }
  for (std::uint64_t n : {huge, std::uint64_t(1) << 62, std::uint64_t(100)}) {
    INFO("array count " << n);
    GGUFBytes b = gguf_header(0, 1);
    b.str("tokenizer.ggml.token_type").u32(9).u32(5).u64(n).u32(1).u32(1);
    CHECK_THAT(gguf_open_error(gguf_write(dir, "array.gguf", b.s)),
               Contains("key 'tokenizer.ggml.token_type'") && Contains("cannot fit") && Contains("i32"));
    GGUFBytes s = gguf_header(0, 1);
    s.str("tokenizer.ggml.tokens").u32(9).u32(8).u64(n).str("a");
    CHECK_THAT(gguf_open_error(gguf_write(dir, "strings.gguf", s.s)), Contains("key 'tokenizer.ggml.tokens'") && Contains("cannot fit"));
  }
}

TEST_CASE("GGUF bad input: unknown value types, nested arrays, duplicates, bools, alignment", "[bad_input][gguf]") {
  const std::string dir = test::scratch("bad-gguf-kv");
  GGUFBytes t = gguf_header(0, 1);
  t.str("x.key").u32(13).u32(0);
  CHECK_THAT(gguf_open_error(gguf_write(dir, "type.gguf", t.s)), Contains("key 'x.key'") && Contains("unknown value type 13"));
  GGUFBytes a = gguf_header(0, 1);
  a.str("x.arr").u32(9).u32(99).u64(1).u32(0);
  CHECK_THAT(gguf_open_error(gguf_write(dir, "atype.gguf", a.s)), Contains("key 'x.arr'") && Contains("unknown value type 99"));
  GGUFBytes n = gguf_header(0, 1);
  n.str("x.nested").u32(9).u32(9).u64(1).u32(4).u64(1).u32(7);
  CHECK_THAT(gguf_open_error(gguf_write(dir, "nested.gguf", n.s)), Contains("key 'x.nested'") && Contains("arrays of arrays"));
  GGUFBytes d = gguf_header(0, 2);
  d.str("x.k").u32(4).u32(1).str("x.k").u32(4).u32(2);
  CHECK_THAT(gguf_open_error(gguf_write(dir, "dup.gguf", d.s)), Contains("key 'x.k'") && Contains("appears twice"));
  GGUFBytes nk = gguf_header(0, 1);
  nk.str(std::string("x.\0k", 4)).u32(4).u32(1);
  CHECK_THAT(gguf_open_error(gguf_write(dir, "nulkey.gguf", nk.s)), Contains("metadata entry 0") && Contains("NUL byte at 2"));
  GGUFBytes bo = gguf_header(0, 1);
  bo.str("x.flag").u32(7).u8(2);
  CHECK_THAT(gguf_open_error(gguf_write(dir, "bool.gguf", bo.s)), Contains("key 'x.flag'") && Contains("0 or 1"));
  GGUFBytes al = gguf_header(0, 1);
  al.str("general.alignment").u32(4).u32(48);
  CHECK_THAT(gguf_open_error(gguf_write(dir, "align.gguf", al.s)), Contains("general.alignment") && Contains("48 is not a power of two"));
  GGUFBytes a0 = gguf_header(0, 1);
  a0.str("general.alignment").u32(4).u32(0);
  CHECK_THAT(gguf_open_error(gguf_write(dir, "align0.gguf", a0.s)), Contains("general.alignment") && Contains("0 is not a power of two"));
  GGUFBytes a64 = gguf_header(0, 1);
  a64.str("general.alignment").u32(10).u64(64);
  CHECK_THAT(gguf_open_error(gguf_write(dir, "align64.gguf", a64.s)), Contains("general.alignment") && Contains("must be a u32"));
}

TEST_CASE("GGUF bad input: tensor descriptions (n_dims, sizes, types, blocks, offsets, overlap)", "[bad_input][gguf]") {
  const std::string dir = test::scratch("bad-gguf-tensors");
  // A valid one first.
  GGUFReader ok(gguf_write(dir, "ok.gguf", gguf_one_tensor_file("", 0, gguf_f32_info("t", {2}))));
  CHECK(ok.read_f32("t") == std::vector<float>{1, 2});
  CHECK_THAT(gguf_open_error(gguf_write(dir, "dims.gguf", gguf_one_tensor_file("", 0, gguf_f32_info("t", {1, 1, 1, 1, 2})))),
             Contains("dims.gguf") && Contains("tensor 't'") && Contains("n_dims 5 is more than 4"));
  CHECK_THAT(gguf_open_error(gguf_write(dir, "neg.gguf", gguf_one_tensor_file("", 0, gguf_f32_info("t", {std::uint64_t(1) << 63})))),
             Contains("tensor 't'") && Contains("too large"));
  CHECK_THAT(gguf_open_error(gguf_write(dir, "overflow.gguf",
                              gguf_one_tensor_file("", 0, gguf_f32_info("t", {std::uint64_t(1) << 32, std::uint64_t(1) << 32})))),
             Contains("tensor 't'") && Contains("overflows 64 bits"));
  CHECK_THAT(gguf_open_error(gguf_write(dir, "bytes.gguf", gguf_one_tensor_file("", 0, gguf_f32_info("t", {std::uint64_t(1) << 62})))),
             Contains("tensor 't'") && Contains("overflows 64 bits"));
  CHECK_THAT(gguf_open_error(gguf_write(dir, "type.gguf", gguf_one_tensor_file("", 0, gguf_f32_info("t", {2}, 99)))),
             Contains("tensor 't'") && Contains("unknown ggml type 99"));
  CHECK_THAT(gguf_open_error(gguf_write(dir, "q8.gguf", gguf_one_tensor_file("", 0, gguf_f32_info("t", {48, 2}, 8)))),
             Contains("tensor 't'") && Contains("rows of 48 values") && Contains("Q8_0 blocks (32"));
  CHECK_THAT(gguf_open_error(gguf_write(dir, "misaligned.gguf", gguf_one_tensor_file("", 0, gguf_f32_info("t", {1}, 0, 4)))),
             Contains("tensor 't'") && Contains("offset 4 is not a multiple of the alignment 32"));
  CHECK_THAT(gguf_open_error(gguf_write(dir, "past.gguf", gguf_one_tensor_file("", 0, gguf_f32_info("t", {2}, 0, 32)))),
             Contains("tensor 't'") && Contains("runs past the end"));
  CHECK_THAT(gguf_open_error(gguf_write(dir, "far.gguf", gguf_one_tensor_file("", 0, gguf_f32_info("t", {2}, 0, std::uint64_t(1) << 63)))),
             Contains("tensor 't'") && Contains("past the end"));
  CHECK_THAT(gguf_open_error(gguf_write(dir, "large.gguf", gguf_one_tensor_file("", 0, gguf_f32_info("t", {1000})))),
             Contains("tensor 't'") && Contains("runs past the end"));
  GGUFBytes two = gguf_header(2, 0);
  two.s += gguf_f32_info("a", {8}) + gguf_f32_info("b", {8}, 0, 0);
  two.pad();
  two.s.append(64, '\0');
  CHECK_THAT(gguf_open_error(gguf_write(dir, "overlap.gguf", two.s)), Contains("overlaps tensor"));
  GGUFBytes same = gguf_header(2, 0);
  same.s += gguf_f32_info("a", {1}) + gguf_f32_info("a", {1}, 0, 32);
  same.pad();
  same.s.append(64, '\0');
  CHECK_THAT(gguf_open_error(gguf_write(dir, "twice.gguf", same.s)), Contains("tensor 'a'") && Contains("appears twice"));
  // A NUL inside a name (found by fuzzing): ggml's names are C strings, and an error could not name it.
  GGUFBytes nul = gguf_header(1, 0);
  nul.s += gguf_f32_info(std::string("blk\0x", 5), {1});
  nul.pad();
  nul.s.append(32, '\0');
  CHECK_THAT(gguf_open_error(gguf_write(dir, "nul.gguf", nul.s)), Contains("tensor 0") && Contains("NUL byte at 3"));
  // A type whose size is known but that minigpt cannot read is listed, and refused when read.
  GGUFBytes q4bytes = gguf_header(1, 0);
  q4bytes.s += gguf_f32_info("t", {32}, 2);
  q4bytes.pad().s.append(18, '\0');
  GGUFReader q4(gguf_write(dir, "q4.gguf", q4bytes.s));
  CHECK_THROWS_WITH(q4.read_f32("t"), Contains("q4.gguf") && Contains("tensor 't'") && Contains("Q4_0 is not supported"));
  CHECK_THROWS_WITH(q4.q8_0(q4.tensors()[0]), Contains("tensor 't'") && Contains("not Q8_0"));
  // Non-finite values are refused by name.
  GGUFBytes nan = gguf_header(1, 0);
  nan.s += gguf_f32_info("t", {2});
  nan.pad();
  nan.f32(1).f32(std::numeric_limits<float>::quiet_NaN());
  GGUFReader nr(gguf_write(dir, "nan.gguf", nan.s));
  CHECK_THROWS_WITH(nr.read_f32("t"), Contains("tensor 't'") && Contains("non-finite") && Contains("index 1"));
}

namespace {

// A tiny gpt2 GGUF with one change made to its writer.
std::string gguf_changed(const std::string& dir, const std::string& name, const std::function<void(GGUFWriter&)>& change) {
  GPT<float> m(GPTConfig::make(1, 2, 32, 8, 40));
  Rng rng(9);
  m.init_weights(rng);
  GGUFWriter w = gguf_writer(m, nullptr, GGMLType::F32);
  change(w);
  const std::string path = dir + "/" + name;
  w.save(path);
  return path;
}

std::string gguf_f32_bytes(Index n, float v = 0.5f) {
  const std::vector<float> x(static_cast<std::size_t>(n), v);
  return std::string(reinterpret_cast<const char*>(x.data()), x.size() * 4);
}

}  // namespace

TEST_CASE("GGUF bad input: gpt2 files with missing or wrong metadata and tensors", "[bad_input][gguf]") {
  const std::string dir = test::scratch("bad-gguf-gpt2");
  (void)load_gguf(gguf_changed(dir, "ok.gguf", [](GGUFWriter&) {}));  // unchanged, it loads
  for (const char* key : {"general.architecture", "gpt2.block_count", "gpt2.attention.head_count",
                          "gpt2.embedding_length", "gpt2.context_length", "gpt2.attention.layer_norm_epsilon"}) {
    INFO("key " << key);
    CHECK_THAT(gguf_load_error(gguf_changed(dir, "missing.gguf", [&](GGUFWriter& w) { w.erase(key); })),
               Contains("missing.gguf") && Contains(std::string("key '") + key + "'") && Contains("missing"));
  }
  CHECK_THAT(gguf_load_error(gguf_changed(dir, "arch.gguf", [](GGUFWriter& w) { w.set("general.architecture", GGUFValue::string("llama")); })),
             Contains("key 'general.architecture'") && Contains("'llama'"));
  CHECK_THAT(gguf_load_error(gguf_changed(dir, "heads.gguf", [](GGUFWriter& w) { w.set("gpt2.attention.head_count", GGUFValue::string("2")); })),
             Contains("key 'gpt2.attention.head_count'") && Contains("must be an integer"));
  CHECK_THAT(gguf_load_error(gguf_changed(dir, "heads3.gguf", [](GGUFWriter& w) { w.set("gpt2.attention.head_count", GGUFValue::u32(3)); })),
             Contains("n_embd") && Contains("not divisible"));
  CHECK_THAT(gguf_load_error(gguf_changed(dir, "eps.gguf", [](GGUFWriter& w) { w.set("gpt2.attention.layer_norm_epsilon", GGUFValue::u32(1)); })),
             Contains("key 'gpt2.attention.layer_norm_epsilon'") && Contains("must be a float"));
  CHECK_THAT(gguf_load_error(gguf_changed(dir, "ffn.gguf", [](GGUFWriter& w) { w.set("gpt2.feed_forward_length", GGUFValue::u32(100)); })),
             Contains("key 'gpt2.feed_forward_length'") && Contains("4 * embedding_length"));
  // More layers than the file holds tensors for: the first missing tensor, nothing allocated.
  CHECK_THAT(gguf_load_error(gguf_changed(dir, "layers.gguf", [](GGUFWriter& w) { w.set("gpt2.block_count", GGUFValue::u32(4000000000u)); })),
             Contains("tensor 'blk.1.attn_norm.weight'") && Contains("missing"));
  CHECK_THAT(gguf_load_error(gguf_changed(dir, "notensor.gguf", [](GGUFWriter& w) { w.erase_tensor("blk.0.ffn_up.bias"); })),
             Contains("tensor 'blk.0.ffn_up.bias'") && Contains("missing"));
  CHECK_THAT(gguf_load_error(gguf_changed(dir, "noembd.gguf", [](GGUFWriter& w) { w.erase_tensor("token_embd.weight"); })),
             Contains("tensor 'token_embd.weight'") && Contains("missing"));
  // Wrong shapes for the arch: a projection not transposed, a bias of the wrong length.
  CHECK_THAT(gguf_load_error(gguf_changed(dir, "shape.gguf", [](GGUFWriter& w) {
               w.erase_tensor("blk.0.attn_qkv.weight");
               w.add_tensor("blk.0.attn_qkv.weight", {96, 32}, 0, gguf_f32_bytes(96 * 32));
             })),
             Contains("tensor 'blk.0.attn_qkv.weight'") && Contains("ne [96, 32]") && Contains("needs [32, 96]"));
  CHECK_THAT(gguf_load_error(gguf_changed(dir, "bias.gguf", [](GGUFWriter& w) {
               w.erase_tensor("output_norm.bias");
               w.add_tensor("output_norm.bias", {31}, 0, gguf_f32_bytes(31));
             })),
             Contains("tensor 'output_norm.bias'") && Contains("needs [32]"));
  CHECK_THAT(gguf_load_error(gguf_changed(dir, "extra.gguf", [](GGUFWriter& w) { w.add_tensor("blk.7.attn_norm.weight", {32}, 0, gguf_f32_bytes(32)); })),
             Contains("tensor 'blk.7.attn_norm.weight'") && Contains("not part of a gpt2 model of 1 layers"));
  CHECK_THAT(gguf_load_error(gguf_changed(dir, "nan.gguf", [](GGUFWriter& w) {
               w.erase_tensor("blk.0.ffn_norm.weight");
               w.add_tensor("blk.0.ffn_norm.weight", {32}, 0, gguf_f32_bytes(32, std::numeric_limits<float>::infinity()));
             })),
             Contains("tensor 'blk.0.ffn_norm.weight'") && Contains("non-finite"));
  CHECK_THAT(gguf_load_error(gguf_changed(dir, "q4.gguf", [](GGUFWriter& w) {
               w.erase_tensor("blk.0.ffn_up.weight");
               w.add_tensor("blk.0.ffn_up.weight", {32, 128}, 2, std::string(128 * 18, '\0'));
             })),
             Contains("tensor 'blk.0.ffn_up.weight'") && Contains("Q4_0 is not supported"));
  // The tokenizer: one token per embedding row, a known kind, merges of known tokens.
  CHECK_THAT(gguf_load_error(gguf_changed(dir, "tokens.gguf", [](GGUFWriter& w) {
               w.set("tokenizer.ggml.tokens", GGUFValue::string_array({"a", "b"}));
             })),
             Contains("key 'tokenizer.ggml.tokens'") && Contains("has 2 tokens") && Contains("40 rows"));
  CHECK_THAT(gguf_load_error(gguf_changed(dir, "kind.gguf", [](GGUFWriter& w) { w.set("tokenizer.ggml.model", GGUFValue::string("llama")); })),
             Contains("key 'tokenizer.ggml.model'") && Contains("'llama'"));
  CHECK_THAT(gguf_load_error(gguf_changed(dir, "types.gguf", [](GGUFWriter& w) { w.set("tokenizer.ggml.token_type", GGUFValue::i32_array({1})); })),
             Contains("key 'tokenizer.ggml.token_type'") && Contains("one per token"));
  std::vector<std::string> bytes_vocab;  // 40 tokens, none of them padding, but no byte tokens: not a BPE tokenizer
  for (int i = 0; i < 40; ++i) bytes_vocab.push_back(std::string(1, static_cast<char>('A' + i)));
  CHECK_THAT(gguf_load_error(gguf_changed(dir, "bpe.gguf", [&](GGUFWriter& w) {
               w.set("tokenizer.ggml.tokens", GGUFValue::string_array(bytes_vocab));
               w.set("tokenizer.ggml.token_type", GGUFValue::i32_array(std::vector<std::int32_t>(40, 1)));
             })),
             Contains("bpe.gguf") && Contains("tokenizer") && Contains("no token for this byte"));
  CHECK_THAT(gguf_load_error(gguf_changed(dir, "merges.gguf", [&](GGUFWriter& w) {
               w.set("tokenizer.ggml.tokens", GGUFValue::string_array(bytes_vocab));
               w.set("tokenizer.ggml.token_type", GGUFValue::i32_array(std::vector<std::int32_t>(40, 1)));
               w.set("tokenizer.ggml.merges", GGUFValue::string_array({"A Z"}));
             })),
             Contains("merges.gguf") && Contains("tokenizer (merge 0)") && Contains("'AZ', which is not in the vocabulary"));
  CHECK_THAT(gguf_load_error(gguf_changed(dir, "merge2.gguf", [&](GGUFWriter& w) {
               w.set("tokenizer.ggml.tokens", GGUFValue::string_array(bytes_vocab));
               w.set("tokenizer.ggml.token_type", GGUFValue::i32_array(std::vector<std::int32_t>(40, 1)));
               w.set("tokenizer.ggml.merges", GGUFValue::string_array({"AB"}));
             })),
             Contains("key 'tokenizer.ggml.merges'") && Contains("merge 0") && Contains("two tokens separated by one space"));
}
