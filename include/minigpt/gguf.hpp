// minigpt/gguf.hpp — GGUF, llama.cpp's model file: reading, writing, and GPT-2 in it.
//
// Chapter idea: a trained model is its parameters plus the tokenizer it was trained with.
// llama.cpp keeps both in one file, GGUF (version 3), so a model saved here runs there, and
// its GPT-2 files run here:
//
//     "GGUF"  u32 version (3)  u64 tensor_count  u64 kv_count
//     kv_count × { string key, u32 value_type, value }        metadata
//     tensor_count × { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset }
//     padding to general.alignment (32 unless the file says otherwise)
//     data: each tensor at data_start + offset; offsets are multiples of the alignment
//   string = u64 length + bytes; value types 0..12 = u8 i8 u16 i16 u32 i32 f32 bool string
//   array u64 i64 f64; an array is u32 element type + u64 count + elements. All little-endian.
//   ne[0] is the fastest-varying dimension (ggml's order, the reverse of PyTorch's shape):
//   a PyTorch (out, in) matrix has ne = {in, out}.
//
// Tensor types read and written: F32, F16, BF16 and Q8_0 (blocks of 32: fp16 scale, 32 int8;
// see detail/quant.hpp). The sizes of every other ggml type are known, so a file holding them
// is still checked and listed; reading one as numbers is refused by name.
//
// Everything is checked before a number is used: magic, version, every count against the
// bytes left, every string length, value type, array, key and name (no duplicates), n_dims
// <= 4, element counts (checked products), rows of a block type a whole number of blocks,
// offsets aligned, inside the file and not overlapping. A bad file is a FileError naming the
// file and the key or tensor.
//
// GPT-2 as llama.cpp's `gpt2` architecture (its convert_hf_to_gguf.py and llama-model.cpp):
//     minigpt (Hugging Face name, shape)         GGUF name                   ne (ggml)
//     wte.weight (V, C)                          token_embd.weight           {C, V}
//     wpe.weight (n_positions, C)                position_embd.weight        {C, n_positions}
//     h.i.ln_1.weight/bias (C)                   blk.i.attn_norm.weight/bias {C}
//     h.i.attn.c_attn.weight (C, 3C)  [in,out]   blk.i.attn_qkv.weight       {C, 3C}   transposed
//     h.i.attn.c_attn.bias (3C)                  blk.i.attn_qkv.bias         {3C}
//     h.i.attn.c_proj.weight (C, C)              blk.i.attn_output.weight    {C, C}    transposed
//     h.i.ln_2.weight/bias (C)                   blk.i.ffn_norm.weight/bias  {C}
//     h.i.mlp.c_fc.weight (C, 4C)                blk.i.ffn_up.weight         {C, 4C}   transposed
//     h.i.mlp.c_proj.weight (4C, C)              blk.i.ffn_down.weight       {4C, C}   transposed
//     ln_f.weight/bias (C)                       output_norm.weight/bias     {C}
//     lm_head.weight (V, C), untied only         output.weight               {C, V}
// (GPT-2's Conv1D keeps W as (in, out); GGUF keeps each linear weight as (out, in), one row
// per output, so the four projections are transposed on the way in and out.)
// Metadata: general.architecture = "gpt2", gpt2.context_length, .embedding_length,
// .feed_forward_length (4C), .block_count, .attention.head_count, .attention.layer_norm_epsilon
// (f32), general.file_type, general.quantization_version; the tokenizer as
// tokenizer.ggml.model = "gpt2", .pre = "gpt-2", .tokens (GPT-2's byte spelling, "Ġthe"),
// .token_type (1 normal, 3 control, 5 unused padding), .merges ("Ġ t"), .bos/.eos_token_id.
// As llama.cpp's converter does, a chosen type (F16, BF16, Q8_0) applies to the 2-D weights
// except the position embedding; biases and norms stay F32, and a Q8_0 matrix whose rows are
// not a multiple of 32 falls back to F16.
//
// Example:
//     save_gguf(model, &tokenizer, "model.gguf", GGMLType::Q8_0);
//     GGUFModel m = load_gguf("model.gguf");       // m.model: GPT<float>; m.tokenizer
//     GGUFReader file("model.gguf");               // the raw view: metadata, tensors, blocks
//     detail::Q8_0Matrix w = file.q8_0(*file.find_tensor("blk.0.ffn_up.weight"));
#pragma once

#include "bpe_tokenizer.hpp"
#include "config.hpp"
#include "detail/checked.hpp"
#include "detail/io.hpp"
#include "detail/quant.hpp"
#include "error.hpp"
#include "gpt.hpp"
#include "parameters.hpp"
#include "safetensors.hpp"
#include "tensor.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace minigpt {

// ggml's tensor types (the numbers are the file's).
enum class GGMLType : std::uint32_t { F32 = 0, F16 = 1, Q8_0 = 8, BF16 = 30 };

// GGUF's metadata value types.
enum class GGUFValueType : std::uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12
};

struct GGMLTypeInfo {
  std::uint32_t id;
  const char* name;
  Index block;  // values per block
  Index bytes;  // bytes per block
};

// Every ggml type a file may hold (gguf-py's GGML_QUANT_SIZES): name, block and its size.
inline const GGMLTypeInfo* ggml_type_info(std::uint32_t id) {
  static constexpr GGMLTypeInfo table[] = {
      {0, "F32", 1, 4},          {1, "F16", 1, 2},        {2, "Q4_0", 32, 18},     {3, "Q4_1", 32, 20},
      {6, "Q5_0", 32, 22},       {7, "Q5_1", 32, 24},     {8, "Q8_0", 32, 34},     {9, "Q8_1", 32, 36},
      {10, "Q2_K", 256, 84},     {11, "Q3_K", 256, 110},  {12, "Q4_K", 256, 144},  {13, "Q5_K", 256, 176},
      {14, "Q6_K", 256, 210},    {15, "Q8_K", 256, 292},  {16, "IQ2_XXS", 256, 66}, {17, "IQ2_XS", 256, 74},
      {18, "IQ3_XXS", 256, 98},  {19, "IQ1_S", 256, 50},  {20, "IQ4_NL", 32, 18},  {21, "IQ3_S", 256, 110},
      {22, "IQ2_S", 256, 82},    {23, "IQ4_XS", 256, 136}, {24, "I8", 1, 1},       {25, "I16", 1, 2},
      {26, "I32", 1, 4},         {27, "I64", 1, 8},       {28, "F64", 1, 8},       {29, "IQ1_M", 256, 56},
      {30, "BF16", 1, 2},        {34, "TQ1_0", 256, 54},  {35, "TQ2_0", 256, 66},  {39, "MXFP4", 32, 17},
  };
  for (const auto& t : table)
    if (t.id == id) return &t;
  return nullptr;
}

inline std::string ggml_type_name(std::uint32_t id) {
  const GGMLTypeInfo* t = ggml_type_info(id);
  return t ? t->name : "type " + std::to_string(id);
}

