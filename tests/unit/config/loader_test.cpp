#include "edge/config/loader.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>

namespace edge::config {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

LoadResult load(std::string_view yaml) { return load_config_string(yaml, "test.yaml"); }

std::string dump(const LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += e.to_string() + "\n";
  return out;
}

const ConfigError* find_error(const LoadResult& r, std::string_view path) {
  for (const auto& e : r.errors) {
    if (e.path == path) return &e;
  }
  return nullptr;
}

/// A valid config, completed by each test with the key under test.
constexpr std::string_view kBase = R"(listeners:
  - name: web
    listen: :0
    default_action:
      forward: { target_group: app }
target_groups:
  - name: app
    targets: [127.0.0.1:5001]
)";

std::string with(std::string_view extra) { return std::string(kBase) + std::string(extra); }

/// kBase plus keys of target group "app" (from line 9 on), then top-level keys.
std::string with_group(std::string_view group_keys, std::string_view top_keys = "") {
  return std::string(kBase) + std::string(group_keys) + std::string(top_keys);
}

TEST(Loader, FullConfigMapsEveryKey) {
  const std::string file = EDGE_SOURCE_DIR "/tests/data/config/full.yaml";
  const LoadResult r = load_config_file(file);
  ASSERT_TRUE(r.ok()) << dump(r);
  const Config& c = r.config;
  EXPECT_EQ(c.source, file);

  EXPECT_EQ(c.workers, 4U);
  EXPECT_TRUE(c.admin.enabled);
  EXPECT_EQ(c.admin.listen.host, "127.0.0.1");
  EXPECT_EQ(c.admin.listen.port, 9902);
  EXPECT_EQ(c.admin.token, "s3cret");
  EXPECT_EQ(c.admin.state_file, "/var/lib/edged/state.json");
  EXPECT_EQ(c.access_log.path, "/var/log/edged/access.log");
  EXPECT_EQ(c.access_log.format, AccessLogFormat::json);
  EXPECT_EQ(c.desync_mitigation_mode, DesyncMode::strictest);
  EXPECT_EQ(c.limits.max_header_bytes, 32 * kKiB);
  EXPECT_EQ(c.limits.max_header_line_bytes, 8 * kKiB);
  EXPECT_EQ(c.limits.max_body_bytes, 10 * kMiB);
  EXPECT_EQ(c.timeouts.client_header, seconds(30));
  EXPECT_EQ(c.timeouts.idle, minutes(2));
  EXPECT_EQ(c.timeouts.upstream_connect, milliseconds(1500));
  EXPECT_EQ(c.timeouts.upstream_response, seconds(90));
  EXPECT_EQ(c.timeouts.drain, hours(1));
  EXPECT_EQ(c.relay_buffer_bytes, 32 * kKiB);

  ASSERT_EQ(c.listeners.size(), 2U);
  const ListenerConfig& web = c.listeners[0];
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.listen.host, "");
  EXPECT_EQ(web.listen.port, 8080);
  EXPECT_EQ(web.protocol, Protocol::http);
  ASSERT_EQ(web.rules.size(), 3U);

  const Rule& r10 = web.rules[0];
  EXPECT_EQ(r10.priority, 10);
  EXPECT_EQ(r10.conditions.path_pattern, (std::vector<std::string>{"/static/*", "/img/?.png"}));
  EXPECT_EQ(r10.conditions.host_header, std::vector<std::string>{"www.example.com"});
  EXPECT_EQ(r10.conditions.http_request_method, (std::vector<std::string>{"GET", "HEAD"}));
  ASSERT_TRUE(r10.conditions.http_header.has_value());
  EXPECT_EQ(r10.conditions.http_header->name, "X-Canary");
  EXPECT_EQ(r10.conditions.http_header->values, (std::vector<std::string>{"1", "yes"}));
  ASSERT_EQ(r10.conditions.query_string.size(), 2U);
  EXPECT_EQ(r10.conditions.query_string[0].key, "v");
  EXPECT_EQ(r10.conditions.query_string[0].value, "2");
  EXPECT_EQ(r10.conditions.query_string[1].key, "");
  EXPECT_EQ(r10.conditions.query_string[1].value, "debug");
  EXPECT_EQ(r10.conditions.source_ip, (std::vector<std::string>{"10.0.0.0/8", "2001:db8::/32"}));
  EXPECT_EQ(r10.action.kind, Action::Kind::forward);
  ASSERT_EQ(r10.action.forward.target_groups.size(), 2U);
  EXPECT_EQ(r10.action.forward.target_groups[0].name, "app");
  EXPECT_EQ(r10.action.forward.target_groups[0].weight, 3U);
  EXPECT_EQ(r10.action.forward.target_groups[1].name, "canary");
  EXPECT_EQ(r10.action.forward.target_groups[1].weight, 1U);
  EXPECT_EQ(r10.action.forward.cache_policy, "api-short");
  EXPECT_EQ(r10.action.forward.origin_request_policy, "AllViewer");

  const Rule& r20 = web.rules[1];
  EXPECT_EQ(r20.priority, 20);
  EXPECT_EQ(r20.action.kind, Action::Kind::fixed_response);
  EXPECT_EQ(r20.action.fixed_response.status, 200);
  EXPECT_EQ(r20.action.fixed_response.content_type, "text/plain");
  EXPECT_EQ(r20.action.fixed_response.body, "pong");

  const Rule& r30 = web.rules[2];
  EXPECT_EQ(r30.action.kind, Action::Kind::redirect);
  EXPECT_EQ(r30.action.redirect.status, 302);
  EXPECT_EQ(r30.action.redirect.protocol, "HTTPS");
  EXPECT_EQ(r30.action.redirect.port, "443");
  EXPECT_EQ(r30.action.redirect.host, "#{host}");
  EXPECT_EQ(r30.action.redirect.path, "/new/#{path}");
  EXPECT_EQ(r30.action.redirect.query, "#{query}");

  EXPECT_EQ(web.default_action.kind, Action::Kind::forward);
  ASSERT_EQ(web.default_action.forward.target_groups.size(), 1U);
  EXPECT_EQ(web.default_action.forward.target_groups[0].name, "app");
  EXPECT_EQ(web.default_action.forward.target_groups[0].weight, 1U);

  const ListenerConfig& secure = c.listeners[1];
  EXPECT_EQ(secure.listen.host, "::1");
  EXPECT_EQ(secure.listen.port, 8443);
  EXPECT_EQ(secure.protocol, Protocol::https);
  EXPECT_EQ(secure.tls.policy, "ELBSecurityPolicy-TLS13-1-3-2021-06");
  ASSERT_EQ(secure.tls.certificates.size(), 2U);
  EXPECT_EQ(secure.tls.certificates[0].cert, "conf/certs/site.pem");
  EXPECT_EQ(secure.tls.certificates[0].key, "conf/certs/site.key");
  EXPECT_EQ(secure.tls.certificates[1].cert, "conf/certs/other.pem");
  EXPECT_EQ(secure.default_action.forward.cache_policy, "CachingOptimized");
  EXPECT_EQ(secure.default_action.forward.origin_request_policy, "edge-headers");

  ASSERT_EQ(c.target_groups.size(), 2U);
  const TargetGroupConfig& app = c.target_groups[0];
  EXPECT_EQ(app.name, "app");
  EXPECT_EQ(app.protocol, Protocol::http);
  EXPECT_EQ(app.algorithm, Algorithm::round_robin);
  ASSERT_EQ(app.targets.size(), 3U);
  EXPECT_EQ(app.targets[0].id, "127.0.0.1:5001");
  EXPECT_EQ(app.targets[0].address.host, "127.0.0.1");
  EXPECT_EQ(app.targets[0].address.port, 5001);
  EXPECT_EQ(app.targets[0].weight, 1U);
  EXPECT_EQ(app.targets[1].id, "127.0.0.1:5002");
  EXPECT_EQ(app.targets[1].weight, 2U);
  EXPECT_EQ(app.targets[2].address.host, "::1");
  EXPECT_EQ(app.targets[2].address.port, 5003);
  EXPECT_FALSE(app.health_check.enabled);
  EXPECT_EQ(app.health_check.protocol, HealthCheckProtocol::https);
  EXPECT_EQ(app.health_check.port, std::optional<std::uint16_t>(8081));
  EXPECT_EQ(app.health_check.path, "/healthz");
  EXPECT_EQ(app.health_check.interval, seconds(10));
  EXPECT_EQ(app.health_check.timeout, seconds(3));
  EXPECT_EQ(app.health_check.healthy_threshold, 3);
  EXPECT_EQ(app.health_check.unhealthy_threshold, 4);
  EXPECT_EQ(app.health_check.matcher, "200-299");
  EXPECT_EQ(app.deregistration_delay, seconds(30));
  EXPECT_EQ(app.slow_start, minutes(1));
  EXPECT_EQ(app.upstream_keepalive.max_idle_per_target, 16U);
  EXPECT_EQ(app.upstream_keepalive.idle_timeout, seconds(20));
  EXPECT_EQ(app.upstream_keepalive.max_requests, 1000U);
  EXPECT_EQ(app.retries, 1);

  const TargetGroupConfig& canary = c.target_groups[1];
  EXPECT_EQ(canary.protocol, Protocol::https);
  EXPECT_EQ(canary.algorithm, Algorithm::least_outstanding_requests);
  ASSERT_EQ(canary.targets.size(), 1U);
  EXPECT_EQ(canary.targets[0].address.host, "app-canary.internal");
  EXPECT_FALSE(canary.health_check.port.has_value());
  EXPECT_EQ(canary.health_check.matcher, "200,302");
  EXPECT_EQ(c.find_target_group("canary"), &canary);

  ASSERT_EQ(c.cache_policies.size(), 2U);
  const CachePolicyConfig& api = c.cache_policies[0];
  EXPECT_EQ(api.name, "api-short");
  EXPECT_EQ(api.min_ttl, seconds(1));
  EXPECT_EQ(api.default_ttl, seconds(10));
  EXPECT_EQ(api.max_ttl, hours(1));
  EXPECT_EQ(api.key_headers, std::vector<std::string>{"Accept-Language"});
  EXPECT_EQ(api.key_cookies.mode, KeySelector::Mode::all_except);
  EXPECT_EQ(api.key_cookies.names, std::vector<std::string>{"session"});
  EXPECT_EQ(api.key_query_strings.mode, KeySelector::Mode::whitelist);
  EXPECT_EQ(api.key_query_strings.names, (std::vector<std::string>{"page", "sort"}));
  EXPECT_EQ(api.accept_encoding, (std::vector<std::string>{"gzip", "br"}));
  const CachePolicyConfig& st = c.cache_policies[1];
  EXPECT_TRUE(st.key_headers.empty());
  EXPECT_EQ(st.key_cookies.mode, KeySelector::Mode::none);
  EXPECT_EQ(st.key_query_strings.mode, KeySelector::Mode::all);
  EXPECT_EQ(st.default_ttl, hours(24));  // untouched default

  ASSERT_EQ(c.origin_request_policies.size(), 1U);
  const OriginRequestPolicyConfig& orp = c.origin_request_policies[0];
  EXPECT_EQ(orp.name, "edge-headers");
  EXPECT_EQ(orp.headers.mode, KeySelector::Mode::all_except);
  EXPECT_EQ(orp.headers.names, std::vector<std::string>{"Cookie"});
  EXPECT_EQ(orp.cookies.mode, KeySelector::Mode::all);
  EXPECT_EQ(orp.query_strings.mode, KeySelector::Mode::whitelist);
  EXPECT_EQ(orp.query_strings.names, std::vector<std::string>{"q"});

  EXPECT_EQ(c.cache.memory, kGiB);
  EXPECT_EQ(c.cache.max_object_size, 512000U);

  EXPECT_EQ(c.timeouts.websocket_idle, hours(2));
  EXPECT_EQ(c.admin.upgrade_socket, "/run/edged/upgrade.sock");
  EXPECT_TRUE(c.listeners[0].rules[0].action.forward.stickiness.enabled);
  EXPECT_EQ(c.listeners[0].rules[0].action.forward.stickiness.duration, hours(12));
  EXPECT_FALSE(c.listeners[0].default_action.forward.stickiness.enabled);
  EXPECT_EQ(c.listeners[0].upgrade_protocols, (std::vector<std::string>{"websocket", "h2c"}));
  EXPECT_EQ(c.listeners[1].upgrade_protocols, std::vector<std::string>{"websocket"});
}

