// minigpt/chart.hpp — every picture minigpt draws: charts of lines, points and bars, and grids
// of heat maps, written as SVG text that any browser opens, with their numbers as JSON.
//
// Chapter idea: the chapter explains with pictures — the attention map (어텐션맵) as a heat map
// whose upper-right half is masked (마스킹), the loss (손실) falling during pre-training, the
// loss against model size on log–log axes (스케일링 법칙), embeddings (임베딩) as points in a
// plane. One module draws them all, so they look alike and each is a few lines to describe:
// a picture is a value (a struct listing what to show), not a sequence of drawing calls.
//
//   Figure       two axes (linear or log), series (line, points, line + points, bars) with
//                labels and colours, reference lines, notes, a legend (in the plot's corner
//                with the least data, or under the plot when data fills every corner),
//                titles, footnotes
//   HeatmapGrid  panels of (rows, cols) values sharing row and column labels, drawn on one
//                colour scale; cells marked `masked` are drawn hatched grey, not as values
//
//   In:  a Figure or a HeatmapGrid.
//   Out: to_svg(): an SVG document (UTF-8 text; what the picture shows, no dependency);
//        to_json(): the same numbers as JSON; save(): both to files, atomically.
//
// Text (titles, labels, tokens) is XML-escaped and kept as UTF-8, so Korean and emoji are
// drawn as text. Bytes that are not valid UTF-8 and control characters are shown as \xNN, so
// the document is always well-formed XML; token_label() makes a token's bytes readable first
// (a space as ␣, a newline as \n). Layout uses an estimate of text widths (Hangul and emoji
// count as wide) to size margins and the legend. Values that cannot be drawn (NaN, infinite,
// or <= 0 on a log axis) are left out of the picture and kept in the JSON.
//
// Example: a loss falling as a power of the model size, on log–log axes.
//     chart::Figure f;
//     f.title = "loss against model size";
//     f.x = {"parameters N", chart::Scale::log};
//     f.y = {"validation loss", chart::Scale::log};
//     chart::Series runs{"measured", {1e4, 1e5, 1e6}, {2.4, 2.0, 1.7}, chart::Mark::points};
//     f.series.push_back(runs);
//     f.rules.push_back({false, std::log(65.0), "log V: guessing"});   // horizontal, dashed
//     chart::save(f, "loss.svg", "loss.json");
//   loss.svg: a 800 x 450 picture, x ticks 10k 20k 50k 100k ... 1M, three points, a dashed
//   line at 4.17, a legend with "measured" and "log V: guessing" where no point is.
#pragma once

