// The model running on fewer bytes per weight (weight_format.hpp, GPT::set_weight_format,
// detail::packed_matmul): the packed products against sums in double over the same int8
// blocks, every kernel against the scalar one bit for bit; the Q8_0 and bf16 models' logits
// against f32's within a stated tolerance, and their top-1 tokens wherever f32's lead is
// wider than that tolerance; Q8_0 GGUF files run on their own blocks, with llama.cpp's greedy
// tokens; ragged KV caches and batched generation against one prompt at a time; and a
// trained predictor in Q8_0: its validation perplexity and its greedy text against f32's.
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace minigpt;
using Catch::Matchers::Contains;

namespace {

std::vector<detail::SimdKernel> qm_kernels() {
  std::vector<detail::SimdKernel> ks;
  for (detail::SimdKernel k : {detail::SimdKernel::scalar, detail::SimdKernel::avx2, detail::SimdKernel::avx512_vnni})
    if (detail::simd_kernel_supported(k)) ks.push_back(k);
  return ks;
}

std::vector<float> qm_random(Index n, std::uint64_t seed, float scale = 1.0f) {
  Rng rng(seed);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = scale * static_cast<float>(rng.normal());
  return v;
}

// A model whose matrices are whole blocks of 32 (C = 64), with stronger weights than GPT-2's
// init so that attention is far from uniform.
GPT<float> qm_model(std::uint64_t seed = 5, Index V = 97) {
  GPT<float> model(GPTConfig::make(2, 4, 64, 32, V));
  Rng rng(seed);
  model.init_weights(rng);
  for (Index i = 0; i < model.parameters().size(); ++i) model.parameters().data()[i] *= 3.0f;
  return model;
}

std::vector<TokenId> qm_ids(Index n, Index V, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<TokenId> ids(static_cast<std::size_t>(n));
  for (TokenId& id : ids) id = static_cast<TokenId>(rng.below(static_cast<std::uint64_t>(V)));
  return ids;
}

}  // namespace

TEST_CASE("packed Q8_0 product: the int8 block sums in double, every kernel bit for bit", "[quant][quant_model]") {
  for (Index out : {1, 8, 37}) {     // 37: a last group of 5 rows padded with zeros
    for (Index in : {32, 96}) {
      const std::vector<float> W = qm_random(out * in, 10 + static_cast<std::uint64_t>(out * in));  // (out, in)
      const std::vector<float> bias = qm_random(out, 3);
      for (Index N : {1, 3, 4, 9, 16}) {  // 9, 16: the VNNI kernel's tile of 8 rows of x
        INFO("out " << out << " in " << in << " N " << N);
        const std::vector<float> x = qm_random(N * in, 7 + static_cast<std::uint64_t>(N), 2.0f);
        // The reference, from ggml's blocks of W and of x (quantize_matrix_q8_0 is tested against
        // ggml's definition in test_quant.cpp): Σ_b d_w d_x Σ_j q_w q_x, in double.
        const detail::Q8_0Matrix Wq = detail::quantize_matrix_q8_0(W.data(), out, in);
        const detail::Q8_0Matrix xq = detail::quantize_matrix_q8_0(x.data(), N, in);
        std::vector<double> ref(static_cast<std::size_t>(N * out));
        for (Index n = 0; n < N; ++n)
          for (Index o = 0; o < out; ++o) {
            double acc = bias[static_cast<std::size_t>(o)];
            for (Index b = 0; b < in / 32; ++b) {
              const detail::BlockQ8_0& wb = Wq.row(o)[b];
              const detail::BlockQ8_0& xb = xq.row(n)[b];
              long s = 0;
              for (int j = 0; j < 32; ++j) s += long(wb.qs[j]) * long(xb.qs[j]);
              acc += double(detail::half_to_float(wb.d)) * double(detail::half_to_float(xb.d)) * double(s);
            }
            ref[static_cast<std::size_t>(n * out + o)] = acc;
          }
        std::vector<float> first;
        for (detail::SimdKernel k : qm_kernels()) {
          INFO("kernel " << detail::simd_kernel_name(k));
          const detail::PackedMatrix P = detail::pack_matrix(WeightFormat::q8_0, W.data(), out, in, in, 1, k);
          const detail::PackedMatrix Pb = detail::pack_q8_0_blocks(Wq, k);  // a file's blocks: the same matrix
          CHECK(P.qs == Pb.qs);
          CHECK(P.scales == Pb.scales);
          std::vector<float> y(static_cast<std::size_t>(N * out), -1.0f);
          detail::packed_matmul(y.data(), out, x.data(), in, N, P, bias.data());
          for (std::size_t i = 0; i < y.size(); ++i) {
            const double scale = 1.0 + std::fabs(ref[i]);
            REQUIRE(std::fabs(y[i] - ref[i]) <= 1e-5 * scale * (in / 32));
          }
          if (first.empty()) first = y;
          CHECK(std::memcmp(first.data(), y.data(), y.size() * sizeof(float)) == 0);  // the same bits
          // One row at a time (decoding) gives the same bits as all rows at once (prefill).
          std::vector<float> one(static_cast<std::size_t>(out));
          detail::packed_matmul(one.data(), out, x.data() + (N - 1) * in, in, 1, P, bias.data());
          CHECK(std::memcmp(one.data(), y.data() + (N - 1) * out, one.size() * sizeof(float)) == 0);
        }
      }
    }
  }
  CHECK_THROWS_WITH(detail::pack_matrix(WeightFormat::q8_0, qm_random(48, 1).data(), 1, 48, 48, 1,
                                        detail::SimdKernel::scalar),
                    Contains("blocks of 32"));
}

