// minigpt/minigpt.hpp — everything in one include.
//
// Read the headers in the chapter's order:
//   tokens       token_id.hpp, tokenizer.hpp (토크나이저), bpe_educational.hpp and
//                bpe_tokenizer.hpp (토큰),
//                pretokenizer.hpp (토크나이징), unicode.hpp, bpe_trainer.hpp, char_tokenizer.hpp,
//                load_tokenizer.hpp
//   vectors      tensor.hpp (the letters B, T, C, V, H, hs), embedding.hpp (임베딩)
//   attention    attention.hpp (Q, K, V, the attention map, the causal mask), kv_cache.hpp
//   the block    layer_norm.hpp, linear.hpp, feed_forward.hpp, block_config.hpp, decoder_block.hpp
//   the model    config.hpp (매개변수, the scaling presets), config_file.hpp, parameters.hpp, gpt.hpp
//   learning     loss.hpp (손실), dropout.hpp, adamw.hpp, lr_schedule.hpp, data_loader.hpp,
//                train_options.hpp, training.hpp (사전 학습), evaluation.hpp, training_history.hpp,
//                divergence.hpp, training_checkpoint.hpp, progress.hpp, loss_curve.hpp,
//                scaling_law.hpp (스케일링 법칙: fitting L(N))
//   many ranks   communicator.hpp, distributed.hpp (MPI, when built with MINIGPT_USE_MPI)
//   using it     sampling.hpp, generation.hpp, safetensors.hpp, checkpoint.hpp, weight_format.hpp,
//                gguf.hpp, model_file.hpp
//   pictures     chart.hpp (every SVG picture, with its numbers as JSON), attention_map.hpp
//                (어텐션맵, drawn), embedding_map.hpp (임베딩, drawn), model_sizes.hpp (GPT-1 … GPT-3
//                in numbers)
//   the recipe   fact_world.hpp (the small world: facts, pre-training text, questions), jsonl.hpp
//                (SFT and preference files), labeler.hpp (grading, the ranking labeler),
//                sft.hpp (지도 미세 조정: prompt-masked fine-tuning, answering and grading),
//                reward_model.hpp (보상 모델: Bradley–Terry, the GPT with a score head),
//                ppo.hpp (RLHF with PPO: the arithmetic), ppo_trainer.hpp (the PPO loop:
//                rollouts, value head, updates), recipe.hpp (the recipe's steps for the program)
//   hallucination  confidence.hpp (확신도: an answer's probability, a name's familiarity),
//                calibration.hpp (보정: ECE, reliability, abstention), hallucination.hpp (asking
//                the world's questions), grading.hpp (채점: PPO against a grader), r_tuning.hpp
//                (teaching "I don't know" where the model does not know)
//   programs     package_data.hpp (the data installed with them)
#pragma once

#include "adamw.hpp"
#include "attention.hpp"
#include "attention_map.hpp"
#include "block_config.hpp"
#include "calibration.hpp"
#include "bpe_educational.hpp"
#include "bpe_tokenizer.hpp"
#include "bpe_trainer.hpp"
#include "char_tokenizer.hpp"
#include "chart.hpp"
#include "checkpoint.hpp"
#include "communicator.hpp"
#include "confidence.hpp"
#include "config.hpp"
#include "config_file.hpp"
#include "data_loader.hpp"
#include "decoder_block.hpp"
#include "distributed.hpp"
#include "divergence.hpp"
#include "dropout.hpp"
#include "embedding.hpp"
#include "embedding_map.hpp"
#include "error.hpp"
#include "evaluation.hpp"
#include "fact_world.hpp"
#include "feed_forward.hpp"
#include "generation.hpp"
#include "gguf.hpp"
#include "gpt.hpp"
#include "grading.hpp"
#include "hallucination.hpp"
#include "jsonl.hpp"
#include "kv_cache.hpp"
#include "labeler.hpp"
#include "layer_norm.hpp"
#include "linear.hpp"
#include "load_tokenizer.hpp"
#include "loss.hpp"
#include "loss_curve.hpp"
#include "model_sizes.hpp"
#include "lr_schedule.hpp"
#include "model_file.hpp"
#include "package_data.hpp"
#include "parameters.hpp"
#include "ppo.hpp"
#include "ppo_trainer.hpp"
#include "pretokenizer.hpp"
#include "progress.hpp"
#include "random.hpp"
#include "r_tuning.hpp"
#include "recipe.hpp"
#include "reward_model.hpp"
#include "safetensors.hpp"
#include "sft.hpp"
#include "scaling_law.hpp"
#include "sampling.hpp"
#include "tensor.hpp"
#include "token_id.hpp"
#include "tokenizer.hpp"
#include "train_options.hpp"
#include "training.hpp"
#include "training_checkpoint.hpp"
#include "training_history.hpp"
#include "unicode.hpp"
#include "weight_format.hpp"
