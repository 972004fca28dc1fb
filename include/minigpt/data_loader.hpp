// minigpt/data_loader.hpp — the training text as batches of (B, T) windows.
//
// Chapter idea: pre-training (사전 학습) needs no labels. Any text is its own answer key: at
// every position the "label" is simply the next token. So a batch is B windows of T tokens cut
// from the corpus at random places, and the targets are the same windows shifted by one:
//
//     corpus   ... F  i  r  s  t     C  i  t  i  z  e  n ...
//     inputs       F  i  r  s  t     C            (T = 7, starting at a random position s)
//     targets      i  r  s  t     C  i            (tokens s+1 .. s+T)
//
// The corpus is split once into a training part (the first 90%, as nanoGPT does) and a
// validation part the model never trains on; the loss on the validation part tells whether
// the model learned the language or memorised its training text.
//
// The positions come from a seeded Rng (random.hpp): the same seed draws the same batches,
// and the loader's state (the generator's state) is saved in training checkpoints so that a
// resumed run draws exactly the batches the uninterrupted run would have drawn.
//
// Token files use nanoGPT's train.bin / val.bin layout: the ids one after another as
// little-endian uint16 (vocabularies up to 65,536 tokens), or uint32 for larger ones.
//
// Shapes: tokens (n) -> inputs (B, T), targets (B, T), row-major (row b = window b).
//
// Example:
//     DataSplit data = split_train_val(tokenizer.encode(text), 0.9);
//     DataLoader train(data.train, /*B*/ 12, /*T*/ 64, /*seed*/ 1337);
//     Batch batch = train.next();   // batch.inputs[b * 64 + t], batch.targets[b * 64 + t]
#pragma once

#include "detail/io.hpp"
#include "error.hpp"
#include "random.hpp"
#include "tensor.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace minigpt {

// Sequences of a batch, read in place: inputs and targets (B, T), row after row.
struct BatchView {
  const TokenId* inputs = nullptr;
  const TokenId* targets = nullptr;
  Index B = 0, T = 0;
};

// One batch: B windows of T tokens, and the tokens that follow each position.
struct Batch {
  std::vector<TokenId> inputs;   // (B, T)
  std::vector<TokenId> targets;  // (B, T): targets[b, t] = the token after inputs[b, t]
  Index B = 0, T = 0;

  // Sequences b0 .. b1 − 1 (all by default): e.g. one data-parallel shard's share.
  BatchView view(Index b0 = 0, Index b1 = -1) const {
    if (b1 < 0) b1 = B;
    return {inputs.data() + b0 * T, targets.data() + b0 * T, b1 - b0, T};
  }
};

// The first train_fraction of the tokens for training, the rest for validation.
struct DataSplit {
  std::vector<TokenId> train, val;
};

inline DataSplit split_train_val(const std::vector<TokenId>& tokens, double train_fraction = 0.9) {
  if (!(train_fraction > 0.0 && train_fraction <= 1.0))
    throw ArgumentError("split_train_val: train_fraction must be in (0, 1], got " + std::to_string(train_fraction));
  const auto n_train = static_cast<std::size_t>(static_cast<double>(tokens.size()) * train_fraction);
  DataSplit s;
  s.train.assign(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(n_train));
  s.val.assign(tokens.begin() + static_cast<std::ptrdiff_t>(n_train), tokens.end());
  return s;
}

// A whole text file as bytes (up to max_bytes, 1 GiB by default): a training text.
inline std::string load_text(const std::string& path, std::size_t max_bytes = std::size_t(1) << 30) {
  return detail::read_file(path, max_bytes);
}

// ---- token files ----

enum class TokenFileFormat { uint16, uint32 };

// Reads a token file. `vocab_size`, when > 0, is checked: every id must be below it; the
// error names the file and the position of the first bad id.
inline std::vector<TokenId> load_token_file(const std::string& path, TokenFileFormat format = TokenFileFormat::uint16,
                                            Index vocab_size = 0) {
  const std::string bytes = detail::read_file(path);
  const std::size_t width = format == TokenFileFormat::uint16 ? 2 : 4;
  if (bytes.size() % width != 0)
    throw FileError(path, "size", std::to_string(bytes.size()) + " bytes is not a whole number of " +
                                      std::to_string(width) + "-byte token ids (truncated?)");
  std::vector<TokenId> ids(bytes.size() / width);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    std::uint32_t v = 0;
    for (std::size_t b = 0; b < width; ++b) v |= static_cast<std::uint32_t>(p[i * width + b]) << (8 * b);
    if (v > static_cast<std::uint32_t>(INT32_MAX))
      throw FileError(path, "token " + std::to_string(i), "id " + std::to_string(v) + " does not fit a token id");
    ids[i] = static_cast<TokenId>(v);
  }
  if (vocab_size > 0) {
    try {
      check_token_ids(ids, vocab_size, "");
    } catch (const ArgumentError& e) {
      throw FileError(path, "", e.what());
    }
  }
  return ids;
}