TEST_CASE("packed bf16 product: f32 sums over bf16-rounded weights, every kernel bit for bit", "[quant][quant_model]") {
  for (Index out : {3, 16, 41}) {
    const Index in = 50;  // bf16 needs no blocks
    const std::vector<float> W = qm_random(out * in, 20 + static_cast<std::uint64_t>(out));
    for (Index N : {1, 2, 5}) {
      INFO("out " << out << " N " << N);
      const std::vector<float> x = qm_random(N * in, 30 + static_cast<std::uint64_t>(N));
      std::vector<float> first;
      for (detail::SimdKernel k : qm_kernels()) {
        INFO("kernel " << detail::simd_kernel_name(k));
        // (in, out) storage, as GPT-2's linear weights: read with strides (1, out).
        std::vector<float> Wt(W.size());
        for (Index o = 0; o < out; ++o)
          for (Index i = 0; i < in; ++i) Wt[static_cast<std::size_t>(i * out + o)] = W[static_cast<std::size_t>(o * in + i)];
        const detail::PackedMatrix P = detail::pack_matrix(WeightFormat::bf16, Wt.data(), out, in, 1, out, k);
        std::vector<float> y(static_cast<std::size_t>(N * out));
        detail::packed_matmul(y.data(), out, x.data(), in, N, P, nullptr);
        for (Index n = 0; n < N; ++n)
          for (Index o = 0; o < out; ++o) {
            double ref = 0, mag = 0;
            for (Index i = 0; i < in; ++i) {
              const double w = detail::bf16_to_float(detail::float_to_bf16(W[static_cast<std::size_t>(o * in + i)]));
              ref += w * x[static_cast<std::size_t>(n * in + i)];
              mag += std::fabs(w * x[static_cast<std::size_t>(n * in + i)]);
              REQUIRE(P.value(o, i) == static_cast<float>(w));
            }
            REQUIRE(std::fabs(y[static_cast<std::size_t>(n * out + o)] - ref) <= 1e-6 * in * (mag + 1));
          }
        if (first.empty()) first = y;
        CHECK(std::memcmp(first.data(), y.data(), y.size() * sizeof(float)) == 0);
      }
    }
  }
}