// "f32", "f16", "bf16", "q8_0" (any case) -> the type; anything else is an ArgumentError.
inline GGMLType parse_ggml_type(const std::string& text) {
  std::string s;
  for (char c : text) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "f32") return GGMLType::F32;
  if (s == "f16") return GGMLType::F16;
  if (s == "bf16") return GGMLType::BF16;
  if (s == "q8_0") return GGMLType::Q8_0;
  throw ArgumentError("unknown weight type '" + text + "' (f32, f16, bf16, q8_0)");
}

inline const char* gguf_value_type_name(GGUFValueType t) {
  static const char* names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<std::uint32_t>(t);
  return i < 13 ? names[i] : "?";
}

// One metadata value: a scalar, a string, or an array of either. Integers (and bools) are
// kept in `ints` (as int64; a u64 above INT64_MAX wraps and is read back by as_u64), floats
// in `floats`, strings in `strings`; a scalar is an array of one.
struct GGUFValue {
  GGUFValueType type = GGUFValueType::UINT32;          // ARRAY for arrays
  GGUFValueType element_type = GGUFValueType::UINT32;  // the scalar type (of the elements)
  std::vector<std::int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;

  bool is_array() const { return type == GGUFValueType::ARRAY; }
  std::size_t size() const {
    return element_type == GGUFValueType::STRING                                          ? strings.size()
           : element_type == GGUFValueType::FLOAT32 || element_type == GGUFValueType::FLOAT64 ? floats.size()
                                                                                            : ints.size();
  }

  static GGUFValue scalar(GGUFValueType t) {
    GGUFValue v;
    v.type = v.element_type = t;
    return v;
  }
  static GGUFValue u32(std::uint32_t x) {
    GGUFValue v = scalar(GGUFValueType::UINT32);
    v.ints = {x};
    return v;
  }
  static GGUFValue f32(float x) {
    GGUFValue v = scalar(GGUFValueType::FLOAT32);
    v.floats = {x};
    return v;
  }
  static GGUFValue string(std::string s) {
    GGUFValue v = scalar(GGUFValueType::STRING);
    v.strings = {std::move(s)};
    return v;
  }
  static GGUFValue string_array(std::vector<std::string> s) {
    GGUFValue v;
    v.type = GGUFValueType::ARRAY;
    v.element_type = GGUFValueType::STRING;
    v.strings = std::move(s);
    return v;
  }
  static GGUFValue i32_array(const std::vector<std::int32_t>& x) {
    GGUFValue v;
    v.type = GGUFValueType::ARRAY;
    v.element_type = GGUFValueType::INT32;
    v.ints.assign(x.begin(), x.end());
    return v;
  }
};

// One tensor as the file describes it.
struct GGUFTensorInfo {
  std::string name;
  std::vector<Index> ne;     // ggml order: ne[0] varies fastest
  std::uint32_t type = 0;    // ggml type id
  Index offset = 0;          // from the start of the data section
  Index count = 0;           // elements
  Index bytes = 0;           // in the file
  GGMLType known_type() const { return static_cast<GGMLType>(type); }
  // PyTorch's shape: ne reversed, e.g. (out, in) for a linear weight.
  std::vector<Index> shape() const { return std::vector<Index>(ne.rbegin(), ne.rend()); }
};

namespace detail {

// Reads little-endian fields from [p, p + size), each read checked against the bytes left.
class GGUFCursor {
 public:
  GGUFCursor(const unsigned char* p, std::size_t size, const std::string& path) : p_(p), size_(size), path_(path) {}
  std::size_t at() const { return at_; }
  std::size_t left() const { return size_ - at_; }

  void need(std::uint64_t n, const std::string& field, const std::string& what) const {
    if (n > left())
      throw FileError(path_, field, "file is truncated: " + what + " needs " + std::to_string(n) + " bytes at offset " +
                                        std::to_string(at_) + ", the file has " + std::to_string(left()) + " left");
  }
  template <typename T>
  T read(const std::string& field, const char* what) {
    need(sizeof(T), field, what);
    T v;
    std::memcpy(&v, p_ + at_, sizeof(T));
    at_ += sizeof(T);
    return v;
  }
  std::string string(const std::string& field, const char* what) {
    const auto n = read<std::uint64_t>(field, what);
    need(n, field, std::string(what) + " (a string of " + std::to_string(n) + " bytes)");
    std::string s(reinterpret_cast<const char*>(p_ + at_), static_cast<std::size_t>(n));
    at_ += static_cast<std::size_t>(n);
    return s;
  }

 private:
  const unsigned char* p_;
  std::size_t size_, at_ = 0;
  const std::string& path_;
};

inline Index value_type_size(GGUFValueType t) {
  switch (t) {
    case GGUFValueType::UINT8: case GGUFValueType::INT8: case GGUFValueType::BOOL: return 1;
    case GGUFValueType::UINT16: case GGUFValueType::INT16: return 2;
    case GGUFValueType::UINT32: case GGUFValueType::INT32: case GGUFValueType::FLOAT32: return 4;
    case GGUFValueType::UINT64: case GGUFValueType::INT64: case GGUFValueType::FLOAT64: return 8;
    default: return 0;  // string (variable), array (not a scalar)
  }
}

// The shortest decimal that reads back as f, as a double: 1e-5f -> 1e-05 (not 9.99999975e-06),
// so a layer-norm epsilon written as f32 reads back as the double it was written from.
inline double float_as_decimal(float f) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, f);
  *r.ptr = '\0';
  return std::strtod(buf, nullptr);
}

}  // namespace detail

// An open GGUF file: header and metadata parsed and checked, the data mapped.
class GGUFReader {
 public:
  explicit GGUFReader(const std::string& path) : path_(path), file_(path) { parse(); }

  const std::string& path() const { return path_; }
  std::uint32_t version() const { return version_; }
  Index alignment() const { return alignment_; }
  Index data_offset() const { return data_start_; }  // where the data section starts in the file
  const std::vector<std::pair<std::string, GGUFValue>>& metadata() const { return kv_; }
  const std::vector<GGUFTensorInfo>& tensors() const { return tensors_; }

  const GGUFValue* find(const std::string& key) const {
    auto it = kv_index_.find(key);
    return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
  }
  const GGUFTensorInfo* find_tensor(const std::string& name) const {
    auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
  }