TEST(Loader, MinimalConfigGetsDefaults) {
  const LoadResult r = load(kBase);
  ASSERT_TRUE(r.ok()) << dump(r);
  const Config& c = r.config;
  EXPECT_EQ(c.source, "");  // text has no file to reload from
  EXPECT_EQ(c.workers, 0U);
  EXPECT_TRUE(c.admin.enabled);
  EXPECT_EQ(c.admin.listen.to_string(), "127.0.0.1:9901");
  EXPECT_EQ(c.desync_mitigation_mode, DesyncMode::defensive);
  EXPECT_EQ(c.relay_buffer_bytes, 64 * kKiB);
  ASSERT_EQ(c.target_groups.size(), 1U);
  EXPECT_EQ(c.target_groups[0].health_check.interval, seconds(30));
  EXPECT_EQ(c.target_groups[0].health_check.healthy_threshold, 5);
  EXPECT_EQ(c.target_groups[0].health_check.matcher, "200");
}

TEST(Loader, UnknownKeyNamesPathLineAndColumn) {
  const LoadResult r = load(R"(listeners:
  - name: web
    listen: :0
    default_action:
      forwrd: { target_group: app }
target_groups:
  - name: app
)");
  ASSERT_EQ(r.errors.size(), 1U) << dump(r);
  const ConfigError& e = r.errors[0];
  EXPECT_EQ(e.file, "test.yaml");
  EXPECT_EQ(e.path, "listeners[0].default_action.forwrd");
  EXPECT_EQ(e.line, 5);
  EXPECT_EQ(e.column, 7);
  EXPECT_EQ(e.to_string(),
            "test.yaml:5:7: listeners[0].default_action.forwrd: unknown key (did you mean "
            "\"forward\"?)");
}