TEST_CASE("Q8_0 and bf16 models: logits near f32's, the same top-1 wherever f32's lead is clear", "[quant_model]") {
  GPT<float> f32 = qm_model();
  const Index V = f32.config().vocab_size, B = 3, T = 20;
  const std::vector<TokenId> ids = qm_ids(B * T, V, 8);
  const Tensor<float> ref = f32.forward(ids, B, T);
  double ref_max = 0;
  for (Index i = 0; i < ref.size(); ++i) ref_max = std::max(ref_max, std::fabs(double(ref.data()[i])));
  // Tolerances, as a fraction of the largest f32 logit: Q8_0 rounds every weight and every
  // activation entering a product to 8 bits (up to half a step of 1/127 of its block's
  // largest value), in 9 products one after another (4 per block and the head); bf16 rounds
  // only the weights, to 8 significant bits. Measured here: 3.2% and 0.8%.
  struct Case {
    WeightFormat format;
    double tolerance;
  };
  for (const Case& c : {Case{WeightFormat::q8_0, 0.05}, Case{WeightFormat::bf16, 0.03}}) {
    for (detail::SimdKernel k : qm_kernels()) {
      INFO(weight_format_name(c.format) << " with kernel " << detail::simd_kernel_name(k));
      GPT<float> q = f32;
      q.set_weight_format(c.format, k);
      CHECK(q.weight_format() == c.format);
      const Tensor<float> got = q.forward(ids, B, T);
      double err = 0;
      for (Index i = 0; i < ref.size(); ++i) err = std::max(err, std::fabs(double(got.data()[i]) - ref.data()[i]));
      CHECK(err > 0);  // it really runs on other weights
      CHECK(err <= c.tolerance * ref_max);
      Index clear = 0, agree = 0;
      for (Index n = 0; n < B * T; ++n) {
        const float* r = ref.data() + n * V;
        std::vector<float> sorted(r, r + V);
        std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<float>());
        if (sorted[0] - sorted[1] <= 2 * err) continue;  // a near tie: either may win
        ++clear;
        agree += argmax(got.data() + n * V, V) == argmax(r, V) ? 1 : 0;
      }
      CHECK(clear >= B * T / 2);
      CHECK(agree == clear);
    }
  }
  // f32 itself: set_weight_format(f32) leaves the model exactly as it was.
  GPT<float> same = f32;
  same.set_weight_format(WeightFormat::f32);
  const Tensor<float> again = same.forward(ids, B, T);
  CHECK(std::memcmp(again.data(), ref.data(), static_cast<std::size_t>(ref.size()) * sizeof(float)) == 0);
}

TEST_CASE("Q8_0 model: its parameters become the rounded weights and training is refused", "[quant_model]") {
  GPT<float> m = qm_model(6);
  const Eigen::MatrixXf before = m.parameters().get("h.0.attn.c_attn.weight");  // (in, out)
  m.set_weight_format(WeightFormat::q8_0, detail::SimdKernel::scalar);
  const Eigen::MatrixXf after = m.parameters().get("h.0.attn.c_attn.weight");
  // Each output's column of 64 inputs is two ggml blocks.
  const Index in = before.rows(), out = before.cols();
  for (Index o = 0; o < out; ++o) {
    std::vector<float> row(static_cast<std::size_t>(in)), deq(static_cast<std::size_t>(in));
    for (Index i = 0; i < in; ++i) row[static_cast<std::size_t>(i)] = before(i, o);
    const detail::Q8_0Matrix q = detail::quantize_matrix_q8_0(row.data(), 1, in);
    detail::dequantize_q8_0(q.blocks.data(), deq.data(), in);
    for (Index i = 0; i < in; ++i) REQUIRE(after(i, o) == deq[static_cast<std::size_t>(i)]);
  }
  // Biases and layer norms are untouched.
  CHECK(m.parameters().get("h.0.ln_1.weight") == qm_model(6).parameters().get("h.0.ln_1.weight"));
  ForwardOptions<float> train;
  train.training = true;
  CHECK_THROWS_WITH(m.forward(qm_ids(4, 97, 1), 1, 4, train), Contains("q8_0") && Contains("f32"));
  CHECK_THROWS_AS(GPT<double>(GPTConfig::make(1, 1, 32, 8, 10)).set_weight_format(WeightFormat::q8_0), ArgumentError);
  CHECK(parse_weight_format("Q8_0") == WeightFormat::q8_0);
  CHECK_THROWS_WITH(parse_weight_format("q4_0"), Contains("q4_0") && Contains("bf16"));
}

TEST_CASE("Q8_0 GGUF: a file runs on its own blocks, and as set_weight_format would", "[quant_model][gguf]") {
  GPT<float> m = qm_model(9);
  const std::string dir = test::scratch("quant-model");
  save_gguf(m, nullptr, dir + "/m.gguf", GGMLType::Q8_0);
  ModelFile file = load_model_file(dir + "/m.gguf");
  CHECK(file.stored == WeightFormat::q8_0);
  REQUIRE(file.model.weight_format() == WeightFormat::q8_0);
  // The packed blocks are the file's, unchanged (rounding a Q8_0 value again gives itself).
  const GGUFModel kept = load_gguf(dir + "/m.gguf", true);
  const detail::Q8_0Matrix& fc = kept.q8_0.at("h.1.mlp.c_fc.weight");  // (4C, C) as (out, in)
  const detail::PackedMatrix& packed = file.model.packed_weights()->h[1].c_fc;
  for (Index r = 0; r < fc.rows; ++r)
    for (Index b = 0; b < fc.blocks_per_row(); ++b) {
      const detail::BlockQ8_0& q = fc.row(r)[b];
      REQUIRE(packed.scales[packed.q8_scale_at(r, b)] == q.d);
      for (Index e = 0; e < 32; ++e) REQUIRE(packed.qs[packed.q8_at(r, b * 32 + e)] == q.qs[e]);
    }
  // The same logits as the f32 model set to Q8_0 here, bit for bit.
  m.set_weight_format(WeightFormat::q8_0);
  const std::vector<TokenId> ids = qm_ids(2 * 9, 97, 4);
  const Tensor<float> a = m.forward(ids, 2, 9);
  const Tensor<float> b = file.model.forward(ids, 2, 9);
  CHECK(std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(float)) == 0);
  // Asked for f32, the same file runs its dequantized weights in f32.
  CHECK(load_model_file(dir + "/m.gguf", WeightFormat::f32).model.weight_format() == WeightFormat::f32);
}

