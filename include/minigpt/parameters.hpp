// minigpt/parameters.hpp — the one table of parameters (매개변수).
//
// Chapter idea: a model's "parameters" are its learned numbers: 124,439,808 of them in GPT-2
// small. Here they all live in one flat buffer, and one table lists every tensor in it: its
// Hugging Face name, its shape and where it starts. Everything that walks over the weights
// (initialising, loading, saving, zeroing gradients, clipping, AdamW, counting) walks this
// table, so no list of tensors is ever written twice. Gradients and the optimiser's moments
// use the same table over buffers of their own.
//
// Names and shapes (GPT-2's, as in its model.safetensors; W stored (in, out)):
//     wte.weight (V, C)   wpe.weight (n_positions, C)
//     h.{i}.ln_1.weight (C)  h.{i}.ln_1.bias (C)
//     h.{i}.attn.c_attn.weight (C, 3C)  h.{i}.attn.c_attn.bias (3C)
//     h.{i}.attn.c_proj.weight (C, C)   h.{i}.attn.c_proj.bias (C)
//     h.{i}.ln_2.weight (C)  h.{i}.ln_2.bias (C)
//     h.{i}.mlp.c_fc.weight (C, 4C)     h.{i}.mlp.c_fc.bias (4C)
//     h.{i}.mlp.c_proj.weight (4C, C)   h.{i}.mlp.c_proj.bias (C)
//     ln_f.weight (C)  ln_f.bias (C)    [lm_head.weight (V, C) only when untied]
#pragma once

#include "config.hpp"
#include "decoder_block.hpp"
#include "detail/checked.hpp"
#include "error.hpp"
#include "tensor.hpp"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

namespace minigpt {

// The whole model's weights (or gradients), per module.
template <typename S>
struct GPTWeights {
  TensorView<S> wte;                // (V, C) token embedding
  TensorView<S> wpe;                // (n_positions, C) position embedding
  std::vector<BlockWeights<S>> h;   // the decoder blocks
  Norm<S> ln_f;                     // final layer norm (C), (C)
  TensorView<S> lm_head;            // (V, C): the untied LM head, or wte itself when tied
  const detail::PackedMatrix* lm_head_packed = nullptr;  // inference only: the head in bf16 or Q8_0
};

// A tensor's name: "wte.weight", or "h.{layer}.{suffix}" for a block's tensors. Spelled out
// only when asked (str()), so that binding views allocates no strings.
struct TensorName {
  const char* suffix;
  Index layer = -1;
  std::string str() const { return layer < 0 ? std::string(suffix) : "h." + std::to_string(layer) + "." + suffix; }
};

// A tensor's shape as the table states it: (n) for a vector, (rows, cols) for a matrix.
struct TensorShape {
  Index rows = 1, cols = 0;
  bool matrix = false;
  std::vector<Index> dims() const { return matrix ? std::vector<Index>{rows, cols} : std::vector<Index>{cols}; }
};

// THE table: calls visit(name, shape, slot) for every tensor, in file order, where slot is
// the view in `w` that the tensor belongs to. Visitors that only list names ignore it.
template <typename S, typename F>
void for_each_tensor(const GPTConfig& c, GPTWeights<S>& w, F&& visit) {
  const Index C = c.n_embd, V = c.vocab_size, P = c.n_positions;
  auto vec = [](Index n) { return TensorShape{1, n, false}; };
  auto mat = [](Index rows, Index cols) { return TensorShape{rows, cols, true}; };
  w.h.resize(static_cast<std::size_t>(c.n_layer));
  visit(TensorName{"wte.weight"}, mat(V, C), w.wte);
  visit(TensorName{"wpe.weight"}, mat(P, C), w.wpe);
  for (Index i = 0; i < c.n_layer; ++i) {
    BlockWeights<S>& b = w.h[static_cast<std::size_t>(i)];
    visit(TensorName{"ln_1.weight", i}, vec(C), b.ln_1.w);
    visit(TensorName{"ln_1.bias", i}, vec(C), b.ln_1.b);
    visit(TensorName{"attn.c_attn.weight", i}, mat(C, 3 * C), b.attn.c_attn.w);
    visit(TensorName{"attn.c_attn.bias", i}, vec(3 * C), b.attn.c_attn.b);
    visit(TensorName{"attn.c_proj.weight", i}, mat(C, C), b.attn.c_proj.w);
    visit(TensorName{"attn.c_proj.bias", i}, vec(C), b.attn.c_proj.b);
    visit(TensorName{"ln_2.weight", i}, vec(C), b.ln_2.w);
    visit(TensorName{"ln_2.bias", i}, vec(C), b.ln_2.b);
    visit(TensorName{"mlp.c_fc.weight", i}, mat(C, 4 * C), b.mlp.c_fc.w);
    visit(TensorName{"mlp.c_fc.bias", i}, vec(4 * C), b.mlp.c_fc.b);
    visit(TensorName{"mlp.c_proj.weight", i}, mat(4 * C, C), b.mlp.c_proj.w);
    visit(TensorName{"mlp.c_proj.bias", i}, vec(C), b.mlp.c_proj.b);
  }
  visit(TensorName{"ln_f.weight"}, vec(C), w.ln_f.w);
  visit(TensorName{"ln_f.bias"}, vec(C), w.ln_f.b);
  if (!c.tie_word_embeddings) visit(TensorName{"lm_head.weight"}, mat(V, C), w.lm_head);
}

// One row of the table.
struct TensorInfo {
  std::string name;
  std::vector<Index> shape;
  Index offset = 0;  // in scalars, from the start of the flat buffer
  Index size = 0;    // product of shape
  // Weight decay applies to matrices (embeddings and projections), never to biases or
  // layer-norm weights.
  bool decay() const { return shape.size() >= 2; }
};

class ParameterTable {
 public:
  ParameterTable() = default;
  explicit ParameterTable(const GPTConfig& config) {
    config.validate();
    GPTWeights<char> unused;
    for_each_tensor(config, unused, [&](const TensorName& name, const TensorShape& shape, TensorView<char>&) {
      TensorInfo info{name.str(), shape.dims(), total_, 1};
      for (Index d : info.shape) info.size = detail::checked_mul(info.size, d, "parameter size");
      index_[info.name] = entries_.size();
      entries_.push_back(info);
      total_ = detail::checked_add(total_, info.size, "parameter count");
    });
  }
  const std::vector<TensorInfo>& entries() const { return entries_; }
  Index total() const { return total_; }  // == config.parameter_count()
  const TensorInfo* find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &entries_[it->second];
  }

