// minigpt/kv_cache.hpp — the KV cache: remembering keys and values while generating.
//
// Chapter idea: GPT writes one token at a time, and each new token attends (Q) to the keys
// (K) and values (V) of every token before it. Those K and V never change once computed, so
// they are kept here: generating token n+1 computes Q, K, V for that one position only and
// reads the rest from the cache, instead of running the whole context through the model
// again.
//
// Layout: for each layer, each sequence b and each head h, a (capacity, hs) matrix of keys and
// one of values; rows 0 .. size()-1 are filled. Memory: 2 · L · B · H · capacity · hs scalars
// (GPT-2 small, B = 1, 1,024 positions: 75 MB in float).
#pragma once

#include "config.hpp"
#include "error.hpp"
#include "tensor.hpp"

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
  }

  Index size() const { return size_; }          // positions already cached (the next pos0)
  Index capacity() const { return capacity_; }
  Index batch() const { return B_; }
  Index layers() const { return L_; }
  void clear() { size_ = 0; }
  // Forget everything after the first n positions.
  void truncate(Index n) {
    if (n < 0 || n > size_) throw ArgumentError("KVCache::truncate: " + std::to_string(n) + " is not in 0.." + std::to_string(size_));
    size_ = n;
  }
  // Called by the forward pass once all layers have written T new positions.
  void advance(Index T) { size_ += T; }

  // Layer l's part of the cache, as attention.hpp reads and extends it.
  KVCacheLayer<S> layer(Index l) { return KVCacheLayer<S>(*this, l); }

  // (capacity, hs) keys / values of layer l, sequence b, head h.
  MatrixMap<S> keys(Index l, Index b, Index h) { return MatrixMap<S>(slot(keys_, l, b, h), capacity_, hs_); }
  MatrixMap<S> values(Index l, Index b, Index h) { return MatrixMap<S>(slot(values_, l, b, h), capacity_, hs_); }

 private:
  S* slot(std::vector<S>& buf, Index l, Index b, Index h) {
    return buf.data() + (((l * B_ + b) * H_ + h) * capacity_) * hs_;
  }

  Index L_ = 0, B_ = 0, H_ = 0, hs_ = 0, capacity_ = 0, size_ = 0;
  std::vector<S> keys_, values_;
};

// One layer's keys and values: what one attention call reads and extends.
template <typename S>
class KVCacheLayer {
 public:
  KVCacheLayer() = default;
  KVCacheLayer(KVCache<S>& cache, Index layer) : cache_(&cache), layer_(layer) {}
  Index size() const { return cache_->size(); }  // positions cached before this call (pos0)
  MatrixMap<S> keys(Index b, Index h) { return cache_->keys(layer_, b, h); }
  MatrixMap<S> values(Index b, Index h) { return cache_->values(layer_, b, h); }

 private:
  KVCache<S>* cache_ = nullptr;
  Index layer_ = 0;
};

}  // namespace minigpt