TEST(Loader, UnknownKeysAtEveryLevel) {
  const LoadResult r = load(
      with_group("    health_check: { intervall: 10s }\n", "worker: 4\nlimits: { max_body: 1 }\n"));
  EXPECT_EQ(r.errors.size(), 3U) << dump(r);
  const ConfigError* root = find_error(r, "worker");
  ASSERT_NE(root, nullptr) << dump(r);
  EXPECT_EQ(root->line, 10);
  EXPECT_EQ(root->column, 1);
  EXPECT_NE(root->message.find("did you mean \"workers\""), std::string::npos);
  const ConfigError* nested = find_error(r, "limits.max_body");
  ASSERT_NE(nested, nullptr) << dump(r);
  EXPECT_EQ(nested->line, 11);
  EXPECT_EQ(nested->column, 11);
  const ConfigError* deep = find_error(r, "target_groups[0].health_check.intervall");
  ASSERT_NE(deep, nullptr) << dump(r);
  EXPECT_EQ(deep->line, 9);
  EXPECT_EQ(deep->column, 21);
  EXPECT_NE(deep->message.find("did you mean \"interval\""), std::string::npos);
}

TEST(Loader, WrongTypes) {
  const LoadResult r = load(R"(workers: lots
admin: { listen: { host: x } }
listeners:
  - name: [web]
    listen: :0
    default_action:
      forward: { target_group: app }
target_groups:
  - name: app
    targets: 127.0.0.1:5001
    retries: abc
    health_check: { interval: soon, enabled: maybe }
cache: { memory: lots }
)");
  const ConfigError* e = find_error(r, "workers");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->message, "expected an integer, got \"lots\"");
  EXPECT_EQ(e->line, 1);
  EXPECT_EQ(e->column, 10);

  e = find_error(r, "admin.listen");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->message, "expected an address, got a map");
  EXPECT_EQ(e->line, 2);
  EXPECT_EQ(e->column, 18);

  e = find_error(r, "listeners[0].name");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->message, "expected a string, got a list");

  e = find_error(r, "target_groups[0].targets");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->message, "expected a list, got a scalar");
  EXPECT_EQ(e->line, 10);
  EXPECT_EQ(e->column, 14);

  e = find_error(r, "target_groups[0].retries");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->message, "expected an integer, got \"abc\"");

  e = find_error(r, "target_groups[0].health_check.interval");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_NE(e->message.find("invalid duration \"soon\""), std::string::npos) << e->message;

  EXPECT_NE(find_error(r, "target_groups[0].health_check.enabled"), nullptr) << dump(r);
  e = find_error(r, "cache.memory");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_NE(e->message.find("invalid size \"lots\""), std::string::npos) << e->message;
  // The bad name is reported once, not again as "missing" by the semantic pass.
  EXPECT_EQ(r.errors.size(), 8U) << dump(r);
}

TEST(Loader, TypoInsideAMapIsReportedOnce) {
  const LoadResult r = load(R"(listeners:
  - name: web
    listen: :0
    rules:
      - priority: 1
        conditions: { path_patern: ["/x"] }
        action: { forward: { target_grop: app } }
    default_action: { forward: { target_group: app } }
target_groups: [{ name: app }]
)");
  ASSERT_EQ(r.errors.size(), 2U) << dump(r);
  EXPECT_EQ(r.errors[0].path, "listeners[0].rules[0].conditions.path_patern");
  EXPECT_EQ(r.errors[1].path, "listeners[0].rules[0].action.forward.target_grop");
}

TEST(Loader, BadAddressesAreErrors) {
  const LoadResult r = load(R"(listeners:
  - name: web
    listen: "8080"
    default_action: { forward: { target_group: app } }
target_groups:
  - name: app
    targets: ["::1:80", { id: "host:99999" }, "h:0"]
)");
  EXPECT_NE(find_error(r, "listeners[0].listen"), nullptr) << dump(r);
  EXPECT_NE(find_error(r, "target_groups[0].targets[0]"), nullptr) << dump(r);
  EXPECT_NE(find_error(r, "target_groups[0].targets[1].id"), nullptr) << dump(r);
  // Port 0 parses but a target needs a real port; shown under the path as written.
  const ConfigError* e = find_error(r, "target_groups[0].targets[2]");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->line, 7);
  EXPECT_EQ(e->column, 47);
  EXPECT_EQ(r.errors.size(), 4U) << dump(r);
}

