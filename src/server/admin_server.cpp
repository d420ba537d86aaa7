#include "edge/server/admin_server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <exception>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "edge/metrics/metrics.hpp"

namespace edge::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kServer = "edged";
/// Bytes of request body still read (and dropped) after an error response, so
/// the client is not reset before it has read that response.
constexpr std::size_t kLingerBytes = 4 * 1024 * 1024;
constexpr std::chrono::seconds kLingerTimeout{2};

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

/// Compares without an early exit, so the time taken does not reveal how many
/// leading bytes of a guessed token were right.
bool constant_time_equals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
    diff = static_cast<unsigned char>(diff | (x ^ y));
  }
  return diff == 0;
}

bool has_ctl(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

struct Route {
  std::string method;
  std::string path;  // exact path or prefix
  AdminHandler handler;
};

}  // namespace

std::optional<std::string_view> AdminRequest::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return std::string_view(v);
  }
  return std::nullopt;
}

AdminResponse AdminResponse::json(int status, std::string body) {
  AdminResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

AdminResponse AdminResponse::text(int status, std::string body) {
  AdminResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

AdminResponse AdminResponse::error(int status, std::string_view message) {
  boost::json::object inner;
  inner["status"] = status;
  inner["message"] = boost::json::string_view(message.data(), message.size());
  boost::json::object outer;
  outer["error"] = std::move(inner);
  return json(status, boost::json::serialize(outer));
}

namespace detail {
/// State shared by the control thread (routes, lifecycle) and the admin thread.
/// `ioc` is declared last so the io_context, and with it every suspended
/// session coroutine, is destroyed before the members those coroutines use.
struct AdminServerState {
  config::Address listen;
  std::string token;
  AdminServerOptions options;

  std::mutex routes_mu;  // guards exact/prefix: add_route may run while serving
  std::vector<Route> exact;
  std::vector<Route> prefix;

  std::mutex lifecycle_mu;  // start()/stop()
  bool started = false;
  bool stopped = false;
  std::atomic<std::uint16_t> bound_port{0};
  std::size_t active_sessions = 0;  // admin thread only
  std::thread thread;
  std::unique_ptr<asio::io_context> ioc;

  AdminResponse dispatch(AdminRequest& req);
  bool authorized(const AdminRequest& req) const;
};
}  // namespace detail

bool detail::AdminServerState::authorized(const AdminRequest& req) const {
  if (token.empty()) return true;
  if (req.path == "/healthz" && (req.method == "GET" || req.method == "HEAD")) return true;
  const auto value = req.header("Authorization");
  if (!value) return false;
  constexpr std::string_view kScheme = "Bearer";
  if (value->size() <= kScheme.size() || !iequals(value->substr(0, kScheme.size()), kScheme) ||
      (*value)[kScheme.size()] != ' ') {
    return false;
  }
  std::string_view presented = value->substr(kScheme.size());
  while (!presented.empty() && presented.front() == ' ') presented.remove_prefix(1);
  while (!presented.empty() && presented.back() == ' ') presented.remove_suffix(1);
  return constant_time_equals(presented, token);
}

AdminResponse detail::AdminServerState::dispatch(AdminRequest& req) {
  if (!authorized(req)) {
    AdminResponse r = AdminResponse::error(
        401, req.header("Authorization") ? "invalid bearer token" : "bearer token required");
    r.headers.emplace_back("WWW-Authenticate", req.header("Authorization")
                                                   ? R"(Bearer error="invalid_token")"
                                                   : "Bearer");
    return r;
  }

  // Candidates in order of preference: exact routes, then prefix routes from
  // the longest prefix down. The first one with the method (HEAD falls back to
  // GET) serves; if none has it, they all contribute to Allow.
  AdminHandler handler;
  bool found = false;
  std::vector<std::string> allowed;
  {
    std::lock_guard lock(routes_mu);
    std::vector<const Route*> candidates;
    for (const Route& r : exact) {
      if (r.path == req.path) candidates.push_back(&r);
    }
    std::vector<const Route*> prefixed;
    for (const Route& r : prefix) {
      if (req.path.size() >= r.path.size() && req.path.compare(0, r.path.size(), r.path) == 0) {
        prefixed.push_back(&r);
      }
    }
    std::stable_sort(prefixed.begin(), prefixed.end(), [](const Route* a, const Route* b) {
      return a->path.size() > b->path.size();
    });
    const std::size_t exact_count = candidates.size();
    candidates.insert(candidates.end(), prefixed.begin(), prefixed.end());

    const Route* chosen = nullptr;
    for (const std::string_view want : {std::string_view(req.method), std::string_view("GET")}) {
      for (std::size_t i = 0; i < candidates.size() && chosen == nullptr; ++i) {
        if (candidates[i]->method == want) {
          chosen = candidates[i];
          req.path_rest = i < exact_count ? std::string() : req.path.substr(chosen->path.size());
        }
      }
      if (chosen != nullptr || req.method != "HEAD") break;
    }
    if (chosen != nullptr) {
      found = true;
      handler = chosen->handler;
    } else {
      for (const Route* r : candidates) allowed.push_back(r->method);
    }
  }

  if (!found) {
    if (allowed.empty()) return AdminResponse::error(404, "no route for " + req.path);
    if (std::find(allowed.begin(), allowed.end(), "GET") != allowed.end()) {
      allowed.emplace_back("HEAD");
    }
    std::sort(allowed.begin(), allowed.end());
    allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
    std::string allow;
    for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
    AdminResponse r = AdminResponse::error(405, req.method + " not allowed on " + req.path);
    r.headers.emplace_back("Allow", std::move(allow));
    return r;
  }

  if (!handler) return AdminResponse::error(500, "route has no handler");
  try {
    return handler(req);
  } catch (const std::exception& e) {
    return AdminResponse::error(500, e.what());
  } catch (...) {
    return AdminResponse::error(500, "internal error");
  }
}

namespace {

/// Converts a handler's response to the wire form with the headers every admin
/// response carries. Handler-supplied headers with CR/LF/NUL are dropped.
http::response<http::string_body> to_wire(AdminResponse&& r, unsigned version, bool keep_alive,
                                          bool head) {
  http::response<http::string_body> res;
  res.version(version);
  res.result(static_cast<unsigned>(std::clamp(r.status, 100, 999)));
  res.set(http::field::server, kServer);
  res.set(http::field::cache_control, "no-store");
  for (auto& [name, value] : r.headers) {
    if (name.empty() || has_ctl(name) || has_ctl(value)) continue;
    res.insert(name, value);
  }
  const bool bodyless = r.status < 200 || r.status == 204 || r.status == 304;
  if (!bodyless) {
    if (!r.content_type.empty() && !has_ctl(r.content_type)) {
      res.set(http::field::content_type, r.content_type);
    }
    res.content_length(r.body.size());
    if (!head) res.body() = std::move(r.body);
  }
  res.keep_alive(keep_alive);
  return res;
}

AdminRequest to_admin_request(http::request<http::string_body>&& msg) {
  AdminRequest req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  const auto q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) req.query = req.target.substr(q + 1);
  req.headers.reserve(16);
  for (const auto& f : msg) req.headers.emplace_back(f.name_string(), f.value());
  req.body = std::move(msg.body());
  return req;
}

/// Decrements the admin thread's session count however the session ends
/// (including destruction of its frame when the io_context goes away).
struct SessionCount {
  explicit SessionCount(std::size_t& n) : n_(n) { ++n_; }
  ~SessionCount() { --n_; }
  SessionCount(const SessionCount&) = delete;
  SessionCount& operator=(const SessionCount&) = delete;
  std::size_t& n_;
};

/// Sends FIN, then reads and drops what the client still sends (bounded in
/// bytes and time) so an early error response is not lost to a TCP reset.
asio::awaitable<void> linger_close(beast::tcp_stream& stream) {
  error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(kLingerTimeout);
  std::string scratch(16 * 1024, '\0');
  std::size_t total = 0;
  while (!ec && total < kLingerBytes) {
    auto [rec, n] = co_await stream.async_read_some(asio::buffer(scratch), kTok);
    ec = rec;
    total += n;
  }
  stream.socket().close(ec);
}

/// Maps a failed read to the response owed to the client; status 0 = close
/// silently (peer gone, timeout, clean end of stream).
int status_for_read_error(const error_code& ec) {
  if (ec == http::error::header_limit) return 431;
  if (ec == http::error::body_limit) return 413;
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) return 0;
  if (ec.category() == http::make_error_code(http::error::bad_target).category()) return 400;
  return 0;
}

asio::awaitable<void> run_session(detail::AdminServerState* impl, tcp::socket socket) {
  SessionCount count(impl->active_sessions);
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  const auto& opts = impl->options;
  bool first = true;

  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(opts.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    parser.body_limit(opts.max_body_bytes);

    stream.expires_after(first ? opts.io_timeout : opts.idle_timeout);
    first = false;
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kTok);
    if (!ec && !parser.is_done()) {
      const auto expect = parser.get()[http::field::expect];
      if (iequals(expect, "100-continue") && parser.get().version() >= 11) {
        http::response<http::empty_body> cont{http::status::continue_, 11};
        stream.expires_after(opts.io_timeout);
        auto [cec, cn] = co_await http::async_write(stream, cont, kTok);
        if (cec) break;
      }
      stream.expires_after(opts.io_timeout);
      auto [bec, bn] = co_await http::async_read(stream, buffer, parser, kTok);
      ec = bec;
    }
    if (ec) {
      const int status = status_for_read_error(ec);
      if (status != 0) {
        AdminResponse err = AdminResponse::error(status, ec.message());
        auto res = to_wire(std::move(err), 11, false, false);
        stream.expires_after(opts.io_timeout);
        auto [wec, wn] = co_await http::async_write(stream, res, kTok);
        if (!wec) co_await linger_close(stream);
      }
      break;
    }

    const bool keep_alive = parser.get().keep_alive();
    const unsigned version = parser.get().version();
    AdminRequest req = to_admin_request(parser.release());
    const bool head = req.method == "HEAD";
    auto res = to_wire(impl->dispatch(req), version, keep_alive, head);
    stream.expires_after(opts.io_timeout);
    auto [wec, wn] = co_await http::async_write(stream, res, kTok);
    if (wec) break;
    if (!keep_alive) {
      error_code sec;
      stream.socket().shutdown(tcp::socket::shutdown_send, sec);
      break;
    }
  }
  error_code cec;
  stream.socket().close(cec);
}

