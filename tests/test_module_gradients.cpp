// Each module's backward against central finite differences of its forward, in double:
// embedding (scatter-add), layer norm, linear (also through a transposed weight, as the tied
// LM head uses it), one attention head (softmax and causal mask, with and without dropout),
// multi-head attention, GELU in both forms, the feed-forward block, self-attention, a whole
// decoder block (with and without dropout) and the cross-entropy loss. The residual lines and
// the tied head are checked through the whole model, here with dropout and in
// test_gradients.cpp without.
//
// Every check takes the scalar  L = Σ R ⊙ out  for a fixed random R, so that the backward
// starts from dout = R, and compares each input's and parameter's analytic gradient with
// the five-point central difference of L (common.hpp).
#include <catch2/catch.hpp>
#include "common.hpp"
#include <minigpt/attention.hpp>
#include <minigpt/decoder_block.hpp>
#include <minigpt/embedding.hpp>
#include <minigpt/feed_forward.hpp>
#include <minigpt/gpt.hpp>
#include <minigpt/layer_norm.hpp>
#include <minigpt/linear.hpp>
#include <minigpt/loss.hpp>
#include <minigpt/training.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

using namespace minigpt;

namespace {

using Mat = Matrix<double>;

Mat random_matrix(Index rows, Index cols, Rng& rng, double scale = 1.0) {
  Mat m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = scale * rng.normal();
  return m;
}

std::vector<double> random_vector(Index n, Rng& rng, double scale = 1.0, double offset = 0.0) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = offset + scale * rng.normal();
  return v;
}

// A vector's numbers as a (rows, cols) weight view, as the parameter table hands them out.
TensorView<double> view(std::vector<double>& v, Index rows, Index cols) { return {v.data(), rows, cols}; }
Linear<double> linear(std::vector<double>& w, std::vector<double>& b, Index in, Index out) {
  return {view(w, in, out), view(b, 1, out)};
}

// L = Σ R ⊙ out
double weighted_sum(const Mat& out, const Mat& R) { return (out.array() * R.array()).sum(); }

// The largest disagreement between analytic[i] and the numeric derivative of loss() with
// respect to x[i], over all n entries (common.hpp: five-point stencil, relative error).
double max_gradient_error(double* x, const double* analytic, Index n, const std::function<double()>& loss) {
  double worst = 0;
  for (Index i = 0; i < n; ++i)
    worst = std::max(worst, test::gradient_disagreement(analytic[i], test::central_difference(x[i], loss)));
  return worst;
}

constexpr double tolerance = 1e-6;

}  // namespace

TEST_CASE("embedding backward is a scatter-add (repeated tokens sum their gradients)", "[gradients][modules]") {
  Rng rng(1);
  const Index V = 5, P = 6, C = 3, B = 2, T = 4, pos0 = 1;
  Mat wte = random_matrix(V, C, rng), wpe = random_matrix(P, C, rng);
  const std::vector<TokenId> ids = {1, 3, 1, 0, 4, 1, 3, 3};  // 1 and 3 repeated
  const Mat R = random_matrix(B * T, C, rng);
  auto loss = [&] {
    Mat x(B * T, C);
    embedding_forward<double>(x, ids.data(), {B, T}, wte, wpe, pos0);
    return weighted_sum(x, R);
  };
  Mat dwte = Mat::Zero(V, C), dwpe = Mat::Zero(P, C);
  embedding_backward<double>(dwte, dwpe, R, ids.data(), {B, T}, pos0);
  CHECK(max_gradient_error(wte.data(), dwte.data(), wte.size(), loss) < tolerance);
  CHECK(max_gradient_error(wpe.data(), dwpe.data(), wpe.size(), loss) < tolerance);
  // Token 2 never appears: no gradient. Position 0 is before pos0: none either.
  CHECK(dwte.row(2).isZero());
  CHECK(dwpe.row(0).isZero());
  // Token 1 appears three times: its gradient is the sum of three rows of R.
  CHECK((dwte.row(1) - (R.row(0) + R.row(2) + R.row(5))).norm() < 1e-12);
}

