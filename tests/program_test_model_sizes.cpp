// The model_sizes program: its Markdown table against numbers computed here, independently:
// parameters summed tensor by tensor in Hugging Face GPT-2's layout (and the published
// counts), attention per token, FLOPs per token and KV-cache bytes from the architectures'
// published sizes, not from GPTConfig.
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

#include <sstream>

using Catch::Matchers::Contains;

namespace {

struct Architecture {
  std::string name;
  long long L, H, C, n_ctx, V;
};

// Every tensor of a tied GPT-2 checkpoint, summed: wte, wpe, then per layer ln_1, attn.c_attn,
// attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj, and ln_f.
long long tensor_sum(const Architecture& a) {
  const long long C = a.C;
  long long layer = 0;
  layer += C + C;                  // ln_1 weight, bias
  layer += C * 3 * C + 3 * C;      // c_attn
  layer += C * C + C;              // attn c_proj
  layer += C + C;                  // ln_2
  layer += C * 4 * C + 4 * C;      // c_fc
  layer += 4 * C * C + C;          // mlp c_proj
  return a.V * C + a.n_ctx * C + a.L * layer + 2 * C;
}

long long number(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), ','), s.end());
  return std::stoll(s);
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(' '), e = s.find_last_not_of(' ');
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

TEST_CASE("model_sizes --markdown: the chapter's numbers, computed independently", "[programs][model_sizes]") {
  const test::Run r = test::run_program("model_sizes", "--markdown");
  REQUIRE(r.status == 0);
  // | model | layers | heads | head size | d_model | context | parameters N | L×H | 6N | 2N + attention | KV |
  std::map<std::string, std::vector<std::string>> rows;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("| ", 0) != 0) continue;
    std::vector<std::string> cells;
    std::istringstream cut(line.substr(1));
    for (std::string cell; std::getline(cut, cell, '|');) cells.push_back(trim(cell));
    if (cells.size() == 11) rows[cells[0]] = cells;
  }
  const std::vector<Architecture> models = {{"GPT-1", 12, 12, 768, 512, 40478},
                                            {"GPT-2", 12, 12, 768, 1024, 50257},
                                            {"GPT-2 medium", 24, 16, 1024, 1024, 50257},
                                            {"GPT-2 large", 36, 20, 1280, 1024, 50257},
                                            {"GPT-2 XL", 48, 25, 1600, 1024, 50257},
                                            {"GPT-3 175B", 96, 96, 12288, 2048, 50257}};
  for (const Architecture& a : models) {
    INFO(a.name);
    REQUIRE(rows.count(a.name) == 1);
    const auto& c = rows[a.name];
    const long long N = tensor_sum(a);
    CHECK(number(c[1]) == a.L);
    CHECK(number(c[2]) == a.H);
    CHECK(number(c[3]) * a.H == a.C);
    CHECK(number(c[4]) == a.C);
    CHECK(number(c[5]) == a.n_ctx);
    CHECK(number(c[6]) == N);
    CHECK(number(c[7]) == a.L * a.H);
    CHECK(number(c[8]) == 6 * N);
    CHECK(number(c[9]) == 2 * N + 2 * a.L * a.n_ctx * a.C + 2 * a.L * a.n_ctx * a.C);  // Q·Kᵀ and att·V
    CHECK(number(c[10]) == 2 * a.L * a.C * 2);                                        // K and V, fp16
  }
  // The published counts (Hugging Face's checkpoints) and the chapter's figures.
  CHECK(number(rows["GPT-2"][6]) == 124439808);
  CHECK(number(rows["GPT-2 medium"][6]) == 354823168);
  CHECK(number(rows["GPT-2 large"][6]) == 774030080);
  CHECK(number(rows["GPT-2 XL"][6]) == 1557611200);
  CHECK(number(rows["GPT-3 175B"][3]) == 128);
  CHECK(number(rows["GPT-3 175B"][7]) == 9216);
  CHECK(rows["GPT-3 175B"][4] == "12,288");

  // The screen table has the same numbers; a saved model adds a row; JSON too.
  const std::string dir = test::temp_dir("model_sizes");
  const test::Run screen =
      test::run_program("model_sizes", "--model " + test::data("gpt2-tiny") + " --json " + dir + "/sizes.json");
  REQUIRE(screen.status == 0);
  CHECK_THAT(screen.out, Contains("174,604,259,328") && Contains("9,216") && Contains("gpt2-tiny"));
  const auto j = test::read_json(dir + "/sizes.json");
  REQUIRE(j["models"].size() == 7);
  CHECK(j["models"][6]["parameters"] == tensor_sum({"tiny", 2, 3, 48, 24, 101}));
  CHECK(j["models"][5]["kv_cache_bytes_per_token_fp16"] == 4718592);

  const test::Run bad = test::run_program("model_sizes", "--model does-not-exist");
  CHECK(bad.status == 1);
  CHECK_THAT(bad.out, Contains("does-not-exist/config.json"));
  CHECK(std::count(bad.out.begin(), bad.out.end(), '\n') == 1);
}
