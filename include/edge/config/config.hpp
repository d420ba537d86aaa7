#pragma once
/// Plain configuration structs with defaults (CONFIG.md is the contract).
/// A Config is an immutable snapshot once loaded and validated.
/// Thread: any (read-only after load).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace edge::config {

using Duration = std::chrono::milliseconds;

inline constexpr std::uint64_t kKiB = 1024;
inline constexpr std::uint64_t kMiB = 1024 * kKiB;
inline constexpr std::uint64_t kGiB = 1024 * kMiB;

/// `host:port`, `[v6]:port` or `:port` (host empty = all interfaces).
struct Address {
  std::string host;
  std::uint16_t port = 0;
  std::string to_string() const;  // "host:port" / "[v6]:port" / ":port"
};

enum class DesyncMode { monitor, defensive, strictest };
enum class Protocol { http, https };
/// Health check probes: HTTP/HTTPS request a path, TCP only connects.
enum class HealthCheckProtocol { http, https, tcp };
enum class Algorithm { least_outstanding_requests, round_robin, weighted_random, least_latency };
enum class AccessLogFormat { alb, json };

struct AdminConfig {
  bool enabled = true;  // `admin: off` disables the admin listener
  Address listen{"127.0.0.1", 9901};
  std::string token;
  std::string state_file;
  /// Unix socket where a new edged (`--takeover PATH`) takes over the listening
  /// sockets for a binary upgrade; empty = no hand-over.
  std::string upgrade_socket;
};

struct AccessLogConfig {
  std::string path = "stdout";  // stdout | off | file path
  AccessLogFormat format = AccessLogFormat::alb;
};

struct Limits {
  std::uint64_t max_header_bytes = 64 * kKiB;
  std::uint64_t max_header_line_bytes = 16 * kKiB;
  std::uint64_t max_body_bytes = 0;  // 0 = unlimited
};

struct Timeouts {
  Duration client_header = std::chrono::seconds(60);
  Duration idle = std::chrono::seconds(60);
  Duration upstream_connect = std::chrono::seconds(10);
  Duration upstream_response = std::chrono::seconds(60);
  Duration tls_handshake = std::chrono::seconds(10);
  Duration drain = std::chrono::seconds(30);
  /// Upgraded (WebSocket) connection with no byte either way for this long is
  /// closed. Separate from `idle`: upgraded connections are long-lived and often
  /// quiet between application heartbeats.
  Duration websocket_idle = std::chrono::seconds(3600);
};

struct TlsCertificate {
  std::string cert;
  std::string key;
};

struct TlsConfig {
  std::string policy = "ELBSecurityPolicy-TLS13-1-2-2021-06";
  std::vector<TlsCertificate> certificates;
  /// How long a session-ticket key encrypts new tickets (it decrypts for one
  /// period more); 0 turns session tickets off.
  Duration session_ticket_rotation = std::chrono::hours(1);
  /// Add x-amzn-tls-version and x-amzn-tls-cipher-suite to requests sent to
  /// targets (ALB's routing.http.x_amzn_tls_version_and_cipher_suite.enabled).
  bool tls_version_and_cipher_headers = false;
};

struct ForwardTargetGroup {
  std::string name;
  std::uint32_t weight = 1;  // 0..999
};

/// ALB `forward.target_group_stickiness`: a client keeps the target group it was
/// given (cookies AWSALBTG / AWSALBTGCORS) until `duration` has passed.
struct TargetGroupStickiness {
  bool enabled = false;
  Duration duration = std::chrono::hours(1);  // 1s..7d
};

struct ForwardAction {
  std::vector<ForwardTargetGroup> target_groups;
  TargetGroupStickiness stickiness;
  std::string cache_policy;           // empty = none
  std::string origin_request_policy;  // empty = none
};

struct FixedResponseAction {
  int status = 200;
  std::string content_type = "text/plain";
  std::string body;
};

struct RedirectAction {
  int status = 301;  // 301 | 302
  std::string protocol = "#{protocol}";
  std::string port = "#{port}";
  std::string host = "#{host}";
  std::string path = "/#{path}";
  std::string query = "#{query}";
};

struct Action {
  enum class Kind { forward, fixed_response, redirect };
  Kind kind = Kind::forward;
  ForwardAction forward;
  FixedResponseAction fixed_response;
  RedirectAction redirect;
};

struct HttpHeaderCondition {
  std::string name;
  std::vector<std::string> values;
};

struct QueryStringCondition {
  std::string key;  // empty = any key
  std::string value;
};

struct Conditions {
  std::vector<std::string> path_pattern;
  std::vector<std::string> host_header;
  std::vector<std::string> http_request_method;
  std::optional<HttpHeaderCondition> http_header;
  std::vector<QueryStringCondition> query_string;
  std::vector<std::string> source_ip;  // CIDRs
};

struct Rule {
  int priority = 0;
  Conditions conditions;
  Action action;
};

/// ALB mutual TLS: `off`, or `verify` client certificates against a trust store
/// (PEM CA bundle); the verified certificate's details go to targets in
/// X-Amzn-Mtls-Clientcert-* headers.
struct MutualAuthentication {
  enum class Mode { off, verify };
  Mode mode = Mode::off;
  std::string trust_store;
};