TEST_CASE("layer norm backward matches finite differences", "[gradients][modules]") {
  Rng rng(2);
  const Index N = 5, C = 7;
  Mat x = random_matrix(N, C, rng, 2.0);
  x.row(3).array() += 10.0;  // a row far from 0: the mean matters
  std::vector<double> w = random_vector(C, rng, 0.5, 1.0), b = random_vector(C, rng, 0.5);
  const Mat R = random_matrix(N, C, rng);
  const Norm<double> W{view(w, 1, C), view(b, 1, C)};
  auto loss = [&] {
    Mat out(N, C);
    LayerNormActivations<double> acts;
    layer_norm_forward<double>(out, acts, x, W, 1e-5);
    return weighted_sum(out, R);
  };
  Mat out(N, C);
  LayerNormActivations<double> acts;
  layer_norm_forward<double>(out, acts, x, W, 1e-5);
  Mat dx = Mat::Zero(N, C);
  std::vector<double> dw(C, 0.0), db(C, 0.0);
  Norm<double> dW{view(dw, 1, C), view(db, 1, C)};
  layer_norm_backward<double>(dx, dW, R, acts, x, W);
  CHECK(max_gradient_error(x.data(), dx.data(), x.size(), loss) < tolerance);
  CHECK(max_gradient_error(w.data(), dw.data(), C, loss) < tolerance);
  CHECK(max_gradient_error(b.data(), db.data(), C, loss) < tolerance);
}

TEST_CASE("linear backward matches finite differences, also through a transposed (tied) weight",
          "[gradients][modules]") {
  Rng rng(3);
  const Index N = 4, In = 5, Out = 3;
  Mat x = random_matrix(N, In, rng), W = random_matrix(In, Out, rng);
  std::vector<double> b = random_vector(Out, rng);
  const Mat R = random_matrix(N, Out, rng);
  {
    auto loss = [&] {
      Mat out(N, Out);
      linear_forward<double>(out, x, W, b.data());
      return weighted_sum(out, R);
    };
    Mat dx = Mat::Zero(N, In), dW = Mat::Zero(In, Out);
    std::vector<double> db(Out, 0.0);
    linear_backward<double>(dx, dW, db.data(), R, x, W);
    CHECK(max_gradient_error(x.data(), dx.data(), x.size(), loss) < tolerance);
    CHECK(max_gradient_error(W.data(), dW.data(), W.size(), loss) < tolerance);
    CHECK(max_gradient_error(b.data(), db.data(), Out, loss) < tolerance);
  }
  {
    // The LM head: logits = x · wteᵀ with wte stored (V, C), no bias.
    Mat wte = random_matrix(Out, In, rng);
    auto loss = [&] {
      Mat out(N, Out);
      linear_forward<double>(out, x, wte.transpose(), nullptr);
      return weighted_sum(out, R);
    };
    Mat dx = Mat::Zero(N, In), dwte = Mat::Zero(Out, In);
    linear_backward<double>(dx, dwte.transpose(), nullptr, R, x, wte.transpose());
    CHECK(max_gradient_error(x.data(), dx.data(), x.size(), loss) < tolerance);
    CHECK(max_gradient_error(wte.data(), dwte.data(), wte.size(), loss) < tolerance);
  }
}

TEST_CASE("one attention head: backward through softmax and the causal mask", "[gradients][modules]") {
  Rng rng(4);
  const Index T = 5, hs = 3;
  Mat q = random_matrix(T, hs, rng), k = random_matrix(T, hs, rng), v = random_matrix(T, hs, rng);
  const Mat R = random_matrix(T, hs, rng);
  std::vector<double> drop(static_cast<std::size_t>(T * T));
  for (auto& d : drop) d = rng.uniform() < 0.3 ? 0.0 : 1.0 / 0.7;
  for (bool dropout : {false, true}) {
    INFO("dropout " << dropout);
    const double* mask = dropout ? drop.data() : nullptr;
    auto loss = [&] {
      Mat y(T, hs), att(T, T);
      attention_head_forward<double>(y, att, q, k, v, 0, mask);
      return weighted_sum(y, R);
    };
    Mat y(T, hs), att(T, T);
    attention_head_forward<double>(y, att, q, k, v, 0, mask);
    CHECK(att(1, 3) == 0.0);  // masked: query 1 may not see key 3
    CHECK(std::abs(att.row(2).sum() - 1.0) < 1e-12);
    Mat dq = Mat::Zero(T, hs), dk = Mat::Zero(T, hs), dv = Mat::Zero(T, hs);
    attention_head_backward<double>(dq, dk, dv, R, q, k, v, att, mask);
    CHECK(max_gradient_error(q.data(), dq.data(), q.size(), loss) < tolerance);
    CHECK(max_gradient_error(k.data(), dk.data(), k.size(), loss) < tolerance);
    CHECK(max_gradient_error(v.data(), dv.data(), v.size(), loss) < tolerance);
    // The first query sees only the first key: a softmax over one entry is constant, so q_0
    // gets no gradient at all.
    CHECK(dq.row(0).norm() < 1e-12);
  }
}

