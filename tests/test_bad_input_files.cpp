// The catalogue of bad files, part 1: safetensors, config.json and checkpoints that disagree
// with their config. Each case is refused with a minigpt::FileError whose message names the
// file and the field (or tensor); the messages are asserted on. See docs/robustness.md.
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>

using namespace minigpt;
using Catch::Matchers::Contains;

namespace {

std::string le64(std::uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

std::string floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(&s[0], v.begin(), s.size());
  return s;
}

// [8-byte length][header][data], the header given as text.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

std::string write(const std::string& dir, const std::string& name, const std::string& bytes) {
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}


// A file with two F32 tensors a [2] and b [1], 12 bytes of data, as a starting point.
const std::string kTwo = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";

std::string open_error(const std::string& path) {
  try {
    SafetensorsReader r(path);
  } catch (const FileError& e) {
    CHECK(e.where() == path);
    return e.what();
  }
  FAIL("opened " + path + " without an error");
  return "";
}

// A tiny model saved to dir (config.json + model.safetensors), then its config replaced.
GPT<float> tiny_model(std::uint64_t seed = 5) {
  GPT<float> m(GPTConfig::make(2, 2, 8, 6, 12));
  Rng rng(seed);
  m.init_weights(rng);
  return m;
}

}  // namespace

// ---- safetensors: the 8-byte header length ----

TEST_CASE("safetensors: a file shorter than the 8-byte header length", "[bad_input][safetensors]") {
  const std::string dir = test::scratch("bad-st-short");
  CHECK_THAT(open_error(write(dir, "empty.safetensors", "")), Contains("empty.safetensors") && Contains("header length") &&
                                                                  Contains("truncated: 0 bytes"));
  CHECK_THAT(open_error(write(dir, "five.safetensors", std::string("\x05\0\0\0\0", 5))), Contains("header length") && Contains("5 bytes"));
}

TEST_CASE("safetensors: truncated inside the header and inside the data", "[bad_input][safetensors]") {
  const std::string dir = test::scratch("bad-st-trunc");
  const std::string good = safetensors_bytes(kTwo, floats({1, 2, 3}));
  SafetensorsReader ok(write(dir, "good.safetensors", good));  // the untruncated file opens
  CHECK(ok.read<float>("b") == std::vector<float>{3});
  // Cut in the header: the length now runs past the end.
  CHECK_THAT(open_error(write(dir, "cut-header.safetensors", good.substr(0, 20))),
             Contains("cut-header.safetensors") && Contains("header length") && Contains("runs past the end"));
  // Cut in the data: the last tensor's offsets run past the data section.
  CHECK_THAT(open_error(write(dir, "cut-data.safetensors", good.substr(0, good.size() - 2))),
             Contains("cut-data.safetensors") && Contains("tensor 'b'") && Contains("out of range") &&
                 Contains("10 bytes"));
}

TEST_CASE("safetensors: header length 0, past the end, near 2^64", "[bad_input][safetensors]") {
  const std::string dir = test::scratch("bad-st-len");
  const std::string body = kTwo + floats({1, 2, 3});
  CHECK_THAT(open_error(write(dir, "zero.safetensors", le64(0) + body)), Contains("header length") && Contains("is 0"));
  CHECK_THAT(open_error(write(dir, "past.safetensors", le64(body.size() + 1) + body)),
             Contains("past.safetensors") && Contains("header length") && Contains("runs past the end"));
  for (std::uint64_t n : {std::numeric_limits<std::uint64_t>::max(), std::numeric_limits<std::uint64_t>::max() - 7,
                          std::uint64_t(1) << 63, (std::uint64_t(1) << 63) - 1}) {
    INFO("header length " << n);
    CHECK_THAT(open_error(write(dir, "huge.safetensors", le64(n) + body)),
               Contains("huge.safetensors") && Contains("header length") && Contains(std::to_string(n)) &&
                   Contains("runs past the end"));
  }
}