TEST(Loader, OutOfRangeValuesPointAtTheValue) {
  const LoadResult r = load(with_group(R"(    health_check:
      interval: 1s
      healthy_threshold: 11
      matcher: "600"
    slow_start: 10s
    deregistration_delay: 2h
    retries: 11
)",
                                       "relay_buffer: 1KiB\n"));
  const ConfigError* e = find_error(r, "target_groups[0].health_check.interval");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->message, "must be between 5s and 5m (got 1s)");
  EXPECT_EQ(e->line, 10);
  EXPECT_EQ(e->column, 17);
  e = find_error(r, "relay_buffer");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->message, "must be between 4KiB and 1MiB (got 1KiB)");
  EXPECT_EQ(e->line, 16);
  EXPECT_EQ(e->column, 15);
  EXPECT_NE(find_error(r, "target_groups[0].health_check.healthy_threshold"), nullptr);
  EXPECT_NE(find_error(r, "target_groups[0].health_check.matcher"), nullptr);
  EXPECT_NE(find_error(r, "target_groups[0].slow_start"), nullptr);
  EXPECT_NE(find_error(r, "target_groups[0].deregistration_delay"), nullptr);
  EXPECT_NE(find_error(r, "target_groups[0].retries"), nullptr);
  // timeout < interval is only checked once interval itself is in range.
  EXPECT_EQ(find_error(r, "target_groups[0].health_check.timeout"), nullptr);
  EXPECT_EQ(r.errors.size(), 7U) << dump(r);
}

TEST(Loader, IntegerOutOfItsTypeIsAnError) {
  const LoadResult r2 = load(R"(listeners:
  - name: web
    listen: :0
    default_action: { forward: { target_group: app } }
target_groups:
  - name: app
    targets: [{ id: "127.0.0.1:1", weight: -1 }]
    health_check: { port: 70000 }
)");
  const ConfigError* w = find_error(r2, "target_groups[0].targets[0].weight");
  ASSERT_NE(w, nullptr) << dump(r2);
  EXPECT_EQ(w->message, "integer -1 is out of range");
  EXPECT_NE(find_error(r2, "target_groups[0].health_check.port"), nullptr) << dump(r2);
  EXPECT_EQ(r2.errors.size(), 2U) << dump(r2);
}

TEST(Loader, DuplicateKeyIsAnError) {
  const LoadResult r = load(with("workers: 2\nworkers: 3\n"));
  ASSERT_EQ(r.errors.size(), 1U) << dump(r);
  EXPECT_EQ(r.errors[0].path, "workers");
  EXPECT_EQ(r.errors[0].message, "duplicate key");
  EXPECT_EQ(r.errors[0].line, 10);
}

TEST(Loader, MissingRequiredKeys) {
  const LoadResult r = load(R"(listeners:
  - name: web
    default_action: { forward: { target_group: app } }
target_groups:
  - targets: [127.0.0.1:5001]
)");
  const ConfigError* e = find_error(r, "listeners[0].listen");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->message, "missing required key");
  EXPECT_EQ(e->line, 2);  // the listener's own position
  EXPECT_EQ(e->column, 5);
  e = find_error(r, "target_groups[0].name");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->line, 5);
  // The forward to "app" now has nowhere to go.
  EXPECT_NE(find_error(r, "listeners[0].default_action.forward.target_group"), nullptr);
  EXPECT_EQ(r.errors.size(), 3U) << dump(r);
}

TEST(Loader, NoListenersIsAnError) {
  const LoadResult r = load("workers: 2\n");
  ASSERT_EQ(r.errors.size(), 1U) << dump(r);
  EXPECT_EQ(r.errors[0].path, "listeners");
  EXPECT_EQ(r.errors[0].message, "at least one listener is required");
}

TEST(Loader, EmptyOrNonMapDocument) {
  LoadResult r = load("");
  ASSERT_EQ(r.errors.size(), 1U) << dump(r);
  EXPECT_EQ(r.errors[0].message, "the document is empty");
  r = load("- a\n- b\n");
  ASSERT_EQ(r.errors.size(), 1U) << dump(r);
  EXPECT_EQ(r.errors[0].message, "the document must be a map, got a list");
}

TEST(Loader, CollectsAllErrorsInFileOrder) {
  const LoadResult r = load(R"(workers: 0
desync_mitigation_mode: paranoid
listeners:
  - name: web
    listen: :0
    protocl: HTTP
    default_action: { forward: { target_group: nope } }
target_groups:
  - name: app
    algorithm: random_pick
    targets: [127.0.0.1:5001]
)");
  ASSERT_EQ(r.errors.size(), 5U) << dump(r);
  EXPECT_EQ(r.errors[0].path, "workers");
  EXPECT_EQ(r.errors[0].message, "must be auto or between 1 and 1024 (got 0)");
  EXPECT_EQ(r.errors[1].path, "desync_mitigation_mode");
  EXPECT_EQ(r.errors[1].message,
            "invalid value \"paranoid\" (expected one of: monitor, defensive, strictest)");
  EXPECT_EQ(r.errors[2].path, "listeners[0].protocl");
  EXPECT_EQ(r.errors[3].path, "listeners[0].default_action.forward.target_group");
  EXPECT_EQ(r.errors[3].message, "unknown target group \"nope\"");
  EXPECT_EQ(r.errors[3].line, 7);
  EXPECT_EQ(r.errors[3].column, 48);
  EXPECT_EQ(r.errors[4].path, "target_groups[0].algorithm");
  for (std::size_t i = 1; i < r.errors.size(); ++i) {
    EXPECT_LT(r.errors[i - 1].line, r.errors[i].line) << dump(r);
  }
}