  // ---- typed metadata: a missing key or a value of the wrong kind names the key ----
  const GGUFValue& get(const std::string& key) const {
    const GGUFValue* v = find(key);
    if (v == nullptr) throw FileError(path_, "key '" + key + "'", "missing");
    return *v;
  }
  // A non-negative integer scalar of any integer type.
  Index get_index(const std::string& key) const {
    const GGUFValue& v = get(key);
    if (v.is_array() || value_is_float(v.type) || v.type == GGUFValueType::STRING || v.type == GGUFValueType::BOOL)
      throw FileError(path_, "key '" + key + "'", std::string("must be an integer, the file has ") + type_text(v));
    if (v.type == GGUFValueType::UINT64 && v.ints[0] < 0)
      throw FileError(path_, "key '" + key + "'", "value " + std::to_string(static_cast<std::uint64_t>(v.ints[0])) + " is too large");
    if (v.ints[0] < 0) throw FileError(path_, "key '" + key + "'", "must not be negative, got " + std::to_string(v.ints[0]));
    return v.ints[0];
  }
  double get_float(const std::string& key) const {
    const GGUFValue& v = get(key);
    if (v.is_array() || !value_is_float(v.type))
      throw FileError(path_, "key '" + key + "'", std::string("must be a float, the file has ") + type_text(v));
    return v.floats[0];
  }
  const std::string& get_string(const std::string& key) const {
    const GGUFValue& v = get(key);
    if (v.type != GGUFValueType::STRING)
      throw FileError(path_, "key '" + key + "'", std::string("must be a string, the file has ") + type_text(v));
    return v.strings[0];
  }
  const std::vector<std::string>& get_strings(const std::string& key) const {
    const GGUFValue& v = get(key);
    if (!v.is_array() || v.element_type != GGUFValueType::STRING)
      throw FileError(path_, "key '" + key + "'", std::string("must be an array of strings, the file has ") + type_text(v));
    return v.strings;
  }

  // The bytes of a tensor in the file (valid while the reader lives).
  const unsigned char* raw(const GGUFTensorInfo& t) const { return file_.data() + data_start_ + t.offset; }

  // The tensor as t.count floats in dst: F32, F16, BF16 and Q8_0 are converted; other types,
  // and (unless allow_non_finite) NaN or infinite values, are refused by name.
  void read_f32(const GGUFTensorInfo& t, float* dst, bool allow_non_finite = false) const {
    const unsigned char* p = raw(t);
    const std::size_t n = static_cast<std::size_t>(t.count);
    if (n == 0) return;
    switch (t.type) {
      case 0: std::memcpy(dst, p, n * 4); break;
      case 1:
      case 30:
        for (std::size_t i = 0; i < n; ++i) {
          std::uint16_t h;
          std::memcpy(&h, p + 2 * i, 2);
          dst[i] = t.type == 1 ? detail::half_to_float(h) : detail::bf16_to_float(h);
        }
        break;
      case 8: {
        std::vector<detail::BlockQ8_0> blocks(n / 32);
        std::memcpy(static_cast<void*>(blocks.data()), p, blocks.size() * sizeof(detail::BlockQ8_0));
        detail::dequantize_q8_0(blocks.data(), dst, t.count);
        break;
      }
      default:
        throw FileError(path_, "tensor '" + t.name + "'",
                        "type " + ggml_type_name(t.type) + " is not supported (F32, F16, BF16, Q8_0)");
    }
    if (!allow_non_finite)
      for (std::size_t i = 0; i < n; ++i)
        if (!std::isfinite(dst[i]))
          throw FileError(path_, "tensor '" + t.name + "'",
                          "holds a non-finite value (" + std::to_string(dst[i]) + ") at index " + std::to_string(i));
  }
  std::vector<float> read_f32(const std::string& name, bool allow_non_finite = false) const {
    const GGUFTensorInfo* t = find_tensor(name);
    if (t == nullptr) throw FileError(path_, "tensor '" + name + "'", "missing");
    std::vector<float> out(static_cast<std::size_t>(t->count));
    read_f32(*t, out.data(), allow_non_finite);
    return out;
  }

  // A Q8_0 tensor's blocks as they are in the file (no re-quantization): rows = the product of
  // ne[1..], cols = ne[0]. Scales that are not finite are refused by name.
  detail::Q8_0Matrix q8_0(const GGUFTensorInfo& t) const {
    if (t.type != 8)
      throw FileError(path_, "tensor '" + t.name + "'", "is " + ggml_type_name(t.type) + ", not Q8_0");
    detail::Q8_0Matrix m;
    m.cols = t.ne.empty() ? 1 : t.ne[0];
    m.rows = m.cols == 0 ? 0 : t.count / m.cols;
    m.blocks.resize(static_cast<std::size_t>(t.count / 32));
    if (!m.blocks.empty()) std::memcpy(static_cast<void*>(m.blocks.data()), raw(t), m.blocks.size() * sizeof(detail::BlockQ8_0));
    for (std::size_t b = 0; b < m.blocks.size(); ++b)
      if (!std::isfinite(detail::half_to_float(m.blocks[b].d)))
        throw FileError(path_, "tensor '" + t.name + "'", "block " + std::to_string(b) + " has a non-finite scale");
    return m;
  }

 private:
  // Keys and tensor names are C strings to ggml (and in every message here): a NUL byte inside
  // one would cut it short, and an error could no longer name it.
  void refuse_nul(const std::string& s, const std::string& field, const char* what) const {
    if (const std::size_t at = s.find('\0'); at != std::string::npos)
      throw FileError(path_, field, std::string(what) + " holds a NUL byte at " + std::to_string(at));
  }
  static bool value_is_float(GGUFValueType t) { return t == GGUFValueType::FLOAT32 || t == GGUFValueType::FLOAT64; }
  static std::string type_text(const GGUFValue& v) {
    return v.is_array() ? std::string("an array of ") + gguf_value_type_name(v.element_type)
                        : std::string("a ") + gguf_value_type_name(v.type);
  }

