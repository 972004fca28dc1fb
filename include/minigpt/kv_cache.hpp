// minigpt/kv_cache.hpp — the KV cache: remembering keys and values while generating.
//
// Chapter idea: GPT writes one token at a time, and each new token attends (Q) to the keys
// (K) and values (V) of every token before it. Those K and V never change once computed, so
// they are kept here: generating token n+1 computes Q, K, V for that one position only and
// reads the rest from the cache, instead of running the whole context through the model
// again.
//
// Layout: for each layer, each sequence b and each head h, a (capacity, hs) matrix of keys and
// one of values; rows 0 .. size(b)-1 are filled. Memory: 2 · L · B · H · capacity · hs scalars
// (GPT-2 small, B = 1, 1,024 positions: 75 MB in float).
//
// Each sequence has its own length (ragged positions): prompts of different lengths share one
// cache, and the next forward pass puts sequence b's new tokens at positions size(b),
// size(b)+1, ... (generation.hpp fills the sequences one by one and then decodes them
// together). No padding and no mask: each sequence attends to its own size(b) keys only.
//
// Example: B = 2, prompts of 3 and 5 tokens, then one new token each:
//     size(0) = 3, size(1) = 5  ->  forward(2 ids, B = 2, T = 1)  ->  size(0) = 4, size(1) = 6
#pragma once

#include "config.hpp"
#include "detail/checked.hpp"
#include "error.hpp"
#include "tensor.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace minigpt {

template <typename S>
class KVCacheLayer;

template <typename S>
class KVCache {
 public:
  KVCache() = default;
  // Room for B sequences of up to `capacity` positions (at most the block size).
  KVCache(const GPTConfig& config, Index B, Index capacity = -1)
      : L_(config.n_layer), B_(B), H_(config.n_head), hs_(config.head_size()),
        capacity_(capacity < 0 ? config.n_positions : capacity) {
    if (B <= 0) throw ArgumentError("KVCache: batch size must be positive, got " + std::to_string(B));
    if (capacity_ <= 0 || capacity_ > config.n_positions)
      throw ArgumentError("KVCache: capacity " + std::to_string(capacity_) + " must be in 1.." +
                          std::to_string(config.n_positions) + " (the block size)");
    using detail::checked_mul;
    const Index n = checked_mul(checked_mul(checked_mul(checked_mul(L_, B_, "KVCache"), H_, "KVCache"), capacity_, "KVCache"),
                                hs_, "KVCache");
    keys_.assign(static_cast<std::size_t>(n), S(0));
    values_.assign(static_cast<std::size_t>(n), S(0));
    lengths_.assign(static_cast<std::size_t>(B_), 0);
  }

  // Positions cached: of the longest sequence, or of sequence b.
  Index size() const { return lengths_.empty() ? 0 : *std::max_element(lengths_.begin(), lengths_.end()); }
  Index size(Index b) const { return lengths_[static_cast<std::size_t>(b)]; }
  Index capacity() const { return capacity_; }
  Index batch() const { return B_; }
  Index layers() const { return L_; }
  void clear() { std::fill(lengths_.begin(), lengths_.end(), Index(0)); }
  // Forget everything after the first n positions (of every sequence, or of sequence b).
  void truncate(Index n) {
    if (n < 0 || n > size()) throw ArgumentError("KVCache::truncate: " + std::to_string(n) + " is not in 0.." + std::to_string(size()));
    for (Index& len : lengths_) len = std::min(len, n);
  }
  void truncate(Index b, Index n) {
    check_sequence(b, "truncate");
    if (n < 0 || n > size(b))
      throw ArgumentError("KVCache::truncate: " + std::to_string(n) + " is not in 0.." + std::to_string(size(b)));
    lengths_[static_cast<std::size_t>(b)] = n;
  }
  // Called by the forward pass once all layers have written T new positions of every sequence.
  void advance(Index T) {
    for (Index& len : lengths_) len += T;
  }

  // Sequence b becomes a copy of sequence from_b of `from` (a cache of the same model): its
  // keys and values and its length. generation.hpp fills prompts of different lengths this way.
  void copy_sequence(Index b, const KVCache& from, Index from_b) {
    check_sequence(b, "copy_sequence");
    from.check_sequence(from_b, "copy_sequence");
    const Index n = from.size(from_b);
    if (from.L_ != L_ || from.H_ != H_ || from.hs_ != hs_ || n > capacity_)
      throw ArgumentError("KVCache::copy_sequence: the caches belong to different models, or " + std::to_string(n) +
                          " positions do not fit in " + std::to_string(capacity_));
    for (Index l = 0; l < L_; ++l)
      for (Index h = 0; h < H_; ++h) {
        keys(l, b, h).topRows(n) = from.keys(l, from_b, h).topRows(n);
        values(l, b, h).topRows(n) = from.values(l, from_b, h).topRows(n);
      }
    lengths_[static_cast<std::size_t>(b)] = n;
  }