#include "detail/io.hpp"
#include "detail/svg.hpp"
#include "error.hpp"
#include "tensor.hpp"
#include "unicode.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace minigpt {
namespace chart {

enum class Scale { linear, log };
enum class Mark { line, points, line_points, bars };
enum class LegendPlace { best, top_right, top_left, bottom_right, bottom_left, none };

// An axis limit left to the data.
constexpr double automatic = std::numeric_limits<double>::quiet_NaN();

struct Axis {
  Axis(std::string label_ = "", Scale scale_ = Scale::linear) : label(std::move(label_)), scale(scale_) {}
  std::string label;
  Scale scale = Scale::linear;
  double min = automatic, max = automatic;  // automatic: the data's range, rounded out to ticks
  std::vector<double> ticks;                // where ticks go (empty: chosen)
  std::vector<std::string> tick_labels;     // their labels (empty: the numbers)
};

struct Series {
  Series() = default;
  Series(std::string label_, std::vector<double> x_, std::vector<double> y_, Mark mark_ = Mark::line,
         std::string colour_ = "", double width_ = 2)
      : label(std::move(label_)), x(std::move(x_)), y(std::move(y_)), mark(mark_), colour(std::move(colour_)),
        width(width_) {}
  std::string label;               // its legend entry ("": none)
  std::vector<double> x, y;        // the points, in data units
  Mark mark = Mark::line;
  std::string colour;              // "#rrggbb" ("": the next colour of palette())
  double width = 2;                // line width (px)
  double radius = 3.5;             // point radius (px)
  bool dashed = false;
  double opacity = 1;
  std::vector<std::string> point_labels;  // text beside each point (empty: none)
  double bar_width = 0;            // bars: width in x units (0: 80% of the closest spacing)
};

// A horizontal (or vertical) line across the whole plot, e.g. the loss of guessing, log V.
struct Rule {
  Rule() = default;
  Rule(bool vertical_, double at_, std::string label_ = "", std::string colour_ = "#888888", bool dashed_ = true)
      : vertical(vertical_), at(at_), label(std::move(label_)), colour(std::move(colour_)), dashed(dashed_) {}
  bool vertical = false;
  double at = 0;                   // y (horizontal) or x (vertical), in data units
  std::string label;               // legend entry ("": none)
  std::string colour = "#888888";
  bool dashed = true;
};

// Text at a point given in data units.
struct Note {
  Note() = default;
  Note(double x_, double y_, std::string text_, std::string anchor_ = "start", std::string colour_ = "#333333")
      : x(x_), y(y_), text(std::move(text_)), anchor(std::move(anchor_)), colour(std::move(colour_)) {}
  double x = 0, y = 0;
  std::string text;
  std::string anchor = "start";    // start, middle or end (SVG's text-anchor)
  std::string colour = "#333333";
};

struct Figure {
  std::string title, subtitle;
  double width = 800, height = 450;  // px
  Axis x, y;
  std::vector<Series> series;
  std::vector<Rule> rules;
  std::vector<Note> notes;
  std::vector<std::string> footnotes;  // lines of small text under the plot
  LegendPlace legend = LegendPlace::best;
};

// One heat map: rows x cols values, row-major; masked (when not empty) marks cells that are
// not values at all (e.g. the attention a query may not pay to a future key).
struct Heatmap {
  std::string title;
  Index rows = 0, cols = 0;
  std::vector<double> values;
  std::vector<bool> masked;
};

// Heat maps side by side, `columns` to a row, sharing labels and one colour scale [min, max].
// Row labels are drawn left of each row of panels, column labels under each panel that has
// none beneath it.
struct HeatmapGrid {
  std::string title, subtitle;
  std::vector<std::string> row_labels, col_labels;
  std::string row_axis, col_axis;  // e.g. "query (Q)", "key (K)"
  std::vector<Heatmap> panels;
  Index columns = 1;
  double min = 0, max = 1;         // the colour scale: min white, max dark blue
  std::string scale_label;         // e.g. "attention weight"
  std::string masked_label = "masked";
  double cell = 0;                 // cell size in px (0: chosen from the number of cells)
  bool show_values = false;        // write each value in its cell (when cells are large enough)
  std::vector<std::string> footnotes;
};

// Colours that stay apart for colour-blind readers (Okabe and Ito), black and grey last.
inline std::string palette(std::size_t i) {
  static const char* colours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999"};
  return colours[i % 8];
}

// A colour "#rrggbb" made darker by `amount` (0: the same, 1: black): text in a series' colour
// stays readable on white (a light orange point gets a darker orange label).
inline std::string darker(const std::string& colour, double amount = 0.3) {
  if (colour.size() != 7 || colour[0] != '#') return colour;
  char buf[8];
  int rgb[3];
  for (int k = 0; k < 3; ++k)
    rgb[k] = static_cast<int>(std::lround(std::stoi(colour.substr(1 + 2 * k, 2), nullptr, 16) * (1 - amount)));
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
  return buf;
}

// t in [0, 1] -> white .. dark blue (ColorBrewer's "Blues"): the heat maps' colour scale.
inline std::string heat_colour(double t) {
  static const double stops[9][3] = {{247, 251, 255}, {222, 235, 247}, {198, 219, 239}, {158, 202, 225}, {107, 174, 214},
                                     {66, 146, 198},  {33, 113, 181},  {8, 81, 156},    {8, 48, 107}};
  if (!std::isfinite(t)) t = 0;
  t = std::clamp(t, 0.0, 1.0) * 8;
  const int i = std::min(7, static_cast<int>(t));
  const double f = t - i;
  char buf[8];
  int rgb[3];
  for (int k = 0; k < 3; ++k) rgb[k] = static_cast<int>(std::lround(stops[i][k] + f * (stops[i + 1][k] - stops[i][k])));
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
  return buf;
}

// A token's bytes as a label: text stays text (Korean, emoji), a space becomes ␣, a newline
// \n, a byte that is not a whole UTF-8 character \xNN (GPT-2 splits a Hangul syllable into such
// byte tokens), so every token is visible and tokens that differ look different.
//   token_label(" the") -> "␣the"    token_label("\xED\x86") -> "\xED\x86" (8 characters)
inline std::string token_label(std::string_view bytes) {
  const std::string escaped = escape_bytes(bytes);
  std::string out;
  for (char c : escaped) {
    if (c == ' ') out += "\xE2\x90\xA3";  // ␣ U+2423
    else out += c;
  }
  return out.empty() ? "\xE2\x88\x85" : out;  // ∅ for an empty token
}

namespace internal {

// An axis after layout: its range, its ticks, and the pixels it maps to.
struct AxisLayout {
  double lo = 0, hi = 1, step = 1;
  bool log = false;
  std::vector<double> ticks;
  std::vector<std::string> labels;
  double p0 = 0, p1 = 1;  // pixels of lo and hi
  double t(double v) const { return log ? std::log10(v) : v; }
  double operator()(double v) const { return p0 + (p1 - p0) * (t(v) - t(lo)) / (t(hi) - t(lo)); }
  bool drawable(double v) const { return std::isfinite(v) && (!log || v > 0); }
};

// Range and ticks of an axis from the values it must show.
inline AxisLayout layout_axis(const Axis& a, const std::vector<double>& values, int count) {
  AxisLayout L;
  L.log = a.scale == Scale::log;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double v : values)
    if (L.drawable(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (std::isfinite(a.min) && L.drawable(a.min)) lo = std::min(lo, a.min);
  if (std::isfinite(a.max) && L.drawable(a.max)) hi = std::max(hi, a.max);
  if (lo > hi) lo = L.log ? 1 : 0, hi = L.log ? 10 : 1;
  if (lo == hi) {
    if (L.log) lo /= 2, hi *= 2;
    else lo -= std::max(1.0, std::abs(lo) * 0.1), hi += std::max(1.0, std::abs(hi) * 0.1);
  }
  const bool fixed_lo = std::isfinite(a.min), fixed_hi = std::isfinite(a.max);
  if (!L.log) {
    L.step = detail::nice_step(hi - lo, count);
    if (!fixed_lo) lo = std::floor(lo / L.step + 1e-9) * L.step;
    if (!fixed_hi) hi = std::ceil(hi / L.step - 1e-9) * L.step;
    if (fixed_lo) lo = a.min;
    if (fixed_hi) hi = a.max;
    L.ticks = detail::ticks_between(lo, hi, L.step);
    for (double v : L.ticks) L.labels.push_back(detail::tick_text(v, L.step));
  } else {
    if (std::log10(hi / lo) >= 1) {  // a margin of 4% of the range on either side
      const double pad = std::pow(10.0, 0.04 * std::log10(hi / lo));
      if (!fixed_lo) lo /= pad;
      if (!fixed_hi) hi *= pad;
    } else {  // less than a decade: round out to a linear step, keeping lo > 0
      const double step = detail::nice_step(hi - lo, 5);
      if (!fixed_lo && std::floor(lo / step) * step > 0) lo = std::floor(lo / step) * step;
      if (!fixed_hi) hi = std::ceil(hi / step) * step;
      L.step = step;
    }
    L.ticks = detail::log_ticks(lo, hi);
    const bool short_range = std::log10(hi / lo) < 1;
    for (double v : L.ticks) L.labels.push_back(short_range ? detail::tick_text(v, L.step) : detail::compact_number(v));
  }
  if (!a.ticks.empty()) {
    L.ticks.clear();
    L.labels.clear();
    for (std::size_t i = 0; i < a.ticks.size(); ++i) {
      if (!L.drawable(a.ticks[i])) continue;
      L.ticks.push_back(a.ticks[i]);
      L.labels.push_back(i < a.tick_labels.size() ? a.tick_labels[i] : detail::compact_number(a.ticks[i]));
    }
  }
  L.lo = lo;
  L.hi = hi;
  return L;
}

struct Box {
  double x0, y0, x1, y1;
  double overlap(const Box& o) const {
    const double w = std::min(x1, o.x1) - std::max(x0, o.x0), h = std::min(y1, o.y1) - std::max(y0, o.y0);
    return w > 0 && h > 0 ? w * h : 0.0;
  }
  bool contains(double x, double y) const { return x >= x0 && x <= x1 && y >= y0 && y <= y1; }
};

inline std::string dash(bool dashed) { return dashed ? " stroke-dasharray=\"6,4\"" : ""; }

inline std::string svg_open(double w, double h) {
  using detail::svg_num;
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + svg_num(w) + "\" height=\"" + svg_num(h) +
         "\" viewBox=\"0 0 " + svg_num(w) + " " + svg_num(h) +
         "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
}

inline std::string text(double x, double y, const std::string& s, const std::string& attrs = "") {
  return "<text x=\"" + detail::svg_num(x) + "\" y=\"" + detail::svg_num(y) + "\"" + (attrs.empty() ? "" : " " + attrs) +
         ">" + detail::xml_text(s) + "</text>\n";
}

inline std::string line(double x1, double y1, double x2, double y2, const std::string& attrs) {
  using detail::svg_num;
  return "<line x1=\"" + svg_num(x1) + "\" y1=\"" + svg_num(y1) + "\" x2=\"" + svg_num(x2) + "\" y2=\"" + svg_num(y2) +
         "\" " + attrs + "/>\n";
}

// The title and subtitle lines at the top; returns the height they take.
inline double titles(std::string& s, double width, const std::string& title, const std::string& subtitle) {
  double y = 8;
  if (!title.empty()) {
    y += 18;
    s += text(width / 2, y, title, "text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\"");
  }
  if (!subtitle.empty()) {
    y += 17;
    s += text(width / 2, y, subtitle, "text-anchor=\"middle\" fill=\"#555555\"");
  }
  return y + 10;
}

inline nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

inline nlohmann::json numbers(const std::vector<double>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (double x : v) a.push_back(number_or_null(x));
  return a;
}

inline const char* mark_name(Mark m) {
  switch (m) {
    case Mark::line: return "line";
    case Mark::points: return "points";
    case Mark::line_points: return "line_points";
    case Mark::bars: return "bars";
  }
  return "line";
}

}  // namespace internal

// ---- Figure ----

namespace internal {
// One drawing of a figure. With legend_below the legend stands in a band under the plot;
// otherwise inside it, and *covers (when given) says whether it lies over data there.
inline std::string figure_svg(const Figure& f, bool legend_below, bool* covers) {
  using detail::svg_num;
  using internal::Box;
  using internal::line;
  using internal::text;
  for (const Series& s : f.series)
    if (s.x.size() != s.y.size())
      throw ArgumentError("chart: series '" + s.label + "' has " + std::to_string(s.x.size()) + " x values and " +
                          std::to_string(s.y.size()) + " y values");
  std::string s = internal::svg_open(f.width, f.height);
  const double top = internal::titles(s, f.width, f.title, f.subtitle);

  // Axes: ranges from everything drawn (bars stand on y = 0 on a linear axis).
  std::vector<double> xs, ys;
  for (const Series& se : f.series) {
    xs.insert(xs.end(), se.x.begin(), se.x.end());
    ys.insert(ys.end(), se.y.begin(), se.y.end());
    if (se.mark == Mark::bars && f.y.scale == Scale::linear) ys.push_back(0);
  }
  for (const Rule& r : f.rules) (r.vertical ? xs : ys).push_back(r.at);
  internal::AxisLayout X = internal::layout_axis(f.x, xs, 8), Y = internal::layout_axis(f.y, ys, 6);

  // The legend's entries (series and rules that have a label) and its size.
  struct Entry {
    std::string text, colour;
    Mark mark;
    bool dashed;
  };
  std::vector<std::string> colours;
  for (std::size_t k = 0; k < f.series.size(); ++k)
    colours.push_back(f.series[k].colour.empty() ? palette(k) : f.series[k].colour);
  std::vector<Entry> entries;
  for (std::size_t k = 0; k < f.series.size(); ++k)
    if (!f.series[k].label.empty()) entries.push_back({f.series[k].label, colours[k], f.series[k].mark, f.series[k].dashed});
  for (const Rule& r : f.rules)
    if (!r.label.empty()) entries.push_back({r.label, r.colour, Mark::line, r.dashed});
  const bool legend = !entries.empty() && f.legend != LegendPlace::none;
  legend_below = legend && legend_below;
  double legend_tw = 0;
  for (const Entry& e : entries) legend_tw = std::max(legend_tw, detail::text_width(e.text, 12));
  const double bw = 44 + legend_tw, bh = 8 + 18 * static_cast<double>(entries.size());

  // Margins from the text around the plot (and the legend, when it stands under it).
  double ylabel_w = 0;
  for (const std::string& l : Y.labels) ylabel_w = std::max(ylabel_w, detail::text_width(l, 12));
  const double left = 10 + (f.y.label.empty() ? 0 : 22) + ylabel_w + 8;
  const double last_half = X.labels.empty() ? 0 : detail::text_width(X.labels.back(), 12) / 2;
  const double right = std::max(20.0, last_half + 8);
  const double bottom = 8 + 18 + (f.x.label.empty() ? 0 : 22) + 16 * static_cast<double>(f.footnotes.size()) + 6 +
                        (legend_below ? bh + 10 : 0);
  const double pw = std::max(50.0, f.width - left - right), ph = std::max(50.0, f.height - top - bottom);
  X.p0 = left, X.p1 = left + pw;
  Y.p0 = top + ph, Y.p1 = top;

  // Grid, ticks and tick labels.
  for (std::size_t i = 0; i < Y.ticks.size(); ++i) {
    const double y = Y(Y.ticks[i]);
    s += line(left, y, left + pw, y, "stroke=\"#e8e8e8\"");
    s += text(left - 7, y + 4, Y.labels[i], "text-anchor=\"end\"");
  }
  for (std::size_t i = 0; i < X.ticks.size(); ++i) {
    const double x = X(X.ticks[i]);
    s += line(x, top, x, top + ph, "stroke=\"#f0f0f0\"");
    s += text(x, top + ph + 17, X.labels[i], "text-anchor=\"middle\"");
  }
  s += "<rect x=\"" + svg_num(left) + "\" y=\"" + svg_num(top) + "\" width=\"" + svg_num(pw) + "\" height=\"" +
       svg_num(ph) + "\" fill=\"none\" stroke=\"#444444\"/>\n";
  double below = top + ph + 18;
  if (!f.x.label.empty()) {
    below += 22;
    s += text(left + pw / 2, below - 4, f.x.label, "text-anchor=\"middle\"");
  }
  const double band = below + 6;  // the legend's top, when it stands under the plot
  if (legend_below) below += bh + 10;
  for (const std::string& note : f.footnotes) {
    below += 16;
    s += text(left, below - 3, note, "font-size=\"11\" fill=\"#555555\"");
  }
  if (!f.y.label.empty())
    s += "<text transform=\"translate(" + svg_num(18) + "," + svg_num(top + ph / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + detail::xml_text(f.y.label) + "</text>\n";

  // The data, clipped to the plot.
  s += "<clipPath id=\"plot\"><rect x=\"" + svg_num(left) + "\" y=\"" + svg_num(top) + "\" width=\"" + svg_num(pw) +
       "\" height=\"" + svg_num(ph) + "\"/></clipPath>\n<g clip-path=\"url(#plot)\">\n";
  std::vector<std::pair<double, double>> occupied;  // pixels the data covers (for the legend)
  for (const Rule& r : f.rules) {
    if (!(r.vertical ? X : Y).drawable(r.at)) continue;
    const std::string style = "stroke=\"" + r.colour + "\" stroke-width=\"1.5\"" + internal::dash(r.dashed);
    if (r.vertical) s += line(X(r.at), top, X(r.at), top + ph, style);
    else s += line(left, Y(r.at), left + pw, Y(r.at), style);
    for (int q = 0; q <= 40; ++q)
      occupied.emplace_back(r.vertical ? X(r.at) : left + pw * q / 40, r.vertical ? top + ph * q / 40 : Y(r.at));
  }
  std::vector<Box> label_boxes;
  std::vector<std::string> point_label_svg;
  for (std::size_t k = 0; k < f.series.size(); ++k) {
    const Series& se = f.series[k];
    const std::string& colour = colours[k];
    const std::string opacity = se.opacity < 1 ? " opacity=\"" + svg_num(se.opacity) + "\"" : "";
    std::vector<std::pair<double, double>> px;
    std::vector<std::size_t> index;
    for (std::size_t i = 0; i < se.x.size(); ++i)
      if (X.drawable(se.x[i]) && Y.drawable(se.y[i])) {
        px.emplace_back(X(se.x[i]), Y(se.y[i]));
        index.push_back(i);
      }
    if (se.mark == Mark::bars) {
      double spacing = 0;
      for (std::size_t i = 1; i < index.size(); ++i) {
        const double d = std::abs(se.x[index[i]] - se.x[index[i - 1]]);
        if (d > 0 && (spacing == 0 || d < spacing)) spacing = d;
      }
      const double bw = se.bar_width > 0 ? se.bar_width : (spacing > 0 ? 0.8 * spacing : 1.0);
      const double base = Y.log ? Y.lo : std::clamp(0.0, Y.lo, Y.hi);
      for (std::size_t i : index) {
        const double xa = X.log ? X(se.x[i]) - 6 : X(se.x[i] - bw / 2), xb = X.log ? X(se.x[i]) + 6 : X(se.x[i] + bw / 2);
        const double ya = Y(se.y[i]), yb = Y(base);
        s += "<rect class=\"bar\" x=\"" + svg_num(std::min(xa, xb)) + "\" y=\"" + svg_num(std::min(ya, yb)) +
             "\" width=\"" + svg_num(std::abs(xb - xa)) + "\" height=\"" + svg_num(std::abs(yb - ya)) + "\" fill=\"" +
             colour + "\"" + opacity + "/>\n";
        for (int q = 0; q <= 4; ++q) occupied.emplace_back((xa + xb) / 2, ya + (yb - ya) * q / 4);
      }
    }
    if ((se.mark == Mark::line || se.mark == Mark::line_points) && px.size() > 1) {
      s += "<polyline fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"" + svg_num(se.width) + "\"" +
           internal::dash(se.dashed) + opacity + " points=\"";
      for (const auto& p : px) s += svg_num(p.first) + "," + svg_num(p.second) + " ";
      s += "\"/>\n";
      for (std::size_t i = 1; i < px.size(); ++i)
        for (int q = 0; q < 8; ++q)
          occupied.emplace_back(px[i - 1].first + (px[i].first - px[i - 1].first) * q / 8,
                                px[i - 1].second + (px[i].second - px[i - 1].second) * q / 8);
    }
    if (se.mark == Mark::points || se.mark == Mark::line_points) {
      for (std::size_t j = 0; j < px.size(); ++j) {
        s += "<circle class=\"point\" cx=\"" + svg_num(px[j].first) + "\" cy=\"" + svg_num(px[j].second) + "\" r=\"" +
             svg_num(se.radius) + "\" fill=\"" + colour + "\" stroke=\"white\" stroke-width=\"0.8\"" + opacity + "/>\n";
        occupied.push_back(px[j]);
      }
    }
    if (se.mark != Mark::bars)
      for (const auto& p : px) occupied.push_back(p);
    // Point labels: beside the point, on whichever side overlaps other labels least.
    for (std::size_t j = 0; j < px.size() && !se.point_labels.empty(); ++j) {
      const std::size_t i = index[j];
      if (i >= se.point_labels.size() || se.point_labels[i].empty()) continue;
      const std::string& l = se.point_labels[i];
      const double w = detail::text_width(l, 11), h = 11, r = se.radius + 2;
      const double x = px[j].first, y = px[j].second;
      const Box candidates[4] = {{x + r, y - h / 2 - 1, x + r + w, y + h / 2 - 1},
                                 {x - r - w, y - h / 2 - 1, x - r, y + h / 2 - 1},
                                 {x - w / 2, y - r - h, x + w / 2, y - r},
                                 {x - w / 2, y + r, x + w / 2, y + r + h}};
      double best_cost = 1e300;
      Box best = candidates[0];
      for (const Box& c : candidates) {
        double cost = 0;
        for (const Box& o : label_boxes) cost += c.overlap(o);
        if (c.x0 < left || c.x1 > left + pw || c.y0 < top || c.y1 > top + ph) cost += 0.5 * w * h;
        if (cost < best_cost) best_cost = cost, best = c;
      }
      label_boxes.push_back(best);
      point_label_svg.push_back(text(best.x0, best.y1 - 2, l, "font-size=\"11\" fill=\"" + darker(colour) + "\""));
    }
  }
  for (const std::string& t : point_label_svg) s += t;
  for (const Note& n : f.notes)
    if (X.drawable(n.x) && Y.drawable(n.y))
      s += text(X(n.x), Y(n.y), n.text, "text-anchor=\"" + n.anchor + "\" fill=\"" + n.colour + "\"");
  s += "</g>\n";

  // The legend: in the band under the plot, or in the corner with the least data in it.
  if (legend) {
    const double inset = 8;
    const Box corners[4] = {{left + pw - inset - bw, top + inset, left + pw - inset, top + inset + bh},
                            {left + inset, top + inset, left + inset + bw, top + inset + bh},
                            {left + pw - inset - bw, top + ph - inset - bh, left + pw - inset, top + ph - inset},
                            {left + inset, top + ph - inset - bh, left + inset + bw, top + ph - inset}};
    Box box = corners[0];
    switch (legend_below ? LegendPlace::none : f.legend) {
      case LegendPlace::top_left: box = corners[1]; break;
      case LegendPlace::bottom_right: box = corners[2]; break;
      case LegendPlace::bottom_left: box = corners[3]; break;
      case LegendPlace::best: {
        double fewest = 1e300;
        for (const Box& c : corners) {
          double n = 0;
          for (const auto& p : occupied) n += c.contains(p.first, p.second) ? 1 : 0;
          for (const Box& o : label_boxes) n += c.overlap(o) / 100;
          if (n < fewest) fewest = n, box = c;
        }
        if (covers != nullptr) *covers = fewest > 0;
        break;
      }
      default: break;
    }
    if (legend_below) box = {left, band, left + bw, band + bh};
    s += "<g class=\"legend\">\n<rect x=\"" + svg_num(box.x0) + "\" y=\"" + svg_num(box.y0) + "\" width=\"" +
         svg_num(bw) + "\" height=\"" + svg_num(bh) + "\" fill=\"white\" fill-opacity=\"0.92\" stroke=\"#cccccc\"/>\n";
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const Entry& e = entries[i];
      const double y = box.y0 + 4 + 18 * static_cast<double>(i) + 13;
      if (e.mark == Mark::bars) {
        s += "<rect x=\"" + svg_num(box.x0 + 10) + "\" y=\"" + svg_num(y - 10) + "\" width=\"24\" height=\"10\" fill=\"" +
             e.colour + "\"/>\n";
      } else {
        if (e.mark != Mark::points)
          s += line(box.x0 + 10, y - 4, box.x0 + 34, y - 4,
                    "stroke=\"" + e.colour + "\" stroke-width=\"2\"" + internal::dash(e.dashed));
        if (e.mark != Mark::line)
          s += "<circle cx=\"" + svg_num(box.x0 + 22) + "\" cy=\"" + svg_num(y - 4) + "\" r=\"3.5\" fill=\"" + e.colour +
               "\"/>\n";
      }
      s += text(box.x0 + 40, y, e.text);
    }
    s += "</g>\n";
  }
  s += "</svg>\n";
  return s;
}
}  // namespace internal

// The figure as SVG. A legend placed by LegendPlace::best that would lie over data in every
// corner of the plot goes in a band under it instead, the plot a little shorter.
inline std::string to_svg(const Figure& f) {
  bool covers = false;
  std::string s = internal::figure_svg(f, false, &covers);
  return covers ? internal::figure_svg(f, true, nullptr) : s;
}

// The figure's numbers: titles, axes, every series' points and labels, rules and notes.
inline nlohmann::json to_json(const Figure& f) {
  using nlohmann::json;
  auto axis = [](const Axis& a) {
    json j{{"label", a.label}, {"scale", a.scale == Scale::log ? "log" : "linear"}};
    if (std::isfinite(a.min)) j["min"] = a.min;
    if (std::isfinite(a.max)) j["max"] = a.max;
    if (!a.tick_labels.empty()) j["ticks"] = a.ticks, j["tick_labels"] = a.tick_labels;
    return j;
  };
  json j{{"title", f.title}, {"subtitle", f.subtitle}, {"x", axis(f.x)}, {"y", axis(f.y)}};
  j["series"] = json::array();
  for (const Series& s : f.series) {
    json e{{"label", s.label}, {"mark", internal::mark_name(s.mark)}, {"x", internal::numbers(s.x)}, {"y", internal::numbers(s.y)}};
    if (!s.point_labels.empty()) e["point_labels"] = s.point_labels;
    j["series"].push_back(e);
  }
  j["rules"] = json::array();
  for (const Rule& r : f.rules) j["rules"].push_back({{"vertical", r.vertical}, {"at", internal::number_or_null(r.at)}, {"label", r.label}});
  j["notes"] = json::array();
  for (const Note& n : f.notes) j["notes"].push_back({{"x", n.x}, {"y", n.y}, {"text", n.text}});
  if (!f.footnotes.empty()) j["footnotes"] = f.footnotes;
  return j;
}

// ---- HeatmapGrid ----

inline std::string to_svg(const HeatmapGrid& g) {
  using detail::svg_num;
  using internal::line;
  using internal::text;
  const auto n = static_cast<Index>(g.panels.size());
  if (n == 0) throw ArgumentError("chart: a heat map grid needs at least one panel");
  const Index rows = g.panels[0].rows, cols = g.panels[0].cols;
  for (const Heatmap& p : g.panels) {
    if (p.rows != rows || p.cols != cols || static_cast<Index>(p.values.size()) != rows * cols ||
        (!p.masked.empty() && static_cast<Index>(p.masked.size()) != rows * cols))
      throw ArgumentError("chart: heat map '" + p.title + "' is not " + std::to_string(rows) + " x " +
                          std::to_string(cols) + " like the first panel (values and mask)");
  }
  if (rows <= 0 || cols <= 0) throw ArgumentError("chart: a heat map needs at least one row and one column");
  if (static_cast<Index>(g.row_labels.size()) != rows && !g.row_labels.empty())
    throw ArgumentError("chart: " + std::to_string(g.row_labels.size()) + " row labels for " + std::to_string(rows) + " rows");
  if (static_cast<Index>(g.col_labels.size()) != cols && !g.col_labels.empty())
    throw ArgumentError("chart: " + std::to_string(g.col_labels.size()) + " column labels for " + std::to_string(cols) +
                        " columns");
  const Index ncol = std::clamp<Index>(g.columns, 1, n), nrow = (n + ncol - 1) / ncol;

  // Cell size: large for one panel, at least 10 px (room for a label) in a grid.
  double cell = g.cell;
  if (cell <= 0) {
    const double span = static_cast<double>(std::max(rows, cols));
    cell = n == 1 ? std::clamp(640.0 / span, 14.0, 56.0)
                  : std::clamp(1400.0 / (static_cast<double>(ncol) * span), 10.0, 28.0);
  }
  const double font = std::clamp(cell * 0.62, 8.0, 13.0);
  double row_w = 0, col_h = 0;
  for (const std::string& l : g.row_labels) row_w = std::max(row_w, detail::text_width(l, font));
  for (const std::string& l : g.col_labels) col_h = std::max(col_h, detail::text_width(l, font));
  row_w = std::min(row_w, 160.0) + 6;
  col_h = std::min(col_h, 160.0) + 6;
  const double pw = cell * static_cast<double>(cols), ph = cell * static_cast<double>(rows);
  const double panel_title = 18, gap_x = 14 + row_w, gap_y = 14;
  const double scale_w = std::max({70.0, detail::text_width(g.scale_label, 11), 22 + detail::text_width(g.masked_label, 11)}) + 10;
  const double left = 10 + (g.row_axis.empty() ? 0 : 20) + row_w;
  double width = left + static_cast<double>(ncol) * pw + static_cast<double>(ncol - 1) * gap_x + 24 + scale_w;

  const double head = 8 + (g.title.empty() ? 0 : 18) + (g.subtitle.empty() ? 0 : 17) + 10;
  width = std::max({width, detail::text_width(g.title, 15) + 40, detail::text_width(g.subtitle, 12) + 40});
  const double grid_h = static_cast<double>(nrow) * (panel_title + ph + col_h) + static_cast<double>(nrow - 1) * gap_y;
  double height = head + grid_h + (g.col_axis.empty() ? 0 : 22) + 16 * static_cast<double>(g.footnotes.size()) + 12;
  height = std::max(height, head + 240);

  std::string out = internal::svg_open(width, height);
  internal::titles(out, width, g.title, g.subtitle);
  out += "<defs><pattern id=\"masked\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
         "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#e4e4e4\"/>"
         "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#b0b0b0\" stroke-width=\"2\"/></pattern></defs>\n";
  const double range = g.max > g.min ? g.max - g.min : 1.0;
  for (Index k = 0; k < n; ++k) {
    const Heatmap& p = g.panels[static_cast<std::size_t>(k)];
    const double x0 = left + static_cast<double>(k % ncol) * (pw + gap_x);
    const double y0 = head + static_cast<double>(k / ncol) * (panel_title + ph + col_h + gap_y) + panel_title;
    out += "<g class=\"panel\">\n";
    out += text(x0 + pw / 2, y0 - 6, p.title, "text-anchor=\"middle\" font-size=\"12\"");
    // Masked cells are not values: the panel is hatched underneath, and only values are drawn.
    out += "<rect class=\"masked\" x=\"" + svg_num(x0) + "\" y=\"" + svg_num(y0) + "\" width=\"" + svg_num(pw) +
           "\" height=\"" + svg_num(ph) + "\" fill=\"url(#masked)\"/>\n<g shape-rendering=\"crispEdges\">\n";
    for (Index r = 0; r < rows; ++r)
      for (Index c = 0; c < cols; ++c) {
        const Index i = r * cols + c;
        if (!p.masked.empty() && p.masked[static_cast<std::size_t>(i)]) continue;
        const double v = p.values[static_cast<std::size_t>(i)];
        const double t = (v - g.min) / range;
        out += "<rect class=\"cell\" x=\"" + svg_num(x0 + cell * static_cast<double>(c)) + "\" y=\"" +
               svg_num(y0 + cell * static_cast<double>(r)) + "\" width=\"" + svg_num(cell) + "\" height=\"" +
               svg_num(cell) + "\" fill=\"" + heat_colour(t) + "\"><title>";
        std::string tip;
        if (!g.row_labels.empty()) tip += g.row_labels[static_cast<std::size_t>(r)] + " \xE2\x86\x92 ";  // →
        if (!g.col_labels.empty()) tip += g.col_labels[static_cast<std::size_t>(c)] + ": ";
        char num[32];
        std::snprintf(num, sizeof num, "%.4g", v);
        out += detail::xml_text(tip + num) + "</title></rect>\n";
        if (g.show_values && cell >= 30) {
          std::snprintf(num, sizeof num, "%.2f", v);
          out += text(x0 + cell * (static_cast<double>(c) + 0.5), y0 + cell * (static_cast<double>(r) + 0.5) + 4, num,
                      "text-anchor=\"middle\" font-size=\"" + svg_num(std::min(11.0, cell / 3.2)) + "\" fill=\"" +
                          (t > 0.55 ? "white" : "#222222") + "\"");
        }
      }
    out += "</g>\n<rect x=\"" + svg_num(x0) + "\" y=\"" + svg_num(y0) + "\" width=\"" + svg_num(pw) + "\" height=\"" +
           svg_num(ph) + "\" fill=\"none\" stroke=\"#666666\" stroke-width=\"0.8\"/>\n";
    // Row labels left of the first panel of each row, column labels under the lowest panels.
    const std::string fs = "font-size=\"" + svg_num(font) + "\"";
    if (k % ncol == 0)
      for (Index r = 0; r < static_cast<Index>(g.row_labels.size()); ++r)
        out += text(x0 - 4, y0 + cell * (static_cast<double>(r) + 0.5) + font * 0.35, g.row_labels[static_cast<std::size_t>(r)],
                    "text-anchor=\"end\" " + fs);
    if (k + ncol >= n)
      for (Index c = 0; c < static_cast<Index>(g.col_labels.size()); ++c) {
        const double cx = x0 + cell * (static_cast<double>(c) + 0.5) + font * 0.35, cy = y0 + ph + 4;
        out += "<text transform=\"translate(" + svg_num(cx) + "," + svg_num(cy) + ") rotate(-90)\" text-anchor=\"end\" " + fs +
               ">" + detail::xml_text(g.col_labels[static_cast<std::size_t>(c)]) + "</text>\n";
      }
    out += "</g>\n";
  }
  const double grid_right = left + static_cast<double>(ncol) * pw + static_cast<double>(ncol - 1) * gap_x;
  if (!g.row_axis.empty())
    out += "<text transform=\"translate(18," + svg_num(head + grid_h / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
           detail::xml_text(g.row_axis) + "</text>\n";
  double below = head + grid_h;
  if (!g.col_axis.empty()) {
    below += 22;
    out += text(left + (grid_right - left) / 2, below - 4, g.col_axis, "text-anchor=\"middle\"");
  }
  for (const std::string& note : g.footnotes) {
    below += 16;
    out += text(10, below - 3, note, "font-size=\"11\" fill=\"#555555\"");
  }

  // The colour scale: a bar from min (bottom) to max (top), then the masked swatch.
  const double sx = grid_right + 24, sy = head + 4, sh = std::min(200.0, std::max(120.0, grid_h - 60));
  out += "<defs><linearGradient id=\"scale\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">";
  for (int i = 0; i <= 8; ++i)
    out += "<stop offset=\"" + svg_num(i / 8.0) + "\" stop-color=\"" + heat_colour(i / 8.0) + "\"/>";
  out += "</linearGradient></defs>\n<g class=\"colour-scale\">\n";
  if (!g.scale_label.empty()) out += text(sx, sy + 4, g.scale_label, "font-size=\"11\"");
  const double by = sy + 14;
  out += "<rect x=\"" + svg_num(sx) + "\" y=\"" + svg_num(by) + "\" width=\"16\" height=\"" + svg_num(sh) +
         "\" fill=\"url(#scale)\" stroke=\"#666666\" stroke-width=\"0.8\"/>\n";
  const double step = detail::nice_step(range, 5);
  for (double v : detail::ticks_between(g.min, g.min + range, step)) {
    const double y = by + sh - sh * (v - g.min) / range;
    out += line(sx + 16, y, sx + 20, y, "stroke=\"#666666\"");
    out += text(sx + 23, y + 4, detail::tick_text(v, step), "font-size=\"11\"");
  }
  out += "<rect x=\"" + svg_num(sx) + "\" y=\"" + svg_num(by + sh + 14) +
         "\" width=\"16\" height=\"16\" fill=\"url(#masked)\" stroke=\"#666666\" stroke-width=\"0.8\"/>\n";
  out += text(sx + 22, by + sh + 26, g.masked_label, "font-size=\"11\"");
  out += "</g>\n</svg>\n";
  return out;
}

// The grid's numbers: labels, colour range, and per panel its (rows, cols) values and mask.
inline nlohmann::json to_json(const HeatmapGrid& g) {
  using nlohmann::json;
  json j{{"title", g.title},          {"subtitle", g.subtitle}, {"row_labels", g.row_labels},
         {"col_labels", g.col_labels}, {"row_axis", g.row_axis}, {"col_axis", g.col_axis},
         {"min", g.min},              {"max", g.max}};
  j["panels"] = json::array();
  for (const Heatmap& p : g.panels) {
    json values = json::array(), masked = json::array();
    for (Index r = 0; r < p.rows; ++r) {
      std::vector<double> row(p.values.begin() + r * p.cols, p.values.begin() + (r + 1) * p.cols);
      values.push_back(internal::numbers(row));
      if (!p.masked.empty()) masked.push_back(std::vector<bool>(p.masked.begin() + r * p.cols, p.masked.begin() + (r + 1) * p.cols));
    }
    json e{{"title", p.title}, {"rows", p.rows}, {"cols", p.cols}, {"values", values}};
    if (!p.masked.empty()) e["masked"] = masked;
    j["panels"].push_back(e);
  }
  return j;
}

// A number in a few characters for labels: 12,288 -> "12.3k", 1.5e6 -> "1.5M", 0.076 -> "0.076".
inline std::string short_number(double v) { return detail::compact_number(v); }

// Writes JSON (a picture's numbers, a report) to path, atomically, indented by one space; a
// missing folder on the way is made.
inline void save_json(const std::string& path, const nlohmann::json& j) {
  detail::make_directories(detail::parent_directory(path));
  detail::write_file_atomic(path, j.dump(1) + "\n");
}

// Writes the picture to svg_path and, when json_path is not empty, its numbers to json_path
// (each file atomically; a missing folder on the way is made).
template <typename Picture>
void save(const Picture& picture, const std::string& svg_path, const std::string& json_path = "") {
  detail::make_directories(detail::parent_directory(svg_path));
  detail::write_file_atomic(svg_path, to_svg(picture));
  if (!json_path.empty()) save_json(json_path, to_json(picture));
}

}  // namespace chart
}  // namespace minigpt
