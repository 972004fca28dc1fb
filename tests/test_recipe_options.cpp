// The recipe's options (recipe.hpp): report.json's "options" written from the one table and
// read back field for field; a field of the wrong type named; a run that reuses saved steps
// refused when an option of those steps differs, and let through when only a later step's
// does; the world options reach the world (the 4+ people's mentions counted in its text).
#include <catch2/catch.hpp>
#include "common.hpp"
#include <minigpt/recipe.hpp>

#include <string>
#include <type_traits>

using namespace minigpt;
using Catch::Matchers::Contains;

namespace recipe_options_test {

// Every field of the table moved off its default: integers by one more than their default,
// rates doubled (so a field the table forgot to read back keeps its default and shows).
RecipeOptions all_changed() {
  RecipeOptions o;
  RecipeOptions::for_each_field(
      [](const char*, detail::FieldSpec, auto& v) {
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_floating_point<V>::value)
          v *= 2;
        else
          v += 1;
      },
      o);
  return o;
}

// The error check_resumed_options throws, or "" when it throws none.
std::string resume_error(const nlohmann::ordered_json& report, const RecipeOptions& o, int reused) {
  try {
    check_resumed_options(report, "run/report.json", o, reused);
  } catch (const FileError& e) {
    return e.field() + " | " + e.what();
  }
  return "";
}

}  // namespace recipe_options_test

TEST_CASE("RecipeOptions write report.json's options from one table and read every field back", "[recipe]") {
  using namespace recipe_options_test;
  const RecipeOptions o = all_changed();
  const nlohmann::ordered_json j = o.to_json();
  // The layout report.json has always had, with the world's group added.
  CHECK(j["seed"].get<std::uint64_t>() == RecipeOptions{}.seed + 1);
  CHECK(j["model"]["n_layer"].get<Index>() == RecipeOptions{}.n_layer + 1);
  CHECK(j["reward"]["steps"].get<Index>() == RecipeOptions{}.rm_steps + 1);
  CHECK(j["ppo"]["kl_coef"].get<double>() == 2 * RecipeOptions{}.kl_coef);
  CHECK(j["world"]["often_min"].get<Index>() == RecipeOptions{}.often_min + 1);
  const RecipeOptions back = RecipeOptions::from_json(j, "report.json");
  CHECK(detail::fields_equal(back, o));
  CHECK(!detail::fields_equal(back, RecipeOptions{}));
  // A report of an older version has no world group: its defaults stand.
  nlohmann::ordered_json old = RecipeOptions{}.to_json();
  old.erase("world");
  CHECK(detail::fields_equal(RecipeOptions::from_json(old, "report.json"), RecipeOptions{}));
  // A field of the wrong type, and a group that is not an object, are named.
  nlohmann::ordered_json bad = j;
  bad["sft"]["lr"] = "fast";
  CHECK_THROWS_WITH(RecipeOptions::from_json(bad, "run/report.json"), Contains("run/report.json: options.sft.lr: must be a number"));
  bad = j;
  bad["model"] = 4;
  CHECK_THROWS_WITH(RecipeOptions::from_json(bad, "run/report.json"), Contains("options.model: must be a JSON object"));
  CHECK_THROWS_AS(RecipeOptions::from_json(nlohmann::ordered_json::array(), "run/report.json"), FileError);
}

TEST_CASE("a run reusing saved steps must have the options those steps were made with", "[recipe]") {
  using namespace recipe_options_test;
  const RecipeOptions saved;
  const nlohmann::ordered_json report{{"options", saved.to_json()}, {"base", {{"val_loss", 2.3}}}};
  CHECK(resume_error(report, saved, 3).empty());

  RecipeOptions o = saved;  // another seed: another world, whatever is reused
  o.seed = 7;
  const std::string seed = resume_error(report, o, 1);
  CHECK_THAT(seed, Contains("options.seed | run/report.json: options.seed: the saved steps were made with 1234, this run has 7"));

  o = saved;  // the world's options belong to step 1
  o.often_min = 48;
  CHECK_THAT(resume_error(report, o, 1), Contains("options.world.often_min"));

  // A step's options may change when the run redoes that step, not when it reuses it.
  o = saved;
  o.sft_steps = 150;
  CHECK(resume_error(report, o, 1).empty());
  CHECK_THAT(resume_error(report, o, 2), Contains("options.sft.steps"));
  o = saved;
  o.rm_lr = 3e-4;
  CHECK(resume_error(report, o, 2).empty());
  CHECK_THAT(resume_error(report, o, 3), Contains("options.reward.lr: the saved steps were made with 0.0001, this run has 0.0003"));
  o = saved;  // PPO's options are never reused
  o.kl_coef = 0.001;
  o.ptx_coef = 0;
  CHECK(resume_error(report, o, 3).empty());

  // Every field of steps 1 to 3 is compared: each one moved alone is refused at reused = 3.
  Index refused = 0, fields = 0;
  RecipeOptions::for_each_field(
      [&](const char* name, detail::FieldSpec, auto&) {
        if (RecipeOptions::step_of_option(name) > 3) return;
        ++fields;
        RecipeOptions one = saved;
        RecipeOptions::for_each_field(  // move only the field called `name`
            [&](const char* n, detail::FieldSpec, auto& v) {
              if (std::string(n) == name) v = static_cast<std::decay_t<decltype(v)>>(v + 1);
            },
            one);
        const std::string e = resume_error(report, one, 3);
        INFO(name << ": " << e);
        CHECK_THAT(e, Contains(std::string("options.") + name));
        refused += !e.empty();
      },
      o);
  CHECK(fields == 17);  // seed, 2 world, 4 model, 3 pre-training, 3 SFT, 4 reward-model fields
  CHECK(refused == fields);

  CHECK_THAT(resume_error(nlohmann::ordered_json{{"base", 1}}, saved, 1), Contains("options | run/report.json: options: missing"));
}

TEST_CASE("the recipe's world options reach the world it writes", "[recipe]") {
  const std::string dir = test::scratch("recipe-world");
  const std::string prose = detail::read_file(test::data("tinyshakespeare.txt"));
  RecipeOptions o;
  o.often_min = 48;
  o.often_max = 64;
  const RecipeWorld w = make_recipe_world(o, prose, dir);
  const nlohmann::json world = test::read_json(dir + "/data/world.json");
  CHECK(world["often_mentions"] == nlohmann::json({48, 64}));
  Index often = 0;
  for (const nlohmann::json& p : world["people"]) {
    if (p["group"] != "4+") continue;
    ++often;
    const Index m = p["mentions"].get<Index>();
    INFO(p["name"]);
    CHECK((m >= 48 && m <= 64));
  }
  CHECK(often == WorldOptions{}.groups[3].people);
  nlohmann::ordered_json report;
  w.describe(report, o);
  CHECK(report["options"]["world"]["often_min"].get<Index>() == 48);
}