TEST_CASE("Q8_0 GGUF: greedy tokens equal llama.cpp's on the committed Q8_0 file", "[quant_model][gguf][generation]") {
  const auto ref = test::read_json(test::data("gguf/llama_greedy.json"));
  const auto prompt = ref["prompt_ids"].get<std::vector<TokenId>>();
  const auto expected = ref["files"]["gpt2-tiny-q8_0.gguf"].get<std::vector<TokenId>>();
  ModelFile file = load_model_file(test::data("gguf/gpt2-tiny-q8_0.gguf"));
  REQUIRE(file.model.weight_format() == WeightFormat::q8_0);  // its mlp.c_proj matrices (rows of 4C = 192)
  GenerateOptions opt;
  opt.max_new_tokens = static_cast<Index>(expected.size());
  opt.sampling.temperature = 0;
  CHECK(generate(file.model, {prompt}, opt, 1)[0] == expected);
}

TEST_CASE("ragged KV cache: sequences of different lengths decode as each alone", "[quant_model][kv_cache]") {
  GPT<float> m = qm_model(12);
  m.set_weight_format(WeightFormat::q8_0);  // row for row the same bits whatever the batch
  const Index V = 97;
  const std::vector<TokenId> p0 = qm_ids(3, V, 1), p1 = qm_ids(7, V, 2);
  ForwardOptions<float> opt;
  opt.last_position_only = true;
  // Together: each prompt prefilled into its own sequence, then one token each at once.
  KVCache<float> both(m.config(), 2, 16), c0(m.config(), 1, 16), c1(m.config(), 1, 16);
  opt.cache = &c0;
  m.forward(p0, 1, 3, opt);
  opt.cache = &c1;
  m.forward(p1, 1, 7, opt);
  both.copy_sequence(0, c0, 0);
  both.copy_sequence(1, c1, 0);
  CHECK(both.size(0) == 3);
  CHECK(both.size(1) == 7);
  opt.cache = &both;
  const Tensor<float> together = m.forward({5, 6}, 2, 1, opt);
  CHECK(both.size(0) == 4);
  CHECK(both.size(1) == 8);
  // Alone, without any cache: the whole context through the model.
  std::vector<TokenId> a = p0, b = p1;
  a.push_back(5);
  b.push_back(6);
  ForwardOptions<float> last;
  last.last_position_only = true;
  const Tensor<float> alone0 = m.forward(a, 1, 4, last);
  CHECK(std::equal(alone0.data(), alone0.data() + V, together.data()));
  const Tensor<float> alone1 = m.forward(b, 1, 8, last);
  CHECK(std::equal(alone1.data(), alone1.data() + V, together.data() + V));
  // The batch shrinks to sequence 1: its cache moves to row 0.
  both.keep_sequences({1});
  CHECK(both.batch() == 1);
  CHECK(both.size(0) == 8);
  CHECK_THROWS_AS(both.keep_sequences({1}), ArgumentError);
}