  // Reads `count` scalars of type t into v (strings, integers or floats).
  void read_scalars(detail::GGUFCursor& c, GGUFValueType t, std::uint64_t count, GGUFValue& v, const std::string& field) {
    const Index size = detail::value_type_size(t);
    // Every element needs at least its own size (8 bytes of length for a string): a count the
    // file cannot hold is refused before anything is allocated.
    const std::uint64_t least = t == GGUFValueType::STRING ? 8 : static_cast<std::uint64_t>(size);
    if (count > c.left() / least)
      throw FileError(path_, field, "count " + std::to_string(count) + " of " + gguf_value_type_name(t) +
                                        " values cannot fit in the " + std::to_string(c.left()) + " bytes left");
    if (t == GGUFValueType::STRING) {
      v.strings.reserve(static_cast<std::size_t>(count));
      for (std::uint64_t i = 0; i < count; ++i) v.strings.push_back(c.string(field, "a string value"));
      return;
    }
    if (value_is_float(t)) {
      v.floats.reserve(static_cast<std::size_t>(count));
      for (std::uint64_t i = 0; i < count; ++i)
        v.floats.push_back(t == GGUFValueType::FLOAT32 ? double(c.read<float>(field, "a value")) : c.read<double>(field, "a value"));
      return;
    }
    v.ints.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t i = 0; i < count; ++i) {
      std::int64_t x = 0;
      switch (t) {
        case GGUFValueType::UINT8: x = c.read<std::uint8_t>(field, "a value"); break;
        case GGUFValueType::INT8: x = c.read<std::int8_t>(field, "a value"); break;
        case GGUFValueType::UINT16: x = c.read<std::uint16_t>(field, "a value"); break;
        case GGUFValueType::INT16: x = c.read<std::int16_t>(field, "a value"); break;
        case GGUFValueType::UINT32: x = c.read<std::uint32_t>(field, "a value"); break;
        case GGUFValueType::INT32: x = c.read<std::int32_t>(field, "a value"); break;
        case GGUFValueType::UINT64: x = static_cast<std::int64_t>(c.read<std::uint64_t>(field, "a value")); break;
        case GGUFValueType::INT64: x = c.read<std::int64_t>(field, "a value"); break;
        case GGUFValueType::BOOL: {
          const auto b = c.read<std::uint8_t>(field, "a value");
          if (b > 1) throw FileError(path_, field, "a bool must be 0 or 1, got " + std::to_string(b));
          x = b;
          break;
        }
        default: break;
      }
      v.ints.push_back(x);
    }
  }

  GGUFValueType value_type(std::uint32_t raw, const std::string& field) const {
    if (raw > 12) throw FileError(path_, field, "unknown value type " + std::to_string(raw) + " (GGUF has 0 to 12)");
    return static_cast<GGUFValueType>(raw);
  }

  void parse() {
    detail::GGUFCursor c(file_.data(), file_.size(), path_);
    c.need(4, "magic", "the magic \"GGUF\"");
    if (std::memcmp(file_.data(), "GGUF", 4) != 0) {
      std::string seen;
      for (int i = 0; i < 4; ++i) {
        const unsigned char b = file_.data()[i];
        char hex[8];
        std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned>(b));
        seen += b >= 32 && b < 127 ? std::string(1, static_cast<char>(b)) : std::string(hex);
      }
      throw FileError(path_, "magic", "is '" + seen + "', not 'GGUF': not a GGUF file");
    }
    (void)c.read<std::uint32_t>("magic", "the magic");
    version_ = c.read<std::uint32_t>("version", "the version");
    if (version_ == 0x02000000u || version_ == 0x03000000u)
      throw FileError(path_, "version", "the file is big-endian; minigpt reads little-endian GGUF only");
    if (version_ != 2 && version_ != 3)
      throw FileError(path_, "version", std::to_string(version_) + " is not supported (GGUF 2 or 3)");
    const auto n_tensors = c.read<std::uint64_t>("tensor_count", "the tensor count");
    const auto n_kv = c.read<std::uint64_t>("kv_count", "the metadata count");
    // Lower bounds on the bytes each needs: a key-value pair 13 (empty key, type, one byte),
    // a tensor description 24 (empty name, n_dims, type, offset).
    if (n_kv > c.left() / 13)
      throw FileError(path_, "kv_count", std::to_string(n_kv) + " metadata entries cannot fit in a file of " +
                                             std::to_string(file_.size()) + " bytes");
    if (n_tensors > c.left() / 24)
      throw FileError(path_, "tensor_count", std::to_string(n_tensors) + " tensors cannot fit in a file of " +
                                                 std::to_string(file_.size()) + " bytes");

    for (std::uint64_t i = 0; i < n_kv; ++i) {
      const std::string entry = "metadata entry " + std::to_string(i);
      const std::string key = c.string(entry, "its key");
      refuse_nul(key, entry, "its key");
      const std::string field = "key '" + key + "'";
      if (kv_index_.count(key)) throw FileError(path_, field, "appears twice");
      GGUFValue v;
      v.type = v.element_type = value_type(c.read<std::uint32_t>(field, "its value type"), field);
      if (v.type == GGUFValueType::ARRAY) {
        v.element_type = value_type(c.read<std::uint32_t>(field, "the array's element type"), field);
        if (v.element_type == GGUFValueType::ARRAY)
          throw FileError(path_, field, "arrays of arrays are not supported (ggml refuses them too)");
        read_scalars(c, v.element_type, c.read<std::uint64_t>(field, "the array's count"), v, field);
      } else {
        read_scalars(c, v.type, 1, v, field);
      }
      kv_index_[key] = kv_.size();
      kv_.emplace_back(key, std::move(v));
    }

    if (const GGUFValue* a = find("general.alignment")) {
      if (a->type != GGUFValueType::UINT32)
        throw FileError(path_, "key 'general.alignment'", std::string("must be a u32, the file has ") + type_text(*a));
      const std::int64_t n = a->ints[0];
      if (n == 0 || (n & (n - 1)) != 0)
        throw FileError(path_, "key 'general.alignment'", std::to_string(n) + " is not a power of two");
      alignment_ = n;
    }

    for (std::uint64_t i = 0; i < n_tensors; ++i) {
      GGUFTensorInfo t;
      const std::string entry = "tensor " + std::to_string(i);
      t.name = c.string(entry, "its name");
      refuse_nul(t.name, entry, "its name");
      const std::string field = "tensor '" + t.name + "'";
      if (tensor_index_.count(t.name)) throw FileError(path_, field, "appears twice");
      const auto n_dims = c.read<std::uint32_t>(field, "n_dims");
      if (n_dims > 4) throw FileError(path_, field, "n_dims " + std::to_string(n_dims) + " is more than 4 (ggml's limit)");
      t.count = 1;
      for (std::uint32_t d = 0; d < n_dims; ++d) {
        const auto ne = c.read<std::uint64_t>(field, "a dimension");
        if (ne > static_cast<std::uint64_t>(INT64_MAX))
          throw FileError(path_, field, "dimension " + std::to_string(d) + " is " + std::to_string(ne) + ", too large");
        t.ne.push_back(static_cast<Index>(ne));
      }
      try {
        for (Index ne : t.ne) t.count = detail::checked_mul(t.count, ne, "elements");
      } catch (const ArgumentError&) {
        throw FileError(path_, field, "ne " + shape_text(t.ne) + ": the element count overflows 64 bits");
      }
      t.type = c.read<std::uint32_t>(field, "its type");
      const GGMLTypeInfo* info = ggml_type_info(t.type);
      if (info == nullptr) throw FileError(path_, field, "unknown ggml type " + std::to_string(t.type));
      const Index row = t.ne.empty() ? 1 : t.ne[0];
      if (row % info->block != 0)
        throw FileError(path_, field, "rows of " + std::to_string(row) + " values are not a whole number of " +
                                          info->name + " blocks (" + std::to_string(info->block) + " values each)");
      if (__builtin_mul_overflow(t.count / info->block, info->bytes, &t.bytes))
        throw FileError(path_, field, "ne " + shape_text(t.ne) + ": the size in bytes overflows 64 bits");
      const auto offset = c.read<std::uint64_t>(field, "its offset");
      if (offset % static_cast<std::uint64_t>(alignment_) != 0)
        throw FileError(path_, field, "offset " + std::to_string(offset) + " is not a multiple of the alignment " +
                                          std::to_string(alignment_));
      if (offset > static_cast<std::uint64_t>(INT64_MAX))
        throw FileError(path_, field, "offset " + std::to_string(offset) + " is past the end of the file");
      t.offset = static_cast<Index>(offset);
      tensor_index_[t.name] = tensors_.size();
      tensors_.push_back(std::move(t));
    }

    // The data starts at the next multiple of the alignment.
    const std::size_t header_end = c.at();
    const std::size_t pad = (static_cast<std::size_t>(alignment_) - header_end % static_cast<std::size_t>(alignment_)) %
                            static_cast<std::size_t>(alignment_);
    if (!tensors_.empty() && pad > file_.size() - header_end)
      throw FileError(path_, "data", "file is truncated: it ends at " + std::to_string(file_.size()) +
                                         " bytes, before the data section starts at " + std::to_string(header_end + pad));
    data_start_ = static_cast<Index>(std::min(file_.size(), header_end + pad));
    const Index data_size = static_cast<Index>(file_.size()) - data_start_;
    for (const GGUFTensorInfo& t : tensors_) {
      Index end = 0;
      if (__builtin_add_overflow(t.offset, t.bytes, &end) || end > data_size)
        throw FileError(path_, "tensor '" + t.name + "'",
                        "data [" + std::to_string(t.offset) + ", +" + std::to_string(t.bytes) +
                            " bytes) runs past the end of the file (the data section has " + std::to_string(data_size) +
                            " bytes)");
    }
    std::vector<const GGUFTensorInfo*> order;
    for (const auto& t : tensors_) order.push_back(&t);
    std::sort(order.begin(), order.end(), [](const GGUFTensorInfo* a, const GGUFTensorInfo* b) {
      return a->offset != b->offset ? a->offset < b->offset : a->bytes < b->bytes;
    });
    for (std::size_t i = 1; i < order.size(); ++i)
      if (order[i]->offset < order[i - 1]->offset + order[i - 1]->bytes)
        throw FileError(path_, "tensor '" + order[i]->name + "'", "its data overlaps tensor '" + order[i - 1]->name + "'");
  }

  std::string path_;
  detail::MappedFile file_;
  std::uint32_t version_ = 0;
  Index alignment_ = 32;
  Index data_start_ = 0;
  std::vector<std::pair<std::string, GGUFValue>> kv_;
  std::unordered_map<std::string, std::size_t> kv_index_;
  std::vector<GGUFTensorInfo> tensors_;
  std::unordered_map<std::string, std::size_t> tensor_index_;
};

