// minigpt/minigpt.hpp — everything in one include.
//
// Read the headers in the chapter's order:
//   tokens       tokenizer.hpp (토크나이저), bpe_tokenizer.hpp (토큰), pretokenizer.hpp
//                (토크나이징), unicode.hpp, bpe_trainer.hpp, char_tokenizer.hpp, load_tokenizer.hpp
//   vectors      tensor.hpp (the letters B, T, C, V, H, hs), embedding.hpp (임베딩)
//   attention    attention.hpp (Q, K, V, the attention map, the causal mask), kv_cache.hpp
//   the block    layer_norm.hpp, linear.hpp, feed_forward.hpp, decoder_block.hpp
//   the model    config.hpp (매개변수, the scaling presets), parameters.hpp, gpt.hpp
//   learning     loss.hpp (손실), dropout.hpp
//   using it     sampling.hpp, generation.hpp, safetensors.hpp, checkpoint.hpp
#pragma once

#include "attention.hpp"
#include "bpe_tokenizer.hpp"
#include "bpe_trainer.hpp"
#include "char_tokenizer.hpp"
#include "checkpoint.hpp"
#include "config.hpp"
#include "decoder_block.hpp"
#include "dropout.hpp"
#include "embedding.hpp"
#include "error.hpp"
#include "feed_forward.hpp"
#include "generation.hpp"
#include "gpt.hpp"
#include "kv_cache.hpp"
#include "layer_norm.hpp"
#include "linear.hpp"
#include "load_tokenizer.hpp"
#include "loss.hpp"
#include "parameters.hpp"
#include "pretokenizer.hpp"
#include "random.hpp"
#include "safetensors.hpp"
#include "sampling.hpp"
#include "tensor.hpp"
#include "tokenizer.hpp"
#include "unicode.hpp"