TEST_CASE("batched generation: prompts of different lengths, each as if alone", "[quant_model][generation]") {
  GPT<float> m = qm_model(13);
  const Index V = 97;
  const std::vector<std::vector<TokenId>> prompts = {qm_ids(3, V, 1), qm_ids(9, V, 2), qm_ids(1, V, 3), qm_ids(5, V, 4)};
  GenerateOptions opt;
  opt.max_new_tokens = 40;  // past the block size of 32 for the longer prompts: windows slide
  opt.sampling.temperature = 0.8;
  opt.sampling.top_k = 20;
  for (WeightFormat f : {WeightFormat::q8_0, WeightFormat::bf16}) {
    INFO(weight_format_name(f));
    m.set_weight_format(f);
    std::vector<TokenId> streamed_1;
    const auto batch = generate(m, prompts, opt, 100, [&](Index b, TokenId id) {
      if (b == 1) streamed_1.push_back(id);
    });
    REQUIRE(batch.size() == prompts.size());
    for (std::size_t b = 0; b < prompts.size(); ++b) {
      INFO("prompt " << b);
      CHECK(batch[b].size() == 40);
      CHECK(batch[b] == generate(m, {prompts[b]}, opt, 100 + b)[0]);  // its own stream: seed + b
    }
    CHECK(streamed_1 == batch[1]);
    // A stop token ends one sequence; the others go on.
    GenerateOptions stop = opt;
    stop.stop_token = batch[2][4];
    const auto stopped = generate(m, prompts, stop, 100);
    const auto at = std::find(batch[2].begin(), batch[2].end(), stop.stop_token);
    CHECK(stopped[2] == std::vector<TokenId>(batch[2].begin(), at + 1));
    for (std::size_t b = 0; b < prompts.size(); ++b) {
      const auto end = std::find(batch[b].begin(), batch[b].end(), stop.stop_token);
      CHECK(stopped[b] == std::vector<TokenId>(batch[b].begin(), end == batch[b].end() ? end : end + 1));
    }
  }
  CHECK_THROWS_WITH(generate(m, {{1, 2}, {}}, opt, 1), Contains("prompt 1") && Contains("empty"));
  CHECK_THROWS_WITH(generate(m, {{1, 2}, {97}}, opt, 1), Contains("prompt 1") && Contains("97"));
}

TEST_CASE("Q8_0 on a trained predictor: validation perplexity within 1% of f32, the same greedy text", "[quant_model][slow]") {
  // The predictor's recipe (next_token_predictor: characters of tinyshakespeare, AdamW, warm-up
  // and cosine) at a size a test can train in seconds: 2 layers, 2 heads, 64 dims, 400 steps.
  const std::string text = detail::read_file(test::data("tinyshakespeare.txt"));
  const CharTokenizer tok = CharTokenizer::from_text(text);
  const DataSplit data = split_train_val(tok.encode(text));  // the last 10% is the validation text
  const Index T = 64;
  TrainOptions o;
  o.batch_size = 12;
  o.block_size = T;
  o.max_iters = 400;
  o.lr = {4e-3, 4e-4, 40, 400};
  o.eval_iters = 1;
  Trainer<float> trainer(GPTConfig::make(2, 2, 64, T, tok.vocab_size()), o, data);
  while (!trainer.done()) trainer.train_step();
  GPT<float> f32 = trainer.model();

  // Perplexity exp(loss) over every position of the whole validation split.
  const double f32_loss = dataset_loss(f32, data.val, 16, T);
  REQUIRE(f32_loss < 2.6);  // trained: a uniform guess over the ~65 characters is 4.17
  GenerateOptions greedy;
  greedy.max_new_tokens = 100;
  greedy.sampling.temperature = 0;
  // The predictor's prompts, the README's first.
  const std::vector<std::string> prompts = {"ROMEO:", "First Citizen:\nWe are", "To be, or not to be, that is"};
  std::vector<std::vector<TokenId>> f32_text;
  for (const std::string& p : prompts) f32_text.push_back(generate(f32, {tok.encode(p)}, greedy, 1)[0]);

  // The fastest kernel this CPU has (the kernels agree bit for bit: the products' test above).
  GPT<float> q = f32;
  q.set_weight_format(WeightFormat::q8_0);
  const double q_loss = dataset_loss(q, data.val, 16, T);
  const double ratio = std::exp(q_loss - f32_loss);  // perplexity(Q8_0) / perplexity(f32)
  INFO("validation loss f32 " << f32_loss << ", Q8_0 " << q_loss << ", perplexity ratio " << ratio);
  CHECK(std::fabs(ratio - 1) < 0.01);
  CHECK(q_loss != f32_loss);  // it really ran on the 8-bit weights
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    INFO("prompt " << i << ": f32 '" << tok.decode(f32_text[i]) << "'");
    const std::vector<TokenId> got = generate(q, {tok.encode(prompts[i])}, greedy, 1)[0];
    INFO("Q8_0 '" << tok.decode(got) << "'");
    CHECK(got == f32_text[i]);  // 100 greedy tokens, each equal
  }
}