TEST(Loader, YamlSyntaxErrorHasPosition) {
  const LoadResult r = load("listeners:\n  - name: web\n    listen: [:0\nworkers: 1\n");
  ASSERT_EQ(r.errors.size(), 1U) << dump(r);
  EXPECT_EQ(r.errors[0].file, "test.yaml");
  EXPECT_EQ(r.errors[0].line, 4);
  EXPECT_GE(r.errors[0].column, 1);
  EXPECT_NE(r.errors[0].message.find("YAML syntax error"), std::string::npos);

  const LoadResult bad_indent = load("a: 1\n b: 2\n");
  ASSERT_EQ(bad_indent.errors.size(), 1U);
  EXPECT_EQ(bad_indent.errors[0].line, 2);
  EXPECT_EQ(bad_indent.errors[0].column, 3);
  EXPECT_EQ(bad_indent.errors[0].to_string(),
            "test.yaml:2:3: YAML syntax error: illegal map value");
}

TEST(Loader, MissingFile) {
  const LoadResult r = load_config_file("/nonexistent/edged.yaml");
  ASSERT_EQ(r.errors.size(), 1U);
  EXPECT_EQ(r.errors[0].file, "/nonexistent/edged.yaml");
  EXPECT_EQ(r.errors[0].line, 0);
  EXPECT_EQ(r.errors[0].to_string().rfind("/nonexistent/edged.yaml: cannot open", 0), 0U)
      << r.errors[0].to_string();
}

TEST(Loader, MissingFileOrDirectory) {
  const LoadResult r = load_config_file(EDGE_SOURCE_DIR "/conf");
  ASSERT_EQ(r.errors.size(), 1U);
  EXPECT_EQ(r.errors[0].message, "cannot open: is a directory");
}

TEST(Loader, SecondDocumentIsAnError) {
  const LoadResult r = load(std::string(kBase) + "---\nworkers: 2\n");
  ASSERT_EQ(r.errors.size(), 1U) << dump(r);
  EXPECT_EQ(r.errors[0].message, "only one YAML document is allowed per file");
  EXPECT_EQ(r.errors[0].line, 10);
}

TEST(Loader, WorkersAndAdminForms) {
  LoadResult r = load(with("workers: auto\nadmin: off\n"));
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config.workers, 0U);
  EXPECT_FALSE(r.config.admin.enabled);

  r = load(with("workers: 1024\nadmin: { listen: \"[::1]:0\", token: }\n"));
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config.workers, 1024U);
  EXPECT_TRUE(r.config.admin.enabled);
  EXPECT_EQ(r.config.admin.listen.host, "::1");
  EXPECT_EQ(r.config.admin.token, "");

  r = load(with("workers: 1025\nadmin: on\n"));
  EXPECT_NE(find_error(r, "workers"), nullptr) << dump(r);
  EXPECT_NE(find_error(r, "admin"), nullptr) << dump(r);
  EXPECT_EQ(r.errors.size(), 2U) << dump(r);
}

TEST(Loader, AccessLogForms) {
  LoadResult r = load(with("access_log: { path: off, format: alb }\n"));
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config.access_log.path, "off");
  r = load(with("access_log: { path: stdout, format: clf }\n"));
  ASSERT_EQ(r.errors.size(), 1U) << dump(r);
  EXPECT_EQ(r.errors[0].path, "access_log.format");
}

TEST(Loader, ActionNeedsExactlyOneKind) {
  LoadResult r = load(R"(listeners:
  - name: web
    listen: :0
    default_action:
      forward: { target_group: app }
      fixed_response: { status: 404 }
target_groups: [{ name: app }]
)");
  ASSERT_EQ(r.errors.size(), 1U) << dump(r);
  EXPECT_EQ(r.errors[0].path, "listeners[0].default_action");
  EXPECT_EQ(r.errors[0].line, 5);

  r = load(R"(listeners:
  - name: web
    listen: :0
    default_action: {}
)");
  ASSERT_EQ(r.errors.size(), 1U) << dump(r);
  EXPECT_EQ(r.errors[0].message, "needs one of forward, fixed_response, redirect");

  r = load(R"(listeners:
  - name: web
    listen: :0
    default_action: { forward: { target_group: app, target_groups: [{ name: app }] } }
target_groups: [{ name: app }]
)");
  ASSERT_EQ(r.errors.size(), 1U) << dump(r);
  EXPECT_EQ(r.errors[0].message, "use either target_group or target_groups, not both");
}

TEST(Loader, FixedResponseAndRedirectRanges) {
  const LoadResult r = load(R"(listeners:
  - name: web
    listen: :0
    rules:
      - priority: 1
        conditions: { path_pattern: ["/a"] }
        action: { fixed_response: { status: 199 } }
      - priority: 2
        conditions: { path_pattern: ["/b"] }
        action: { redirect: { status: 307, protocol: FTP, port: "0", path: "x", query: "?a" } }
      - priority: 2
        conditions: { path_pattern: ["/c"] }
        action: { fixed_response: { status: 503, content_type: application/json, body: "{}" } }
      - priority: 50001
        action: { redirect: { host: "" } }
    default_action: { fixed_response: { status: 404 } }
)");
  EXPECT_NE(find_error(r, "listeners[0].rules[0].action.fixed_response.status"), nullptr);
  EXPECT_NE(find_error(r, "listeners[0].rules[1].action.redirect.status"), nullptr);
  EXPECT_NE(find_error(r, "listeners[0].rules[1].action.redirect.protocol"), nullptr);
  EXPECT_NE(find_error(r, "listeners[0].rules[1].action.redirect.port"), nullptr);
  EXPECT_NE(find_error(r, "listeners[0].rules[1].action.redirect.path"), nullptr);
  EXPECT_NE(find_error(r, "listeners[0].rules[1].action.redirect.query"), nullptr);
  const ConfigError* dup = find_error(r, "listeners[0].rules[2].priority");
  ASSERT_NE(dup, nullptr) << dump(r);
  EXPECT_EQ(dup->message, "duplicate priority 2 (also rules[1])");
  EXPECT_EQ(dup->line, 11);
  EXPECT_NE(find_error(r, "listeners[0].rules[3].priority"), nullptr);
  EXPECT_NE(find_error(r, "listeners[0].rules[3].conditions"), nullptr);
  EXPECT_NE(find_error(r, "listeners[0].rules[3].action.redirect.host"), nullptr);
  EXPECT_EQ(r.errors.size(), 10U) << dump(r);
}