// A GGUF file to write: metadata in order, then tensors, each given as its bytes in the file.
class GGUFWriter {
 public:
  explicit GGUFWriter(Index alignment = 32) : alignment_(alignment) {
    if (alignment <= 0 || (alignment & (alignment - 1)) != 0)
      throw ArgumentError("GGUFWriter: alignment " + std::to_string(alignment) + " is not a power of two");
    if (alignment != 32) set("general.alignment", GGUFValue::u32(static_cast<std::uint32_t>(alignment)));
  }

  void set(const std::string& key, GGUFValue v) {
    for (auto& kv : kv_)
      if (kv.first == key) {
        kv.second = std::move(v);
        return;
      }
    kv_.emplace_back(key, std::move(v));
  }

  void erase(const std::string& key) {
    kv_.erase(std::remove_if(kv_.begin(), kv_.end(), [&](const auto& kv) { return kv.first == key; }), kv_.end());
  }
  void erase_tensor(const std::string& name) {
    tensors_.erase(std::remove_if(tensors_.begin(), tensors_.end(), [&](const Tensor& t) { return t.name == name; }),
                   tensors_.end());
  }

  // ne in ggml order; bytes must hold exactly the tensor's data in that type.
  void add_tensor(const std::string& name, const std::vector<Index>& ne, std::uint32_t type, std::string bytes) {
    const GGMLTypeInfo* info = ggml_type_info(type);
    if (info == nullptr) throw ArgumentError("GGUFWriter: unknown ggml type " + std::to_string(type));
    if (ne.size() > 4) throw ArgumentError("GGUFWriter: tensor '" + name + "' has more than 4 dimensions");
    Index count = 1;
    for (Index d : ne) count = detail::checked_mul(count, d, "tensor size");
    if ((ne.empty() ? 1 : ne[0]) % info->block != 0 || count / info->block * info->bytes != static_cast<Index>(bytes.size()))
      throw ArgumentError("GGUFWriter: tensor '" + name + "': " + std::to_string(bytes.size()) + " bytes do not hold ne " +
                          shape_text(ne) + " of " + info->name);
    for (const auto& t : tensors_)
      if (t.name == name) throw ArgumentError("GGUFWriter: tensor '" + name + "' added twice");
    tensors_.push_back({name, ne, type, std::move(bytes)});
  }

  // The file's bytes before the data, and the data pieces, as ggml lays them out: each
  // tensor at the next multiple of the alignment.
  void save(const std::string& path) const {
    std::string head = "GGUF";
    put<std::uint32_t>(head, 3);
    put<std::uint64_t>(head, tensors_.size());
    put<std::uint64_t>(head, kv_.size());
    for (const auto& kv : kv_) {
      put_string(head, kv.first);
      put<std::uint32_t>(head, static_cast<std::uint32_t>(kv.second.type));
      if (kv.second.is_array()) {
        put<std::uint32_t>(head, static_cast<std::uint32_t>(kv.second.element_type));
        put<std::uint64_t>(head, kv.second.size());
      }
      put_values(head, kv.second);
    }
    Index offset = 0;
    std::vector<Index> offsets;
    for (const auto& t : tensors_) {
      put_string(head, t.name);
      put<std::uint32_t>(head, static_cast<std::uint32_t>(t.ne.size()));
      for (Index d : t.ne) put<std::uint64_t>(head, static_cast<std::uint64_t>(d));
      put<std::uint32_t>(head, t.type);
      put<std::uint64_t>(head, static_cast<std::uint64_t>(offset));
      offsets.push_back(offset);
      offset += padded(static_cast<Index>(t.bytes.size()));
    }
    head.append(static_cast<std::size_t>(padded(static_cast<Index>(head.size())) - static_cast<Index>(head.size())), '\0');
    static const std::string zeros(256, '\0');
    std::vector<std::pair<const char*, std::size_t>> pieces{{head.data(), head.size()}};
    for (const auto& t : tensors_) {
      pieces.emplace_back(t.bytes.data(), t.bytes.size());
      std::size_t pad = static_cast<std::size_t>(padded(static_cast<Index>(t.bytes.size()))) - t.bytes.size();
      while (pad > 0) {
        const std::size_t n = std::min(pad, zeros.size());
        pieces.emplace_back(zeros.data(), n);
        pad -= n;
      }
    }
    detail::write_file_atomic(path, pieces);
  }

 private:
  struct Tensor {
    std::string name;
    std::vector<Index> ne;
    std::uint32_t type;
    std::string bytes;
  };
  Index padded(Index n) const { return (n + alignment_ - 1) / alignment_ * alignment_; }
  template <typename T>
  static void put(std::string& out, T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out.append(b, sizeof(T));
  }
  static void put_string(std::string& out, const std::string& s) {
    put<std::uint64_t>(out, s.size());
    out += s;
  }
  static void put_values(std::string& out, const GGUFValue& v) {
    using T = GGUFValueType;
    if (v.element_type == T::STRING) {
      for (const auto& s : v.strings) put_string(out, s);
      return;
    }
    for (double f : v.floats) {
      if (v.element_type == T::FLOAT32) put<float>(out, static_cast<float>(f));
      else put<double>(out, f);
    }
    for (std::int64_t x : v.ints) {
      switch (v.element_type) {
        case T::UINT8: case T::INT8: case T::BOOL: put<std::uint8_t>(out, static_cast<std::uint8_t>(x)); break;
        case T::UINT16: case T::INT16: put<std::uint16_t>(out, static_cast<std::uint16_t>(x)); break;
        case T::UINT32: case T::INT32: put<std::uint32_t>(out, static_cast<std::uint32_t>(x)); break;
        default: put<std::uint64_t>(out, static_cast<std::uint64_t>(x)); break;
      }
    }
  }