TEST_CASE("safetensors: a header larger than the 100 MB limit", "[bad_input][safetensors]") {
  const std::string dir = test::scratch("bad-st-bighdr");
  // A file that really has 100 MB + 1 of header: refused by the limit, not parsed.
  const std::size_t n = (std::size_t(100) << 20) + 1;
  std::string bytes = le64(n);
  bytes.append(n, ' ');
  CHECK_THAT(open_error(write(dir, "big.safetensors", bytes)), Contains("header length") && Contains("limit"));
}

// ---- safetensors: offsets ----

TEST_CASE("safetensors: overlapping offsets", "[bad_input][safetensors]") {
  const std::string dir = test::scratch("bad-st-overlap");
  const std::string h = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                        R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  CHECK_THAT(open_error(write(dir, "overlap.safetensors", safetensors_bytes(h, floats({1, 2, 3})))),
             Contains("overlap.safetensors") && Contains("tensor 'b'") && Contains("overlap tensor 'a'"));
  // Two tensors on the very same bytes.
  const std::string same = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                           R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  CHECK_THAT(open_error(write(dir, "same.safetensors", safetensors_bytes(same, floats({1})))), Contains("overlap"));
}

TEST_CASE("safetensors: offsets out of range or reversed", "[bad_input][safetensors]") {
  const std::string dir = test::scratch("bad-st-range");
  const std::string h = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                        R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,16]}})";
  CHECK_THAT(open_error(write(dir, "range.safetensors", safetensors_bytes(h, floats({1, 2, 3})))),
             Contains("tensor 'b'") && Contains("[8, 16]") && Contains("out of range"));
  const std::string rev = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})";
  CHECK_THAT(open_error(write(dir, "reversed.safetensors", safetensors_bytes(rev, floats({1})))),
             Contains("tensor 'a'") && Contains("out of range"));
  const std::string huge = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,18446744073709551615]}})";
  CHECK_THAT(open_error(write(dir, "huge.safetensors", safetensors_bytes(huge, floats({1})))),
             Contains("tensor 'a'") && Contains("out of range"));
  const std::string negative = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})";
  CHECK_THAT(open_error(write(dir, "negative.safetensors", safetensors_bytes(negative, floats({1})))),
             Contains("tensor 'a'") && Contains("data_offsets"));
}

TEST_CASE("safetensors: offsets that leave gaps", "[bad_input][safetensors]") {
  const std::string dir = test::scratch("bad-st-gap");
  const std::string front = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  CHECK_THAT(open_error(write(dir, "front.safetensors", safetensors_bytes(front, floats({1, 2})))),
             Contains("tensor 'a'") && Contains("gap of 4 bytes") && Contains("start of the data"));
  const std::string middle = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
  CHECK_THAT(open_error(write(dir, "middle.safetensors", safetensors_bytes(middle, floats({1, 2, 3})))),
             Contains("tensor 'b'") && Contains("gap of 4 bytes after tensor 'a'"));
  CHECK_THAT(open_error(write(dir, "tail.safetensors", safetensors_bytes(kTwo, floats({1, 2, 3, 4})))),
             Contains("tail.safetensors") && Contains("data") && Contains("4 bytes after the last tensor"));
}

// ---- safetensors: dtype, shape, header ----

TEST_CASE("safetensors: dtype or shape disagreeing with the byte count", "[bad_input][safetensors]") {
  const std::string dir = test::scratch("bad-st-count");
  const std::string shape = R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})";
  CHECK_THAT(open_error(write(dir, "shape.safetensors", safetensors_bytes(shape, floats({1, 2})))),
             Contains("tensor 'a'") && Contains("need 12 bytes") && Contains("give 8"));
  const std::string dtype = R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}})";
  CHECK_THAT(open_error(write(dir, "dtype.safetensors", safetensors_bytes(dtype, floats({1, 2})))),
             Contains("tensor 'a'") && Contains("F16") && Contains("need 4 bytes"));
  const std::string overflow = R"({"a":{"dtype":"F32","shape":[4611686018427387904,8],"data_offsets":[0,0]}})";
  CHECK_THAT(open_error(write(dir, "overflow.safetensors", safetensors_bytes(overflow, ""))),
             Contains("tensor 'a'") && Contains("too large"));
}