asio::awaitable<void> accept_loop(detail::AdminServerState* impl, tcp::acceptor acceptor) {
  asio::steady_timer backoff(acceptor.get_executor());
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kTok);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // e.g. EMFILE: do not spin; try again shortly.
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(kTok);
      continue;
    }
    if (impl->active_sessions >= impl->options.max_connections) {
      error_code cec;
      socket.close(cec);
      continue;
    }
    error_code oec;
    socket.set_option(tcp::no_delay(true), oec);
    asio::co_spawn(acceptor.get_executor(), run_session(impl, std::move(socket)),
                   [](const std::exception_ptr&) {});
  }
}

std::string describe(const config::Address& a) {
  const bool v6 = a.host.find(':') != std::string::npos && a.host.front() != '[';
  return (v6 ? "[" + a.host + "]" : a.host) + ":" + std::to_string(a.port);
}

/// Control-plane errors leave as std::system_error (the Gateway contract),
/// naming the operation and the configured address.
void throw_if(const error_code& ec, std::string_view op, const config::Address& listen) {
  if (ec) {
    throw std::system_error(std::error_code(ec),
                            "admin listener " + std::string(op) + " " + describe(listen));
  }
}

tcp::endpoint resolve(asio::io_context& ioc, const config::Address& listen) {
  std::string host = listen.host;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) {
    // All interfaces: dual-stack when IPv6 exists, else IPv4.
    tcp::socket probe(ioc);
    error_code ec;
    probe.open(tcp::v6(), ec);
    return ec ? tcp::endpoint(tcp::v4(), listen.port) : tcp::endpoint(tcp::v6(), listen.port);
  }
  error_code ec;
  const auto addr = asio::ip::make_address(host, ec);
  if (!ec) return {addr, listen.port};
  tcp::resolver resolver(ioc);
  const auto results = resolver.resolve(host, std::to_string(listen.port), ec);
  throw_if(ec, "resolve", listen);
  if (results.empty()) {
    throw_if(asio::error::host_not_found, "resolve", listen);
  }
  return results.begin()->endpoint();
}

}  // namespace