 private:
  std::vector<TensorInfo> entries_;
  std::unordered_map<std::string, std::size_t> index_;
  Index total_ = 0;
};

// A flat buffer laid out by the table. Used for the weights, their gradients, and AdamW's two
// moments. view() hands out the per-module views into it.
template <typename S>
class Parameters {
 public:
  Parameters() = default;
  explicit Parameters(const GPTConfig& config) : config_(config), table_(config) {
    data_.assign(static_cast<std::size_t>(table_.total()), S(0));
  }

  const ParameterTable& table() const { return table_; }
  const GPTConfig& config() const { return config_; }
  Index size() const { return static_cast<Index>(data_.size()); }
  S* data() { return data_.data(); }
  const S* data() const { return data_.data(); }
  Eigen::Map<Eigen::Array<S, Eigen::Dynamic, 1>> flat() { return {data_.data(), size()}; }
  Eigen::Map<const Eigen::Array<S, Eigen::Dynamic, 1>> flat() const { return {data_.data(), size()}; }
  void zero() { std::fill(data_.begin(), data_.end(), S(0)); }

  // The tensors as per-module views: view().h[2].attn.c_attn.w is (C, 3C). Through a const
  // Parameters the views are read-only (TensorView's constness is deep).
  GPTWeights<S> view() { return bind(data_.data()); }
  const GPTWeights<S> view() const { return bind(const_cast<S*>(data_.data())); }

  // The tensor called `name`, as a (rows, cols) matrix (vectors are (1, n)).
  MatrixMap<S> get(const std::string& name) {
    const TensorInfo* info = table_.find(name);
    if (info == nullptr) throw ArgumentError("no parameter named '" + name + "'");
    const Index cols = info->shape.back();
    return MatrixMap<S>(data_.data() + info->offset, info->size / cols, cols);
  }

 private:
  GPTWeights<S> bind(S* base) const {
    GPTWeights<S> w;
    if (data_.empty()) return w;
    std::size_t k = 0;
    for_each_tensor(config_, w, [&](const TensorName&, const TensorShape& shape, TensorView<S>& slot) {
      slot = TensorView<S>(base + table_.entries()[k++].offset, shape.rows, shape.cols);
    });
    if (config_.tie_word_embeddings) w.lm_head = w.wte;
    return w;
  }

  GPTConfig config_;
  ParameterTable table_;
  // Aligned to Eigen's widest packet (64 bytes with AVX-512): Eigen peels a different number
  // of scalar iterations before an unaligned buffer's packets, so with malloc's 16-byte
  // alignment the same sums could round differently from one allocation to the next, and
  // two runs with the same seed would drift apart.
  std::vector<S, Eigen::aligned_allocator<S>> data_;
};

}  // namespace minigpt