TEST_CASE("safetensors: unknown and unsupported dtypes", "[bad_input][safetensors]") {
  const std::string dir = test::scratch("bad-st-dtype");
  const std::string unknown = R"({"a":{"dtype":"F7","shape":[1],"data_offsets":[0,4]}})";
  CHECK_THAT(open_error(write(dir, "unknown.safetensors", safetensors_bytes(unknown, floats({1})))),
             Contains("unknown.safetensors") && Contains("tensor 'a'") && Contains("unknown dtype 'F7'"));
  // An integer tensor may sit in a file; reading it as numbers is refused by name.
  const std::string i64 = R"({"step":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})";
  SafetensorsReader r(write(dir, "i64.safetensors", safetensors_bytes(i64, floats({0, 0}))));
  CHECK_THROWS_WITH(r.read<float>("step"), Contains("i64.safetensors") && Contains("tensor 'step'") &&
                                               Contains("I64 is not supported"));
  CHECK_THROWS_WITH(r.read<float>("absent"), Contains("tensor 'absent'") && Contains("missing"));
}

TEST_CASE("safetensors: malformed or misshapen JSON header", "[bad_input][safetensors]") {
  const std::string dir = test::scratch("bad-st-json");
  CHECK_THAT(open_error(write(dir, "cut.safetensors", safetensors_bytes(R"({"a":{"dtype":"F3)", ""))),
             Contains("cut.safetensors") && Contains("header") && Contains("malformed JSON"));
  CHECK_THAT(open_error(write(dir, "array.safetensors", safetensors_bytes("[1, 2]", ""))),
             Contains("header") && Contains("must be a JSON object"));
  CHECK_THAT(open_error(write(dir, "entry.safetensors", safetensors_bytes(R"({"a": 3})", ""))),
             Contains("tensor 'a'") && Contains("dtype, shape and data_offsets"));
  CHECK_THAT(open_error(write(dir, "nodtype.safetensors",
                              safetensors_bytes(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", floats({1})))),
             Contains("tensor 'a'") && Contains("dtype missing"));
  CHECK_THAT(open_error(write(dir, "shape.safetensors",
                              safetensors_bytes(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", floats({1})))),
             Contains("tensor 'a'") && Contains("non-negative integers"));
  CHECK_THAT(open_error(write(dir, "shape2.safetensors",
                              safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", floats({1})))),
             Contains("tensor 'a'") && Contains("non-negative integers"));
  CHECK_THAT(open_error(write(dir, "offsets.safetensors",
                              safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", floats({1})))),
             Contains("tensor 'a'") && Contains("data_offsets must be [begin, end]"));
  CHECK_THAT(open_error(write(dir, "meta.safetensors", safetensors_bytes(R"({"__metadata__":{"format":1}})", ""))),
             Contains("__metadata__.format") && Contains("must be a string"));
  // Bytes that are not UTF-8 inside the JSON text.
  CHECK_THAT(open_error(write(dir, "utf8.safetensors", safetensors_bytes("{\"\xff\":1}", ""))),
             Contains("header") && Contains("malformed JSON"));
}

TEST_CASE("safetensors: NaN and Inf weights are refused by tensor and index", "[bad_input][safetensors][checkpoint]") {
  const std::string dir = test::scratch("bad-st-nan");
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const std::string h = R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})";
  SafetensorsReader r_nan(write(dir, "nan.safetensors", safetensors_bytes(h, floats({1, nan, 3}))));
  CHECK_THROWS_WITH(r_nan.read<float>("a"), Contains("nan.safetensors") && Contains("tensor 'a'") &&
                                                Contains("non-finite") && Contains("index 1"));
  CHECK(std::isnan(r_nan.read<float>("a", /*allow_non_finite=*/true)[1]));
  SafetensorsReader r_inf(write(dir, "inf.safetensors", safetensors_bytes(h, floats({1, 2, -inf}))));
  CHECK_THROWS_WITH(r_inf.read<double>("a"), Contains("tensor 'a'") && Contains("non-finite") && Contains("index 2"));
  // F16 infinity (0x7C00) and BF16 NaN (0x7FC0), decoded then refused.
  const std::string f16 = R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})";
  SafetensorsReader r16(write(dir, "f16.safetensors", safetensors_bytes(f16, std::string("\x00\x3C\x00\x7C", 4))));
  CHECK_THROWS_WITH(r16.read<float>("a"), Contains("non-finite") && Contains("index 1"));
  const std::string bf16 = R"({"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})";
  SafetensorsReader rb(write(dir, "bf16.safetensors", safetensors_bytes(bf16, std::string("\xC0\x7F\x80\x3F", 4))));
  CHECK_THROWS_WITH(rb.read<float>("a"), Contains("non-finite") && Contains("index 0"));

  // A finite F64 value past float's range: read as double, refused as float (not "non-finite").
  const std::string f64 = R"({"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})";
  std::string big(16, '\0');
  const double values[2] = {1.0, 1e300};
  std::memcpy(&big[0], values, 16);
  SafetensorsReader r64(write(dir, "f64.safetensors", safetensors_bytes(f64, big)));
  CHECK(r64.read<double>("a")[1] == 1e300);
  CHECK_THROWS_WITH(r64.read<float>("a"), Contains("f64.safetensors") && Contains("tensor 'a'") &&
                                              Contains("index 1 does not fit in float"));

  // Through load_model: a NaN in one weight of a saved model names that tensor.
  const std::string mdir = test::scratch("bad-st-nan-model");
  GPT<float> m = tiny_model();
  m.parameters().get("h.1.mlp.c_fc.bias")(0, 3) = nan;
  save_model(m, mdir);
  CHECK_THROWS_WITH(load_model<float>(mdir), Contains("model.safetensors") && Contains("h.1.mlp.c_fc.bias") &&
                                                 Contains("non-finite") && Contains("index 3"));
}

// ---- config.json ----

TEST_CASE("config.json: sizes zero, negative, non-integer or too large", "[bad_input][config]") {
  const std::string dir = test::scratch("bad-config");
  const nlohmann::json good = {{"n_layer", 2}, {"n_head", 2}, {"n_embd", 8}, {"n_positions", 6}, {"vocab_size", 12}};
  auto error_for = [&](const std::string& field, const nlohmann::json& value) {
    nlohmann::json j = good;
    j[field] = value;
    const std::string path = write(dir, "config.json", j.dump());
    try {
      (void)load_config(path);
    } catch (const FileError& e) {
      CHECK(e.where() == path);
      return std::string(e.what());
    }
    FAIL("config with " << field << " = " << value.dump() << " was accepted");
    return std::string();
  };
  CHECK_NOTHROW(load_config(write(dir, "config.json", good.dump())));
  for (const char* field : {"n_layer", "n_head", "n_embd", "n_positions", "vocab_size"}) {
    INFO(field);
    CHECK_THAT(error_for(field, 0), Contains("config.json") && Contains(field) && Contains("positive integer, got 0"));
    CHECK_THAT(error_for(field, -3), Contains(field) && Contains("got -3"));
    CHECK_THAT(error_for(field, 1.5), Contains(field) && Contains("must be an integer"));
    CHECK_THAT(error_for(field, "12"), Contains(field) && Contains("must be an integer"));
    CHECK_THAT(error_for(field, true), Contains(field) && Contains("must be an integer"));
    CHECK_THAT(error_for(field, nullptr), Contains(field) && Contains("must be an integer"));
    CHECK_THAT(error_for(field, std::uint64_t(1) << 63), Contains(field) && Contains("too large"));
    CHECK_THAT(error_for(field, 1e30), Contains(field) && Contains("must be an integer"));
  }
  // Products that overflow 64 bits: named, never wrapped.
  CHECK_THAT(error_for("n_embd", std::int64_t(1) << 32), Contains("config.json") && Contains("overflows"));
  {
    nlohmann::json j = good;
    j["n_layer"] = std::int64_t(1) << 40;
    j["n_embd"] = std::int64_t(1) << 20;
    j["n_head"] = 1;
    CHECK_THROWS_WITH(load_config(write(dir, "config.json", j.dump())), Contains("config.json") && Contains("overflows"));
  }
  CHECK_THAT(error_for("vocab_size", std::int64_t(1) << 62), Contains("overflows"));
  CHECK_THAT(error_for("n_positions", std::int64_t(1) << 61), Contains("overflows"));
  CHECK_THAT(error_for("n_head", 3), Contains("n_embd") && Contains("not divisible by n_head 3"));
  CHECK_THAT(error_for("layer_norm_epsilon", 0), Contains("layer_norm_epsilon") && Contains("positive finite"));
  CHECK_THAT(error_for("layer_norm_epsilon", "small"), Contains("layer_norm_epsilon") && Contains("must be a number"));
  CHECK_THAT(error_for("activation_function", "relu"), Contains("activation_function") && Contains("relu"));
  CHECK_THAT(error_for("activation_function", 7), Contains("activation_function") && Contains("must be a string"));
  CHECK_THAT(error_for("attn_pdrop", 1.0), Contains("attn_pdrop") && Contains("[0, 1)"));
  CHECK_THAT(error_for("n_inner", 100), Contains("n_inner"));
  CHECK_THAT(error_for("tie_word_embeddings", "yes"), Contains("tie_word_embeddings"));
}

TEST_CASE("config.json: malformed, not an object, fields missing", "[bad_input][config]") {
  const std::string dir = test::scratch("bad-config-json");
  CHECK_THROWS_WITH(load_config(write(dir, "cut.json", R"({"n_layer": 2, "n_head": )")),
                    Contains("cut.json") && Contains("malformed JSON"));
  CHECK_THROWS_WITH(load_config(write(dir, "empty.json", "")), Contains("empty.json") && Contains("malformed JSON"));
  CHECK_THROWS_WITH(load_config(write(dir, "array.json", "[2, 2, 8]")), Contains("array.json") && Contains("a JSON object"));
  CHECK_THROWS_WITH(load_config(write(dir, "missing.json", R"({"n_layer": 2, "n_head": 2, "n_positions": 6, "vocab_size": 12})")),
                    Contains("missing.json") && Contains("n_embd") && Contains("missing"));
  CHECK_THROWS_WITH(load_config(write(dir, "noctx.json", R"({"n_layer": 2, "n_head": 2, "n_embd": 8, "vocab_size": 12})")),
                    Contains("noctx.json") && Contains("n_positions") && Contains("n_ctx"));
  CHECK_THROWS_WITH(load_config(write(dir, "binary.json", std::string("\x89PNG\r\n\x1a\n\0\0", 10))),
                    Contains("binary.json") && Contains("malformed JSON"));
}

// ---- checkpoints that disagree with their config ----

TEST_CASE("checkpoint: tensors disagreeing with config.json", "[bad_input][checkpoint]") {
  const std::string dir = test::scratch("bad-ckpt");
  const GPT<float> m = tiny_model();
  save_model(m, dir);
  const std::string config = dir + "/config.json", weights = dir + "/model.safetensors";
  CHECK_NOTHROW(load_model<float>(dir));

  // One layer fewer in the config: h.1.* is extra.
  save_config(GPTConfig::make(1, 2, 8, 6, 12), config);
  CHECK_THROWS_WITH(load_model<float>(dir), Contains(weights) && Contains("tensor 'h.1.") && Contains("not part of the model"));
  // One layer more: h.2.* is missing.
  save_config(GPTConfig::make(3, 2, 8, 6, 12), config);
  CHECK_THROWS_WITH(load_model<float>(dir), Contains(weights) && Contains("tensor 'h.2.ln_1.weight'") && Contains("missing"));
  // Wider embedding: the first tensor's shape is wrong, and both shapes are named.
  save_config(GPTConfig::make(2, 2, 16, 6, 12), config);
  CHECK_THROWS_WITH(load_model<float>(dir), Contains("tensor 'wte.weight'") && Contains("[12, 8]") && Contains("[12, 16]"));
  // A longer context: wpe is misshapen.
  save_config(GPTConfig::make(2, 2, 8, 7, 12), config);
  CHECK_THROWS_WITH(load_model<float>(dir), Contains("tensor 'wpe.weight'") && Contains("[6, 8]") && Contains("[7, 8]"));
  // A config that claims far more than the file holds is refused at once, before allocating it
  // (10^9 layers would be 10^12 numbers; a vocabulary of 10^12 likewise).
  save_config(GPTConfig::make(1000000000, 2, 8, 6, 12), config);
  CHECK_THROWS_WITH(load_model<float>(dir), Contains("tensor 'h.2.ln_1.weight'") && Contains("missing"));
  save_config(GPTConfig::make(2, 2, 8, 6, 1000000000000), config);
  CHECK_THROWS_WITH(load_model<float>(dir), Contains("tensor 'wte.weight'") && Contains("[1000000000000, 8]"));
  // An untied config with no lm_head in the file.
  GPTConfig untied = GPTConfig::make(2, 2, 8, 6, 12);
  untied.tie_word_embeddings = false;
  save_config(untied, config);
  CHECK_THROWS_WITH(load_model<float>(dir), Contains("tensor 'lm_head.weight'") && Contains("missing"));
}

TEST_CASE("checkpoint: a tensor missing, misshapen or twice in the file", "[bad_input][checkpoint]") {
  const std::string dir = test::scratch("bad-ckpt-file");
  const GPT<float> m = tiny_model();
  save_model(m, dir);
  const std::string weights = dir + "/model.safetensors";
  const Parameters<float>& p = m.parameters();
  std::vector<TensorToWrite<float>> all;
  for (const TensorInfo& info : p.table().entries()) all.push_back({info.name, info.shape, p.data() + info.offset});

  std::vector<TensorToWrite<float>> missing = all;
  missing.erase(missing.begin() + 5);
  save_safetensors<float>(weights, missing);
  CHECK_THROWS_WITH(load_model<float>(dir), Contains(weights) && Contains("tensor '" + all[5].name + "'") && Contains("missing"));

  std::vector<TensorToWrite<float>> misshapen = all;
  const std::size_t k = static_cast<std::size_t>(p.table().find("h.0.attn.c_attn.weight") - p.table().entries().data());
  REQUIRE(misshapen[k].shape.size() == 2);
  std::swap(misshapen[k].shape[0], misshapen[k].shape[1]);  // same bytes, transposed shape
  save_safetensors<float>(weights, misshapen);
  CHECK_THROWS_WITH(load_model<float>(dir), Contains("tensor 'h.0.attn.c_attn.weight'") && Contains("[24, 8]") &&
                                                Contains("[8, 24]"));

  std::vector<TensorToWrite<float>> twice = all;
  twice.push_back({"transformer." + all[0].name, all[0].shape, all[0].data});
  save_safetensors<float>(weights, twice);
  CHECK_THROWS_WITH(load_model<float>(dir), Contains("appears twice"));

  std::vector<TensorToWrite<float>> stray = all;
  const float x = 1;
  stray.push_back({"h.0.attn.extra", {1}, &x});
  save_safetensors<float>(weights, stray);
  CHECK_THROWS_WITH(load_model<float>(dir), Contains("tensor 'h.0.attn.extra'") && Contains("not part of the model"));
}

TEST_CASE("checkpoint: a missing path, a file for a folder, a folder for a file", "[bad_input][checkpoint]") {
  const std::string dir = test::scratch("bad-paths");
  CHECK_THROWS_WITH(load_model<float>(dir + "/absent"), Contains(dir + "/absent") && Contains("not a folder"));
  CHECK_THROWS_WITH(load_model<float>(dir), Contains(dir + "/config.json") && Contains("cannot open"));
  save_config(GPTConfig::make(2, 2, 8, 6, 12), dir + "/config.json");
  CHECK_THROWS_WITH(load_model<float>(dir), Contains(dir + "/model.safetensors") && Contains("cannot open"));
  CHECK_THROWS_WITH(load_config(dir + "/nothing.json"), Contains(dir + "/nothing.json") && Contains("cannot open"));
  CHECK_THROWS_WITH(load_config(dir), Contains(dir) && Contains("folder"));
  CHECK_THROWS_WITH(SafetensorsReader(dir + "/none.safetensors"), Contains(dir + "/none.safetensors") && Contains("cannot open"));
  CHECK_THROWS_WITH(SafetensorsReader(dir), Contains(dir) && Contains("not a regular file"));
  CHECK_THROWS_WITH(load_model<float>(dir + "/config.json"), Contains("config.json") && Contains("not a folder"));
}
