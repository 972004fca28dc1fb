// minigpt/r_tuning.hpp — teaching "I don't know" where the model does not know: R-Tuning's
// demonstrations (Zhang et al. 2024, "R-Tuning: Instructing Large Language Models to Say 'I
// Don't Know'"), the --r-tuning of examples/hallucination.cpp.
//
// Chapter idea: the chapter asks what would teach a model to say "I don't know" (모른다).
// The recipe's demonstrations refuse only people the text never names; R-Tuning labels the
// refusals by what the model itself knows: a question is demonstrated with its answer where the
// pre-trained model already answers it right, with " I don't know.\n" where it does not. Here
// "answers it right" is the base model's greedy cloze (hallucination.hpp: "Mina Park lives in"
// -> " Busan"), so the labels come from the model's knowledge, not from the mention count.
//
//   demonstration(q) = (q.prompt, " " + answer(q) + "\n")   if cloze_answer(base, q) = answer(q)
//                      (q.prompt, " I don't know.\n")       otherwise
//   for the rl split's questions about people named at least once (strangers and arithmetic
//   are left to the recipe's own demonstrations)
//
// r_tuning_sft then fine-tunes the base model again (sft.hpp) on the recipe's demonstrations
// followed by these rows, with the recipe's own SFT settings.
//
// Shapes in: the base model, questions (n).  Shapes out: n demonstrations; an SFT model.
//
// Example:
//   RTuningRows r = r_tuning_demonstrations(base, tok, read_world_questions(world, Split::rl));
//   r.rows[k]  // {"Q: Where does Elena Costa live?\nA:", " I don't know.\n"}: its cloze said Daegu
//   RTuning<float> rt = r_tuning_sft(base, tok, "run", recipe_options.sft_options(), "hal");
//   rt.model   // also saved as hal/sft-r-tuning, its rows as hal/r_tuning.jsonl
#pragma once

#include "checkpoint.hpp"
#include "error.hpp"
#include "fact_world.hpp"
#include "gpt.hpp"
#include "hallucination.hpp"
#include "jsonl.hpp"
#include "labeler.hpp"
#include "random.hpp"
#include "sft.hpp"
#include "tokenizer.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace minigpt {

// R-Tuning's demonstrations for `questions` (the rows about people named at least once), and
// how many of them answer and how many refuse.
struct RTuningRows {
  std::vector<SFTExample> rows;
  Index answered = 0, refused = 0;
};
template <typename S>
RTuningRows r_tuning_demonstrations(GPT<S>& base, const Tokenizer& tok, const std::vector<EvalExample>& questions) {
  std::vector<EvalExample> mentioned;
  for (const EvalExample& e : questions)
    if (!e.person.empty() && e.mentions >= 1) mentioned.push_back(e);
  Rng unused(0);  // greedy answers draw nothing
  RTuningRows r;
  for (const AskedQuestion& q : ask_questions(base, tok, mentioned, AskOptions{AskStyle::cloze, 0}, unused)) {
    const bool knows = q.grade == Grade::correct;
    r.rows.push_back({q.row.prompt, knows ? chat_completion(q.row.answer) : idk_completion()});
    ++(knows ? r.answered : r.refused);
  }
  return r;
}

// The SFT model of the program's --r-tuning: R-Tuning's rows for the recipe folder's rl
// questions (data/world.json), then SFT from the base model on the recipe's demonstrations
// (data/sft.jsonl, read with the model's block size) followed by those rows, with `options`
// (the recipe's step 2 settings: RecipeOptions::sft_options). Saves out/sft-r-tuning (with its
// tokenizer) and the rows to out/r_tuning.jsonl; on_step(step) hears each SFT step. The
// report names the rows' counts, the files and the SFT settings it trained with.
template <typename S>
struct RTuning {
  GPT<S> model;
  RTuningRows demonstrations;
  SFTOptions options;
  nlohmann::ordered_json to_json() const {
    return {{"answered", demonstrations.answered},
            {"refused", demonstrations.refused},
            {"folder", "sft-r-tuning"},
            {"rows", "r_tuning.jsonl"},
            {"sft", {{"steps", options.steps}, {"batch", options.batch_size}, {"lr", options.lr.max_lr}, {"seed", options.seed}}}};
  }
};
template <typename S>
RTuning<S> r_tuning_sft(GPT<S>& base, const Tokenizer& tok, const std::string& recipe, const SFTOptions& options,
                        const std::string& out, const std::function<void(Index)>& on_step = {}) {
  RTuningRows extra = r_tuning_demonstrations(base, tok, read_world_questions(recipe + "/data/world.json", Split::rl));
  const Index block = base.config().n_positions;
  std::vector<SFTExample> rows = read_sft_jsonl(recipe + "/data/sft.jsonl", {&tok, block});
  rows.insert(rows.end(), extra.rows.begin(), extra.rows.end());
  SFTTrainer<S> trainer(base, encode_sft(tok, rows, block), options);
  while (!trainer.done()) {
    trainer.step();
    if (on_step) on_step(trainer.step_count());
  }
  save_model(trainer.model(), out + "/sft-r-tuning");
  tok.save(out + "/sft-r-tuning");
  write_sft_jsonl(out + "/r_tuning.jsonl", extra.rows);
  return {trainer.model(), std::move(extra), options};
}

}  // namespace minigpt
