#pragma once
/// The operator API listener: a small HTTP/1.1 server (keep-alive, bounded
/// heads and bodies, optional bearer token) on its own thread and io_context,
/// apart from the workers. It knows nothing about what it serves: routes are
/// registered by the gateway (`/healthz`, `/metrics`, the REST API).
/// Thread: construct, add routes, start and stop from a controlling thread;
/// handlers run on the admin thread, one request at a time.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edge/config/config.hpp"

namespace edge::metrics {
class Metrics;
}

namespace edge::server {

namespace detail {
struct AdminServerState;
}

/// One request as a handler sees it. Owned by the server for the duration of
/// the handler call.
struct AdminRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // request-target as received: path + "?" + query
  std::string path;    // target up to '?' (not percent-decoded)
  std::string query;   // after '?', without it; empty when none
  /// For a prefix route: the path after the prefix ("/target-groups/web/targets"
  /// on prefix "/target-groups/" gives "web/targets"). Empty for exact routes.
  std::string path_rest;
  std::vector<std::pair<std::string, std::string>> headers;  // in order received
  std::string body;  // at most AdminServerOptions::max_body_bytes

  /// First header named `name` (case-insensitive), if any.
  std::optional<std::string_view> header(std::string_view name) const;
};

/// What a handler answers. The server adds Server, Content-Length,
/// Cache-Control: no-store and Connection.
struct AdminResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers

  static AdminResponse json(int status, std::string body);
  static AdminResponse text(int status, std::string body);
  /// `{"error":{"status":404,"message":"..."}}` with the message JSON-escaped.
  static AdminResponse error(int status, std::string_view message);
};

using AdminHandler = std::function<AdminResponse(const AdminRequest&)>;

struct AdminServerOptions {
  std::size_t max_header_bytes = 8 * 1024;         // request line + headers; beyond -> 431
  std::size_t max_body_bytes = 1024 * 1024;        // beyond -> 413
  std::chrono::milliseconds io_timeout{30'000};    // per read of a request / write of a response
  std::chrono::milliseconds idle_timeout{60'000};  // keep-alive wait for the next request
  std::size_t max_connections = 64;                // further connections are closed at once
};

/// Routing: exact routes first, then the longest matching prefix route. A path
/// known under other methods answers 405 with Allow; an unknown path 404. HEAD
/// is served by the GET handler without the body. When the token is non-empty,
/// every request except `GET|HEAD /healthz` needs `Authorization: Bearer <token>`
/// (401 with `WWW-Authenticate: Bearer` otherwise), checked before routing so
/// an unauthenticated client learns nothing about the routes. A handler that
/// throws yields 500.
class AdminServer {
 public:
  AdminServer(config::Address listen, std::string token, AdminServerOptions options = {});
  /// Calls stop().
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  /// Exact-path route. Replaces an earlier route with the same method and path.
  /// May be called before or after start(), from any thread.
  void add_route(std::string method, std::string path, AdminHandler handler);
  /// Route for every path starting with `prefix` (e.g. "/target-groups/").
  void add_prefix_route(std::string method, std::string prefix, AdminHandler handler);

  /// Binds (port 0 picks a free port) and starts the admin thread. Throws
  /// std::system_error if the address cannot be resolved or bound, and
  /// std::logic_error if called twice or after stop().
  void start();
  /// The bound port once started (stays valid after stop()); 0 before.
  std::uint16_t port() const;
  /// Closes the listener and every connection and joins the admin thread.
  /// Idempotent. Must not be called from a handler (it would join itself).
  void stop();

 private:
  std::unique_ptr<detail::AdminServerState> impl_;
};

/// Registers `GET /metrics` (Prometheus text format 0.0.4) serving
/// `metrics.serialize()`. `metrics` must outlive the server's thread.
void add_metrics_routes(AdminServer& server, metrics::Metrics& metrics);

}  // namespace edge::server
