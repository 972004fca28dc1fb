// Sizes and offsets are 64-bit and checked: GPT-2 xl's and GPT-3's parameter counts, their
// tables, and their byte offsets in a safetensors file (GPT-3 in F32 is 698 GB, far past
// 2^32) are computed without overflow; products that would overflow are refused.
//
// The safetensors test writes sparse files: a GPT-2 xl-shaped file of 6.2 GB and a GPT-3-
// shaped one of 698 GB whose data are holes, so they take no disk space. SafetensorsReader
// maps them, checks every offset, and reads the last tensors (zeros) from past 2^39 bytes.
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

#include <fstream>

#include <fcntl.h>
#include <unistd.h>

using namespace minigpt;
using Catch::Matchers::Contains;

namespace {

// A safetensors file laid out like `table` in F32, its data a hole of the right size.
std::string sparse_checkpoint(const std::string& path, const ParameterTable& table) {
  nlohmann::ordered_json header;
  for (const TensorInfo& e : table.entries())
    header[e.name] = {{"dtype", "F32"}, {"shape", e.shape}, {"data_offsets", {e.offset * 4, (e.offset + e.size) * 4}}};
  const std::string json = header.dump();
  std::string prefix(8, '\0');
  for (int i = 0; i < 8; ++i) prefix[static_cast<std::size_t>(i)] = static_cast<char>((json.size() >> (8 * i)) & 0xff);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << prefix << json;
  }
  const Index total = static_cast<Index>(8 + json.size()) + table.total() * 4;
  if (::truncate(path.c_str(), static_cast<off_t>(total)) != 0) throw std::runtime_error("truncate " + path);
  return path;
}

}  // namespace

TEST_CASE("sizes: GPT-2 xl and GPT-3 tables are laid out in 64 bits", "[sizes]") {
  for (const auto& [name, count] : {std::pair<const char*, Index>{"gpt2-xl", 1557611200},
                                    std::pair<const char*, Index>{"gpt3-175b", 174604259328}}) {
    INFO(name);
    const GPTConfig c = GPTConfig::preset(name);
    CHECK(c.parameter_count() == count);
    const ParameterTable table(c);
    CHECK(table.total() == count);
    Index next = 0;
    for (const TensorInfo& e : table.entries()) {
      CHECK(e.offset == next);
      next += e.size;
    }
    CHECK(next == count);
    // In bytes (F32), every offset past 2^32 is still exact.
    const TensorInfo& last = table.entries().back();
    CHECK((last.offset + last.size) * 4 == count * 4);
  }
  // GPT-3's largest single tensors: 12,288 x 49,152 = 603,979,776 numbers, 2.4 GB in F32.
  const ParameterTable gpt3(GPTConfig::gpt3_175b());
  CHECK(gpt3.find("h.95.mlp.c_fc.weight")->size == Index(12288) * 49152);
  CHECK(gpt3.find("h.95.mlp.c_fc.weight")->offset * 4 > (Index(1) << 39));
}

TEST_CASE("sizes: safetensors offsets of GPT-2 xl and GPT-3 files (sparse, 6.2 GB and 698 GB)", "[sizes][safetensors]") {
  const std::string dir = test::scratch("sizes-sparse");
  for (const char* name : {"gpt2-xl", "gpt3-175b"}) {
    INFO(name);
    const ParameterTable table(GPTConfig::preset(name));
    std::string path;
    try {
      path = sparse_checkpoint(dir + "/" + name + ".safetensors", table);
    } catch (const std::exception& e) {
      WARN("this file system cannot hold a sparse file that large (" << e.what() << "); not run");
      continue;
    }
    const SafetensorsReader r(path);
    REQUIRE(r.entries().size() == table.entries().size());
    const SafetensorsEntry* last = r.find("ln_f.bias");
    REQUIRE(last != nullptr);
    CHECK(last->end == table.total() * 4);
    CHECK(last->begin == table.find("ln_f.bias")->offset * 4);
    if (std::string(name) == "gpt3-175b") CHECK(last->begin > (Index(1) << 39));
    const std::vector<float> bias = r.read<float>("ln_f.bias");
    CHECK(bias.size() == static_cast<std::size_t>(table.find("ln_f.bias")->size));
    CHECK(bias.back() == 0.0f);  // a hole reads as zeros
    ::unlink(path.c_str());
  }
}

TEST_CASE("sizes: products past 64 bits are refused, never wrapped", "[sizes]") {
  CHECK(Tensor<float>::count({Index(1) << 31, Index(1) << 31}) == (Index(1) << 62));
  CHECK(Tensor<float>::count({0, Index(1) << 62, 4}) == 0);
  CHECK_THROWS_WITH(Tensor<float>::count({Index(1) << 32, Index(1) << 32}), Contains("more than 2^63"));
  CHECK_THROWS_WITH(Tensor<float>::count({4, -1}), Contains("negative dimension"));
  CHECK_THROWS_WITH(detail::checked_mul(Index(1) << 62, 4, "x"), Contains("overflows"));
  CHECK_THROWS_WITH(detail::checked_add(std::numeric_limits<Index>::max(), 1, "x"), Contains("overflows"));
  // A config whose parameter count overflows is refused when validated (config.json names it
  // too: see test_bad_input_files.cpp).
  CHECK_THROWS_WITH(GPTConfig::make(Index(1) << 40, 1, Index(1) << 20, 4, 8).validate(), Contains("overflows"));
  // A KV cache whose size overflows is refused, not allocated short.
  GPTConfig c = GPTConfig::make(4, 2, 8, 16, 10);
  CHECK_THROWS_WITH(KVCache<float>(c, std::numeric_limits<Index>::max() / 2), Contains("KVCache") && Contains("overflows"));
}