AdminServer::AdminServer(config::Address listen, std::string token, AdminServerOptions options)
    : impl_(std::make_unique<detail::AdminServerState>()) {
  impl_->listen = std::move(listen);
  impl_->token = std::move(token);
  impl_->options = options;
}

AdminServer::~AdminServer() { stop(); }

void AdminServer::add_route(std::string method, std::string path, AdminHandler handler) {
  std::lock_guard lock(impl_->routes_mu);
  auto& routes = impl_->exact;
  const auto it = std::find_if(routes.begin(), routes.end(), [&](const Route& r) {
    return r.method == method && r.path == path;
  });
  if (it != routes.end()) {
    it->handler = std::move(handler);
  } else {
    routes.push_back(Route{std::move(method), std::move(path), std::move(handler)});
  }
}

void AdminServer::add_prefix_route(std::string method, std::string prefix, AdminHandler handler) {
  std::lock_guard lock(impl_->routes_mu);
  auto& routes = impl_->prefix;
  const auto it = std::find_if(routes.begin(), routes.end(), [&](const Route& r) {
    return r.method == method && r.path == prefix;
  });
  if (it != routes.end()) {
    it->handler = std::move(handler);
  } else {
    routes.push_back(Route{std::move(method), std::move(prefix), std::move(handler)});
  }
}

