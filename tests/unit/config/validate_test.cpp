#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>

#include "edge/config/loader.hpp"

namespace edge::config {
namespace {

using std::chrono::seconds;

/// The smallest valid Config built in code: one listener forwarding to one group.
Config minimal() {
  Config c;
  ListenerConfig l;
  l.name = "web";
  l.listen = Address{"127.0.0.1", 0};
  l.default_action.forward.target_groups.push_back({"app", 1});
  c.listeners.push_back(l);
  TargetGroupConfig g;
  g.name = "app";
  TargetConfig t;
  t.id = "127.0.0.1:5001";
  t.address = Address{"127.0.0.1", 5001};
  g.targets.push_back(t);
  c.target_groups.push_back(g);
  return c;
}

std::string dump(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.to_string() + "\n";
  return out;
}

const ConfigError* find_error(const std::vector<ConfigError>& errors, std::string_view path) {
  for (const auto& e : errors) {
    if (e.path == path) return &e;
  }
  return nullptr;
}

TEST(Validate, MinimalConfigInCodeIsValid) {
  const auto errors = validate(minimal());
  EXPECT_TRUE(errors.empty()) << dump(errors);
}

TEST(Validate, DefaultConfigNeedsAListener) {
  const auto errors = validate(Config{});
  ASSERT_EQ(errors.size(), 1U) << dump(errors);
  EXPECT_EQ(errors[0].path, "listeners");
  EXPECT_EQ(errors[0].line, 0);
  EXPECT_EQ(errors[0].column, 0);
  EXPECT_EQ(errors[0].to_string(), "<config>: listeners: at least one listener is required");
}

TEST(Validate, ErrorsNameTheSourceFile) {
  Config c = minimal();
  c.source = "/etc/edged.yaml";
  c.relay_buffer_bytes = 2 * kMiB;
  const auto errors = validate(c);
  ASSERT_EQ(errors.size(), 1U) << dump(errors);
  EXPECT_EQ(errors[0].to_string(),
            "/etc/edged.yaml: relay_buffer: must be between 4KiB and 1MiB (got 2MiB)");
}

TEST(Validate, ListenerNamesAndPortsAreUnique) {
  Config c = minimal();
  c.listeners.push_back(c.listeners[0]);  // same name, both on port 0: only the name clashes
  auto errors = validate(c);
  ASSERT_EQ(errors.size(), 1U) << dump(errors);
  EXPECT_EQ(errors[0].path, "listeners[1].name");

  c.listeners[1].name = "other";
  c.listeners[0].listen.port = 8080;
  c.listeners[1].listen = Address{"", 8080};
  errors = validate(c);
  ASSERT_EQ(errors.size(), 1U) << dump(errors);
  EXPECT_EQ(errors[0].path, "listeners[1].listen");
  EXPECT_EQ(errors[0].message, "port 8080 is already used by listener \"web\"");

  c.listeners[1].listen.port = 0;
  c.admin.listen.port = 8080;
  errors = validate(c);
  ASSERT_EQ(errors.size(), 1U) << dump(errors);
  EXPECT_EQ(errors[0].path, "admin.listen");
  c.admin.enabled = false;  // a disabled admin listener takes no port
  EXPECT_TRUE(validate(c).empty());
}

TEST(Validate, ReferencedTargetGroupMustExist) {
  Config c = minimal();
  c.listeners[0].default_action.forward.target_groups[0].name = "api";
  const auto errors = validate(c);
  ASSERT_EQ(errors.size(), 1U) << dump(errors);
  EXPECT_EQ(errors[0].path, "listeners[0].default_action.forward.target_groups[0].name");
  EXPECT_EQ(errors[0].message, "unknown target group \"api\"");
}

TEST(Validate, EmptyForwardIsAnError) {
  Config c = minimal();
  c.listeners[0].default_action.forward.target_groups.clear();
  const auto errors = validate(c);
  ASSERT_EQ(errors.size(), 1U) << dump(errors);
  EXPECT_EQ(errors[0].path, "listeners[0].default_action.forward.target_groups");
}

TEST(Validate, OtherActionKindsIgnoreTheForwardFields) {
  Config c = minimal();
  c.listeners[0].default_action.kind = Action::Kind::fixed_response;
  c.listeners[0].default_action.forward.target_groups.clear();
  EXPECT_TRUE(validate(c).empty()) << dump(validate(c));
  c.listeners[0].default_action.fixed_response.status = 600;
  EXPECT_NE(find_error(validate(c), "listeners[0].default_action.fixed_response.status"), nullptr);
}

TEST(Validate, HealthCheckTimeoutBelowInterval) {
  Config c = minimal();
  auto& h = c.target_groups[0].health_check;
  h.interval = seconds(10);
  h.timeout = seconds(10);
  auto errors = validate(c);
  ASSERT_EQ(errors.size(), 1U) << dump(errors);
  EXPECT_EQ(errors[0].path, "target_groups[0].health_check.timeout");
  EXPECT_EQ(errors[0].message, "must be less than interval (10s)");
  h.timeout = seconds(9);
  EXPECT_TRUE(validate(c).empty());
  h.port = 0;
  EXPECT_NE(find_error(validate(c), "target_groups[0].health_check.port"), nullptr);
}

TEST(Validate, HealthCheckMatcherForms) {
  Config c = minimal();
  auto& h = c.target_groups[0].health_check;
  for (const char* ok : {"200", "200,302", "200-299", "200-499", "200,300-399"}) {
    h.matcher = ok;
    EXPECT_TRUE(validate(c).empty()) << ok;
  }
  for (const char* bad : {"", "199", "500", "200-500", "299-200", "2xx", "200,", ",200", "200 "}) {
    h.matcher = bad;
    EXPECT_NE(find_error(validate(c), "target_groups[0].health_check.matcher"), nullptr) << bad;
  }
}

TEST(Validate, SlowStartAndDeregistrationRanges) {
  Config c = minimal();
  auto& g = c.target_groups[0];
  for (auto ok : {Duration::zero(), Duration(seconds(30)), Duration(seconds(900))}) {
    g.slow_start = ok;
    EXPECT_TRUE(validate(c).empty()) << ok.count();
  }
  for (auto bad : {Duration(seconds(29)), Duration(seconds(901)), Duration(-1)}) {
    g.slow_start = bad;
    EXPECT_NE(find_error(validate(c), "target_groups[0].slow_start"), nullptr) << bad.count();
  }
  g.slow_start = Duration::zero();
  g.deregistration_delay = seconds(3601);
  EXPECT_NE(find_error(validate(c), "target_groups[0].deregistration_delay"), nullptr);
}

TEST(Validate, TargetsNeedAnAddress) {
  Config c = minimal();
  auto& targets = c.target_groups[0].targets;
  targets.push_back(TargetConfig{"", {"10.0.0.1", 80}, 1});  // address alone is enough
  EXPECT_TRUE(validate(c).empty()) << dump(validate(c));
  targets.push_back(TargetConfig{});                      // [2] neither
  targets.push_back(TargetConfig{"10.0.0.2:80", {}, 1});  // [3] the address is what is used
  targets.push_back(TargetConfig{"10.0.0.3", {"10.0.0.3", 80}, 1});  // [4] bad id
  targets.push_back(TargetConfig{"", {"10.0.0.1", 80}, 1});          // [5] same as [1]
  const auto errors = validate(c);
  EXPECT_NE(find_error(errors, "target_groups[0].targets[2].id"), nullptr) << dump(errors);
  EXPECT_NE(find_error(errors, "target_groups[0].targets[3].id"), nullptr) << dump(errors);
  EXPECT_NE(find_error(errors, "target_groups[0].targets[4].id"), nullptr) << dump(errors);
  const ConfigError* dup = find_error(errors, "target_groups[0].targets[5].id");
  ASSERT_NE(dup, nullptr) << dump(errors);
  EXPECT_EQ(dup->message, "duplicate target \"10.0.0.1:80\"");
  EXPECT_EQ(errors.size(), 4U) << dump(errors);
}

TEST(Validate, HttpsNeedsACertificate) {
  Config c = minimal();
  c.listeners[0].protocol = Protocol::https;
  auto errors = validate(c);
  ASSERT_EQ(errors.size(), 1U) << dump(errors);
  EXPECT_EQ(errors[0].path, "listeners[0].tls.certificates");
  c.listeners[0].tls.certificates.push_back({"site.pem", "site.key"});
  EXPECT_TRUE(validate(c).empty());
}

TEST(Validate, HttpsSecurityPolicyMustBeKnown) {
  Config c = minimal();
  c.listeners[0].protocol = Protocol::https;
  c.listeners[0].tls.certificates.push_back({"site.pem", "site.key"});
  c.listeners[0].tls.policy = "ELBSecurityPolicy-TLS13-1-3-2021-06";
  EXPECT_EQ(find_error(validate(c), "listeners[0].tls.policy"), nullptr);
  c.listeners[0].tls.policy = "ELBSecurityPolicy-Made-Up";
  const auto errors = validate(c);
  const ConfigError* e = find_error(errors, "listeners[0].tls.policy");
  ASSERT_NE(e, nullptr) << dump(errors);
  EXPECT_NE(e->message.find("unknown security policy"), std::string::npos) << e->message;
  EXPECT_NE(e->message.find("ELBSecurityPolicy-2016-08"), std::string::npos) << e->message;
}

TEST(Validate, MutualTlsNeedsHttpsAndATrustStore) {
  Config c = minimal();
  c.listeners[0].mutual_authentication.mode = MutualAuthentication::Mode::verify;
  EXPECT_NE(find_error(validate(c), "listeners[0].mutual_authentication"), nullptr);
  c.listeners[0].protocol = Protocol::https;
  c.listeners[0].tls.certificates.push_back({"site.pem", "site.key"});
  EXPECT_NE(find_error(validate(c), "listeners[0].mutual_authentication.trust_store"), nullptr);
  c.listeners[0].mutual_authentication.trust_store = "ca.pem";
  EXPECT_TRUE(validate(c).empty()) << dump(validate(c));
}

TEST(Validate, CachePolicyTtlOrder) {
  Config c = minimal();
  CachePolicyConfig p;
  p.name = "p";
  p.min_ttl = seconds(10);
  p.default_ttl = seconds(5);
  p.max_ttl = seconds(1);
  c.cache_policies.push_back(p);
  auto errors = validate(c);
  EXPECT_NE(find_error(errors, "cache_policies[0].default_ttl"), nullptr) << dump(errors);
  EXPECT_NE(find_error(errors, "cache_policies[0].max_ttl"), nullptr) << dump(errors);
  EXPECT_EQ(errors.size(), 2U) << dump(errors);
  c.cache_policies[0].min_ttl = c.cache_policies[0].default_ttl = c.cache_policies[0].max_ttl =
      seconds(5);
  EXPECT_TRUE(validate(c).empty());
}

TEST(Validate, WorkersRange) {
  Config c = minimal();
  c.workers = 1024;
  EXPECT_TRUE(validate(c).empty());
  c.workers = 1025;
  EXPECT_NE(find_error(validate(c), "workers"), nullptr);
}

}  // namespace
}  // namespace edge::config
