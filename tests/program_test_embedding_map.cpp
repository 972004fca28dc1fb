// The embedding_map program on a small character-level model: one labelled point per token,
// well-formed SVG, coordinates equal to the SVD of the model's own wte, clear errors.
#include "common.hpp"
#include "xml.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

using Catch::Matchers::Contains;
using namespace minigpt;

TEST_CASE("embedding_map draws one labelled point per token at its principal coordinates", "[programs][embedding_map]") {
  const std::string dir = test::temp_dir("embedding_map");
  const CharTokenizer tok = CharTokenizer::from_text("aeiou bcdXYZ019.,;!?\n&<토😀");
  GPT<float> model(GPTConfig::make(1, 2, 16, 8, tok.vocab_size()));
  Rng rng(3);
  model.init_weights(rng);
  save_model(model, dir);
  tok.save(dir);
  const test::Run r = test::run_program("embedding_map", "--model " + dir + " --out " + dir + "/e.svg --json " + dir + "/e.json");
  INFO(r.out);
  REQUIRE(r.status == 0);
  const Index V = tok.vocab_size();

  const test::Xml xml(test::file_bytes(dir + "/e.svg"));
  REQUIRE(xml.ok());
  CHECK(xml.number("count(//svg:circle[@class='point'])") == V);
  const auto texts = xml.texts("//svg:text");
  for (TokenId id = 0; id < V; ++id) {
    const std::string label = chart::token_label(tok.token_bytes(id));  // "\n" for the newline, ␣ for the space
    INFO("token " << id << " " << label);
    CHECK(std::count(texts.begin(), texts.end(), label) >= 1);
  }
  for (const char* group : {"vowels (5)", "consonants (3)", "capitals (3)", "digits (3)", "punctuation (7)", "white space (2)",
                            "other characters (2)"})
    CHECK(std::count(texts.begin(), texts.end(), std::string(group)) == 1);

  // The coordinates: the centred wte times the right singular vectors (up to sign).
  const auto j = test::read_json(dir + "/e.json");
  REQUIRE(j["tokens"].size() == static_cast<std::size_t>(V));
  GPT<float> saved = load_model<float>(dir);
  const Eigen::MatrixXd wte = saved.parameters().get("wte.weight").cast<double>();
  const Eigen::MatrixXd centred = wte.rowwise() - wte.colwise().mean();
  const Eigen::JacobiSVD<Eigen::MatrixXd> svd(centred, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const double total = centred.squaredNorm();
  for (int c = 0; c < 2; ++c) {
    const Eigen::VectorXd want = svd.matrixU().col(c) * svd.singularValues()(c);
    Eigen::VectorXd got(V);
    for (Index i = 0; i < V; ++i) got(i) = j["tokens"][static_cast<std::size_t>(i)][c == 0 ? "x" : "y"];
    const double sign = got.dot(want) > 0 ? 1 : -1;
    CHECK((got - sign * want).cwiseAbs().maxCoeff() <= 1e-9 * svd.singularValues()(0));
    CHECK(j["explained_variance_ratio"][c].get<double>() ==
          Approx(svd.singularValues()(c) * svd.singularValues()(c) / total).epsilon(1e-9));
  }
  CHECK(j["tokens"][0]["group"] == "white space");  // "\n", the first character
}

TEST_CASE("embedding_map answers bad input with one clear line", "[programs][embedding_map]") {
  const test::Run missing = test::run_program("embedding_map", "--model does-not-exist --out x.svg");
  CHECK(missing.status == 1);
  CHECK_THAT(missing.out, Contains("does-not-exist"));
  CHECK(std::count(missing.out.begin(), missing.out.end(), '\n') == 1);
  const test::Run no_out = test::run_program("embedding_map", "--model " + test::data("gpt2-tiny"));
  CHECK(no_out.status == 2);
  CHECK_THAT(no_out.out, Contains("--out"));
  const test::Run no_tok = test::run_program("embedding_map", "--model " + test::data("gpt2-tiny") +
                                                                  " --tokenizer does-not-exist --out x.svg");
  CHECK(no_tok.status == 1);
  CHECK_THAT(no_tok.out, Contains("does-not-exist"));
  CHECK(test::run_program("embedding_map", "--help").status == 0);
}