TEST(Loader, ConditionsAreValidated) {
  const LoadResult r = load(R"(listeners:
  - name: web
    listen: :0
    rules:
      - priority: 1
        conditions:
          http_request_method: [get]
          source_ip: ["10.0.0.0", "10.0.0.0/33", "::/0"]
          http_header: { name: "Bad Header", values: [] }
          query_string: [{ key: a }]
        action: { fixed_response: { status: 200 } }
    default_action: { fixed_response: { status: 404 } }
)");
  EXPECT_NE(find_error(r, "listeners[0].rules[0].conditions.http_request_method[0]"), nullptr);
  EXPECT_NE(find_error(r, "listeners[0].rules[0].conditions.source_ip[0]"), nullptr);
  EXPECT_NE(find_error(r, "listeners[0].rules[0].conditions.source_ip[1]"), nullptr);
  EXPECT_EQ(find_error(r, "listeners[0].rules[0].conditions.source_ip[2]"), nullptr);
  EXPECT_NE(find_error(r, "listeners[0].rules[0].conditions.http_header.name"), nullptr);
  EXPECT_NE(find_error(r, "listeners[0].rules[0].conditions.http_header.values"), nullptr);
  EXPECT_NE(find_error(r, "listeners[0].rules[0].conditions.query_string[0].value"), nullptr);
  EXPECT_EQ(r.errors.size(), 6U) << dump(r);
}

TEST(Loader, TargetGroupReferencesMustExist) {
  const LoadResult r = load(R"(listeners:
  - name: web
    listen: :0
    rules:
      - priority: 1
        conditions: { host_header: [a.example] }
        action:
          forward:
            target_groups:
              - { name: app, weight: 0 }
              - { name: ghost, weight: 1000 }
    default_action: { forward: { target_groups: [{ name: app, weight: 0 }] } }
target_groups: [{ name: app }]
)");
  const ConfigError* e =
      find_error(r, "listeners[0].rules[0].action.forward.target_groups[1].name");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->message, "unknown target group \"ghost\"");
  EXPECT_EQ(e->line, 11);
  EXPECT_EQ(e->column, 25);
  EXPECT_NE(find_error(r, "listeners[0].rules[0].action.forward.target_groups[1].weight"), nullptr);
  e = find_error(r, "listeners[0].default_action.forward.target_groups");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->message, "at least one target group needs a weight above 0");
  EXPECT_EQ(r.errors.size(), 3U) << dump(r);
}

TEST(Loader, PoliciesManagedDeclaredAndUnknown) {
  LoadResult r = load(R"(listeners:
  - name: web
    listen: :0
    rules:
      - priority: 1
        conditions: { path_pattern: ["/api/*"] }
        action: { forward: { target_group: app, cache_policy: mine, origin_request_policy: CORS-CustomOrigin } }
      - priority: 2
        conditions: { path_pattern: ["/x/*"] }
        action: { forward: { target_group: app, cache_policy: UseOriginCacheControlHeaders, origin_request_policy: UserAgentRefererHeaders } }
    default_action:
      forward: { target_group: app, cache_policy: CachingDisabled, origin_request_policy: AllViewerExceptHostHeader }
target_groups: [{ name: app }]
cache_policies: [{ name: mine, key: { headers: [X-Tenant] } }]
)");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config.listeners[0].rules[0].action.forward.cache_policy, "mine");

  r = load(R"(listeners:
  - name: web
    listen: :0
    default_action:
      forward: { target_group: app, cache_policy: CachingOptimised, origin_request_policy: Everything }
target_groups: [{ name: app }]
cache_policies: [{ name: CachingDisabled }]
)");
  const ConfigError* e = find_error(r, "listeners[0].default_action.forward.cache_policy");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->message, "unknown cache policy \"CachingOptimised\"");
  EXPECT_EQ(e->line, 5);
  EXPECT_EQ(e->column, 51);
  EXPECT_NE(find_error(r, "listeners[0].default_action.forward.origin_request_policy"), nullptr);
  EXPECT_NE(find_error(r, "cache_policies[0].name"), nullptr);  // managed names are taken
  EXPECT_EQ(r.errors.size(), 3U) << dump(r);
}