  Index alignment_;
  std::vector<std::pair<std::string, GGUFValue>> kv_;
  std::vector<Tensor> tensors_;
};

// ---- GPT-2 as llama.cpp's `gpt2` architecture ---------------------------------------------

// THE name table: minigpt's (Hugging Face) tensor name -> GGUF name, and whether the matrix is
// stored transposed (GPT-2's Conv1D (in, out) -> GGUF's (out, in)). Per block, then global.
struct GGUFNamePair {
  const char* hf;
  const char* gguf;
  bool transposed;
};
inline const std::vector<GGUFNamePair>& gguf_block_names() {
  static const std::vector<GGUFNamePair> t = {
      {"ln_1.weight", "attn_norm.weight", false},          {"ln_1.bias", "attn_norm.bias", false},
      {"attn.c_attn.weight", "attn_qkv.weight", true},     {"attn.c_attn.bias", "attn_qkv.bias", false},
      {"attn.c_proj.weight", "attn_output.weight", true},  {"attn.c_proj.bias", "attn_output.bias", false},
      {"ln_2.weight", "ffn_norm.weight", false},           {"ln_2.bias", "ffn_norm.bias", false},
      {"mlp.c_fc.weight", "ffn_up.weight", true},          {"mlp.c_fc.bias", "ffn_up.bias", false},
      {"mlp.c_proj.weight", "ffn_down.weight", true},      {"mlp.c_proj.bias", "ffn_down.bias", false},
  };
  return t;
}
inline const std::vector<GGUFNamePair>& gguf_global_names() {
  static const std::vector<GGUFNamePair> t = {
      {"wte.weight", "token_embd.weight", false},  {"wpe.weight", "position_embd.weight", false},
      {"ln_f.weight", "output_norm.weight", false}, {"ln_f.bias", "output_norm.bias", false},
      {"lm_head.weight", "output.weight", false},
  };
  return t;
}

// "h.3.mlp.c_fc.weight" -> {"blk.3.ffn_up.weight", transposed = true}.
inline std::pair<std::string, bool> gguf_tensor_name(const std::string& hf) {
  for (const auto& g : gguf_global_names())
    if (hf == g.hf) return {g.gguf, g.transposed};
  if (hf.compare(0, 2, "h.") == 0) {
    const auto dot = hf.find('.', 2);
    if (dot != std::string::npos)
      for (const auto& b : gguf_block_names())
        if (hf.compare(dot + 1, std::string::npos, b.hf) == 0)
          return {"blk." + hf.substr(2, dot - 2) + "." + b.gguf, b.transposed};
  }
  throw ArgumentError("no GGUF name for the tensor '" + hf + "'");
}

namespace detail {

// A matrix (rows, cols) row-major -> its transpose (cols, rows).
inline std::vector<float> transposed(const float* a, Index rows, Index cols) {
  std::vector<float> t(static_cast<std::size_t>(rows * cols));
  for (Index r = 0; r < rows; ++r)
    for (Index c = 0; c < cols; ++c) t[static_cast<std::size_t>(c * rows + r)] = a[r * cols + c];
  return t;
}

// count floats -> their bytes in `type` (F32, F16, BF16, Q8_0 with count % 32 == 0).
inline std::string encode_tensor(const float* x, Index count, GGMLType type) {
  std::string out;
  switch (type) {
    case GGMLType::F32: out.assign(reinterpret_cast<const char*>(x), static_cast<std::size_t>(count) * 4); break;
    case GGMLType::F16:
    case GGMLType::BF16:
      out.resize(static_cast<std::size_t>(count) * 2);
      for (Index i = 0; i < count; ++i) {
        const std::uint16_t h = type == GGMLType::F16 ? float_to_half(x[i]) : float_to_bf16(x[i]);
        std::memcpy(&out[static_cast<std::size_t>(2 * i)], &h, 2);
      }
      break;
    case GGMLType::Q8_0:
      out.resize(static_cast<std::size_t>(count / kQ8Block) * sizeof(BlockQ8_0));
      quantize_q8_0(x, reinterpret_cast<BlockQ8_0*>(&out[0]), count);
      break;
  }
  return out;
}

inline std::uint32_t llama_file_type(GGMLType t) {
  switch (t) {
    case GGMLType::F32: return 0;   // LLAMA_FTYPE_ALL_F32
    case GGMLType::F16: return 1;   // MOSTLY_F16
    case GGMLType::Q8_0: return 7;  // MOSTLY_Q8_0
    case GGMLType::BF16: return 32; // MOSTLY_BF16
  }
  return 0;
}

constexpr std::int32_t kTokenNormal = 1, kTokenControl = 3, kTokenUnused = 5;  // llama.cpp's token types

}  // namespace detail

