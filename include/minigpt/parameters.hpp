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
#include "detail/checked.hpp"
#include "error.hpp"
#include "tensor.hpp"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

namespace minigpt {

// Where one decoder block's tensors live. P is S* (writable) or const S*.
template <typename P>
struct BlockTensors {
  P ln_1_w, ln_1_b;            // layer norm before attention
  P attn_w, attn_b;            // c_attn: x -> [Q | K | V]
  P attn_proj_w, attn_proj_b;  // c_proj: merged heads -> C
  P ln_2_w, ln_2_b;            // layer norm before the feed-forward block
  P fc_w, fc_b;                // c_fc: C -> 4C
  P fc_proj_w, fc_proj_b;      // c_proj: 4C -> C
};

template <typename P>
struct ModelTensors {
  P wte, wpe;        // token and position embeddings
  std::vector<BlockTensors<P>> h;
  P ln_f_w, ln_f_b;  // final layer norm
  P lm_head;         // untied LM head (V, C), or the same pointer as wte when tied
};

// THE table: calls visit(name, shape, slot) for every tensor, in file order. `slot` is the
// member of `t` that points at the tensor; visitors that only list names ignore it.
template <typename P, typename F>
void for_each_tensor(const GPTConfig& c, ModelTensors<P>& t, F&& visit) {
  const Index C = c.n_embd;
  using Shape = std::vector<Index>;
  t.h.resize(static_cast<std::size_t>(c.n_layer));
  visit(std::string("wte.weight"), Shape{c.vocab_size, C}, t.wte);
  visit(std::string("wpe.weight"), Shape{c.n_positions, C}, t.wpe);
  for (Index i = 0; i < c.n_layer; ++i) {
    const std::string p = "h." + std::to_string(i) + ".";
    auto& b = t.h[static_cast<std::size_t>(i)];
    visit(p + "ln_1.weight", Shape{C}, b.ln_1_w);
    visit(p + "ln_1.bias", Shape{C}, b.ln_1_b);
    visit(p + "attn.c_attn.weight", Shape{C, 3 * C}, b.attn_w);
    visit(p + "attn.c_attn.bias", Shape{3 * C}, b.attn_b);
    visit(p + "attn.c_proj.weight", Shape{C, C}, b.attn_proj_w);
    visit(p + "attn.c_proj.bias", Shape{C}, b.attn_proj_b);
    visit(p + "ln_2.weight", Shape{C}, b.ln_2_w);
    visit(p + "ln_2.bias", Shape{C}, b.ln_2_b);
    visit(p + "mlp.c_fc.weight", Shape{C, 4 * C}, b.fc_w);
    visit(p + "mlp.c_fc.bias", Shape{4 * C}, b.fc_b);
    visit(p + "mlp.c_proj.weight", Shape{4 * C, C}, b.fc_proj_w);
    visit(p + "mlp.c_proj.bias", Shape{C}, b.fc_proj_b);
  }
  visit(std::string("ln_f.weight"), Shape{C}, t.ln_f_w);
  visit(std::string("ln_f.bias"), Shape{C}, t.ln_f_b);
  if (!c.tie_word_embeddings) visit(std::string("lm_head.weight"), Shape{c.vocab_size, C}, t.lm_head);
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
    ModelTensors<int> unused;
    for_each_tensor(config, unused, [&](const std::string& name, const std::vector<Index>& shape, int&) {
      TensorInfo info{name, shape, total_, 1};
      for (Index d : shape) info.size = detail::checked_mul(info.size, d, "parameter size");
      index_[name] = entries_.size();
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

// A flat buffer laid out by the table, with named pointers into it (`t`). Used for the
// weights, their gradients, and AdamW's two moments.
template <typename S>
class Parameters {
 public:
  Parameters() = default;
  explicit Parameters(const GPTConfig& config) : config_(config), table_(config) {
    data_.assign(static_cast<std::size_t>(table_.total()), S(0));
    bind();
  }
  Parameters(const Parameters& o) : config_(o.config_), table_(o.table_), data_(o.data_) { bind(); }
  Parameters& operator=(const Parameters& o) {
    config_ = o.config_;
    table_ = o.table_;
    data_ = o.data_;
    bind();
    return *this;
  }
  Parameters(Parameters&& o) noexcept : config_(o.config_), table_(std::move(o.table_)), data_(std::move(o.data_)) {
    bind();
  }
  Parameters& operator=(Parameters&& o) noexcept {
    config_ = o.config_;
    table_ = std::move(o.table_);
    data_ = std::move(o.data_);
    bind();
    return *this;
  }

  const ParameterTable& table() const { return table_; }
  const GPTConfig& config() const { return config_; }
  Index size() const { return static_cast<Index>(data_.size()); }
  S* data() { return data_.data(); }
  const S* data() const { return data_.data(); }
  Eigen::Map<Eigen::Array<S, Eigen::Dynamic, 1>> flat() { return {data_.data(), size()}; }
  Eigen::Map<const Eigen::Array<S, Eigen::Dynamic, 1>> flat() const { return {data_.data(), size()}; }
  void zero() { std::fill(data_.begin(), data_.end(), S(0)); }

  // Named pointers into data(): t.wte, t.h[i].attn_w, ...
  ModelTensors<S*> t;

  // The tensor called `name`, as a (rows, cols) matrix (vectors are (1, n)).
  MatrixMap<S> get(const std::string& name) {
    const TensorInfo* info = table_.find(name);
    if (info == nullptr) throw ArgumentError("no parameter named '" + name + "'");
    const Index cols = info->shape.back();
    return MatrixMap<S>(data_.data() + info->offset, info->size / cols, cols);
  }

 private:
  void bind() {
    if (data_.empty()) return;
    std::size_t k = 0;
    for_each_tensor(config_, t, [&](const std::string&, const std::vector<Index>&, S*& slot) {
      slot = data_.data() + table_.entries()[k++].offset;
    });
    if (config_.tie_word_embeddings) t.lm_head = t.wte;
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