TEST(Loader, KeySelectorForms) {
  LoadResult r = load(with(R"(origin_request_policies:
  - { name: a, headers: none, cookies: all, query_strings: [x, y] }
  - { name: b, headers: { all_except: [Host] }, cookies: [], query_strings: }
)"));
  ASSERT_TRUE(r.ok()) << dump(r);
  const auto& a = r.config.origin_request_policies[0];
  EXPECT_EQ(a.headers.mode, KeySelector::Mode::none);
  EXPECT_EQ(a.cookies.mode, KeySelector::Mode::all);
  EXPECT_EQ(a.query_strings.mode, KeySelector::Mode::whitelist);
  EXPECT_EQ(a.query_strings.names, (std::vector<std::string>{"x", "y"}));
  const auto& b = r.config.origin_request_policies[1];
  EXPECT_EQ(b.headers.mode, KeySelector::Mode::all_except);
  EXPECT_EQ(b.headers.names, std::vector<std::string>{"Host"});
  EXPECT_EQ(b.cookies.mode, KeySelector::Mode::none);
  EXPECT_EQ(b.query_strings.mode, KeySelector::Mode::none);

  r = load(with(R"(origin_request_policies:
  - { name: a, headers: some, cookies: { all_except: [] }, query_strings: { only: [x] } }
cache_policies:
  - { name: c, key: { headers: all, accept_encoding: [zip] }, min_ttl: 1h, default_ttl: 1m, max_ttl: 1s }
)"));
  EXPECT_NE(find_error(r, "origin_request_policies[0].headers"), nullptr) << dump(r);
  EXPECT_NE(find_error(r, "origin_request_policies[0].cookies"), nullptr) << dump(r);
  EXPECT_NE(find_error(r, "origin_request_policies[0].query_strings.only"), nullptr) << dump(r);
  EXPECT_NE(find_error(r, "origin_request_policies[0].query_strings.all_except"), nullptr);
  EXPECT_NE(find_error(r, "cache_policies[0].key.headers"), nullptr) << dump(r);
  EXPECT_NE(find_error(r, "cache_policies[0].key.accept_encoding[0]"), nullptr) << dump(r);
  EXPECT_NE(find_error(r, "cache_policies[0].default_ttl"), nullptr) << dump(r);
  EXPECT_NE(find_error(r, "cache_policies[0].max_ttl"), nullptr) << dump(r);
  EXPECT_EQ(r.errors.size(), 8U) << dump(r);
}

TEST(Loader, ListenerUniquenessAndTls) {
  const LoadResult r = load(R"(listeners:
  - { name: web, listen: ":8080", default_action: { forward: { target_group: app } } }
  - { name: web, listen: "127.0.0.1:8080", default_action: { forward: { target_group: app } } }
  - { name: a, listen: ":0", default_action: { forward: { target_group: app } } }
  - { name: b, listen: ":0", protocol: HTTPS, default_action: { forward: { target_group: app } } }
  - name: c
    listen: ":0"
    tls: { certificates: [{ cert: c.pem, key: c.key }] }
    default_action: { forward: { target_group: app } }
  - name: d
    listen: ":0"
    protocol: HTTPS
    tls: { certificates: [{ cert: c.pem }] }
    default_action: { forward: { target_group: app } }
target_groups: [{ name: app }, { name: app }]
admin: { listen: "127.0.0.1:8080" }
)");
  const ConfigError* e = find_error(r, "listeners[1].name");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->message, "duplicate listener name \"web\"");
  e = find_error(r, "listeners[1].listen");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->message, "port 8080 is already used by listener \"web\"");
  EXPECT_NE(find_error(r, "admin.listen"), nullptr) << dump(r);
  EXPECT_NE(find_error(r, "listeners[3].tls.certificates"), nullptr) << dump(r);
  EXPECT_NE(find_error(r, "listeners[4].tls"), nullptr) << dump(r);
  e = find_error(r, "listeners[5].tls.certificates[0].key");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->message, "missing required key");
  EXPECT_NE(find_error(r, "target_groups[1].name"), nullptr) << dump(r);
  EXPECT_EQ(r.errors.size(), 7U) << dump(r);
}

TEST(Loader, TargetsAreValidated) {
  const LoadResult r = load(with(R"(  - name: other
    targets:
      - 127.0.0.1:5001
      - { id: 127.0.0.1:5001 }
      - { id: 127.0.0.1:5002, weight: 0 }
      - { weight: 2 }
    upstream_keepalive: { idle_timeout: 0s, max_idle_per_target: 20000 }
)"));
  EXPECT_NE(find_error(r, "target_groups[1].targets[1].id"), nullptr) << dump(r);
  EXPECT_NE(find_error(r, "target_groups[1].targets[2].weight"), nullptr) << dump(r);
  EXPECT_NE(find_error(r, "target_groups[1].targets[3].id"), nullptr) << dump(r);
  EXPECT_NE(find_error(r, "target_groups[1].upstream_keepalive.idle_timeout"), nullptr);
  EXPECT_NE(find_error(r, "target_groups[1].upstream_keepalive.max_idle_per_target"), nullptr);
  EXPECT_EQ(r.errors.size(), 5U) << dump(r);
}

TEST(Loader, LimitsAndTimeouts) {
  LoadResult r = load(
      with(R"(limits: { max_header_bytes: 8KiB, max_header_line_bytes: 16KiB, max_body_bytes: 1GB }
timeouts: { client_header: 0s, drain: 0 }
cache: { memory: 1MiB, max_object_size: 2MiB }
)"));
  EXPECT_NE(find_error(r, "limits.max_header_line_bytes"), nullptr) << dump(r);
  EXPECT_NE(find_error(r, "timeouts.client_header"), nullptr) << dump(r);
  EXPECT_NE(find_error(r, "cache.max_object_size"), nullptr) << dump(r);
  EXPECT_EQ(r.errors.size(), 3U) << dump(r);
  EXPECT_EQ(r.config.limits.max_body_bytes, 1000000000U);

  r = load(with("cache: { memory: 0, max_object_size: 2MiB }\n"));  // cache off
  EXPECT_TRUE(r.ok()) << dump(r);
}

TEST(Loader, UpgradeKeys) {
  const LoadResult r = load(with("timeouts: { websocket_idle: 15m }\n"));
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config.timeouts.websocket_idle, minutes(15));
  ASSERT_EQ(r.config.listeners[0].upgrade_protocols.size(), 1u);
  EXPECT_EQ(r.config.listeners[0].upgrade_protocols[0], "websocket");

  const LoadResult two = load(R"(listeners:
  - name: web
    listen: :0
    upgrade_protocols: [websocket, h2c]
    default_action: { forward: { target_group: app } }
target_groups: [{ name: app, targets: [127.0.0.1:5001] }]
)");
  ASSERT_TRUE(two.ok()) << dump(two);
  EXPECT_EQ(two.config.listeners[0].upgrade_protocols,
            (std::vector<std::string>{"websocket", "h2c"}));

  const LoadResult none = load(R"(listeners:
  - name: web
    listen: :0
    upgrade_protocols: []
    default_action: { forward: { target_group: app } }
target_groups: [{ name: app, targets: [127.0.0.1:5001] }]
)");
  ASSERT_TRUE(none.ok()) << dump(none);
  EXPECT_TRUE(none.config.listeners[0].upgrade_protocols.empty());
}

TEST(Loader, BadUpgradeValuesNameTheirPosition) {
  const LoadResult r = load(R"(listeners:
  - name: web
    listen: :0
    upgrade_protocols: [websocket, "web socket"]
    default_action: { forward: { target_group: app } }
target_groups: [{ name: app, targets: [127.0.0.1:5001] }]
timeouts: { websocket_idle: 0s }
)");
  ASSERT_FALSE(r.ok());
  const ConfigError* e = find_error(r, "listeners[0].upgrade_protocols[1]");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->line, 4);
  EXPECT_EQ(e->column, 36);
  EXPECT_NE(find_error(r, "timeouts.websocket_idle"), nullptr) << dump(r);
}

