// minigpt/detail/svg.hpp — the small pieces chart.hpp writes SVG with: numbers, escaped
// text, text widths, tick positions and tick labels. Internal: use chart.hpp.
#pragma once

#include "../unicode.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace minigpt {
namespace detail {

// A coordinate for an SVG attribute: two decimals at most, trailing zeros dropped.
inline std::string svg_num(double v) {
  if (!std::isfinite(v)) return "0";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s == "-0" ? "0" : s;
}

// Text for an SVG element or attribute: & < > " ' escaped, valid UTF-8 kept as it is (Korean
// and emoji stay text), and what XML cannot hold shown visibly instead: a byte that is not
// valid UTF-8 and a control character become \xNN. The result is always well-formed XML.
inline std::string xml_text(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const Utf8Char c = decode_utf8(s, i);
    const char32_t cp = c.code_point;
    const bool control = cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r';
    if (!c.valid || control || cp == 0xFFFE || cp == 0xFFFF) {
      for (std::size_t k = 0; k < c.length; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        out += "\\x";
        out += hex[b >> 4];
        out += hex[b & 15];
      }
    } else if (cp == '&') {
      out += "&amp;";
    } else if (cp == '<') {
      out += "&lt;";
    } else if (cp == '>') {
      out += "&gt;";
    } else if (cp == '"') {
      out += "&quot;";
    } else if (cp == '\'') {
      out += "&#39;";
    } else {
      out.append(s.substr(i, c.length));
    }
    i += c.length;
  }
  return out;
}

// Characters drawn about as wide as they are tall: Hangul, CJK, full-width forms, emoji.
inline bool wide_character(char32_t cp) {
  return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) || (cp >= 0xAC00 && cp <= 0xD7A3) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFF00 && cp <= 0xFF60) || (cp >= 0xFFE0 && cp <= 0xFFE6) ||
         (cp >= 0x2600 && cp <= 0x27BF) || (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0x20000 && cp <= 0x3FFFD);
}

// About how wide a sans-serif text is drawn at font size `size` (px): layout only needs an
// estimate that is never much too small, so labels are not clipped or run into each other.
inline double text_width(std::string_view s, double size) {
  double w = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    const Utf8Char c = decode_utf8(s, i);
    const char32_t cp = c.code_point;
    if (!c.valid) w += 2.4;  // shown as \xNN
    else if (wide_character(cp)) w += 1.0;
    else if (cp == 'i' || cp == 'j' || cp == 'l' || cp == '.' || cp == ',' || cp == ':' || cp == ';' ||
             cp == '\'' || cp == '|' || cp == '!')
      w += 0.32;
    else if ((cp >= 'A' && cp <= 'Z') || cp == 'm' || cp == 'w' || cp == '%' || cp == '@')
      w += 0.72;
    else if (cp == ' ') w += 0.32;
    else w += 0.6;
    i += c.length;
  }
  return w * size;
}

// A round tick spacing: 1, 2 or 5 times a power of ten, about `count` ticks over `range`.
inline double nice_step(double range, int count) {
  if (!(range > 0) || !std::isfinite(range)) return 1.0;
  const double raw = range / count, p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (m * p >= raw * (1 - 1e-9)) return m * p;
  return 10.0 * p;
}

// Multiples of step in [lo, hi].
inline std::vector<double> ticks_between(double lo, double hi, double step) {
  std::vector<double> t;
  for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9 && t.size() < 1000; k += 1)
    t.push_back(std::abs(k * step) < step * 1e-9 ? 0.0 : k * step);
  return t;
}

// Ticks of a log axis over [lo, hi] (lo > 0): powers of ten, with 2 and 5 between them when
// the range is short; within less than a decade, round linear steps.
inline std::vector<double> log_ticks(double lo, double hi) {
  const double decades = std::log10(hi / lo);
  std::vector<double> t;
  if (decades < 1.0) {
    for (double v : ticks_between(lo, hi, nice_step(hi - lo, 5)))
      if (v > 0) t.push_back(v);
    return t;
  }
  const int every = decades > 8 ? static_cast<int>(std::ceil(decades / 8)) : 1;
  const std::vector<double> mantissas = decades <= 2.5 ? std::vector<double>{1, 2, 5} : std::vector<double>{1};
  for (int e = static_cast<int>(std::floor(std::log10(lo))); e <= static_cast<int>(std::ceil(std::log10(hi))); ++e) {
    if (e % every != 0) continue;
    for (double m : mantissas) {
      const double v = m * std::pow(10.0, e);
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) t.push_back(v);
    }
  }
  return t;
}

// Drops trailing zeros of a decimal ("2.50" -> "2.5", "3.0" -> "3").
inline std::string trim_zeros(std::string s) {
  if (s.find('.') == std::string::npos || s.find('e') != std::string::npos) return s;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

// A number in few characters: 12,288 -> "12.3k", 1.5e6 -> "1.5M", 1.75e11 -> "175B", 3e12 -> "3T",
// 0.076 -> "0.076", 3 -> "3".
inline std::string compact_number(double v) {
  char buf[48];
  const double a = std::abs(v);
  const char* suffix = "";
  double m = v;
  if (a >= 1e12) m = v / 1e12, suffix = "T";
  else if (a >= 1e9) m = v / 1e9, suffix = "B";
  else if (a >= 1e6) m = v / 1e6, suffix = "M";
  else if (a >= 1e4) m = v / 1e3, suffix = "k";
  if (a != 0 && a < 1e-3) std::snprintf(buf, sizeof buf, "%.2g", v);
  else if (std::abs(m) >= 100 || (*suffix == 0 && a >= 1000)) std::snprintf(buf, sizeof buf, "%.0f", m);
  else std::snprintf(buf, sizeof buf, "%.3g", m);
  return trim_zeros(buf) + suffix;
}

// A tick label on a linear axis whose ticks are `step` apart: as many decimals as the step needs.
inline std::string tick_text(double v, double step) {
  if (std::abs(v) >= 1e4 && step >= 1000) return compact_number(v);
  const int decimals = std::clamp(static_cast<int>(-std::floor(std::log10(step) + 1e-9)), 0, 6);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace detail
}  // namespace minigpt
