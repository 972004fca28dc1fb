// PCA of the embeddings against a direct computation: the singular value decomposition of the
// centred matrix (JacobiSVD, a different algorithm from the eigensolver pca() uses), the
// variance of the projected points, orthonormal components; a worked example; the groups.
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

using namespace minigpt;

TEST_CASE("pca equals the SVD of the centred matrix", "[embedding_map]") {
  Rng rng(7);
  const Index n = 60, C = 9, k = 3;
  Eigen::MatrixXd X(n, C);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < C; ++j) X(i, j) = rng.normal() * (1.0 + static_cast<double>(j)) + 0.5 * static_cast<double>(j);
  const PCA p = pca(X, k);

  // Directly: X_c = U S Vᵀ; the components are V's columns (up to sign), the variances
  // S² / (n − 1), the coordinates U S.
  const Eigen::MatrixXd Xc = X.rowwise() - X.colwise().mean();
  const Eigen::JacobiSVD<Eigen::MatrixXd> svd(Xc, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const Eigen::VectorXd s = svd.singularValues();
  double total = 0;
  for (Index j = 0; j < C; ++j) total += Xc.col(j).squaredNorm() / static_cast<double>(n - 1);
  CHECK(p.total_variance == Approx(total).epsilon(1e-12));
  for (Index i = 0; i < k; ++i) {
    INFO("component " << i);
    CHECK(p.variance(i) == Approx(s(i) * s(i) / static_cast<double>(n - 1)).epsilon(1e-10));
    CHECK(std::abs(p.components.col(i).dot(svd.matrixV().col(i))) == Approx(1.0).epsilon(1e-10));
    const double sign = p.components.col(i).dot(svd.matrixV().col(i)) > 0 ? 1.0 : -1.0;
    CHECK((p.coordinates.col(i) - sign * svd.matrixU().col(i) * s(i)).cwiseAbs().maxCoeff() <= 1e-9 * s(i));
    // The variance of the drawn coordinates is the component's variance.
    CHECK(p.coordinates.col(i).squaredNorm() / static_cast<double>(n - 1) == Approx(p.variance(i)).epsilon(1e-10));
    CHECK(p.explained(i) == Approx(p.variance(i) / total));
  }
  // Orthonormal components, uncorrelated coordinates, variance in decreasing order.
  CHECK((p.components.transpose() * p.components - Eigen::MatrixXd::Identity(k, k)).cwiseAbs().maxCoeff() <= 1e-12);
  const Eigen::MatrixXd cross = p.coordinates.transpose() * p.coordinates / static_cast<double>(n - 1);
  CHECK(std::abs(cross(0, 1)) <= 1e-9 * p.variance(0));
  CHECK(p.variance(0) >= p.variance(1));
  CHECK(p.variance(1) >= p.variance(2));
}

TEST_CASE("pca on the header's worked example, and bad input", "[embedding_map]") {
  Eigen::MatrixXd X(4, 2);
  X << 0, 0, 2, 0, 0, 1, 2, 1;
  const PCA p = pca(X, 2);
  CHECK(p.variance(0) == Approx(4.0 / 3));
  CHECK(p.variance(1) == Approx(1.0 / 3));
  CHECK(p.explained(0) == Approx(0.8));
  CHECK(p.components(0, 0) == Approx(1.0));  // the sign rule: largest entry positive
  CHECK(p.coordinates(0, 0) == Approx(-1.0));
  CHECK_THROWS_AS(pca(X, 3), ArgumentError);
  CHECK_THROWS_AS(pca(X.topRows(1), 1), ArgumentError);
  X(1, 1) = std::nan("");
  CHECK_THROWS_AS(pca(X, 1), ArgumentError);
}

TEST_CASE("token groups for a character-level model", "[embedding_map]") {
  CHECK(token_group("a") == "vowels");
  CHECK(token_group("z") == "consonants");
  CHECK(token_group("Q") == "capitals");
  CHECK(token_group("7") == "digits");
  CHECK(token_group("!") == "punctuation");
  CHECK(token_group("\n") == "white space");
  CHECK(token_group(" ") == "white space");
  CHECK(token_group(" the") == "longer tokens");
  CHECK(token_group("\xEB") == "other characters");  // a lone byte (GPT-2's byte tokens 128..255)
  CHECK(token_group("토") == "other characters");
  CHECK(token_group("토큰") == "longer tokens");
}
