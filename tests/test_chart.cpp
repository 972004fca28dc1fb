// The chart module: every picture is well-formed XML read back by libxml2, text survives as
// UTF-8, points, bars and heat map cells are drawn once each (masked cells not as values),
// axes and ticks, and the JSON holds the numbers drawn.
#include "common.hpp"
#include "xml.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

using namespace minigpt;

TEST_CASE("chart text is escaped, kept as UTF-8, and always well-formed", "[chart]") {
  CHECK(detail::xml_text("a<b & \"c\" 'd'>") == "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
  CHECK(detail::xml_text("토큰 😀") == "토큰 😀");                 // kept as it is
  CHECK(detail::xml_text("a\xFF" "b\x01") == "a\\xFFb\\x01");  // not XML: shown as \xNN
  CHECK(chart::short_number(12288) == "12.3k");
  CHECK(chart::short_number(1.5e6) == "1.5M");
  CHECK(chart::short_number(174604259328.0) == "175B");
  CHECK(chart::short_number(1.047e12) == "1.05T");
  CHECK(chart::short_number(0.076) == "0.076");
  CHECK(chart::short_number(3) == "3");
  CHECK(chart::darker("#ffffff", 0.5) == "#808080");
  CHECK(chart::token_label(" the") == "\xE2\x90\xA3the");
  CHECK(chart::token_label("a\nb") == "a\\nb");
  CHECK(chart::token_label("\xED\x86") == "\\xED\\x86");    // half a Hangul syllable
  CHECK(chart::token_label("") == "\xE2\x88\x85");

  // Whatever the title holds, libxml2 reads the document, and valid text comes back unchanged.
  const std::string title = "어텐션맵 <Q, K> & \"V\" 😀 ✓";
  chart::Figure f;
  f.title = title;
  f.subtitle = "broken \xC3 byte, bell \x07";
  f.series.push_back({"series & <more>", {1, 2, 3}, {1, 4, 9}});
  const test::Xml xml(chart::to_svg(f));
  REQUIRE(xml.ok());
  const auto texts = xml.texts("//svg:text");
  CHECK(std::find(texts.begin(), texts.end(), title) != texts.end());
  CHECK(std::find(texts.begin(), texts.end(), "broken \\xC3 byte, bell \\x07") != texts.end());
  CHECK(std::find(texts.begin(), texts.end(), "series & <more>") != texts.end());

  // The checker itself refuses what is not well-formed.
  CHECK_FALSE(test::Xml("<svg><text>a & b</text></svg>").ok());
  CHECK_FALSE(test::Xml("<svg><text>\xFF</text></svg>").ok());
}

TEST_CASE("chart figure: one mark per drawable point, log ticks, legend, JSON", "[chart]") {
  chart::Figure f;
  f.title = "loss against size";
  f.x = {"parameters", chart::Scale::log};
  f.y = {"loss", chart::Scale::log};
  // Five points; 0 and NaN cannot be drawn on a log axis: three circles.
  f.series.push_back({"runs", {1e4, 3e4, 0, 1e5, 1e6}, {2.5, 2.2, 2.0, std::nan(""), 1.6}, chart::Mark::points});
  chart::Series fit{"fit", {1e4, 1e6}, {2.5, 1.6}, chart::Mark::line, "#ff0000"};
  fit.dashed = true;
  f.series.push_back(fit);
  f.rules.push_back({false, 4.17, "log V"});
  f.footnotes.push_back("a footnote");
  const std::string svg = chart::to_svg(f);
  const test::Xml xml(svg);
  REQUIRE(xml.ok());
  CHECK(xml.number("count(//svg:circle[@class='point'])") == 3);
  CHECK(xml.number("count(//svg:polyline[@stroke='#ff0000'][@stroke-dasharray])") == 1);
  const auto texts = xml.texts("//svg:text");
  for (const char* t : {"10k", "100k", "1M", "runs", "fit", "log V", "a footnote", "parameters", "loss"}) {
    INFO(t);
    CHECK(std::find(texts.begin(), texts.end(), std::string(t)) != texts.end());
  }
  // Less than a decade on a log axis: round linear ticks (2, 3, 4 ...), not powers of ten.
  CHECK(std::find(texts.begin(), texts.end(), "2") != texts.end());
  CHECK(std::find(texts.begin(), texts.end(), "3") != texts.end());

  const nlohmann::json j = chart::to_json(f);
  CHECK(j["x"]["scale"] == "log");
  CHECK(j["series"][0]["x"][2] == 0.0);
  CHECK(j["series"][0]["y"][3].is_null());  // NaN kept as null
  CHECK(j["series"][0]["y"][4] == 1.6);
  CHECK(j["rules"][0]["at"] == 4.17);

  // A linear axis: ticks at round steps covering the data, bars from 0.
  chart::Figure b;
  b.x = {"confidence"};
  b.y = {"accuracy"};
  b.x.min = 0, b.x.max = 1, b.y.min = 0, b.y.max = 1;
  b.series.push_back({"accuracy", {0.05, 0.15, 0.25}, {0.1, 0.0, 0.3}, chart::Mark::bars});
  b.series.push_back({"", {0, 1}, {0, 1}, chart::Mark::line, "#888888"});  // the diagonal
  const test::Xml bars(chart::to_svg(b));
  REQUIRE(bars.ok());
  CHECK(bars.number("count(//svg:rect[@class='bar'])") == 3);
  const auto labels = bars.texts("//svg:text");
  CHECK(std::find(labels.begin(), labels.end(), "0.0") != labels.end());
  CHECK(std::find(labels.begin(), labels.end(), "1.0") != labels.end());
  CHECK(std::count(labels.begin(), labels.end(), "accuracy") == 2);  // the y axis and the legend

  chart::Series bad{"bad", {1, 2}, {1}};
  b.series.push_back(bad);
  CHECK_THROWS_AS(chart::to_svg(b), ArgumentError);
}

TEST_CASE("chart legend: in the plot's emptiest corner, or under the plot when every corner holds data", "[chart]") {
  // The legend's box against the plot's frame (the one rect drawn with stroke #444444).
  auto legend_inside = [](const chart::Figure& f) {
    const test::Xml xml(chart::to_svg(f));
    REQUIRE(xml.ok());
    REQUIRE(xml.number("count(//svg:g[@class='legend']/svg:rect)") == 1);
    const double frame_bottom = xml.number("//svg:rect[@stroke='#444444']/@y") + xml.number("//svg:rect[@stroke='#444444']/@height");
    const double legend_top = xml.number("//svg:g[@class='legend']/svg:rect/@y");
    const auto texts = xml.texts("//svg:text");
    CHECK(std::count(texts.begin(), texts.end(), std::string("rising")) == 1);
    return legend_top < frame_bottom;
  };
  // A line from the bottom left to the top right: the two other corners are empty.
  chart::Figure f;
  f.footnotes.push_back("a footnote");
  chart::Series rising{"rising", {}, {}, chart::Mark::line_points};
  for (int i = 0; i <= 40; ++i) rising.x.push_back(i), rising.y.push_back(i);
  f.series.push_back(rising);
  CHECK(legend_inside(f));
  // And one from the top left to the bottom right: every corner holds a line now.
  chart::Series falling{"falling", {}, {}, chart::Mark::line_points};
  for (int i = 0; i <= 40; ++i) falling.x.push_back(i), falling.y.push_back(40 - i);
  f.series.push_back(falling);
  CHECK_FALSE(legend_inside(f));
  // ... unless the figure asks for a corner.
  f.legend = chart::LegendPlace::top_left;
  CHECK(legend_inside(f));
}

TEST_CASE("chart point labels: every label drawn once, as text", "[chart]") {
  chart::Figure f;
  chart::Series s{"letters", {}, {}, chart::Mark::points};
  const std::vector<std::string> labels = {"a", "토", "😀", "&", "␣"};
  for (std::size_t i = 0; i < labels.size(); ++i) {
    s.x.push_back(static_cast<double>(i));
    s.y.push_back(static_cast<double>(i % 2));
    s.point_labels.push_back(labels[i]);
  }
  f.series.push_back(s);
  const test::Xml xml(chart::to_svg(f));
  REQUIRE(xml.ok());
  CHECK(xml.number("count(//svg:circle[@class='point'])") == 5);
  const auto texts = xml.texts("//svg:text");
  for (const std::string& l : labels) CHECK(std::count(texts.begin(), texts.end(), l) == 1);
}

TEST_CASE("chart heat map grid: one cell per unmasked value, masked drawn as masked", "[chart]") {
  chart::HeatmapGrid g;
  g.title = "attention";
  g.row_labels = {"나", "는", "😀", "<a>"};
  g.col_labels = g.row_labels;
  g.row_axis = "query (Q)";
  g.col_axis = "key (K)";
  g.columns = 2;
  for (int p = 0; p < 3; ++p) {
    chart::Heatmap h;
    h.title = "head " + std::to_string(p);
    h.rows = h.cols = 4;
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 4; ++c) {
        h.values.push_back(c <= r ? 1.0 / (r + 1) : 0.0);
        h.masked.push_back(c > r);
      }
    g.panels.push_back(h);
  }
  g.panels[2].values[0] = 0.0;  // an unmasked zero is a cell, drawn white, not masked
  const std::string svg = chart::to_svg(g);
  const test::Xml xml(svg);
  REQUIRE(xml.ok());
  CHECK(xml.number("count(//svg:rect[@class='cell'])") == 3 * 10);
  CHECK(xml.number("count(//svg:rect[@class='masked'])") == 3);
  CHECK(xml.number("count(//svg:rect[@class='cell'][@fill='" + chart::heat_colour(0) + "'])") == 1);
  CHECK(xml.number("count(//svg:rect[@class='cell'][@fill='" + chart::heat_colour(1) + "'])") == 2);  // (0, 0) of panels 0 and 1
  const auto texts = xml.texts("//svg:text");
  // Row labels left of each row of panels (2 rows), column labels under the lowest panels
  // (panel 1 has none beneath it, panel 2 is in the last row): 2 + 2 of each label.
  CHECK(std::count(texts.begin(), texts.end(), "나") == 4);
  CHECK(std::count(texts.begin(), texts.end(), "<a>") == 4);
  for (const char* t : {"query (Q)", "key (K)", "masked", "head 2", "attention"})
    CHECK(std::count(texts.begin(), texts.end(), std::string(t)) == 1);

  const nlohmann::json j = chart::to_json(g);
  REQUIRE(j["panels"].size() == 3);
  CHECK(j["panels"][1]["values"][3][1] == 0.25);
  CHECK(j["panels"][1]["masked"][0][1] == true);
  CHECK(j["row_labels"][2] == "😀");

  g.panels[1].values.pop_back();
  CHECK_THROWS_AS(chart::to_svg(g), ArgumentError);
}

