#pragma once
/// Minimal parser of the Prometheus text format (0.0.4) for tests: names,
/// labels, values and the HELP/TYPE metadata.

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace edge::test {

using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

/// Minimal parser of the Prometheus text format (0.0.4): enough to check
/// names, labels, values and the HELP/TYPE metadata the serializer wrote.
struct Exposition {
  std::vector<Sample> samples;
  std::map<std::string, std::string> help;
  std::map<std::string, std::string> type;

  std::optional<double> get(const std::string& name, const Labels& labels = {}) const {
    std::optional<double> found;
    for (const auto& s : samples) {
      if (s.name == name && s.labels == labels) {
        EXPECT_FALSE(found) << "duplicate series " << name;
        found = s.value;
      }
    }
    return found;
  }
  std::size_t series(const std::string& name) const {
    std::size_t n = 0;
    for (const auto& s : samples) n += s.name == name ? 1 : 0;
    return n;
  }
};

inline Exposition parse(const std::string& text) {
  Exposition out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      const std::string rest = line.substr(7);
      const auto sp = rest.find(' ');
      EXPECT_NE(sp, std::string::npos) << line;
      auto& dst = line[2] == 'H' ? out.help : out.type;
      dst[rest.substr(0, sp)] = rest.substr(sp + 1);
      continue;
    }
    EXPECT_NE(line[0], '#') << "unexpected comment: " << line;
    Sample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const auto eq = line.find('=', i);
        EXPECT_NE(eq, std::string::npos) << line;
        const std::string key = line.substr(i, eq - i);
        EXPECT_EQ(line[eq + 1], '"') << line;
        std::string value;
        std::size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            value += line[j] == 'n' ? '\n' : line[j];
          } else {
            value += line[j];
          }
        }
        s.labels[key] = value;
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      ++i;  // '}'
    }
    EXPECT_EQ(line[i], ' ') << line;
    const std::string value = line.substr(i + 1);
    char* end = nullptr;
    s.value = std::strtod(value.c_str(), &end);
    EXPECT_EQ(*end, '\0') << "value with trailing text (timestamp?): " << line;
    out.samples.push_back(std::move(s));
  }
  return out;
}

}  // namespace edge::test
