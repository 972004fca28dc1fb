// The scaling_law program with --quick: its report holds what it says (five sizes spanning
// more than 30x, one token budget, FLOPs = 6 N D, the fits recomputed from the losses), the
// smallest model's loss is the library's own whole-split loss for the same recipe, and the
// pictures are well-formed with one point per size.
#include "common.hpp"
#include "xml.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

using Catch::Matchers::Contains;
using namespace minigpt;

TEST_CASE("scaling_law --quick: report, fits and pictures", "[programs][scaling_law]") {
  const std::string dir = test::temp_dir("scaling_law");
  const test::Run r = test::run_program("scaling_law", "--quick --out " + dir + "/run");
  INFO(r.out);
  REQUIRE(r.status == 0);
  const auto report = test::read_json(dir + "/run/report.json");
  const auto& models = report["models"];
  REQUIRE(models.size() == 5);
  const double D = report["budget"]["tokens_per_model"];
  std::vector<double> N, L;
  for (const auto& m : models) {
    const GPTConfig c = GPTConfig::make(m["n_layer"], m["n_head"], m["n_embd"], report["recipe"]["block_size"],
                                        report["vocab_size"]);
    const double non_embedding = static_cast<double>(c.parameter_count() - (c.vocab_size + c.n_positions) * c.n_embd);
    CHECK(m["parameters"] == c.parameter_count());
    CHECK(m["non_embedding_parameters"].get<double>() == non_embedding);
    CHECK(m["tokens"].get<double>() == D);  // one budget for all
    CHECK(m["flops"].get<double>() == 6 * non_embedding * D);
    CHECK(m["val_loss"].get<double>() > 0);
    CHECK(m["val_loss"].get<double>() < std::log(65.0) + 0.5);
    N.push_back(non_embedding);
    L.push_back(m["val_loss"]);
  }
  CHECK(N.back() / N.front() >= 30);
  CHECK(D == report["recipe"]["steps"].get<double>() * report["recipe"]["batch_size"].get<double>() *
                 report["recipe"]["block_size"].get<double>());

  // The fits are the library's on the reported losses.
  const PowerLawFit fit = fit_power_law_with_floor(N, L), pure = fit_power_law(N, L);
  CHECK(report["fit"]["alpha"].get<double>() == Approx(fit.alpha).epsilon(1e-12));
  CHECK(report["fit"]["E"].get<double>() == Approx(fit.floor).margin(1e-12));
  CHECK(report["fit"]["r2"].get<double>() == Approx(fit.r2).margin(1e-12));
  CHECK(report["fit_pure_power_law"]["alpha"].get<double>() == Approx(pure.alpha).epsilon(1e-12));

  // The smallest model again, trained here with the recipe in the report: the same loss on
  // the whole validation split (same seed, same shards on this machine).
  const std::string text = test::file_bytes(test::data("tinyshakespeare.txt"));
  const CharTokenizer tok = CharTokenizer::from_text(text);
  const DataSplit split = split_train_val(tok.encode(text), 0.9);
  CHECK(report["val_tokens"] == split.val.size());
  const auto& m0 = models[0];
  const auto& rec = report["recipe"];
  TrainOptions options;
  options.batch_size = rec["batch_size"];
  options.block_size = rec["block_size"];
  options.max_iters = rec["steps"];
  options.seed = rec["seed"];
  options.lr = {rec["lr"], rec["min_lr"], rec["warmup_steps"], rec["steps"]};
  Trainer<float> trainer(GPTConfig::make(m0["n_layer"], m0["n_head"], m0["n_embd"], options.block_size, tok.vocab_size()),
                         options, split);
  while (!trainer.done()) trainer.train_step();
  CHECK(trainer.split_loss(Trainer<float>::Split::val) == Approx(m0["val_loss"].get<double>()).epsilon(1e-12));

  // The pictures: one point per size on the log–log chart, one curve per size.
  const test::Xml scaling(test::file_bytes(dir + "/run/scaling.svg"));
  REQUIRE(scaling.ok());
  CHECK(scaling.number("count(//svg:circle[@class='point'])") == 5);
  const auto texts = scaling.texts("//svg:text");
  CHECK(std::count(texts.begin(), texts.end(), "L1 C16") == 1);
  CHECK(std::count_if(texts.begin(), texts.end(), [](const std::string& t) { return t.rfind("fit (N_c/N)^α + E: α_N = ", 0) == 0; }) == 1);
  CHECK(std::count(texts.begin(), texts.end(), "Kaplan et al. 2020: α_N = 0.076 (its slope)") == 1);
  const test::Xml curves(test::file_bytes(dir + "/run/curves.svg"));
  REQUIRE(curves.ok());
  CHECK(curves.number("count(//svg:polyline)") == 5);
  const auto numbers = test::read_json(dir + "/run/scaling.json");
  CHECK(numbers["series"][3]["y"][2].get<double>() == L[2]);
}

TEST_CASE("scaling_law answers bad flags with one line", "[programs][scaling_law]") {
  const test::Run no_out = test::run_program("scaling_law", "--quick");
  CHECK(no_out.status == 2);
  CHECK_THAT(no_out.out, Contains("--out"));
  const test::Run bad_data = test::run_program("scaling_law", "--quick --out x --data does-not-exist.txt");
  CHECK(bad_data.status == 1);
  CHECK_THAT(bad_data.out, Contains("does-not-exist.txt"));
  CHECK(std::count(bad_data.out.begin(), bad_data.out.end(), '\n') == 1);
  const test::Run help = test::run_program("scaling_law", "--help");
  CHECK(help.status == 0);
  CHECK_THAT(help.out, Contains("--quick") && Contains("--tokens"));
}
