// Saving and loading the Hugging Face layout: bit-identical round trips, atomic saves, and
// errors that name the file and the tensor.
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

#include <filesystem>
#include <set>

using namespace minigpt;
using Catch::Matchers::Contains;

TEST_CASE("a saved model loads back bit for bit, tied and untied", "[checkpoint]") {
  for (bool tied : {true, false}) {
    GPTConfig c = GPTConfig::make(2, 2, 16, 8, 30);
    c.tie_word_embeddings = tied;
    GPT<float> model(c);
    Rng rng(17);
    model.init_weights(rng);
    const std::string dir = test::scratch(tied ? "ckpt-tied" : "ckpt-untied");
    save_model(model, dir + "/model");
    GPT<float> back = load_model<float>(dir + "/model");
    CHECK(back.config() == c);
    CHECK((back.parameters().flat() == model.parameters().flat()).all());
    // Exactly the two files, no temporaries left behind.
    std::set<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir + "/model"))
      files.insert(entry.path().filename().string());
    CHECK(files == std::set<std::string>{"config.json", "model.safetensors"});
  }
}

TEST_CASE("the committed reference model re-saves to the same tensors", "[checkpoint]") {
  GPT<float> model = load_model<float>(test::data("gpt2-tiny"));
  const std::string dir = test::scratch("ckpt-resave");
  save_model(model, dir);
  SafetensorsReader original(test::data("gpt2-tiny/model.safetensors")), saved(dir + "/model.safetensors");
  CHECK(saved.metadata().at("format") == "pt");
  CHECK(saved.entries().size() == original.entries().size());
  for (const auto& e : original.entries()) {
    const SafetensorsEntry* s = saved.find(e.name);
    REQUIRE(s != nullptr);
    CHECK(s->shape == e.shape);
    CHECK(saved.read<float>(e.name) == original.read<float>(e.name));
  }
}

TEST_CASE("a checkpoint that disagrees with its config is refused by name", "[checkpoint]") {
  GPT<float> model(GPTConfig::make(2, 2, 16, 8, 30));
  const std::string dir = test::scratch("ckpt-disagree");
  save_model(model, dir);
  // Same tensors, a config with one layer fewer: the file's h.1.* tensors are unknown.
  save_config(GPTConfig::make(1, 2, 16, 8, 30), dir + "/config.json");
  CHECK_THROWS_WITH(load_model<float>(dir), Contains("model.safetensors") && Contains("h.1.") &&
                                                Contains("not part of the model"));
  // A config with a wider vocabulary: wte has the wrong shape.
  save_config(GPTConfig::make(2, 2, 16, 8, 31), dir + "/config.json");
  CHECK_THROWS_WITH(load_model<float>(dir), Contains("wte.weight") && Contains("[30, 16]") && Contains("[31, 16]"));
  // One layer more: h.2 is missing.
  save_config(GPTConfig::make(3, 2, 16, 8, 30), dir + "/config.json");
  CHECK_THROWS_WITH(load_model<float>(dir), Contains("h.2.ln_1.weight") && Contains("missing"));
  CHECK_THROWS_WITH(load_model<float>(dir + "/absent"), Contains("absent") && Contains("not a folder"));
}
