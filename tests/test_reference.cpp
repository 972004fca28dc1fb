// The forward pass, attention maps, loss and gradients against PyTorch's (float64 goldens made
// by tests/reference/make_gpt2_reference.py), in float and in double.
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

using namespace minigpt;

namespace {

template <typename S>
void check_against_torch(double tolerance) {
  GPT<S> model = load_model<S>(test::data("gpt2-tiny"));
  const test::ReferenceBatch batch = test::reference_batch();
  ForwardOptions<S> opt;
  opt.training = true;
  opt.attention_maps = true;
  const Tensor<S>& logits = model.forward(batch.ids, batch.B, batch.T, opt);

  const auto ref_logits = test::golden("gpt2-tiny/reference.safetensors", "logits");
  REQUIRE(logits.size() == static_cast<Index>(ref_logits.size()));
  CHECK(test::relative_error(logits.data(), ref_logits.data(), ref_logits.size()) <= tolerance);

  // The chapter's attention map, layer by layer: (B, H, T, T).
  REQUIRE(model.attention_maps().size() == 2);
  for (std::size_t l = 0; l < 2; ++l) {
    const auto ref = test::golden("gpt2-tiny/reference.safetensors", "attn." + std::to_string(l));
    const Tensor<S>& map = model.attention_maps()[l];
    CHECK(map.shape() == std::vector<Index>{2, 3, 17, 17});
    CHECK(test::relative_error(map.data(), ref.data(), ref.size()) <= tolerance);
    CHECK(map(1, 2, 3, 4) == 0);  // the future is masked: key 4 is after query 3
  }

  Matrix<S> dlogits(batch.B * batch.T, model.config().vocab_size);
  MatrixRef<S> dref(dlogits);
  const S loss = cross_entropy<S>(logits.matrix(), batch.targets.data(), &dref);
  const double ref_loss = test::golden("gpt2-tiny/reference.safetensors", "loss")[0];
  CHECK(std::abs(static_cast<double>(loss) - ref_loss) / ref_loss <= tolerance);

  model.zero_grad();
  model.backward(dlogits);
  for (const TensorInfo& e : model.parameters().table().entries()) {
    const auto ref = test::golden("gpt2-tiny/reference.safetensors", "grad." + e.name);
    INFO("gradient of " << e.name);
    CHECK(test::relative_error(model.gradients().data() + e.offset, ref.data(), ref.size()) <= 10 * tolerance);
  }
}

}  // namespace

TEST_CASE("float forward, attention maps, loss and gradients equal PyTorch's", "[reference]") {
  check_against_torch<float>(1e-5);
}

TEST_CASE("double forward, attention maps, loss and gradients equal PyTorch's", "[reference]") {
  check_against_torch<double>(1e-10);
}

TEST_CASE("greedy generation with the KV cache equals PyTorch's continuation", "[reference][generation]") {
  const auto j = test::read_json(test::data("gpt2-tiny/reference.json"));
  const std::vector<TokenId> prompt = j["greedy"]["prompt_ids"].get<std::vector<TokenId>>();
  const std::vector<TokenId> expected = j["greedy"]["new_ids"].get<std::vector<TokenId>>();
  GPT<float> model = load_model<float>(test::data("gpt2-tiny"));
  GenerateOptions opt;
  opt.max_new_tokens = static_cast<Index>(expected.size());
  opt.sampling.temperature = 0;
  Rng rng(1);
  CHECK(generate(model, prompt, 1, opt, rng)[0] == expected);
}

TEST_CASE("F16, BF16, prefixed and untied checkpoints load as PyTorch reads them", "[reference][checkpoint]") {
  const test::ReferenceBatch batch = test::reference_batch();
  for (const std::string variant : {"f16", "bf16", "untied"}) {
    INFO("variant " << variant);
    GPT<double> model = load_model<double>(test::data("gpt2-tiny/" + variant));
    const Tensor<double>& logits = model.forward(batch.ids, batch.B, batch.T);
    const auto ref = test::golden("gpt2-tiny/" + variant + "/reference.safetensors", "logits");
    CHECK(test::relative_error(logits.data(), ref.data(), ref.size()) <= 1e-10);
    CHECK(model.config().tie_word_embeddings == (variant != "untied"));
  }
  // transformer.-prefixed names, attn.bias / attn.masked_bias buffers and an exported tied
  // head: the same model as the plain file, bit for bit.
  GPT<float> plain = load_model<float>(test::data("gpt2-tiny"));
  GPT<float> prefixed = load_model<float>(test::data("gpt2-tiny/prefixed"));
  CHECK(prefixed.config().tie_word_embeddings);
  CHECK((plain.parameters().flat() == prefixed.parameters().flat()).all());
}