// Saves model (and tokenizer, when given) as a GGUF file llama.cpp loads as `gpt2`. The
// chosen type applies to the 2-D weights but the position embedding (see the top of this
// file). Without a tokenizer, or past its last id, the vocabulary is filled with "[PAD<id>]"
// tokens of type unused, as llama.cpp's converter pads: llama.cpp needs one token per row of
// the embedding, and load_gguf reads such ids as padding, not as a tokenizer.
//
// gguf_writer() builds the file without writing it (to add metadata of one's own, say);
// save_gguf() writes it, atomically.
inline GGUFWriter gguf_writer(const GPT<float>& model, const BPETokenizer* tokenizer, GGMLType type = GGMLType::F32) {
  const GPTConfig& c = model.config();
  c.validate();
  if (c.activation() != Activation::gelu_tanh)
    throw ArgumentError("gguf_writer: llama.cpp's gpt2 runs the tanh GELU; activation_function '" + c.activation_function +
                        "' cannot be saved as GGUF");
  const Index V = c.vocab_size;
  if (tokenizer && tokenizer->vocab_size() > V)
    throw ArgumentError("gguf_writer: the tokenizer has " + std::to_string(tokenizer->vocab_size()) +
                        " tokens, more than the model's vocab_size " + std::to_string(V));
  auto u32 = [&](Index v, const char* what) {
    if (v > static_cast<Index>(UINT32_MAX)) throw ArgumentError(std::string("gguf_writer: ") + what + " does not fit in 32 bits");
    return GGUFValue::u32(static_cast<std::uint32_t>(v));
  };
  GGUFWriter w;
  w.set("general.architecture", GGUFValue::string("gpt2"));
  w.set("general.name", GGUFValue::string("minigpt GPT-2"));
  w.set("general.file_type", GGUFValue::u32(detail::llama_file_type(type)));
  w.set("general.quantization_version", GGUFValue::u32(2));
  w.set("gpt2.context_length", u32(c.n_positions, "n_positions"));
  w.set("gpt2.embedding_length", u32(c.n_embd, "n_embd"));
  w.set("gpt2.feed_forward_length", u32(4 * c.n_embd, "4 * n_embd"));
  w.set("gpt2.block_count", u32(c.n_layer, "n_layer"));
  w.set("gpt2.attention.head_count", u32(c.n_head, "n_head"));
  w.set("gpt2.attention.layer_norm_epsilon", GGUFValue::f32(static_cast<float>(c.layer_norm_epsilon)));

  // The vocabulary: the tokenizer's tokens in GPT-2's spelling, then padding.
  std::vector<std::string> tokens;
  std::vector<std::int32_t> types;
  std::vector<std::string> merges;
  tokens.reserve(static_cast<std::size_t>(V));
  const Index K = tokenizer ? tokenizer->vocab_size() : 0;
  std::vector<bool> special(static_cast<std::size_t>(K), false);
  if (tokenizer)
    for (const auto& st : tokenizer->special_tokens()) special[static_cast<std::size_t>(st.second)] = true;
  for (Index id = 0; id < V; ++id) {
    if (id < K) {
      tokens.push_back(tokenizer->token_spelling(static_cast<TokenId>(id)));
      types.push_back(special[static_cast<std::size_t>(id)] ? detail::kTokenControl : detail::kTokenNormal);
    } else {
      tokens.push_back("[PAD" + std::to_string(id) + "]");
      types.push_back(detail::kTokenUnused);
    }
  }
  if (tokenizer)
    for (const auto& m : tokenizer->merges())
      merges.push_back(tokenizer->token_spelling(m.first) + " " + tokenizer->token_spelling(m.second));
  w.set("tokenizer.ggml.model", GGUFValue::string("gpt2"));
  w.set("tokenizer.ggml.pre", GGUFValue::string("gpt-2"));
  w.set("tokenizer.ggml.tokens", GGUFValue::string_array(std::move(tokens)));
  w.set("tokenizer.ggml.token_type", GGUFValue::i32_array(types));
  w.set("tokenizer.ggml.merges", GGUFValue::string_array(std::move(merges)));
  if (tokenizer) {
    if (auto eot = tokenizer->special_token("<|endoftext|>")) {
      w.set("tokenizer.ggml.bos_token_id", GGUFValue::u32(static_cast<std::uint32_t>(*eot)));
      w.set("tokenizer.ggml.eos_token_id", GGUFValue::u32(static_cast<std::uint32_t>(*eot)));
    }
  }

  // The tensors, in the table's order, named and oriented as llama.cpp expects.
  const Parameters<float>& p = model.parameters();
  for (const TensorInfo& info : p.table().entries()) {
    const auto [name, transpose] = gguf_tensor_name(info.name);
    const float* data = p.data() + info.offset;
    std::vector<float> t;
    std::vector<Index> shape = info.shape;  // PyTorch order, as stored in the file
    if (transpose) {
      t = detail::transposed(data, shape[0], shape[1]);
      data = t.data();
      std::swap(shape[0], shape[1]);
    }
    const std::vector<Index> ne(shape.rbegin(), shape.rend());
    GGMLType tt = GGMLType::F32;
    if (shape.size() == 2 && name != "position_embd.weight") tt = type;
    if (tt == GGMLType::Q8_0 && ne[0] % detail::kQ8Block != 0) tt = GGMLType::F16;  // as llama.cpp's converter
    w.add_tensor(name, ne, static_cast<std::uint32_t>(tt), detail::encode_tensor(data, info.size, tt));
  }
  return w;
}

inline void save_gguf(const GPT<float>& model, const BPETokenizer* tokenizer, const std::string& path,
                      GGMLType type = GGMLType::F32) {
  gguf_writer(model, tokenizer, type).save(path);
}

inline void save_gguf(const GPT<float>& model, const BPETokenizer& tokenizer, const std::string& path,
                      GGMLType type = GGMLType::F32) {
  save_gguf(model, &tokenizer, path, type);
}

// What load_gguf returns.
struct GGUFModel {
  GPT<float> model;                         // weights dequantized to f32, laid out by the parameter table
  std::optional<BPETokenizer> tokenizer;    // absent when the file has no (GPT-2 BPE) tokenizer
  // With keep_q8_0: every Q8_0 tensor's blocks as in the file, by minigpt's name, as (out, in)
  // rows (token_embd / lm_head as (V, C)): ready for detail::matmul_q8_0, no re-quantization.
  std::map<std::string, detail::Q8_0Matrix> q8_0;
  // How the file stores the linear layers' matrices and the head, as a format to run them in:
  // q8_0 when any is Q8_0, else bf16 when any is BF16, else f32 (F16 runs in f32).
  WeightFormat format = WeightFormat::f32;
};

namespace detail {

// The tokenizer of a `gpt2` GGUF file, or none. Trailing tokens of type unused are padding.
inline std::optional<BPETokenizer> read_gguf_tokenizer(const GGUFReader& f, Index vocab_size) {
  const GGUFValue* model = f.find("tokenizer.ggml.model");
  if (model == nullptr) return std::nullopt;
  const std::string& kind = f.get_string("tokenizer.ggml.model");
  if (kind == "none" || kind == "no_vocab") return std::nullopt;
  if (kind != "gpt2")
    throw FileError(f.path(), "key 'tokenizer.ggml.model'", "is '" + kind + "'; minigpt reads GPT-2's byte-level BPE ('gpt2')");
  const std::vector<std::string>& spelled = f.get_strings("tokenizer.ggml.tokens");
  if (static_cast<Index>(spelled.size()) != vocab_size)
    throw FileError(f.path(), "key 'tokenizer.ggml.tokens'", "has " + std::to_string(spelled.size()) +
                                                                 " tokens, but token_embd.weight has " +
                                                                 std::to_string(vocab_size) + " rows");
  std::size_t K = spelled.size();
  if (const GGUFValue* types = f.find("tokenizer.ggml.token_type")) {
    if (!types->is_array() || types->element_type == GGUFValueType::STRING ||
        types->element_type == GGUFValueType::FLOAT32 || types->element_type == GGUFValueType::FLOAT64 ||
        types->ints.size() != spelled.size())
      throw FileError(f.path(), "key 'tokenizer.ggml.token_type'", "must be an array of integers, one per token");
    while (K > 0 && types->ints[K - 1] == kTokenUnused) --K;
  }
  if (K == 0) return std::nullopt;
  std::vector<std::string> tokens(K);
  std::unordered_map<std::string, TokenId> by_spelling;
  by_spelling.reserve(K * 2);
  for (std::size_t k = 0; k < K; ++k) {
    if (!unspell_bytes(spelled[k], tokens[k])) tokens[k] = spelled[k];  // an added token in plain text
    by_spelling.emplace(spelled[k], static_cast<TokenId>(k));
  }
  std::vector<std::pair<TokenId, TokenId>> merges;
  if (f.find("tokenizer.ggml.merges")) {
    const std::vector<std::string>& m = f.get_strings("tokenizer.ggml.merges");
    merges.reserve(m.size());
    for (std::size_t r = 0; r < m.size(); ++r) {
      const std::string field = "key 'tokenizer.ggml.merges'";
      const auto sp = m[r].find(' ');
      if (sp == std::string::npos || m[r].find(' ', sp + 1) != std::string::npos)
        throw FileError(f.path(), field, "merge " + std::to_string(r) + " '" + m[r].substr(0, 80) +
                                             "' is not two tokens separated by one space");
      const auto a = by_spelling.find(m[r].substr(0, sp)), b = by_spelling.find(m[r].substr(sp + 1));
      if (a == by_spelling.end() || b == by_spelling.end())
        throw FileError(f.path(), field, "merge " + std::to_string(r) + " '" + m[r].substr(0, 80) + "' names a token not in the vocabulary");
      merges.emplace_back(a->second, b->second);
    }
  }
  try {
    return BPETokenizer::from_parts(std::move(tokens), merges, f.path());
  } catch (const FileError& e) {
    const std::string prefix = e.where() + ": " + (e.field().empty() ? "" : e.field() + ": ");
    const std::string what = std::string(e.what()).substr(prefix.size());
    throw FileError(f.path(), "tokenizer (" + e.field() + ")", what);
  }
}

}  // namespace detail