struct ListenerConfig {
  std::string name;
  Address listen;
  Protocol protocol = Protocol::http;
  TlsConfig tls;
  MutualAuthentication mutual_authentication;
  std::vector<Rule> rules;
  Action default_action;
  /// `Upgrade` protocols forwarded as upgrades (case-insensitive, e.g.
  /// websocket, h2c). Others are forwarded as plain HTTP without the upgrade.
  std::vector<std::string> upgrade_protocols{"websocket"};
};

struct TargetConfig {
  std::string id;  // "host:port" as written
  Address address;
  std::uint32_t weight = 1;
};

struct HealthCheckConfig {
  bool enabled = true;
  /// nullopt: the target group's protocol (HTTP or HTTPS), as ALB's default.
  /// Use effective_health_check_protocol() to read it.
  std::optional<HealthCheckProtocol> protocol;
  std::optional<std::uint16_t> port;  // nullopt = traffic-port
  std::string path = "/";
  Duration interval = std::chrono::seconds(30);
  Duration timeout = std::chrono::seconds(5);
  int healthy_threshold = 5;
  int unhealthy_threshold = 2;
  std::string matcher = "200";
};

/// ALB `unhealthy_state_routing`: below this many healthy targets the group
/// fails open (routes to every registered, non-draining target).
struct UnhealthyStateRouting {
  int minimum_healthy_targets = 1;  // 1..1000
};

/// Passive health (Envoy outlier detection): results seen on real requests eject
/// a target for base_ejection_time × times ejected (at most 300 s).
struct OutlierDetection {
  bool enabled = true;
  int consecutive_5xx = 5;              // 0 = off; else 1..1000
  int consecutive_gateway_failure = 5;  // connect refused/timeout, reset; 0 = off
  Duration base_ejection_time = std::chrono::seconds(30);  // 1s..300s
  int max_ejection_percent = 50;        // 0..100; at least one target always stays
};

struct UpstreamKeepalive {
  std::uint32_t max_idle_per_target = 64;
  Duration idle_timeout = std::chrono::seconds(55);
  std::uint64_t max_requests = 0;  // 0 = unlimited
};

/// TLS to the targets of an HTTPS target group. As ALB: no verification unless
/// asked for.
struct TargetTlsConfig {
  bool verify = false;      // check the certificate chain and name
  std::string ca_file;      // PEM bundle to verify against (empty: the system's)
  std::string server_name;  // SNI and the name verified (empty: the target's host name)
};

struct TargetGroupConfig {
  std::string name;
  Protocol protocol = Protocol::http;
  TargetTlsConfig tls;
  Algorithm algorithm = Algorithm::least_outstanding_requests;
  std::vector<TargetConfig> targets;
  HealthCheckConfig health_check;
  UnhealthyStateRouting unhealthy_state_routing;
  OutlierDetection outlier_detection;
  Duration deregistration_delay = std::chrono::seconds(300);
  Duration slow_start = Duration::zero();
  UpstreamKeepalive upstream_keepalive;
  int retries = 2;
};

/// The protocol a group's health checks use: the configured one, else the
/// group's own (an HTTPS group is checked over TLS).
HealthCheckProtocol effective_health_check_protocol(const TargetGroupConfig& g);

/// `none | all | [names] | { all_except: [names] }`
struct KeySelector {
  enum class Mode { none, all, whitelist, all_except };
  Mode mode = Mode::none;
  std::vector<std::string> names;
};

struct CachePolicyConfig {
  std::string name;
  Duration min_ttl = Duration::zero();
  Duration default_ttl = std::chrono::seconds(86400);
  Duration max_ttl = std::chrono::seconds(31536000);
  std::vector<std::string> key_headers;
  KeySelector key_cookies;
  KeySelector key_query_strings;
  std::vector<std::string> accept_encoding;
};

struct OriginRequestPolicyConfig {
  std::string name;
  KeySelector headers;
  KeySelector cookies;
  KeySelector query_strings;
};

struct CacheConfig {
  std::uint64_t memory = 256 * kMiB;
  std::uint64_t max_object_size = 10 * kMiB;
  /// How long a request waits for another request's fetch of the same key
  /// before it asks the target itself; 0 turns collapsing off.
  Duration collapse_timeout = std::chrono::seconds(5);
};

struct Config {
  unsigned workers = 0;  // 0 = auto (hardware threads)
  AdminConfig admin;
  AccessLogConfig access_log;
  DesyncMode desync_mitigation_mode = DesyncMode::defensive;
  Limits limits;
  Timeouts timeouts;
  std::uint64_t relay_buffer_bytes = 64 * kKiB;  // per body in flight (pooled per worker)
  std::vector<ListenerConfig> listeners;
  std::vector<TargetGroupConfig> target_groups;
  std::vector<CachePolicyConfig> cache_policies;
  std::vector<OriginRequestPolicyConfig> origin_request_policies;
  CacheConfig cache;

  std::string source;  // file the config came from ("" when built in code)

  /// Resolved worker count (workers or hardware threads, at least 1).
  unsigned effective_workers() const;
  const TargetGroupConfig* find_target_group(const std::string& name) const;
};

}  // namespace edge::config
