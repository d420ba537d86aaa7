// The shipped configuration files: every file in conf/ must load cleanly, the demo
// must be what scripts/run expects, and conf/edged.yaml must document every key.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "edge/config/loader.hpp"

namespace edge::config {
namespace {

namespace fs = std::filesystem;

const fs::path kConfDir = fs::path(EDGE_SOURCE_DIR) / "conf";

std::string dump(const LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += e.to_string() + "\n";
  return out;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// conf/edged.yaml with its commented-out examples enabled: "# " right after the
/// indentation is removed; "##" explanation lines stay comments.
std::string uncommented(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    const std::size_t first = line.find_first_not_of(' ');
    if (first != std::string::npos && line.compare(first, 2, "# ") == 0) line.erase(first, 2);
    out += line;
    out += '\n';
  }
  return out;
}

/// Every key path in a document, list indices dropped: "listeners.rules.priority".
void collect_keys(const YAML::Node& n, const std::string& path, std::set<std::string>& out) {
  if (n.IsMap()) {
    for (auto it = n.begin(); it != n.end(); ++it) {
      const std::string p = path.empty() ? it->first.Scalar() : path + "." + it->first.Scalar();
      out.insert(p);
      collect_keys(it->second, p, out);
    }
  } else if (n.IsSequence()) {
    for (auto it = n.begin(); it != n.end(); ++it) collect_keys(*it, path, out);
  }
}

TEST(ConfFiles, EveryFileInConfLoadsWithoutErrors) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(kConfDir)) {
    const auto ext = entry.path().extension();
    if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 2U) << "expected at least edged.yaml and minimal.yaml in " << kConfDir;
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    const LoadResult r = load_config_file(f.string());
    EXPECT_TRUE(r.ok()) << dump(r);
    EXPECT_EQ(r.config.source, f.string());
  }
}

TEST(ConfFiles, DemoConfigIsWhatScriptsRunExpects) {
  const LoadResult r = load_config_file((kConfDir / "edged.yaml").string());
  ASSERT_TRUE(r.ok()) << dump(r);
  const Config& c = r.config;
  ASSERT_EQ(c.listeners.size(), 1U);
  EXPECT_EQ(c.listeners[0].name, "web");
  EXPECT_EQ(c.listeners[0].listen.to_string(), ":8080");
  EXPECT_EQ(c.listeners[0].protocol, Protocol::http);
  EXPECT_TRUE(c.listeners[0].rules.empty());
  ASSERT_EQ(c.listeners[0].default_action.kind, Action::Kind::forward);
  ASSERT_EQ(c.listeners[0].default_action.forward.target_groups.size(), 1U);
  EXPECT_EQ(c.listeners[0].default_action.forward.target_groups[0].name, "app");

  const TargetGroupConfig* app = c.find_target_group("app");
  ASSERT_NE(app, nullptr);
  ASSERT_EQ(app->targets.size(), 4U);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(app->targets[i].address.to_string(), "127.0.0.1:" + std::to_string(5001 + i));
  }
  EXPECT_TRUE(c.admin.enabled);
  EXPECT_EQ(c.admin.listen.to_string(), "127.0.0.1:9901");
  EXPECT_TRUE(c.cache_policies.empty());  // the cache sections are examples only
}

TEST(ConfFiles, MinimalConfigIsMinimal) {
  const LoadResult r = load_config_file((kConfDir / "minimal.yaml").string());
  ASSERT_TRUE(r.ok()) << dump(r);
  ASSERT_EQ(r.config.listeners.size(), 1U);
  ASSERT_EQ(r.config.target_groups.size(), 1U);
  EXPECT_EQ(r.config.target_groups[0].targets.size(), 1U);
}

TEST(ConfFiles, DemoExamplesLoadWhenUncommented) {
  const std::string text = uncommented(read_file(kConfDir / "edged.yaml"));
  const LoadResult r = load_config_string(text, "edged.yaml (examples enabled)");
  ASSERT_TRUE(r.ok()) << dump(r);
  const Config& c = r.config;
  ASSERT_EQ(c.listeners.size(), 2U);
  EXPECT_EQ(c.listeners[0].rules.size(), 3U);
  EXPECT_EQ(c.listeners[1].protocol, Protocol::https);
  EXPECT_EQ(c.listeners[1].tls.certificates.size(), 1U);
  EXPECT_EQ(c.cache_policies.size(), 2U);
  EXPECT_EQ(c.origin_request_policies.size(), 1U);
}

TEST(ConfFiles, DemoConfigDocumentsEveryKey) {
  // tests/data/config/full.yaml sets every key of the contract; each must appear in
  // conf/edged.yaml, active or as an example.
  std::set<std::string> documented;
  collect_keys(YAML::Load(uncommented(read_file(kConfDir / "edged.yaml"))), "", documented);
  std::set<std::string> all;
  collect_keys(YAML::LoadFile(EDGE_SOURCE_DIR "/tests/data/config/full.yaml"), "", all);
  ASSERT_GT(all.size(), 80U);
  for (const auto& key : all)
    EXPECT_EQ(documented.count(key), 1U) << "not in conf/edged.yaml: " << key;
}

}  // namespace
}  // namespace edge::config