inline void save_token_file(const std::string& path, const std::vector<TokenId>& ids,
                            TokenFileFormat format = TokenFileFormat::uint16) {
  const std::size_t width = format == TokenFileFormat::uint16 ? 2 : 4;
  const std::uint32_t max = format == TokenFileFormat::uint16 ? 0xffffu : 0x7fffffffu;
  std::string bytes(ids.size() * width, '\0');
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || static_cast<std::uint32_t>(ids[i]) > max)
      throw ArgumentError("save_token_file: id " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                          " does not fit the file's " + (width == 2 ? "uint16" : "uint32") + " ids");
    for (std::size_t b = 0; b < width; ++b)
      bytes[i * width + b] = static_cast<char>((static_cast<std::uint32_t>(ids[i]) >> (8 * b)) & 0xff);
  }
  detail::write_file_atomic(path, bytes);
}

// A 64-bit fingerprint of a token sequence (FNV-1a over the ids), so that a resumed run can
// tell whether it was given the same data as the run that saved the checkpoint.
inline std::uint64_t token_fingerprint(const std::vector<TokenId>& tokens) {
  std::uint64_t h = 14695981039346656037ull;
  for (TokenId id : tokens)
    for (int b = 0; b < 4; ++b) {
      h ^= (static_cast<std::uint32_t>(id) >> (8 * b)) & 0xffu;
      h *= 1099511628211ull;
    }
  return h;
}

// ---- the loader ----

class DataLoader {
 public:
  DataLoader() = default;
  // tokens: one split of the corpus; it must hold at least T + 1 tokens (one window and the
  // token after it).
  DataLoader(std::vector<TokenId> tokens, Index B, Index T, std::uint64_t seed)
      : tokens_(std::move(tokens)), B_(B), T_(T), rng_(seed) {
    if (B <= 0 || T <= 0)
      throw ArgumentError("DataLoader: B and T must be positive, got B = " + std::to_string(B) +
                          ", T = " + std::to_string(T));
    if (static_cast<Index>(tokens_.size()) < T + 1)
      throw ArgumentError("DataLoader: " + std::to_string(tokens_.size()) + " tokens are too few for windows of T = " +
                          std::to_string(T) + " (at least T + 1 are needed)");
  }

  // B windows at positions drawn uniformly from 0 .. n − T − 1 (nanoGPT's get_batch).
  Batch next() { return batch_at(draw_starts(rng_)); }

  // The windows at the given start positions (any number of them, each in 0 .. n − T − 1).
  Batch batch_at(const std::vector<Index>& starts) const {
    Batch b;
    b.B = static_cast<Index>(starts.size());
    b.T = T_;
    b.inputs.resize(static_cast<std::size_t>(b.B * T_));
    b.targets.resize(b.inputs.size());
    for (std::size_t i = 0; i < starts.size(); ++i) {
      const Index s = starts[i];
      if (s < 0 || s + T_ + 1 > static_cast<Index>(tokens_.size()))
        throw ArgumentError("DataLoader: window start " + std::to_string(s) + " is outside 0.." +
                            std::to_string(static_cast<Index>(tokens_.size()) - T_ - 1));
      for (Index t = 0; t < T_; ++t) {
        b.inputs[i * static_cast<std::size_t>(T_) + static_cast<std::size_t>(t)] = tokens_[static_cast<std::size_t>(s + t)];
        b.targets[i * static_cast<std::size_t>(T_) + static_cast<std::size_t>(t)] =
            tokens_[static_cast<std::size_t>(s + t + 1)];
      }
    }
    return b;
  }

  // B start positions drawn from rng (used by next() with the loader's own generator, and by
  // evaluation with a fixed one).
  std::vector<Index> draw_starts(Rng& rng) const {
    std::vector<Index> starts(static_cast<std::size_t>(B_));
    const auto range = static_cast<std::uint64_t>(static_cast<Index>(tokens_.size()) - T_);
    for (auto& s : starts) s = static_cast<Index>(rng.below(range));
    return starts;
  }

  const std::vector<TokenId>& tokens() const { return tokens_; }
  Index batch_size() const { return B_; }
  Index block_size() const { return T_; }

  // The generator's state: saved in checkpoints, restored on resume.
  std::string state() const { return rng_.state(); }
  bool set_state(const std::string& s) { return rng_.set_state(s); }

 private:
  std::vector<TokenId> tokens_;
  Index B_ = 0, T_ = 0;
  Rng rng_;
};

}  // namespace minigpt