void AdminServer::start() {
  std::lock_guard lock(impl_->lifecycle_mu);
  if (impl_->started || impl_->stopped) {
    throw std::logic_error("AdminServer::start: already started or stopped");
  }
  auto ioc = std::make_unique<asio::io_context>(1);
  const tcp::endpoint endpoint = resolve(*ioc, impl_->listen);

  const auto& listen = impl_->listen;
  tcp::acceptor acceptor(*ioc);
  error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  throw_if(ec, "open", listen);
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  throw_if(ec, "setsockopt", listen);
  if (endpoint.protocol() == tcp::v6() && endpoint.address().is_unspecified()) {
    error_code ignored;  // dual-stack is best effort
    acceptor.set_option(asio::ip::v6_only(false), ignored);
  }
  acceptor.bind(endpoint, ec);
  throw_if(ec, "bind", listen);
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  throw_if(ec, "listen", listen);
  const tcp::endpoint local = acceptor.local_endpoint(ec);
  throw_if(ec, "getsockname", listen);
  impl_->bound_port.store(local.port(), std::memory_order_relaxed);

  asio::co_spawn(*ioc, accept_loop(impl_.get(), std::move(acceptor)),
                 [](const std::exception_ptr&) {});
  impl_->ioc = std::move(ioc);
  impl_->thread = std::thread([io = impl_->ioc.get()] { io->run(); });
  impl_->started = true;
}

std::uint16_t AdminServer::port() const {
  return impl_->bound_port.load(std::memory_order_relaxed);
}

void AdminServer::stop() {
  std::lock_guard lock(impl_->lifecycle_mu);
  if (impl_->stopped) return;
  impl_->stopped = true;
  if (!impl_->started) return;
  impl_->ioc->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  // Destroying the io_context destroys the suspended accept and session
  // coroutines, which closes the listening socket and every connection.
  impl_->ioc.reset();
}

void add_metrics_routes(AdminServer& server, metrics::Metrics& metrics) {
  server.add_route("GET", "/metrics", [&metrics](const AdminRequest&) {
    AdminResponse r;
    r.status = 200;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics.serialize();
    return r;
  });
}

}  // namespace edge::server