// Loads a `gpt2` GGUF file: the config from its metadata, every tensor checked by name, shape
// and type and dequantized to f32 (transposed back where GPT-2 keeps (in, out)), and the
// tokenizer. An output.weight equal to token_embd.weight is the tied head written out; a
// different one makes the model untied.
inline GGUFModel load_gguf(const std::string& path, bool keep_q8_0 = false) {
  const GGUFReader f(path);
  const std::string& arch = f.get_string("general.architecture");
  if (arch != "gpt2")
    throw FileError(path, "key 'general.architecture'", "is '" + arch + "'; minigpt reads GPT-2 ('gpt2') only");
  GPTConfig c;
  c.n_layer = f.get_index("gpt2.block_count");
  c.n_head = f.get_index("gpt2.attention.head_count");
  c.n_embd = f.get_index("gpt2.embedding_length");
  c.n_positions = f.get_index("gpt2.context_length");
  c.layer_norm_epsilon = detail::float_as_decimal(static_cast<float>(f.get_float("gpt2.attention.layer_norm_epsilon")));
  c.activation_function = "gelu_new";  // llama.cpp's gpt2 runs the tanh GELU
  if (f.find("gpt2.feed_forward_length") && f.get_index("gpt2.feed_forward_length") != 4 * c.n_embd)
    throw FileError(path, "key 'gpt2.feed_forward_length'", "is " + std::to_string(f.get_index("gpt2.feed_forward_length")) +
                                                                "; GPT-2's is 4 * embedding_length = " + std::to_string(4 * c.n_embd));
  if (f.find("gpt2.attention.head_count_kv") && f.get_index("gpt2.attention.head_count_kv") != c.n_head)
    throw FileError(path, "key 'gpt2.attention.head_count_kv'", "must equal head_count (GPT-2 has no grouped attention)");
  const GGUFTensorInfo* embd = f.find_tensor("token_embd.weight");
  if (embd == nullptr) throw FileError(path, "tensor 'token_embd.weight'", "missing");
  if (embd->ne.size() != 2) throw FileError(path, "tensor 'token_embd.weight'", "must have 2 dimensions, has " + shape_text(embd->ne));
  c.vocab_size = embd->ne[1];

  // Tied or untied head: output.weight absent, or equal to token_embd.weight, is tied.
  const GGUFTensorInfo* out = f.find_tensor("output.weight");
  if (out != nullptr && out->ne == embd->ne) {
    const bool same = out->type == embd->type ? std::memcmp(f.raw(*out), f.raw(*embd), static_cast<std::size_t>(out->bytes)) == 0
                                              : f.read_f32(out->name, true) == f.read_f32(embd->name, true);
    c.tie_word_embeddings = same;
  } else {
    c.tie_word_embeddings = out == nullptr;  // a misshapen output.weight is reported below
  }
  c.validate(path);

  // Every tensor the config needs, with its shape, before anything is allocated. The walk is
  // bounded by the file: at most one layer more than it has tensors for (12 per layer).
  std::set<std::string> used;
  auto expect = [&](const TensorInfo& info) -> const GGUFTensorInfo& {
    const auto [name, transpose] = gguf_tensor_name(info.name);
    const GGUFTensorInfo* t = f.find_tensor(name);
    if (t == nullptr) throw FileError(path, "tensor '" + name + "'", "missing");
    std::vector<Index> shape = info.shape;
    if (transpose) std::swap(shape[0], shape[1]);
    const std::vector<Index> ne(shape.rbegin(), shape.rend());
    if (t->ne != ne)
      throw FileError(path, "tensor '" + name + "'", "ne " + shape_text(t->ne) + " in the file, but the metadata needs " +
                                                         shape_text(ne) + " for gpt2");
    return *t;
  };
  {
    GPTConfig bounded = c;
    bounded.n_layer = std::min<Index>(c.n_layer, static_cast<Index>(f.tensors().size()) / 12 + 1);
    const ParameterTable table(bounded);
    for (const TensorInfo& info : table.entries()) (void)expect(info);
  }
  std::optional<BPETokenizer> tokenizer = detail::read_gguf_tokenizer(f, c.vocab_size);

  GGUFModel m{GPT<float>(c), std::move(tokenizer), {}};
  Parameters<float>& p = m.model.parameters();
  std::vector<float> buffer;
  for (const TensorInfo& info : p.table().entries()) {
    const GGUFTensorInfo& t = expect(info);
    used.insert(t.name);
    float* dst = p.data() + info.offset;
    const bool transpose = gguf_tensor_name(info.name).second;
    if (transpose) {
      buffer.resize(static_cast<std::size_t>(t.count));
      f.read_f32(t, buffer.data());
      const std::vector<float> back = detail::transposed(buffer.data(), info.shape[1], info.shape[0]);
      std::copy(back.begin(), back.end(), dst);
    } else {
      f.read_f32(t, dst);
    }
    if (keep_q8_0 && t.type == static_cast<std::uint32_t>(GGMLType::Q8_0)) m.q8_0[info.name] = f.q8_0(t);
    if (t.type == static_cast<std::uint32_t>(GGMLType::Q8_0)) m.format = WeightFormat::q8_0;
    if (t.type == static_cast<std::uint32_t>(GGMLType::BF16) && m.format == WeightFormat::f32) m.format = WeightFormat::bf16;
  }
  if (c.tie_word_embeddings && out != nullptr) used.insert("output.weight");
  for (const GGUFTensorInfo& t : f.tensors())
    if (!used.count(t.name))
      throw FileError(path, "tensor '" + t.name + "'", "is not part of a gpt2 model of " + std::to_string(c.n_layer) + " layers");
  return m;
}

}  // namespace minigpt