TEST_CASE("the fused masked softmax equals the causal mask followed by softmax", "[gradients][modules]") {
  Rng rng(12);
  for (Index pos0 : {0, 3}) {  // training (square), and queries after 3 cached positions
    const Index T = 5, Tk = pos0 + T;
    const Mat scores = random_matrix(T, Tk, rng, 3.0);
    Mat reference = scores, fused = scores;
    apply_causal_mask<double>(reference, pos0);
    softmax_rows<double>(reference);
    masked_softmax_rows<double>(fused, pos0);
    CHECK((reference - fused).cwiseAbs().maxCoeff() < 1e-15);
    CHECK(fused(0, pos0 + 1) == 0.0);  // the first query may not see the key after it
  }
}

TEST_CASE("multi-head attention backward matches finite differences", "[gradients][modules]") {
  Rng rng(5);
  const Index B = 2, T = 4, H = 2, C = 6;
  Mat qkv = random_matrix(B * T, 3 * C, rng);
  const Mat R = random_matrix(B * T, C, rng);
  auto loss = [&] {
    Mat y(B * T, C), att(B * H * T, T);
    multi_head_attention_forward<double>(y, att, qkv, {B, T, H}, nullptr);
    return weighted_sum(y, R);
  };
  Mat y(B * T, C), att(B * H * T, T);
  multi_head_attention_forward<double>(y, att, qkv, {B, T, H}, nullptr);
  Mat dqkv = Mat::Zero(B * T, 3 * C);
  multi_head_attention_backward<double>(dqkv, R, qkv, att, {B, T, H});
  CHECK(max_gradient_error(qkv.data(), dqkv.data(), qkv.size(), loss) < tolerance);
}

TEST_CASE("GELU backward, tanh and erf forms", "[gradients][modules]") {
  Rng rng(6);
  const Index N = 3, M = 9;
  Mat h = random_matrix(N, M, rng, 2.0);
  h(0, 0) = 0.0;
  h(0, 1) = -6.0;
  h(0, 2) = 6.0;
  const Mat R = random_matrix(N, M, rng);
  for (Activation kind : {Activation::gelu_tanh, Activation::gelu_erf}) {
    INFO("form " << (kind == Activation::gelu_tanh ? "tanh" : "erf"));
    auto loss = [&] {
      Mat a(N, M);
      gelu_forward<double>(a, h, kind);
      return weighted_sum(a, R);
    };
    Mat dh = Mat::Zero(N, M);
    gelu_backward<double>(dh, R, h, kind);
    CHECK(max_gradient_error(h.data(), dh.data(), h.size(), loss) < tolerance);
    // The scalar derivative (gelu_grad) agrees with the vectorised backward.
    for (Index i = 0; i < h.size(); ++i)
      CHECK(std::abs(dh.data()[i] - R.data()[i] * gelu_grad(h.data()[i], kind)) < 1e-12);
  }
  CHECK(std::abs(gelu(1.0, Activation::gelu_tanh) - 0.8411919906) < 1e-9);
  CHECK(std::abs(gelu(1.0, Activation::gelu_erf) - 0.8413447461) < 1e-9);
}