TEST(Loader, TargetGroupStickiness) {
  const LoadResult r = load(R"(listeners:
  - name: web
    listen: :0
    default_action:
      forward:
        target_groups: [{ name: app, weight: 1 }]
        target_group_stickiness: { enabled: true, duration: 10m }
target_groups: [{ name: app, targets: [127.0.0.1:5001] }]
)");
  ASSERT_TRUE(r.ok()) << dump(r);
  const auto& f = r.config.listeners[0].default_action.forward;
  EXPECT_TRUE(f.stickiness.enabled);
  EXPECT_EQ(f.stickiness.duration, minutes(10));

  const LoadResult bad = load(R"(listeners:
  - name: web
    listen: :0
    default_action:
      forward:
        target_groups: [{ name: app, weight: 1 }]
        target_group_stickiness: { enabled: true, duration: 8d }
target_groups: [{ name: app, targets: [127.0.0.1:5001] }]
)");
  ASSERT_FALSE(bad.ok());
  const ConfigError* e =
      find_error(bad, "listeners[0].default_action.forward.target_group_stickiness.duration");
  ASSERT_NE(e, nullptr) << dump(bad);
  EXPECT_EQ(e->line, 7);
  EXPECT_EQ(e->column, 61);
}

}  // namespace
}  // namespace edge::config

namespace edge::config {
namespace {

TEST(LoaderHealth, TargetGroupHealthKeysAreMapped) {
  const LoadResult r = load(with_group(R"(    algorithm: least_latency
    health_check:
      protocol: TCP
      interval: 10s
      timeout: 3s
      matcher: "200-299"
    unhealthy_state_routing: { minimum_healthy_targets: 2 }
    outlier_detection:
      enabled: false
      consecutive_5xx: 7
      consecutive_gateway_failure: 0
      base_ejection_time: 45s
      max_ejection_percent: 25
    slow_start: 1m
)"));
  ASSERT_TRUE(r.ok()) << dump(r);
  const auto& g = r.config.target_groups.at(0);
  EXPECT_EQ(g.algorithm, Algorithm::least_latency);
  EXPECT_EQ(g.health_check.protocol, HealthCheckProtocol::tcp);
  EXPECT_EQ(g.unhealthy_state_routing.minimum_healthy_targets, 2);
  EXPECT_FALSE(g.outlier_detection.enabled);
  EXPECT_EQ(g.outlier_detection.consecutive_5xx, 7);
  EXPECT_EQ(g.outlier_detection.consecutive_gateway_failure, 0);
  EXPECT_EQ(g.outlier_detection.base_ejection_time, std::chrono::seconds(45));
  EXPECT_EQ(g.outlier_detection.max_ejection_percent, 25);
  EXPECT_EQ(g.slow_start, std::chrono::seconds(60));

  const LoadResult wr = load(with_group("    algorithm: weighted_random\n"));
  ASSERT_TRUE(wr.ok()) << dump(wr);
  EXPECT_EQ(wr.config.target_groups[0].algorithm, Algorithm::weighted_random);
}

TEST(LoaderHealth, DefaultsAreAlbs) {
  const LoadResult r = load(with_group(""));
  ASSERT_TRUE(r.ok()) << dump(r);
  const auto& g = r.config.target_groups.at(0);
  EXPECT_FALSE(g.health_check.protocol.has_value());  // the group's protocol
  EXPECT_EQ(effective_health_check_protocol(g), HealthCheckProtocol::http);
  EXPECT_EQ(g.unhealthy_state_routing.minimum_healthy_targets, 1);
  EXPECT_TRUE(g.outlier_detection.enabled);
  EXPECT_EQ(g.outlier_detection.consecutive_5xx, 5);
  EXPECT_EQ(g.outlier_detection.consecutive_gateway_failure, 5);
  EXPECT_EQ(g.outlier_detection.base_ejection_time, std::chrono::seconds(30));
  EXPECT_EQ(g.outlier_detection.max_ejection_percent, 50);
}

TEST(LoaderHealth, ProtocolDefaultsToTheGroupsProtocol) {
  // ALB: an HTTPS target group is health-checked over HTTPS unless told otherwise.
  const LoadResult r = load(with_group("    protocol: HTTPS\n"));
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(effective_health_check_protocol(r.config.target_groups.at(0)),
            HealthCheckProtocol::https);
  const LoadResult h =
      load(with_group("    protocol: HTTPS\n    health_check: { protocol: HTTP }\n"));
  ASSERT_TRUE(h.ok()) << dump(h);
  EXPECT_EQ(effective_health_check_protocol(h.config.target_groups.at(0)),
            HealthCheckProtocol::http);
  const LoadResult t = load(with_group("    health_check: { protocol: HTTPS }\n"));
  ASSERT_TRUE(t.ok()) << dump(t);
  EXPECT_EQ(effective_health_check_protocol(t.config.target_groups.at(0)),
            HealthCheckProtocol::https);
}

TEST(LoaderHealth, OutOfRangeAndUnknownKeysNameLineAndColumn) {
  const LoadResult r = load(with_group(R"(    health_check:
      protocol: UDP
    unhealthy_state_routing: { minimum_healthy_targets: 0 }
    outlier_detection:
      base_ejection_time: 500ms
      max_ejection_percent: 101
      consecutive_5xx: -1
      eject: true
)"));
  const ConfigError* e = find_error(r, "target_groups[0].health_check.protocol");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->line, 10);
  EXPECT_EQ(e->column, 17);
  e = find_error(r, "target_groups[0].unhealthy_state_routing.minimum_healthy_targets");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->line, 11);
  e = find_error(r, "target_groups[0].outlier_detection.base_ejection_time");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->message, "must be between 1s and 5m (got 500ms)");
  EXPECT_EQ(e->line, 13);
  EXPECT_EQ(e->column, 27);
  EXPECT_NE(find_error(r, "target_groups[0].outlier_detection.max_ejection_percent"), nullptr)
      << dump(r);
  EXPECT_NE(find_error(r, "target_groups[0].outlier_detection.consecutive_5xx"), nullptr)
      << dump(r);
  EXPECT_NE(find_error(r, "target_groups[0].outlier_detection.eject"), nullptr) << dump(r);
}

}  // namespace
}  // namespace edge::config
