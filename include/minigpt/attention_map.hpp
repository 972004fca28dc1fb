// minigpt/attention_map.hpp — the attention map (어텐션맵), drawn: heat maps of one forward pass.
//
// Chapter idea: for every head of every layer, the attention map is a square table. Row t
// is the query (Q) of token t, column j the key (K) of token j, and the entry is how much of
// its attention token t pays to token j: softmax(Q Kᵀ / sqrt(hs)) row by row, so each row
// adds up to 1 (attention.hpp). GPT may not look ahead, so every entry right of the diagonal
// is masked (마스킹): not a small number but no number at all. Drawn as a heat map, dark is
// much attention, white none, and the masked upper-right half is hatched grey.
//
//   In:  maps from GPT::attention_maps() after a forward of ONE sequence with
//        opt.attention_maps = true: per layer a (1, H, T, T) tensor; the T tokens' labels.
//   Out: a chart::HeatmapGrid (layers down, heads across, or one map large) to draw with
//        chart::to_svg; the numbers as JSON: per layer and head the (T, T) matrix.
//
// Example (examples/attention_map.cpp is the whole program):
//     ForwardOptions<float> opt;
//     opt.attention_maps = true;
//     model.forward(ids, 1, T, opt);
//     chart::HeatmapGrid grid = attention_map_grid(model.attention_maps(), labels);  // every head
//     chart::save(grid, "attention.svg");
//     attention_map_grid(model.attention_maps(), labels, 1, 2);  // layer 1, head 2, large
//   For the tokens "The cat sat", row "sat" of a head might read [0.61 0.07 0.32]: the third
//   token attends mostly to the first and to itself; rows "The" and "cat" end in masked cells.
#pragma once

#include "attention.hpp"
#include "chart.hpp"
#include "error.hpp"
#include "tensor.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace minigpt {

// Throws ArgumentError unless maps are (1, H, T, T) per layer for T = labels.size(), and layer
// (head) is -1 (all) or in range.
template <typename S>
void check_attention_maps(const std::vector<Tensor<S>>& maps, const std::vector<std::string>& labels, Index layer,
                          Index head) {
  if (maps.empty()) throw ArgumentError("attention maps: none kept (forward with opt.attention_maps = true)");
  const auto T = static_cast<Index>(labels.size());
  const Index H = maps[0].rank() == 4 ? maps[0].dim(1) : 0;
  for (const Tensor<S>& m : maps)
    if (m.shape() != std::vector<Index>{1, H, T, T})
      throw ArgumentError("attention maps: expected (1, H, T, T) per layer with T = " + std::to_string(T) +
                          " tokens (one sequence, no KV cache)");
  const auto L = static_cast<Index>(maps.size());
  if (layer < -1 || layer >= L)
    throw ArgumentError("layer " + std::to_string(layer) + " is out of range: the model has " + std::to_string(L) +
                        " layers (0.." + std::to_string(L - 1) + ")");
  if (head < -1 || head >= H)
    throw ArgumentError("head " + std::to_string(head) + " is out of range: each layer has " + std::to_string(H) +
                        " heads (0.." + std::to_string(H - 1) + ")");
}

// The maps as heat maps: every layer (down) and head (across), or only layer `layer` and/or
// head `head` (-1: all). One map alone is drawn large, its values written in the cells.
template <typename S>
chart::HeatmapGrid attention_map_grid(const std::vector<Tensor<S>>& maps, const std::vector<std::string>& labels,
                                      Index layer = -1, Index head = -1) {
  check_attention_maps(maps, labels, layer, head);
  const auto L = static_cast<Index>(maps.size()), T = static_cast<Index>(labels.size());
  const Index H = maps[0].dim(1);
  chart::HeatmapGrid g;
  g.row_labels = labels;
  g.col_labels = labels;
  g.row_axis = "query (Q): the token that looks";
  g.col_axis = "key (K): the token looked at";
  g.scale_label = "attention weight";
  g.masked_label = "masked (the future)";
  g.min = 0;
  g.max = 1;
  for (Index l = 0; l < L; ++l) {
    if (layer != -1 && l != layer) continue;
    for (Index h = 0; h < H; ++h) {
      if (head != -1 && h != head) continue;
      chart::Heatmap p;
      p.title = "layer " + std::to_string(l) + " \xC2\xB7 head " + std::to_string(h);  // ·
      p.rows = p.cols = T;
      for (Index t = 0; t < T; ++t)
        for (Index j = 0; j < T; ++j) {
          p.values.push_back(static_cast<double>(maps[static_cast<std::size_t>(l)](0, h, t, j)));
          p.masked.push_back(!causal_mask(t, j));
        }
      g.panels.push_back(std::move(p));
    }
  }
  g.columns = head == -1 ? H : 1;
  g.show_values = g.panels.size() == 1;
  if (g.panels.size() == 1) g.title = "attention map";
  else if (layer != -1) g.title = "attention maps of layer " + std::to_string(layer) + ": " + std::to_string(H) + " heads";
  else if (head != -1) g.title = "attention maps of head " + std::to_string(head) + " in each of " + std::to_string(L) + " layers";
  else g.title = "attention maps: " + std::to_string(L) + " layers \xC3\x97 " + std::to_string(H) + " heads";  // ×
  g.subtitle = "row: a query (Q); its weights over the keys (K) add up to 1; hatched: masked, a token never sees later ones";
  return g;
}

// The numbers: {"tokens": labels, "token_ids": ids, "layers": L, "heads": H, "maps": [{"layer",
// "head", "attention": (T, T) rows of queries}]}, the masked entries as the exact 0 the
// softmax gives them.
template <typename S>
nlohmann::json attention_map_json(const std::vector<Tensor<S>>& maps, const std::vector<std::string>& labels,
                                  const std::vector<TokenId>& ids, Index layer = -1, Index head = -1) {
  check_attention_maps(maps, labels, layer, head);
  const auto L = static_cast<Index>(maps.size()), T = static_cast<Index>(labels.size());
  const Index H = maps[0].dim(1);
  nlohmann::json j{{"tokens", labels},
                   {"token_ids", ids},
                   {"layers", L},
                   {"heads", H},
                   {"about", "attention[q][k]: the weight query position q gives key position k (each row sums to 1); "
                             "k > q is masked: 0"}};
  j["maps"] = nlohmann::json::array();
  for (Index l = 0; l < L; ++l)
    for (Index h = 0; h < H; ++h) {
      if ((layer != -1 && l != layer) || (head != -1 && h != head)) continue;
      nlohmann::json rows = nlohmann::json::array();
      for (Index t = 0; t < T; ++t) {
        std::vector<double> row;
        for (Index k = 0; k < T; ++k) row.push_back(static_cast<double>(maps[static_cast<std::size_t>(l)](0, h, t, k)));
        rows.push_back(row);
      }
      j["maps"].push_back({{"layer", l}, {"head", h}, {"attention", rows}});
    }
  return j;
}

}  // namespace minigpt
