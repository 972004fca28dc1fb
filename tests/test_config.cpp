// GPT-2 hyper-parameters: presets and their exact parameter counts, config.json reading,
// writing and validation.
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

using namespace minigpt;
using Catch::Matchers::Contains;

TEST_CASE("presets have the published parameter counts", "[config]") {
  // Counted with the LM head tied to the token embedding, as GPT-2 ships.
  CHECK(GPTConfig::gpt2().parameter_count() == 124439808);
  CHECK(GPTConfig::gpt2_medium().parameter_count() == 354823168);
  CHECK(GPTConfig::gpt2_large().parameter_count() == 774030080);
  CHECK(GPTConfig::gpt2_xl().parameter_count() == 1557611200);
  // GPT-3: 96 layers of 96 heads x 128 = 12,288 dims, context 2,048.
  const GPTConfig gpt3 = GPTConfig::gpt3_175b();
  CHECK(gpt3.n_head * gpt3.head_size() == 12288);
  CHECK(gpt3.parameter_count() == 174604259328LL);
  // An untied head adds V*C.
  GPTConfig untied = GPTConfig::gpt2();
  untied.tie_word_embeddings = false;
  CHECK(untied.parameter_count() == 124439808 + 50257LL * 768);
  CHECK(GPTConfig::preset("gpt2-xl").n_layer == 48);
  CHECK_THROWS_WITH(GPTConfig::preset("gpt5"), Contains("unknown preset"));
}

TEST_CASE("the parameter table lays out exactly parameter_count() numbers", "[config]") {
  const GPTConfig c = GPTConfig::make(3, 4, 32, 16, 50);
  const ParameterTable table(c);
  CHECK(table.total() == c.parameter_count());
  Index expected_offset = 0;
  for (const TensorInfo& e : table.entries()) {
    CHECK(e.offset == expected_offset);
    expected_offset += e.size;
  }
  CHECK(table.find("h.2.mlp.c_fc.weight")->shape == std::vector<Index>{32, 128});
  CHECK(table.find("lm_head.weight") == nullptr);
  // The GPT-3 table is built without overflow (offsets past 2^32).
  const ParameterTable gpt3(GPTConfig::gpt3_175b());
  CHECK(gpt3.total() == 174604259328LL);
  CHECK(gpt3.entries().back().offset > (Index(1) << 32));
}

TEST_CASE("config.json round-trips and accepts n_ctx for n_positions", "[config]") {
  GPTConfig c = GPTConfig::make(2, 3, 48, 24, 101);
  c.activation_function = "gelu";
  c.tie_word_embeddings = false;
  const std::string dir = test::scratch("config");
  save_config(c, dir + "/config.json");
  CHECK(load_config(dir + "/config.json") == c);

  nlohmann::json j = {{"n_layer", 1}, {"n_head", 2}, {"n_embd", 8}, {"n_ctx", 16}, {"vocab_size", 10}};
  const GPTConfig legacy = config_from_json(j, "legacy.json");
  CHECK(legacy.n_positions == 16);
  CHECK(legacy.activation() == Activation::gelu_tanh);
}

TEST_CASE("config validation names the file and the field", "[config]") {
  const nlohmann::json good = {{"n_layer", 2}, {"n_head", 2}, {"n_embd", 8}, {"n_positions", 16}, {"vocab_size", 10}};
  auto with = [&](const char* key, nlohmann::json value) {
    nlohmann::json j = good;
    j[key] = value;
    return j;
  };
  CHECK_THROWS_WITH(config_from_json(with("n_embd", 9), "c.json"), Contains("c.json") && Contains("not divisible"));
  CHECK_THROWS_WITH(config_from_json(with("n_layer", 0), "c.json"), Contains("n_layer") && Contains("positive"));
  CHECK_THROWS_WITH(config_from_json(with("n_head", -2), "c.json"), Contains("n_head"));
  CHECK_THROWS_WITH(config_from_json(with("n_embd", 8.5), "c.json"), Contains("n_embd") && Contains("integer"));
  CHECK_THROWS_WITH(config_from_json(with("activation_function", "swish"), "c.json"),
                    Contains("activation_function"));
  CHECK_THROWS_WITH(config_from_json(with("layer_norm_epsilon", -1), "c.json"), Contains("layer_norm_epsilon"));
  CHECK_THROWS_WITH(config_from_json(with("n_inner", 100), "c.json"), Contains("n_inner"));
  nlohmann::json missing = good;
  missing.erase("vocab_size");
  CHECK_THROWS_WITH(config_from_json(missing, "c.json"), Contains("vocab_size") && Contains("missing"));
  // Sizes whose products overflow 64 bits.
  CHECK_THROWS_WITH(config_from_json(with("n_embd", 1LL << 40), "c.json"), Contains("overflow"));

  const std::string dir = test::scratch("config-bad");
  detail::write_file_atomic(dir + "/config.json", "{\"n_layer\": 2,");
  CHECK_THROWS_WITH(load_config(dir + "/config.json"), Contains("config.json") && Contains("malformed JSON"));
  CHECK_THROWS_WITH(load_config(dir + "/nothing.json"), Contains("nothing.json") && Contains("cannot open"));
}