TEST_CASE("the loss curve is drawn by the chart module and keeps what it shows", "[chart]") {
  TrainingHistory h;
  for (int i = 0; i < 120; ++i) h.train_loss.push_back(4.0 - i * 0.02);
  h.evals.push_back({60, 2.9, 3.0});
  h.evals.push_back({120, 1.7, 1.9});
  const std::string svg = loss_curve_svg(h, "run <1>", std::log(65.0));
  const test::Xml xml(svg);
  REQUIRE(xml.ok());
  const auto texts = xml.texts("//svg:text");
  for (const char* t : {"run <1>", "training loss (50-step average)", "validation loss", "log V: guessing uniformly", "step"})
    CHECK(std::count(texts.begin(), texts.end(), std::string(t)) == 1);
  CHECK(xml.number("count(//svg:polyline)") == 3);              // every step, the average, validation
  CHECK(xml.number("count(//svg:circle[@class='point'])") == 2);  // the two evaluations
  const nlohmann::json j = loss_curve_json(h, "run <1>", std::log(65.0));
  CHECK(j["series"][0]["y"].size() == 120);
  CHECK(j["series"][1]["y"][119] == Approx(4.0 - 0.02 * 94.5));  // mean of the last 50 steps
  CHECK(j["series"][2]["y"][1] == 1.9);
}