  // Keeps sequences keep[0], keep[1], ... (increasing) as sequences 0, 1, ...: the batch
  // shrinks, e.g. when some sequences have finished generating. Only filled rows are moved.
  void keep_sequences(const std::vector<Index>& keep) {
    for (std::size_t i = 0; i < keep.size(); ++i)
      if (keep[i] < static_cast<Index>(i) || keep[i] >= B_ || (i > 0 && keep[i] <= keep[i - 1]))
        throw ArgumentError("KVCache::keep_sequences: the sequences to keep must be increasing and in 0.." +
                            std::to_string(B_ - 1));
    const Index B_new = static_cast<Index>(keep.size());
    // Each (layer, sequence) block moves to a lower or equal offset, in increasing order.
    for (Index l = 0; l < L_; ++l)
      for (Index i = 0; i < B_new; ++i)
        for (Index h = 0; h < H_; ++h) {
          const Index n = size(keep[static_cast<std::size_t>(i)]) * hs_;
          const std::size_t from = static_cast<std::size_t>(((l * B_ + keep[static_cast<std::size_t>(i)]) * H_ + h) * capacity_ * hs_);
          const std::size_t to = static_cast<std::size_t>(((l * B_new + i) * H_ + h) * capacity_ * hs_);
          std::memmove(keys_.data() + to, keys_.data() + from, static_cast<std::size_t>(n) * sizeof(S));
          std::memmove(values_.data() + to, values_.data() + from, static_cast<std::size_t>(n) * sizeof(S));
        }
    std::vector<Index> lengths;
    for (Index b : keep) lengths.push_back(size(b));
    lengths_ = lengths;
    B_ = B_new;
  }

  // Layer l's part of the cache, as attention.hpp reads and extends it.
  KVCacheLayer<S> layer(Index l) { return KVCacheLayer<S>(*this, l); }

  // (capacity, hs) keys / values of layer l, sequence b, head h.
  MatrixMap<S> keys(Index l, Index b, Index h) { return MatrixMap<S>(slot(keys_, l, b, h), capacity_, hs_); }
  MatrixMap<S> values(Index l, Index b, Index h) { return MatrixMap<S>(slot(values_, l, b, h), capacity_, hs_); }
  ConstMatrixMap<S> keys(Index l, Index b, Index h) const { return ConstMatrixMap<S>(slot(keys_, l, b, h), capacity_, hs_); }
  ConstMatrixMap<S> values(Index l, Index b, Index h) const {
    return ConstMatrixMap<S>(slot(values_, l, b, h), capacity_, hs_);
  }

 private:
  S* slot(std::vector<S>& buf, Index l, Index b, Index h) { return buf.data() + offset(l, b, h); }
  const S* slot(const std::vector<S>& buf, Index l, Index b, Index h) const { return buf.data() + offset(l, b, h); }
  Index offset(Index l, Index b, Index h) const { return (((l * B_ + b) * H_ + h) * capacity_) * hs_; }
  void check_sequence(Index b, const char* who) const {
    if (b < 0 || b >= B_)
      throw ArgumentError(std::string("KVCache::") + who + ": sequence " + std::to_string(b) + " is not in 0.." +
                          std::to_string(B_ - 1));
  }

  Index L_ = 0, B_ = 0, H_ = 0, hs_ = 0, capacity_ = 0;
  std::vector<Index> lengths_;  // positions cached, per sequence
  std::vector<S> keys_, values_;
};

// One layer's keys and values: what one attention call reads and extends.
template <typename S>
class KVCacheLayer {
 public:
  KVCacheLayer() = default;
  KVCacheLayer(KVCache<S>& cache, Index layer) : cache_(&cache), layer_(layer) {}
  Index size() const { return cache_->size(); }          // the longest sequence's positions cached before this call
  Index size(Index b) const { return cache_->size(b); }  // sequence b's: where its new tokens go (pos0)
  MatrixMap<S> keys(Index b, Index h) { return cache_->keys(layer_, b, h); }
  MatrixMap<S> values(Index b, Index h) { return cache_->values(layer_, b, h); }

 private:
  KVCache<S>* cache_ = nullptr;
  Index layer_ = 0;
};

}  // namespace minigpt