TEST_CASE("feed-forward block backward matches finite differences", "[gradients][modules]") {
  Rng rng(7);
  const Index N = 3, C = 4;
  Mat x = random_matrix(N, C, rng);
  std::vector<double> w_fc = random_vector(C * 4 * C, rng, 0.5), b_fc = random_vector(4 * C, rng, 0.5);
  std::vector<double> w_proj = random_vector(4 * C * C, rng, 0.5), b_proj = random_vector(C, rng, 0.5);
  const Mat R = random_matrix(N, C, rng);
  const MLPWeights<double> W{linear(w_fc, b_fc, C, 4 * C), linear(w_proj, b_proj, 4 * C, C)};
  for (Activation kind : {Activation::gelu_tanh, Activation::gelu_erf}) {
    auto loss = [&] {
      Mat out(N, C);
      FeedForwardActivations<double> acts;
      feed_forward_forward<double>(out, acts, x, W, kind);
      return weighted_sum(out, R);
    };
    Mat out(N, C);
    FeedForwardActivations<double> acts;
    feed_forward_forward<double>(out, acts, x, W, kind);
    Mat dx = Mat::Zero(N, C);
    std::vector<double> dw_fc(w_fc.size(), 0.0), db_fc(b_fc.size(), 0.0), dw_proj(w_proj.size(), 0.0),
        db_proj(b_proj.size(), 0.0);
    MLPWeights<double> dW{linear(dw_fc, db_fc, C, 4 * C), linear(dw_proj, db_proj, 4 * C, C)};
    feed_forward_backward<double>(dx, dW, R, acts, x, W);
    CHECK(max_gradient_error(x.data(), dx.data(), x.size(), loss) < tolerance);
    CHECK(max_gradient_error(w_fc.data(), dw_fc.data(), static_cast<Index>(w_fc.size()), loss) < tolerance);
    CHECK(max_gradient_error(b_fc.data(), db_fc.data(), static_cast<Index>(b_fc.size()), loss) < tolerance);
    CHECK(max_gradient_error(w_proj.data(), dw_proj.data(), static_cast<Index>(w_proj.size()), loss) < tolerance);
    CHECK(max_gradient_error(b_proj.data(), db_proj.data(), static_cast<Index>(b_proj.size()), loss) < tolerance);
  }
}

TEST_CASE("self-attention (projections around the heads) backward matches finite differences",
          "[gradients][modules]") {
  Rng rng(8);
  const Index B = 2, T = 3, H = 2, C = 4;
  Mat x = random_matrix(B * T, C, rng);
  std::vector<double> w_attn = random_vector(C * 3 * C, rng, 0.5), b_attn = random_vector(3 * C, rng, 0.5);
  std::vector<double> w_proj = random_vector(C * C, rng, 0.5), b_proj = random_vector(C, rng, 0.5);
  const Mat R = random_matrix(B * T, C, rng);
  const AttentionWeights<double> W{linear(w_attn, b_attn, C, 3 * C), linear(w_proj, b_proj, C, C)};
  auto loss = [&] {
    Mat out(B * T, C);
    AttentionActivations<double> a;
    self_attention_forward<double>(out, a, x, W, {B, T, H});
    return weighted_sum(out, R);
  };
  Mat out(B * T, C);
  AttentionActivations<double> a;
  self_attention_forward<double>(out, a, x, W, {B, T, H});
  Mat dx = Mat::Zero(B * T, C);
  std::vector<double> dw_attn(w_attn.size(), 0.0), db_attn(b_attn.size(), 0.0), dw_proj(w_proj.size(), 0.0),
      db_proj(b_proj.size(), 0.0);
  AttentionWeights<double> dW{linear(dw_attn, db_attn, C, 3 * C), linear(dw_proj, db_proj, C, C)};
  self_attention_backward<double>(dx, dW, R, a, x, W);
  CHECK(max_gradient_error(x.data(), dx.data(), x.size(), loss) < tolerance);
  CHECK(max_gradient_error(w_attn.data(), dw_attn.data(), static_cast<Index>(w_attn.size()), loss) < tolerance);
  CHECK(max_gradient_error(b_attn.data(), db_attn.data(), static_cast<Index>(b_attn.size()), loss) < tolerance);
  CHECK(max_gradient_error(w_proj.data(), dw_proj.data(), static_cast<Index>(w_proj.size()), loss) < tolerance);
  CHECK(max_gradient_error(b_proj.data(), db_proj.data(), static_cast<Index>(b_proj.size()), loss) < tolerance);
}

