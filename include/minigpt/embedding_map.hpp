// minigpt/embedding_map.hpp — embeddings (임베딩), drawn: the token vectors of a model
// projected onto the plane that shows most of their spread (principal component analysis).
//
// Chapter idea: an embedding gives every token a vector of C numbers (GPT-2: 768; current
// embedding APIs: 3,072), learned so that tokens used alike end up close. C dimensions cannot
// be drawn, but a plane through them can: the one along which the vectors spread the most.
// For n vectors x_i (rows of X, n × C):
//     mean   m = (1/n) Σ x_i;   X_c = X − m (every row)
//     Σ      = X_cᵀ X_c / (n − 1)                     (C, C) the covariance
//     Σ v_k  = λ_k v_k,  λ_1 ≥ λ_2 ≥ ...              eigenvectors: the principal components
//     y_i    = (x_i − m) · [v_1 v_2]                  (n, 2) the point drawn for token i
// λ_k is the variance along v_k, and λ_k / trace(Σ) the share of all variance the k-th axis
// shows. What the plane does not show (1 − (λ_1 + λ_2) / trace Σ) is hidden: two tokens
// drawn side by side may be far apart along the other C − 2 directions.
//
// In a character-level model (next_token_predictor's shakespeare-char) every token is one
// character; token_group() sorts them into vowels, consonants, capitals, digits, punctuation
// and white space, so a reader sees whether the model has put alike characters together.
//
//   In:  X (n, C), e.g. the model's wte (V, C); the tokens' bytes.
//   Out: a PCA (components (C, k), coordinates (n, k), variances (k)); a chart::Figure of
//        labelled points coloured by group.
//
// Example:
//     PCA p = pca(model.parameters().get("wte.weight").cast<double>(), 2);
//     p.coordinates.row(id)        // where token id is drawn
//     p.explained(0)               // e.g. 0.21: the first axis shows 21% of the variance
//   For the points (0, 0), (2, 0), (0, 1), (2, 1) the components are (1, 0) and (0, 1), the
//   variances 4/3 and 1/3, and the first axis explains 80%.
#pragma once

#include "chart.hpp"
#include "error.hpp"
#include "tensor.hpp"
#include "unicode.hpp"

#include <Eigen/Dense>

#include <string>
#include <vector>

namespace minigpt {

struct PCA {
  Eigen::RowVectorXd mean;      // (C)
  Eigen::MatrixXd components;   // (C, k): orthonormal columns, most variance first
  Eigen::MatrixXd coordinates;  // (n, k): (x_i − mean) · components
  Eigen::VectorXd variance;     // (k): λ_1 ≥ ... ≥ λ_k, the variance along each component
  double total_variance = 0;    // trace Σ: the variance of all C directions together
  double explained(Index i) const { return total_variance > 0 ? variance(i) / total_variance : 0.0; }
};

// The k principal components of the rows of X (n, C), computed with Eigen's self-adjoint
// eigensolver on the covariance in double. Each component's sign is chosen so that its entry
// of largest magnitude is positive (the same picture on every run). Needs n >= 2, 1 <= k <= C.
inline PCA pca(const Eigen::MatrixXd& X, Index k) {
  const Index n = X.rows(), C = X.cols();
  if (n < 2 || C < 1 || k < 1 || k > C)
    throw ArgumentError("pca: need at least 2 rows and 1 <= k <= C, got " + std::to_string(n) + " rows, C = " +
                        std::to_string(C) + ", k = " + std::to_string(k));
  if (!X.allFinite()) throw ArgumentError("pca: the matrix holds a NaN or an infinity");
  PCA p;
  p.mean = X.colwise().mean();
  const Eigen::MatrixXd Xc = X.rowwise() - p.mean;
  const Eigen::MatrixXd cov = (Xc.transpose() * Xc) / static_cast<double>(n - 1);
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);  // eigenvalues ascending
  if (eig.info() != Eigen::Success) throw ArgumentError("pca: the eigensolver did not converge");
  p.components.resize(C, k);
  p.variance.resize(k);
  for (Index i = 0; i < k; ++i) {
    Eigen::VectorXd v = eig.eigenvectors().col(C - 1 - i);
    Index at = 0;
    v.cwiseAbs().maxCoeff(&at);
    if (v(at) < 0) v = -v;
    p.components.col(i) = v;
    p.variance(i) = std::max(0.0, eig.eigenvalues()(C - 1 - i));
  }
  p.total_variance = cov.trace();
  p.coordinates = Xc * p.components;
  return p;
}

// What kind of token a token is, for colouring: an ASCII character's class, "other
// characters" for any other single character or a lone byte, "longer tokens" for the rest.
inline std::string token_group(const std::string& bytes) {
  if (bytes.empty()) return "longer tokens";
  if (decode_utf8(bytes, 0).length != bytes.size()) return "longer tokens";
  const char c = bytes[0];
  if (c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u') return "vowels";
  if (c >= 'a' && c <= 'z') return "consonants";
  if (c >= 'A' && c <= 'Z') return "capitals";
  if (c >= '0' && c <= '9') return "digits";
  if (c == ' ' || c == '\n' || c == '\t' || c == '\r') return "white space";
  if (c > ' ' && c < 0x7F) return "punctuation";
  return "other characters";
}

// The groups in the order the legend lists them, each with its colour.
inline std::vector<std::pair<std::string, std::string>> token_groups() {
  return {{"vowels", "#D55E00"},      {"consonants", "#0072B2"},       {"capitals", "#009E73"},
          {"digits", "#E69F00"},      {"punctuation", "#CC79A7"},      {"white space", "#000000"},
          {"other characters", "#999999"}, {"longer tokens", "#56B4E9"}};
}

// The projected tokens as labelled points, one series (colour) per group. tokens[i] holds the
// bytes of the token drawn at p.coordinates.row(i).
inline chart::Figure embedding_map_figure(const PCA& p, const std::vector<std::string>& tokens, const std::string& title) {
  if (static_cast<Index>(tokens.size()) != p.coordinates.rows() || p.coordinates.cols() < 2)
    throw ArgumentError("embedding map: " + std::to_string(tokens.size()) + " tokens for " +
                        std::to_string(p.coordinates.rows()) + " points (2 coordinates each needed)");
  chart::Figure f;
  f.title = title;
  f.width = 900;
  f.height = 700;
  char axis[96];
  std::snprintf(axis, sizeof axis, "principal component 1 (%.1f%% of the variance)", 100 * p.explained(0));
  f.x = {axis};
  std::snprintf(axis, sizeof axis, "principal component 2 (%.1f%% of the variance)", 100 * p.explained(1));
  f.y = {axis};
  for (const auto& [group, colour] : token_groups()) {
    chart::Series s{group, {}, {}, chart::Mark::points, colour};
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (token_group(tokens[i]) != group) continue;
      s.x.push_back(p.coordinates(static_cast<Index>(i), 0));
      s.y.push_back(p.coordinates(static_cast<Index>(i), 1));
      s.point_labels.push_back(chart::token_label(tokens[i]));
    }
    if (s.x.empty()) continue;
    s.label += " (" + std::to_string(s.x.size()) + ")";
    f.series.push_back(s);
  }
  char note[200];
  std::snprintf(note, sizeof note,
                "These two axes show %.1f%% of the variance of %lld dimensions; tokens drawn close together may "
                "still differ along the other %lld.",
                100 * (p.explained(0) + p.explained(1)), static_cast<long long>(p.components.rows()),
                static_cast<long long>(p.components.rows() - 2));
  f.footnotes.push_back(note);
  return f;
}

}  // namespace minigpt