TEST_CASE("decoder block backward (both residual lines, with and without dropout)", "[gradients][modules]") {
  GPTConfig c = GPTConfig::make(1, 2, 4, 8, 5);
  const Index B = 2, T = 3, N = B * T, C = c.n_embd;
  for (bool dropout : {false, true}) {
    INFO("dropout " << dropout);
    Parameters<double> p(c), g(c);
    Rng rng(9);
    for (Index i = 0; i < p.size(); ++i) p.data()[i] = 0.4 * rng.normal();
    Mat x = random_matrix(N, C, rng);
    const Mat R = random_matrix(N, C, rng);
    const BlockDropout off{};
    const Rng masks(77);  // every forward draws the same masks from a copy of this
    auto forward = [&](BlockActivations<double>& a, Mat& out) {
      Rng r = masks;
      const BlockDropout drop = dropout ? BlockDropout{0.2, 0.3, &r} : off;
      block_forward<double>(out, a, x, p.view().h[0], BlockContext<double>{c.block_config(), {B, T}, nullptr, drop});
    };
    auto loss = [&] {
      BlockActivations<double> a;
      Mat out(N, C);
      forward(a, out);
      return weighted_sum(out, R);
    };
    BlockActivations<double> a;
    Mat out(N, C);
    forward(a, out);
    CHECK(a.attn_drop.empty() == !dropout);
    Mat dx(N, C);
    GPTWeights<double> dW = g.view();
    block_backward<double>(dx, dW.h[0], R, a, x, p.view().h[0]);
    CHECK(max_gradient_error(x.data(), dx.data(), x.size(), loss) < tolerance);
    for (const TensorInfo& e : p.table().entries()) {
      if (e.name.compare(0, 4, "h.0.") != 0) continue;
      INFO("tensor " << e.name);
      CHECK(max_gradient_error(p.data() + e.offset, g.data() + e.offset, e.size, loss) < tolerance);
    }
  }
}

TEST_CASE("cross-entropy backward: dlogits = (softmax − onehot) / N", "[gradients][modules]") {
  Rng rng(10);
  const Index N = 4, V = 6;
  Mat logits = random_matrix(N, V, rng, 3.0);
  logits(2, 1) = 40.0;  // a confident row: still stable
  const std::vector<TokenId> targets = {0, 5, 1, 3};
  auto loss = [&] { return cross_entropy<double>(logits, targets.data()); };
  Mat dlogits(N, V);
  MatrixRef<double> dref(dlogits);
  const double l = cross_entropy<double>(logits, targets.data(), &dref);
  CHECK(l == Approx(loss()));
  CHECK(max_gradient_error(logits.data(), dlogits.data(), logits.size(), loss) < tolerance);
  for (Index n = 0; n < N; ++n) CHECK(std::abs(dlogits.row(n).sum()) < 1e-15);  // softmax sums to 1
  // The chapter's example: uniform logits over 2 tokens give log 2.
  const Mat two = Mat::Zero(1, 2);
  const TokenId one = 1;
  CHECK(cross_entropy<double>(two, &one) == Approx(std::log(2.0)));
}

TEST_CASE("whole model with dropout: residuals and the tied head, masks fixed by the seed", "[gradients][modules]") {
  GPTConfig c = GPTConfig::make(2, 2, 8, 6, 7);
  c.embd_pdrop = 0.1;
  c.attn_pdrop = 0.2;
  c.resid_pdrop = 0.15;
  GPT<double> model(c);
  Rng rng(11);
  for (Index i = 0; i < model.parameters().size(); ++i) model.parameters().data()[i] = 0.3 * rng.normal();
  const Index B = 2, T = 4;
  std::vector<TokenId> ids(B * T), targets(B * T);
  for (auto& i : ids) i = static_cast<TokenId>(rng.below(7));
  for (auto& i : targets) i = static_cast<TokenId>(rng.below(7));
  const Rng masks(5);
  auto forward = [&]() -> const Tensor<double>& {
    Rng r = masks;
    ForwardOptions<double> opt;
    opt.training = true;
    opt.dropout_rng = &r;
    return model.forward(ids, B, T, opt);
  };
  auto loss = [&] { return cross_entropy<double>(forward().matrix(), targets.data()); };
  Rng r = masks;
  model.zero_grad();
  loss_and_backward(model, Batch{ids, targets, B, T}, LossOptions{1.0, &r});
  const Parameters<double> g = model.gradients();
  for (const TensorInfo& e : model.parameters().table().entries()) {
    INFO("tensor " << e.name);
    CHECK(max_gradient_error(model.parameters().data() + e.offset, g.data() + e.offset, e.size, loss) < tolerance);
  }
}
