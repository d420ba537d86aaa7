// The request flow of the edge, one function per step, in the order a request
// goes through them:
//
//   Session::serve              keep-alive loop, pipelined requests in order
//   Session::read_request_head  read + parse the head (limits, 408/431)
//   Session::validate_request   desync classification, framing, 413
//   Session::route              listener rule → action
//   Session::respond_locally    fixed response / redirect / hook answer
//   Session::forward_cached     routes with a cache policy only: lookup, hit,
//                               revalidation, stale serving, then forward
//   Session::forward            pick target → acquire connection → send → read
//                               response head, with retries
//     Session::pick_target      balancer (or hook) over the group's targets
//     Session::acquire          pooled connection or a new one (connect timeout)
//     Session::send_request     rewritten head + body (bounded relay)
//     Session::read_response_head
//     Session::cache_response_head  (cached routes) 304 refresh, stale on
//                               error, store decision
//   Session::relay_response     rewritten head + body (bounded relay), copied
//                               into the cache when admitted
//   Session::release_upstream   pool check-in (nginx rules) or close
//   Session::finish_request     hooks.on_log + metrics
//
// Memory per connection is bounded: one client read buffer, one relay buffer,
// one head buffer, plus one read buffer per upstream connection in use.
#include "edge/proxy/session.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <memory>
#include <ctime>
#include <optional>
#include <string>
#include <tuple>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/error.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include "edge/cache/edge_cache.hpp"
#include "edge/cache/http_cache.hpp"
#include "edge/core/readiness.hpp"
#include "edge/core/text.hpp"
#include "edge/http/hop_by_hop.hpp"
#include "edge/http/message_parser.hpp"
#include "edge/http/request_validator.hpp"
#include "edge/log/access_log.hpp"
#include "edge/proxy/hooks.hpp"
#include "edge/proxy/request_ctx.hpp"
#include "edge/proxy/router.hpp"
#include "edge/proxy/stickiness.hpp"
#include "edge/proxy/tunnel.hpp"
#include "edge/server/worker.hpp"
#include "edge/tls/client_context.hpp"
#include "edge/tls/server_context.hpp"
#include "edge/tls/stream.hpp"
#include "edge/upstream/routing.hpp"
#include "edge/upstream/target.hpp"

namespace edge::proxy {

using namespace std::string_view_literals;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using bhttp::field;
using SteadyClock = std::chrono::steady_clock;

namespace {

using RequestParser = http::RequestParser;
using ResponseParser = http::ResponseParser;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";
constexpr std::string_view kCrlf = "\r\n";
constexpr std::size_t kMinRead = 4096;
/// How long a connection that has not sent its first request yet may still
/// send it once draining began (see Session::close).
constexpr std::chrono::seconds kFirstRequestGrace{2};
constexpr std::size_t kUpstreamBuffer = 16 * 1024;


bool is_idempotent(bhttp::verb v) {
  switch (v) {
    case bhttp::verb::get:
    case bhttp::verb::head:
    case bhttp::verb::options:
    case bhttp::verb::trace:
    case bhttp::verb::put:
    case bhttp::verb::delete_:
      return true;
    default:
      return false;
  }
}

/// Output buffer for message heads: appends are inline (a capacity check and a
/// memcpy), where std::string::append is an out-of-line call with more checks.
/// Grows geometrically and keeps its capacity across messages.
class HeadBuffer {
 public:
  HeadBuffer() { grow(4096); }
  void clear() { size_ = 0; }
  [[gnu::always_inline]] void append(std::string_view s) { append(s.data(), s.size()); }
  [[gnu::always_inline]] void append(const char* p, std::size_t n) {
    if (n > cap_ - size_) grow(n);
    if (n) std::memcpy(data_.get() + size_, p, n);
    size_ += n;
  }
  void push_back(char c) {
    if (size_ == cap_) grow(1);
    data_[size_++] = c;
  }
  std::size_t size() const { return size_; }
  std::string_view view() const { return {data_.get(), size_}; }
  asio::const_buffer buffer() const { return {data_.get(), size_}; }

 private:
  void grow(std::size_t n) {
    std::size_t cap = std::max(cap_ * 2, size_ + n);
    auto fresh = std::make_unique_for_overwrite<char[]>(cap);
    if (size_) std::memcpy(fresh.get(), data_.get(), size_);
    data_ = std::move(fresh);
    cap_ = cap;
  }
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
  std::size_t cap_ = 0;
};

template <class Out>
void append_uint(Out& out, std::uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

template <class Out>
void append_hex(Out& out, std::uint64_t v, int width) {
  static constexpr char kDigits[] = "0123456789abcdef";
  char buf[16];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = kDigits[v & 0xf];
    v >>= 4;
  }
  out.append(buf, static_cast<std::size_t>(width));
}

/// "1a2b\r\n" chunk-size line.
std::size_t format_chunk_header(char* buf, std::size_t n) {
  auto r = std::to_chars(buf, buf + 16, n, 16);
  r.ptr[0] = '\r';
  r.ptr[1] = '\n';
  return static_cast<std::size_t>(r.ptr + 2 - buf);
}

template <class Out>
void append_field(Out& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": "sv);
  out.append(value);
  out.append(kCrlf);
}

/// x-amzn-tls-* and x-amzn-mtls-* fields describe the client's TLS session; only
/// the edge may set them.
bool is_tls_info_field(std::string_view n) {
  return istarts_with(n, "x-amzn-tls-") || istarts_with(n, "x-amzn-mtls-");
}

bool removed_by(const HeaderEdits& e, std::string_view name) {
  for (const auto& r : e.remove)
    if (iequals(r, name)) return true;
  return false;
}

/// Small list of field names named by a Connection header (rare; no allocation
/// in the common case where it only says close / keep-alive).
struct ConnectionOptions {
  std::array<std::string_view, 8> names{};
  std::size_t count = 0;
  bool overflow = false;
  void load(std::string_view value) {
    count = 0;
    overflow = false;
    http::for_each_connection_option(value, [&](std::string_view tok) {
      if (count < names.size())
        names[count++] = tok;
      else
        overflow = true;
    });
  }
  bool contains(std::string_view name) const {
    for (std::size_t i = 0; i < count; ++i)
      if (iequals(names[i], name)) return true;
    return false;
  }
};

/// Any string view type (std or Beast's) as a std::string_view.
template <class View>
std::string_view as_view(const View& v) {
  return {v.data(), v.size()};
}

std::string_view reason_phrase(int status) {
  auto r = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  return r.empty() ? std::string_view("Unknown") : std::string_view(r.data(), r.size());
}

class ParserHead final : public RequestHead {
 public:
  void set(const RequestParser* p, std::string_view target) {
    p_ = p;
    target_ = target;
  }
  std::string_view method() const override { return p_->method_string(); }
  std::string_view target() const override { return target_; }
  unsigned version() const override { return p_->version(); }
  std::string_view header(std::string_view name) const override {
    auto it = p_->find(name);
    return it == p_->end() ? std::string_view() : it->value();
  }

 private:
  const RequestParser* p_ = nullptr;
  std::string_view target_;
};

using TlsStream = tls::Stream;

/// The host part of a target id ("host:port", "[v6]:port").
std::string host_of(std::string_view id) {
  auto colon = id.rfind(':');
  std::string_view host = colon == std::string_view::npos ? id : id.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return std::string(host);
}

/// Why a client's TLS handshake failed, from the error it ended with.
metrics::TlsError classify_tls_error(const beast::error_code& ec, bool timed_out) {
  if (timed_out) return metrics::TlsError::timeout;
  if (ec == asio::error::eof || ec == asio::error::connection_reset ||
      ec == asio::ssl::error::stream_truncated)
    return metrics::TlsError::closed;
  if (ec.category() == asio::error::get_ssl_category()) {
    switch (ERR_GET_REASON(static_cast<unsigned long>(ec.value()))) {
      case SSL_R_UNSUPPORTED_PROTOCOL:
      case SSL_R_WRONG_VERSION_NUMBER:
      case SSL_R_VERSION_TOO_LOW:
      case SSL_R_VERSION_TOO_HIGH:
        return metrics::TlsError::protocol_version;
      case SSL_R_NO_SHARED_CIPHER:
        return metrics::TlsError::no_shared_cipher;
      case SSL_R_HTTP_REQUEST:
        return metrics::TlsError::plain_http;
      case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
      case SSL_R_CERTIFICATE_VERIFY_FAILED:
        return metrics::TlsError::client_certificate;
      default:
        break;
    }
  }
  return metrics::TlsError::other;
}

/// The cache side of one request through a route with a cache policy.
/// Allocated once per connection, on its first such request; requests through
/// routes without a policy never create or touch it (`Session::cx_on_` false).
struct CacheExchange {
  CacheExchange() = default;
  CacheExchange(const CacheExchange&) = delete;
  CacheExchange& operator=(const CacheExchange&) = delete;
  ~CacheExchange() { end_fill(); }

  cache::EdgeCache* ec = nullptr;
  const cache::CachePolicy* policy = nullptr;
  /// What the target gets (origin_request_policy.hpp): the request target
  /// without the query parameters it does not forward, the Cookie value with
  /// only the forwarded cookies, Accept-Encoding normalised as in the key.
  const cache::ForwardPolicy* fwd = nullptr;
  bool rewrite_target = false;
  std::string target;
  std::string cookie;
  std::string accept_encoding;
  std::string key;        // primary key (make_cache_key)
  std::string store_key;  // where the response goes: the key, or its Vary variant
  cache::RequestFacts req;
  /// A stored response that needs validation: sent as validators to the
  /// target, refreshed by a 304, served on a target error when allowed.
  cache::CachedPtr stale;
  cache::UnixSeconds request_time = 0;
  std::string_view x_cache = "Miss from edged";
  bool strip_conditionals = false;  // the target gets our validators, not the client's
  bool served = false;              // answered from the store (not an ELB response)
  // The response being copied into the store (null: not admitted).
  std::shared_ptr<cache::CachedResponse> fill;
  /// The fill's body was sized to its Content-Length up front (body bytes are
  /// copied in at `filled`, never appended), and streams to collapsed waiters.
  bool sized = false;
  std::uint64_t filled = 0;
  cache::VaryNames vary;
  /// This request leads the fill of its key: others wait for it (collapsing).
  std::shared_ptr<cache::Fill> leading;

  /// Releases the waiters of this request's fill (stored, uncacheable or failed).
  void end_fill() {
    if (!leading) return;
    ec->finish(key, leading);
    leading.reset();
  }

  void reset() {
    end_fill();
    policy = nullptr;
    fwd = nullptr;
    rewrite_target = false;
    target.clear();
    cookie.clear();
    accept_encoding.clear();
    key.clear();
    store_key.clear();
    req = {};
    stale.reset();
    request_time = 0;
    x_cache = "Miss from edged";
    strip_conditionals = false;
    served = false;
    fill.reset();
    sized = false;
    filled = 0;
    vary = {};
  }
};

/// A request waiting for another request's fill of its key: the fill wakes
/// it by posting to its worker's executor (never from another thread). A wake
/// that comes while the waiter is not sleeping is kept in `woken`.
struct CollapseWait {
  explicit CollapseWait(Executor ex) : timer(ex) {}
  Timer timer;
  bool woken = false;
};

/// A collapsed request answered from a fill still streaming in: serve_stored
/// sends the body as far as the fill has published it, then waits for more.
struct FillStream {
  cache::Fill* fill = nullptr;
  std::uint64_t waiter = 0;
  CollapseWait* slot = nullptr;
};

/// The end-to-end fields of a parsed message head (hop-by-hop fields, framing
/// and the fields its Connection header names left out).
template <class Message>
cache::Fields end_to_end_fields(const Message& msg) {
  ConnectionOptions opts;
  if (auto c = msg.find(field::connection); c != msg.end()) opts.load(as_view(c->value()));
  cache::Fields out;
  for (const auto& f : msg) {
    if (http::is_hop_by_hop_or_framing(f.name())) continue;
    std::string_view n = as_view(f.name_string());
    if (opts.count && opts.contains(n)) continue;
    out.emplace_back(std::string(n), std::string(as_view(f.value())));
  }
  return out;
}

/// Fields kept in a stored response: not those the edge writes itself on a
/// hit (Date, Age, Via, X-Cache) nor anything about one user (Set-Cookie).
cache::Fields storable_fields(cache::Fields fields) {
  std::erase_if(fields, [](const auto& f) {
    return iequals(f.first, "date") || iequals(f.first, "age") || iequals(f.first, "via") ||
           iequals(f.first, "set-cookie") || iequals(f.first, "x-cache") ||
           iequals(f.first, "set-cookie2");
  });
  return fields;
}

/// A stale-while-revalidate refresh: the request to repeat and where its
/// answer goes. It owns the key's fill, so there is one refresh per key at a
/// time (and misses for the key collapse onto it meanwhile).
struct BackgroundRefresh {
  server::Worker* worker = nullptr;
  std::shared_ptr<const server::Snapshot> snap;  // keeps `group` alive across a reload
  const server::GroupRuntime* group = nullptr;
  cache::EdgeCache* ec = nullptr;
  std::shared_ptr<const cache::CachePolicy> policy;
  std::string key;
  std::string store_key;
  std::string path;
  std::string head;  // the complete request head for the target
  cache::CachedPtr stale;
  cache::RequestFacts req;  // method is "GET" (a literal)
  std::shared_ptr<cache::Fill> fill;

  BackgroundRefresh() = default;
  BackgroundRefresh(const BackgroundRefresh&) = delete;
  BackgroundRefresh& operator=(const BackgroundRefresh&) = delete;
  ~BackgroundRefresh() {
    if (fill) ec->finish(key, fill);
  }
};

void cancel_socket(void* sock) {
  beast::error_code ec;
  static_cast<Socket*>(sock)->cancel(ec);
}

/// Runs on the worker that served the stale response, apart from any client
/// connection: a new connection to a target (plain HTTP groups; a TLS group
/// is not refreshed in the background, its next request revalidates), the
/// request with the stored validators, then the store refreshed by a 304 or
/// replaced by a storable full response (read whole, bounded by
/// cache.max_object_size). Bounded by the upstream timeouts; any failure
/// leaves the stale response as it is.
Task<void> refresh_in_background(std::shared_ptr<BackgroundRefresh> r) {
  server::Worker& w = *r->worker;
  const auto& cfg = r->snap->config;
  if (!r->group->tls.empty()) co_return;
  const std::size_t gi = r->group->group->index();
  upstream::Target* t = upstream::pick_routable(w.balancer(gi), *r->group->group,
                                                r->group->group->members(), upstream::ExcludeSet{},
                                                w.shard().target_group_fail_open[gi]);
  if (!t) co_return;
  upstream::OutstandingGuard guard(t);
  Socket sock(w.executor());
  Deadline deadline;
  deadline.attach(w.deadlines(), &cancel_socket, &sock);
  deadline.arm(cfg.timeouts.upstream_connect);
  auto [cec] = co_await sock.async_connect(t->endpoint, kUseTuple);
  if (cec) co_return;
  const cache::UnixSeconds request_time = r->ec->now();
  deadline.arm(cfg.timeouts.upstream_response);
  auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(r->head), kUseTuple);
  (void)wn;
  if (wec) co_return;
  auto buffer = std::make_unique<beast::flat_buffer>();  // off the frame
  auto parser = std::make_unique<bhttp::response_parser<bhttp::string_body>>();
  parser->header_limit(static_cast<std::uint32_t>(
      std::min<std::uint64_t>(cfg.limits.max_header_bytes, 0xffffffffU)));
  parser->body_limit(r->ec->max_object());
  auto [rec, rn] = co_await bhttp::async_read(sock, *buffer, *parser, kUseTuple);
  (void)rn;
  deadline.disarm();
  beast::error_code ignored;
  sock.close(ignored);
  if (rec) co_return;
  auto& msg = parser->get();
  const int status = msg.result_int();
  const cache::UnixSeconds now = r->ec->now();
  cache::Fields fields = end_to_end_fields(msg);
  const cache::ResponseFacts facts = cache::response_facts(status, fields);
  auto& store = r->ec->store();
  if (status == 304) {
    store.put(r->store_key, cache::refresh_stored(*r->stale, storable_fields(std::move(fields)),
                                                  facts, *r->policy, r->req, request_time, now));
    co_return;
  }
  if (status >= 500) co_return;  // keep serving what is stored
  const cache::StoreDecision d = cache::decide_store(*r->policy, r->req, facts, now);
  if (!d.store || cache::vary_names(fields).star) {
    store.erase(r->store_key);
    co_return;
  }
  auto fresh = std::make_shared<cache::CachedResponse>(
      cache::make_stored(status, std::string(as_view(msg.reason())),
                         storable_fields(std::move(fields)), facts, d, request_time, now));
  fresh->path = r->path;
  fresh->body = std::move(msg.body());
  fresh->vary_names = r->stale->vary_names;
  fresh->vary_values = r->stale->vary_values;
  store.put(r->store_key, std::move(fresh));
}

enum class HeadRead { ok, closed, answered };
enum class Step { ok, failed, answered };
enum class ResponseHead { ok, failed_before_bytes, failed, timeout, bad };

}  // namespace

/// One client connection. Thread: worker.
class Session {
 public:
  Session(server::Worker& w, std::shared_ptr<const server::Snapshot> snap, std::size_t l, Socket s,
          const asio::ip::tcp::endpoint& peer)
      : w_(w),
        snap_(std::move(snap)),
        listener_(&snap_->listeners[l]),
        cfg_(&snap_->config),
        key_(listener_->key),
        sock_(std::move(s)) {
    in_.reserve(std::max<std::size_t>(kUpstreamBuffer, 4096));
    relay_cap_ = w_.relay_buffers().buffer_size();
    deadline_.attach(w_.deadlines(), &Session::on_deadline, this);
    beast::error_code ec;
    sock_.set_option(asio::ip::tcp::no_delay(true), ec);
    ctx_.client = peer;  // from accept: no getpeername per connection
    {
      auto addr = ctx_.client.address();
      if (addr.is_v6() && addr.to_v6().is_v4_mapped())
        addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
      client_ip_ = addr.to_string();
    }
    ctx_.listener = listener_->config->name;
    ctx_.request = &head_;
    if (!listener_->tls.empty()) {
      tls_ctx_ = listener_->tls[w_.index()];
      tls_ = std::make_unique<TlsStream>(sock_, tls_ctx_->asio());
    }
    w_.add_session(this);
    auto& shard = w_.shard();
    shard.active_client_connections.add(1);
    shard.client_connections_accepted.inc();
  }

  ~Session() {
    w_.relay_buffers().release(relay_);
    w_.shard().active_client_connections.add(-1);
    w_.remove_session(this);
  }

  char* relay() {
    if (!relay_) relay_ = w_.relay_buffers().acquire();
    return relay_;
  }

  static Task<void> run(std::unique_ptr<Session> self) { co_await self->serve(); }

  /// Drain: close the client connection if it waits for a next request.
  /// Stop (`force`): close it whatever it is doing.
  void close(bool force) {
    if (!force && idle_wait_ && ctx_.request_number == 1 && !closing_) {
      // Accepted but no request yet: most likely a client that connected just as
      // the listener began to drain (a hand-over to a new edged, a reload that
      // removed the listener). Its first request is answered (with
      // Connection: close) if it comes within a short grace; then the
      // connection is closed, as an idle one.
      deadline_.arm(std::min<std::chrono::steady_clock::duration>(cfg_->timeouts.idle, kFirstRequestGrace));
      return;
    }
    if (force || idle_wait_) {
      beast::error_code ec;
      sock_.cancel(ec);
      closing_ = true;
      if (force && current_conn_) current_conn_->socket.cancel(ec);
    }
  }

 private:
  static void on_deadline(void* self) {
    beast::error_code ec;
    static_cast<Session*>(self)->sock_.cancel(ec);
  }
  static void on_upstream_deadline(void* conn) {
    beast::error_code ec;
    static_cast<upstream::UpstreamConn*>(conn)->socket.cancel(ec);
  }

  // ---------------------------------------------------------------- serve
  Task<void> serve() {
    if (tls_) {
      if (!co_await tls_handshake()) {
        beast::error_code ec;
        sock_.close(ec);
        co_return;
      }
      handshake_done_ = true;
    }
    for (;;) {
      // A connection accepted as the drain began still gets its first request answered.
      if ((w_.draining() && ctx_.request_number > 0) || closing_) break;
      if (!use_current_snapshot()) break;  // its listener was removed: drained
      begin_request();
      HeadRead hr = co_await read_request_head();
      if (hr == HeadRead::closed) break;
      if (hr == HeadRead::ok) {
        // The head may have waited across a reload: this request routes on
        // the snapshot current now. On a removed listener it is the last one.
        if (!use_current_snapshot()) keep_alive_ = false;
        co_await handle_request();
      }
      finish_request();
      if (!keep_alive_) break;
    }
    co_await close_client();
  }

  /// A request starts on the worker's current snapshot: one pointer compare
  /// when nothing changed. False when the new snapshot no longer has this
  /// connection's listener (the connection is closed; it stays on the old).
  bool use_current_snapshot() {
    const auto& cur = w_.snapshot();
    if (cur.get() == snap_.get()) [[likely]]
      return true;
    const server::ListenerRuntime* l = cur->find_listener(key_);
    if (l == nullptr) return false;
    snap_ = cur;
    listener_ = l;
    cfg_ = &snap_->config;
    ctx_.listener = listener_->config->name;
    return true;
  }

  /// Server side of the TLS handshake, bounded by timeouts.tls_handshake;
  /// counted by protocol, cipher and resumption, or by failure reason.
  Task<bool> tls_handshake() {
    deadline_.arm(cfg_->timeouts.tls_handshake);
    auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::server, kUseTuple);
    deadline_.disarm();
    auto& shard = w_.shard();
    if (ec) {
      const bool timed_out = deadline_.fired();
      deadline_.reset_fired();
      shard.tls_errors[static_cast<std::size_t>(classify_tls_error(ec, timed_out))].inc();
      co_return false;
    }
    SSL* ssl = tls_->native_handle();
    // Per connection, not per request: what targets learn about the TLS session.
    if (listener_->config->tls.tls_version_and_cipher_headers) {
      tls_headers_.append("x-amzn-tls-version: ");
      tls_headers_.append(SSL_get_version(ssl));
      tls_headers_.append("\r\nx-amzn-tls-cipher-suite: ");
      tls_headers_.append(SSL_get_cipher_name(ssl));
      tls_headers_.append("\r\n");
    }
    if (listener_->config->mutual_authentication.mode == config::MutualAuthentication::Mode::verify)
      tls_headers_ += tls::client_certificate_headers(ssl);
    shard.tls_handshakes[metrics::tls_handshake_index(
                             tls::protocol_index(SSL_version(ssl)),
                             tls::cipher_index(SSL_get_cipher_name(ssl)), SSL_session_reused(ssl) == 1)]
        .inc();
    co_return true;
  }

  void begin_request() {
    ctx_.reset();
    ctx_.request = &head_;
    ++ctx_.request_number;
    keep_alive_ = false;
    close_after_ = false;
    request_body_done_ = true;
    req_chunked_ = false;
    req_length_ = 0;
    expect_continue_ = false;
    body_in_buffer_ = 0;
    chunk_pending_ = 0;
    request_body_sent_ = 0;
    body_streamed_ = false;
    request_active_ = false;
    upgrade_ = {};
    sticky_cookies_.clear();
    cx_on_ = false;
  }

  Task<void> handle_request() {
    if (EdgeError e = validate_request(); e != EdgeError::none) {
      co_await send_error(e);
      co_return;
    }
    if (auto* hooks = snap_->hooks.get()) {
      hooks->on_request(ctx_);
      if (ctx_.local_status != 0) {
        ctx_.action = ActionTaken::hook_response;
        co_await respond_locally(ctx_.local_status, ctx_.local_content_type, ctx_.local_body, {});
        co_return;
      }
    }
    view_ = make_request_view(head_, ctx_.client.address());
    const RouteResult r = listener_->router->route(view_);
    matched_priority_ = ctx_.matched_rule_priority = r.priority;
    auto& shard = w_.shard();
    auto& lc = shard.listeners[listener_->index];
    lc.rule_evaluations.inc(r.evaluated);
    shard.rule_requests[listener_->rule_slots[r.rule]].inc();
    const RouteAction& action = *r.action;
    switch (action.kind) {
      case RouteAction::Kind::fixed_response: {
        ctx_.action = ActionTaken::fixed_response;
        lc.fixed_responses.inc();
        const auto& f = action.fixed_response;
        co_await respond_locally(f.status, f.content_type, f.body, {});
        co_return;
      }
      case RouteAction::Kind::redirect: {
        ctx_.action = ActionTaken::redirect;
        lc.redirects.inc();
        ctx_.redirect_url = expand_redirect(action.redirect, view_, tls_ ? "HTTPS" : "HTTP", listener_->port);
        co_await respond_locally(action.redirect.status, "text/html", {}, ctx_.redirect_url);
        co_return;
      }
      case RouteAction::Kind::forward:
        ctx_.action = ActionTaken::forward;
        break;
    }
    const ForwardTarget* fwd =
        action.sticky ? pick_sticky(action) : action.pick_forward(w_.random());
    if (!fwd || fwd->index >= snap_->groups.size()) {
      co_await send_error(EdgeError::no_target);
      co_return;
    }
    shard.groups[fwd->index].requests.inc();
    if (action.cache && snap_->cache) [[unlikely]] {
      co_await forward_cached(action, snap_->groups[fwd->index]);
      co_return;
    }
    co_await forward(snap_->groups[fwd->index]);
  }

  /// Weighted forward with target-group stickiness (stickiness.hpp): the
  /// cookie's group while valid, else a new choice announced in the response.
  const ForwardTarget* pick_sticky(const RouteAction& action) {
    std::string_view cookie = head_.cookie(kStickyCookie);
    if (cookie.empty()) cookie = head_.cookie(kStickyCorsCookie);
    const std::int64_t now = std::time(nullptr);
    bool fresh = false;
    const ForwardTarget* g = pick_sticky_forward(action, cookie, now, w_.random(), fresh);
    if (g && fresh) append_sticky_cookies(sticky_cookies_, action, *g, now);
    return g;
  }

  // ----------------------------------------------------- read_request_head
  std::size_t read_size(const beast::flat_buffer& b) const {
    std::size_t room = b.capacity() - b.size();
    return std::max(room, kMinRead);
  }

  Task<HeadRead> read_request_head() {
    auto& p = req_.emplace(req_store_);
    p.header_limit(static_cast<std::uint32_t>(
        std::min<std::uint64_t>(cfg_->limits.max_header_bytes, 0xffffffffU)));
    p.body_limit(boost::none);
    bool any = in_.size() > 0;
    if (any) {
      ctx_.start = SteadyClock::now();
      deadline_.arm(cfg_->timeouts.client_header);
    } else {
      deadline_.arm(cfg_->timeouts.idle);
      idle_wait_ = true;
    }
    std::size_t head_bytes = 0;
    bool drained = false;  // this call's last read emptied the socket
    for (;;) {
      if (in_.size() > 0) {
        beast::error_code ec;
        std::size_t n = p.put(in_.data(), ec);
        if (!ec && p.is_header_done()) {
          head_bytes = n;
          // A whole request without a body, and nothing behind it: the next
          // read waits for the kernel to report the next request.
          if (drained && p.is_done()) core::mark_drained(sock_);
          break;
        }
        if (!ec) {
          in_.consume(n);
        } else if (ec != bhttp::error::need_more) {
          deadline_.disarm();
          w_.shard().desync_classifications[static_cast<std::size_t>(http::DesyncClass::severe)]
              .inc();
          ctx_.classification = static_cast<std::uint8_t>(http::DesyncClass::severe);
          ctx_.classification_reason = "unparseable_head";
          co_await send_error(ec == bhttp::error::header_limit ? EdgeError::header_too_large
                                                               : EdgeError::bad_request);
          co_return HeadRead::answered;
        }
      }
      if (closing_) co_return HeadRead::closed;
      const auto buf = in_.prepare(read_size(in_));
      beast::error_code ec;
      std::size_t n = 0;
      if (tls_ || !core::read_now(sock_, buf, ec, n)) std::tie(ec, n) = co_await client_read(buf);
      drained = !tls_ && !ec && n < buf.size();
      if (ec) {
        idle_wait_ = false;
        bool timed_out = deadline_.fired();
        deadline_.reset_fired();
        deadline_.disarm();
        if (timed_out && any && !closing_) {
          co_await send_error(EdgeError::client_timeout);
          co_return HeadRead::answered;
        }
        co_return HeadRead::closed;
      }
      in_.commit(n);
      ctx_.received_bytes += n;
      w_.shard().bytes_received.inc(n);
      if (!any) {
        any = true;
        idle_wait_ = false;
        ctx_.start = SteadyClock::now();
        deadline_.arm(cfg_->timeouts.client_header);
      }
    }
    idle_wait_ = false;
    deadline_.disarm();
    request_active_ = true;
    raw_head_ = std::string_view(static_cast<const char*>(in_.data().data()), head_bytes);
    co_return HeadRead::ok;
  }

  // ------------------------------------------------------ validate_request
  /// Returns the error to answer with, or none.
  EdgeError validate_request() {
    auto& p = *req_;
    auto verdict = http::classify_request_head(raw_head_, cfg_->limits.max_header_line_bytes);
    w_.shard().desync_classifications[static_cast<std::size_t>(verdict.cls)].inc();
    ctx_.classification = static_cast<std::uint8_t>(verdict.cls);
    ctx_.classification_reason = verdict.reason;
    in_.consume(raw_head_.size());
    raw_head_ = {};
    if (verdict.line_too_long) return EdgeError::header_too_large;
    switch (http::desync_action(cfg_->desync_mitigation_mode, verdict.cls)) {
      case http::DesyncAction::reject:
        return EdgeError::desync_rejected;
      case http::DesyncAction::forward_then_close:
        close_after_ = true;
        break;
      case http::DesyncAction::forward:
        break;
    }
    const auto& msg = p.get();
    auto t = msg.target();
    std::string_view target(t.data(), t.size());
    if (!target.empty() && target.front() != '/' && target != "*") {
      // absolute-form: forward the origin-form part
      auto scheme_end = target.find("://");
      auto path_start = scheme_end == std::string_view::npos
                            ? std::string_view::npos
                            : target.find('/', scheme_end + 3);
      target = path_start == std::string_view::npos ? std::string_view("/")
                                                    : target.substr(path_start);
    }
    head_.set(&p, target);
    keep_alive_ = p.keep_alive() && !close_after_;
    req_chunked_ = p.chunked();
    req_length_ = req_chunked_ ? 0 : p.content_length().value_or(0);
    request_body_done_ = !req_chunked_ && req_length_ == 0;
    if (msg.version() >= 11) {
      auto e = msg.find(field::expect);
      if (e != msg.end()) {
        auto v = e->value();
        expect_continue_ = iequals(std::string_view(v.data(), v.size()), "100-continue");
      }
    }
    const std::uint64_t max_body = cfg_->limits.max_body_bytes;
    if (max_body != 0 && !req_chunked_ && req_length_ > max_body) return EdgeError::body_too_large;
    if (p.upgrade()) [[unlikely]] check_upgrade();
    return EdgeError::none;
  }

  /// `Connection: upgrade`: forwarded as an upgrade when allowed (tunnel.hpp).
  void check_upgrade() {
    const auto& msg = req_->get();
    auto u = msg.find(field::upgrade);
    if (u == msg.end()) return;
    auto v = u->value();
    upgrade_ = classify_upgrade(head_.method(), msg.version(), req_chunked_ || req_length_ > 0,
                                std::string_view(v.data(), v.size()),
                                listener_->config->upgrade_protocols);
    if (upgrade_.kind == UpgradeKind::none) w_.shard().upgrades_declined.inc();
  }

  // ------------------------------------------------------- respond_locally
  Task<void> respond_locally(int status, std::string_view content_type, std::string_view body,
                             std::string_view location) {
    // The request body (if any) is not needed: drop it so the connection stays usable.
    if (!request_body_done_ && !co_await discard_request_body()) keep_alive_ = false;
    out_.clear();
    out_.append("HTTP/1.1 "sv);
    append_uint(out_, static_cast<std::uint64_t>(status));
    out_.push_back(' ');
    out_.append(reason_phrase(status));
    out_.append(kCrlf);
    append_field(out_, "Server", "edged");
    append_field(out_, "Date", w_.date().value());
    if (!location.empty()) append_field(out_, "Location", location);
    if (!body.empty() || location.empty()) append_field(out_, "Content-Type", content_type);
    out_.append("Content-Length: "sv);
    append_uint(out_, body.size());
    out_.append(kCrlf);
    apply_response_edits();
    finish_response_head(status);
    std::array<asio::const_buffer, 2> bufs{out_.buffer(), asio::buffer(body.data(), body.size())};
    bool head_only = is_head_request();
    if (head_only) bufs[1] = asio::const_buffer();
    written(co_await write_client_last(bufs));
  }

  // Edge-generated error (400/408/413/431/502/503/504): short ALB-style body.
  Task<void> send_error(EdgeError e) {
    if (cx_on_) [[unlikely]] {
      if (co_await serve_stale_on_error(e)) co_return;
      cx_->x_cache = "Error from edged";
    }
    ctx_.error = e;
    w_.shard().edge_errors[static_cast<std::size_t>(e)].inc();
    record_recent_error(e);
    int status = status_of(e);
    // Client errors close the connection; gateway errors keep it when the
    // request body was fully read (or there was none).
    if (status < 500 || !request_body_done_) keep_alive_ = false;
    if (status < 500) close_after_ = true;
    std::string_view reason = reason_phrase(status);
    body_.clear();
    body_.append("<html>\r\n<head><title>"sv);
    append_uint(body_, static_cast<std::uint64_t>(status));
    body_.push_back(' ');
    body_.append(reason);
    body_.append("</title></head>\r\n<body>\r\n<center><h1>"sv);
    append_uint(body_, static_cast<std::uint64_t>(status));
    body_.push_back(' ');
    body_.append(reason);
    body_.append("</h1></center>\r\n</body>\r\n</html>\r\n"sv);
    out_.clear();
    out_.append("HTTP/1.1 "sv);
    append_uint(out_, static_cast<std::uint64_t>(status));
    out_.push_back(' ');
    out_.append(reason);
    out_.append(kCrlf);
    append_field(out_, "Server", "edged");
    append_field(out_, "Date", w_.date().value());
    append_field(out_, "Content-Type", "text/html");
    if (cx_on_) [[unlikely]] append_field(out_, "X-Cache", cx_->x_cache);
    out_.append("Content-Length: "sv);
    append_uint(out_, body_.size());
    out_.append(kCrlf);
    finish_response_head(status);
    bool head_only = is_head_request();
    std::array<asio::const_buffer, 2> bufs{out_.buffer(), asio::buffer(body_)};
    if (head_only) bufs[1] = asio::const_buffer();
    written(co_await write_client_last(bufs));
  }

  bool is_head_request() const {
    return req_ && req_->is_header_done() && req_->get().method() == bhttp::verb::head;
  }

  /// Connection header (when needed) and the blank line.
  /// Ends the head and counts the response (before it is written, so that
  /// whoever received it can read the counters).
  void finish_response_head(int status) {
    ctx_.status = status;
    if (cx_on_) [[unlikely]] {
      const std::string_view x = cx_->x_cache;  // "Hit from edged" -> "Hit"
      ctx_.edge_result = x.substr(0, x.find(' '));
    }
    auto& shard = w_.shard();
    const std::size_t sc = metrics::status_class_index(status);
    shard.listener_requests[listener_->index][sc].inc();
    if (ctx_.target_status == 0 && !(cx_on_ && cx_->served))
      shard.listeners[listener_->index].elb_responses[sc].inc();
    if (w_.draining() || close_after_) keep_alive_ = false;
    unsigned version = req_ && req_->is_header_done() ? req_->get().version() : 11;
    if (!keep_alive_) {
      out_.append("Connection: close\r\n"sv);
    } else if (version == 10) {
      out_.append("Connection: keep-alive\r\n"sv);
    }
    out_.append(kCrlf);
  }

  void apply_response_edits() {
    if (!sticky_cookies_.empty()) [[unlikely]] out_.append(sticky_cookies_);
    for (const auto& [name, value] : ctx_.response_edits.add) append_field(out_, name, value);
  }

  // -------------------------------------------------------- forward_cached
  /// A request through a route with a cache policy. GET and HEAD are looked
  /// up: a fresh stored response answers at once; a stale one is validated with
  /// the target (our validators replace the client's) and kept for serving on
  /// a target error. Other methods are forwarded, and unsafe ones invalidate
  /// the URI once the target answered without an error (RFC 9111 4.4).
  Task<void> forward_cached(const RouteAction& action, const server::GroupRuntime& group) {
    const std::shared_ptr<const cache::CachePolicy>& policy_ptr = action.cache;
    const cache::CachePolicy& policy = *policy_ptr;
    cache::EdgeCache& ec = *snap_->cache;
    if (!cx_) cx_ = std::make_unique<CacheExchange>();
    CacheExchange& x = *cx_;
    x.reset();
    cx_on_ = true;
    x.ec = &ec;
    x.policy = &policy;
    x.req = cache::request_facts(head_);
    x.key = cache::make_cache_key(policy, {view_.host, view_.path, view_.query, &head_});
    if (action.forward_policy) prepare_forwarding(*action.forward_policy);
    auto& lookups = w_.shard().cache_lookups;
    const auto method = req_->get().method();
    if (method != bhttp::verb::get && method != bhttp::verb::head) {
      lookups[static_cast<std::size_t>(metrics::CacheResult::bypass)].inc();
      co_await forward(group);
      const bool unsafe = method != bhttp::verb::options && method != bhttp::verb::trace;
      if (unsafe && ctx_.target_status >= 200 && ctx_.target_status < 400)
        invalidate_after_unsafe(ec);
      co_return;
    }
    // A request with credentials is not answered from what others fetched,
    // unless the policy puts Authorization into the key.
    const bool auth_in_key =
        std::find(policy.key_headers.begin(), policy.key_headers.end(), "authorization") !=
        policy.key_headers.end();
    cache::CachedPtr entry;
    if (!x.req.has_authorization || auth_in_key) entry = lookup(ec, x);
    x.request_time = ec.now();
    if (entry) {
      const cache::StoredFacts sf = cache::stored_facts(*entry, x.request_time);
      switch (cache::usability(sf, x.req)) {
        case cache::Usability::fresh:
          co_await serve_stored(std::move(entry), metrics::CacheResult::hit, "Hit from edged");
          co_return;
        case cache::Usability::stale_while_revalidate:
          start_background_refresh(ec, policy_ptr, group, entry);
          co_await serve_stored(std::move(entry), metrics::CacheResult::stale, "Hit from edged");
          co_return;
        case cache::Usability::stale_acceptable:
          co_await serve_stored(std::move(entry), metrics::CacheResult::stale, "Hit from edged");
          co_return;
        case cache::Usability::must_revalidate:
          x.stale = std::move(entry);
          x.strip_conditionals = !x.stale->etag.empty() || !x.stale->last_modified.empty();
          break;
      }
    }
    if (x.req.cc.only_if_cached) {
      // RFC 9111 5.2.1.7: nothing usable stored → 504 without asking the target.
      lookups[static_cast<std::size_t>(metrics::CacheResult::miss)].inc();
      co_await send_error(EdgeError::target_timeout);
      co_return;
    }
    if (!x.stale && cfg_->cache.collapse_timeout.count() > 0 && !x.req.cc.no_cache &&
        !(x.req.pragma_no_cache && !x.req.has_cache_control) &&
        (!x.req.has_authorization || auth_in_key)) {
      // Collapsing: one fetch per key; the others follow it (its body as it
      // streams in, or the store once it ended). A HEAD follows a GET's fetch
      // but never leads one: its answer would have no body to store.
      bool leader = false;
      std::shared_ptr<cache::Fill> fill;
      if (method == bhttp::verb::get) {
        fill = ec.join(x.key, leader);
      } else {
        fill = ec.find_fill(x.key);
      }
      if (leader) {
        x.leading = std::move(fill);
      } else if (fill && co_await follow_fill(ec, std::move(fill))) {
        co_return;
      }
      // Timed out, or the fill gave nothing usable for us: fetch as a miss.
    }
    lookups[static_cast<std::size_t>(x.stale ? metrics::CacheResult::revalidated
                                             : metrics::CacheResult::miss)]
        .inc();
    co_await forward(group);
    x.end_fill();
  }

  /// stale-while-revalidate: unless a fetch for the key is already in flight,
  /// one background request refreshes `stale` (refresh_in_background); the
  /// client is answered from the store meanwhile, without waiting for it.
  void start_background_refresh(cache::EdgeCache& ec,
                                const std::shared_ptr<const cache::CachePolicy>& policy,
                                const server::GroupRuntime& group, const cache::CachedPtr& stale) {
    bool leader = false;
    auto fill = ec.join(cx_->key, leader);
    if (!leader) return;  // a refresh (or a miss's fetch) is on its way
    auto r = std::make_shared<BackgroundRefresh>();
    r->worker = &w_;
    r->snap = snap_;
    r->group = &group;
    r->ec = &ec;
    r->policy = policy;
    r->key = cx_->key;
    r->store_key = cx_->store_key;
    r->path = std::string(view_.path);
    r->stale = stale;
    r->req = cx_->req;
    r->req.method = "GET";
    r->fill = std::move(fill);
    // The client's request, as a GET with our validators instead of its own.
    std::string& h = r->head;
    const CacheExchange& x = *cx_;
    h.append("GET ")
        .append(x.rewrite_target ? std::string_view(x.target) : head_.target())
        .append(" HTTP/1.1\r\n");
    const auto& msg = req_->get();
    for (const auto& f : msg) {
      if (x.fwd && f.name() != field::host &&
          (f.name() == field::cookie || !x.fwd->header(as_view(f.name_string()))))
        continue;
      switch (f.name()) {
        case field::if_none_match:
        case field::if_modified_since:
        case field::if_range:
        case field::if_match:
        case field::if_unmodified_since:
        case field::range:
        case field::expect:
        case field::via:
          continue;
        default:
          break;
      }
      if (http::is_hop_by_hop_or_framing(f.name())) continue;
      h.append(as_view(f.name_string())).append(": ").append(as_view(f.value())).append("\r\n");
    }
    if (!x.cookie.empty()) h.append("Cookie: ").append(x.cookie).append("\r\n");
    if (!x.accept_encoding.empty())
      h.append("Accept-Encoding: ").append(x.accept_encoding).append("\r\n");
    if (!stale->etag.empty()) h.append("If-None-Match: ").append(stale->etag).append("\r\n");
    if (!stale->last_modified.empty())
      h.append("If-Modified-Since: ").append(stale->last_modified).append("\r\n");
    h.append("Via: 1.1 edged\r\nConnection: close\r\n\r\n");
    w_.shard().cache_background_refreshes.inc();
    asio::co_spawn(w_.executor(), refresh_in_background(std::move(r)), asio::detached);
  }

  /// Sleeps until the fill wakes `slot` (true) or `deadline` passes (false).
  static Task<bool> sleep_for_fill(CollapseWait& slot, SteadyClock::time_point deadline) {
    if (!slot.woken) {
      slot.timer.expires_at(deadline);
      auto [ec] = co_await slot.timer.async_wait(kUseTuple);
      (void)ec;
    }
    const bool woken = slot.woken;
    slot.woken = false;
    co_return woken;
  }

  /// A collapsed request: follows another request's fill of its key. While
  /// the fill has no response head it waits (up to cache.collapse_timeout);
  /// once the head is there it is answered from the fill as the body streams
  /// in; after the fill ended, from the store. True when answered; false: the
  /// caller fetches for itself (timed out, not storable, failed before any
  /// byte was sent, or a response this request cannot use).
  Task<bool> follow_fill(cache::EdgeCache& ec, std::shared_ptr<cache::Fill> fill) {
    CacheExchange& x = *cx_;
    auto slot = std::make_shared<CollapseWait>(w_.executor());
    Executor ex = w_.executor();
    const std::uint64_t id = fill->add_waiter([slot, ex] {
      asio::post(ex, [slot] {
        slot->woken = true;
        slot->timer.cancel();
      });
    });
    if (id != 0) {
      struct Leave {
        cache::Fill& f;
        std::uint64_t id;
        ~Leave() { f.remove_waiter(id); }
      } leave{*fill, id};
      const auto deadline = SteadyClock::now() + cfg_->cache.collapse_timeout;
      while (fill->state() == cache::Fill::State::pending)
        if (!co_await sleep_for_fill(*slot, deadline)) co_return false;  // waited too long
      const bool streaming = fill->state() == cache::Fill::State::streaming;
      if (streaming || fill->complete()) {
        if (auto resp = fill->response(); resp && may_follow(ec, *resp)) {
          w_.shard().cache_fetches_avoided.inc();
          co_await serve_stored(std::move(resp), metrics::CacheResult::collapsed, "Hit from edged",
                                FillStream{fill.get(), id, slot.get()});
          co_return true;
        }
      }
    }
    // Ended: what it stored (if anything) answers, when it is usable here.
    cache::CachedPtr again = lookup(ec, x);
    if (!again || cache::usability(cache::stored_facts(*again, ec.now()), x.req) !=
                      cache::Usability::fresh)
      co_return false;
    w_.shard().cache_fetches_avoided.inc();
    co_await serve_stored(std::move(again), metrics::CacheResult::collapsed, "Hit from edged");
    co_return true;
  }

  /// A fill's response may answer this request: same variant (Vary: the
  /// request's values of the named fields equal the leader's) and fresh.
  bool may_follow(cache::EdgeCache& ec, const cache::CachedResponse& resp) const {
    for (std::size_t i = 0; i < resp.vary_names.size(); ++i)
      if (i >= resp.vary_values.size() || head_.header(resp.vary_names[i]) != resp.vary_values[i])
        return false;
    return cache::usability(cache::stored_facts(resp, ec.now()), cx_->req) ==
           cache::Usability::fresh;
  }

  /// What of the viewer's request goes to the target on this route.
  void prepare_forwarding(const cache::ForwardPolicy& fp) {
    CacheExchange& x = *cx_;
    x.fwd = &fp;
    if (!fp.all_query() && !view_.query.empty()) {
      x.rewrite_target = true;
      x.target.assign(view_.path);
      std::string q = fp.query(view_.query);
      if (!q.empty()) x.target.append("?").append(q);
    }
    if (const std::string_view c = head_.header("cookie"); !c.empty()) x.cookie = fp.cookie(c);
    if (fp.normalize_accept_encoding())
      x.accept_encoding = cache::normalize_accept_encoding(*x.policy, head_.header("accept-encoding"));
  }

  /// The stored response for this request: through the Vary marker to the
  /// variant when the stored response varies. Sets x.store_key.
  cache::CachedPtr lookup(cache::EdgeCache& ec, CacheExchange& x) {
    cache::CachedPtr entry = ec.store().get(x.key);
    x.store_key = x.key;
    if (entry && entry->variant_marker) {
      x.store_key = cache::variant_key(x.key, entry->vary_names,
                                       [this](std::string_view n) { return head_.header(n); });
      entry = ec.store().get(x.store_key);
    }
    return entry;
  }

  /// Unsafe method answered without error: the stored responses for its URI
  /// and for the Location / Content-Location it names (same host) go.
  void invalidate_after_unsafe(cache::EdgeCache& ec) {
    auto& store = ec.store();
    store.erase(cx_->key);
    for (field f : {field::location, field::content_location}) {
      if (!res_ || !res_->is_header_done()) break;
      const auto& msg = res_->get();
      auto it = msg.find(f);
      if (it == msg.end()) continue;
      std::string_view loc = as_view(it->value());
      if (loc.empty() || loc.front() != '/' || loc.starts_with("//")) continue;  // other hosts: not ours
      const auto q = loc.find('?');
      store.erase(cache::make_cache_key(
          *cx_->policy, {view_.host, loc.substr(0, q),
                         q == std::string_view::npos ? std::string_view() : loc.substr(q + 1),
                         &head_}));
    }
  }

  /// If-None-Match / If-Modified-Since from the stored response (revalidation).
  void append_validators(const cache::CachedResponse& stored) {
    if (!stored.etag.empty()) append_field(out_, "If-None-Match", stored.etag);
    if (!stored.last_modified.empty()) append_field(out_, "If-Modified-Since", stored.last_modified);
  }

  /// The end-to-end fields of the target's response head.
  cache::Fields response_fields() const { return end_to_end_fields(res_->get()); }


  // --------------------------------------------------- cache_response_head
  /// The target's response head on a cached route. True when the request was
  /// answered here (a 304 refreshed the stored response, or a stale one is
  /// served on a target error); false to relay the target's response, with
  /// its body copied into the cache when the store decision admits it.
  Task<bool> cache_response_head(upstream::UpstreamConn& conn, const config::TargetGroupConfig& tg,
                                 std::size_t slot) {
    CacheExchange& x = *cx_;
    cache::EdgeCache& ec = *snap_->cache;
    auto& rp = *res_;
    const int status = rp.get().result_int();
    const cache::UnixSeconds now = ec.now();
    cache::Fields fields = response_fields();
    const cache::ResponseFacts facts = cache::response_facts(status, fields);
    if (x.stale && x.strip_conditionals && status == 304) {
      // RFC 9111 4.3.4: freshen the stored response with the 304's fields.
      auto fresh = cache::refresh_stored(*x.stale, storable_fields(fields), facts, *x.policy,
                                         x.req, x.request_time, now);
      release_after_head(conn, tg, slot);
      if (fresh->lifetime > 0 || !fresh->etag.empty() || !fresh->last_modified.empty())
        ec.store().put(x.store_key, fresh);
      co_await serve_stored(std::move(fresh), std::nullopt, "RefreshHit from edged");
      co_return true;
    }
    if (x.stale && status >= 500 &&
        cache::may_serve_stale_on_error(cache::stored_facts(*x.stale, now), x.req)) {
      release_after_head(conn, tg, slot);
      co_await serve_stored(x.stale, metrics::CacheResult::stale, "RefreshHit from edged");
      co_return true;
    }
    if (x.stale && x.strip_conditionals && status != 304) {
      // The target sent a full response instead: it replaces the stored one.
      x.x_cache = "RefreshHit from edged";
    }
    // Not stored: waiters are released at once, to fetch for themselves.
    if (req_->get().method() != bhttp::verb::get) {
      x.end_fill();
      co_return false;
    }
    const cache::StoreDecision d = cache::decide_store(*x.policy, x.req, facts, now);
    // Decided at head time: a declared length over the limit streams through.
    const auto len = rp.content_length();
    if (!d.store || (len && *len > ec.max_object())) {
      x.end_fill();
      co_return false;
    }
    x.vary = cache::vary_names(fields);
    auto reason = rp.get().reason();
    x.fill = std::make_shared<cache::CachedResponse>(cache::make_stored(
        status, std::string(as_view(reason)), storable_fields(std::move(fields)), facts, d,
        x.request_time, now));
    x.fill->path = std::string(view_.path);
    x.fill->vary_names = x.vary.names;
    for (const auto& n : x.vary.names) x.fill->vary_values.emplace_back(head_.header(n));
    if (len && *len > 0) {
      // Sized up front: the body never moves, so collapsed waiters can send
      // from it while it fills.
      x.fill->body.resize(static_cast<std::size_t>(*len));
      x.sized = true;
      if (x.leading) x.leading->start_stream(x.fill);
    }
    co_return false;
  }

  /// The target's response head was read but the client is answered from the
  /// store: a bodiless response leaves the connection reusable, else it closes.
  void release_after_head(upstream::UpstreamConn& conn, const config::TargetGroupConfig& tg,
                          std::size_t slot) {
    if (body_in_buffer_ > 0) {
      in_.consume(body_in_buffer_);
      body_in_buffer_ = 0;
    }
    chunk_pending_ = 0;
    const bool reusable = res_->is_done() && res_->keep_alive() && conn.buffer.size() == 0;
    release_upstream(conn, reusable, tg, slot);
  }

  /// Appends relayed body bytes to the response being stored; past
  /// cache.max_object_size the copy stops and the response is not stored.
  /// `last`: the body is complete: it is stored now, before its last bytes
  /// are written, so that whoever got the response finds it stored.
  void capture(const char* p, std::size_t n, bool last) {
    CacheExchange& x = *cx_;
    auto& fill = x.fill;
    if (x.sized) {
      if (n > fill->body.size() - x.filled) {  // more than declared: never stored
        fill.reset();
        x.end_fill();
        return;
      }
      if (n) std::memcpy(fill->body.data() + x.filled, p, n);
      x.filled += n;
      if (x.leading && n) x.leading->publish(n);
      if (last) store_fill();
      return;
    }
    if (fill->body.size() + n > snap_->cache->max_object()) {
      // Too big after all: not stored; waiters fetch for themselves.
      fill.reset();
      cx_->end_fill();
      return;
    }
    if (n) fill->body.append(p, n);
    if (last) store_fill();
  }

  /// The response was relayed completely: store it (with a Vary marker at the
  /// primary key when it varies).
  void store_fill() {
    CacheExchange& x = *cx_;
    auto& store = snap_->cache->store();
    if (x.vary.names.empty()) {
      store.put(x.key, std::move(x.fill));
      x.end_fill();
      return;
    }
    auto marker = std::make_shared<cache::CachedResponse>();
    marker->variant_marker = true;
    marker->vary_names = x.vary.names;
    marker->path = x.fill->path;
    std::string vk = cache::variant_key(x.key, x.vary.names,
                                        [this](std::string_view n) { return head_.header(n); });
    store.put(x.key, std::move(marker));
    store.put(std::move(vk), std::move(x.fill));
    x.end_fill();
  }

  /// A target error (connect failure, timeout, bad response) while a stale
  /// stored response is at hand: serve it when stale-if-error (or CloudFront's
  /// rule for expired objects) allows. True when answered.
  Task<bool> serve_stale_on_error(EdgeError e) {
    CacheExchange& x = *cx_;
    if (!x.stale || status_of(e) < 500 || !request_body_done_ || current_conn_) co_return false;
    const cache::UnixSeconds now = snap_->cache->now();
    if (!cache::may_serve_stale_on_error(cache::stored_facts(*x.stale, now), x.req))
      co_return false;
    w_.shard().edge_errors[static_cast<std::size_t>(e)].inc();  // the target failed all the same
    co_await serve_stored(x.stale, metrics::CacheResult::stale, "RefreshHit from edged");
    co_return true;
  }

  // ------------------------------------------------------------ serve_stored
  /// Answers from a stored response: its status and fields, the edge's Date,
  /// Age, X-Cache, and the body written straight from the shared buffer.
  /// Client conditionals get a 304, a single byte range a 206 (416 when it
  /// cannot be satisfied), HEAD the head only. `result` empty: already counted.
  Task<void> serve_stored(cache::CachedPtr entry, std::optional<metrics::CacheResult> result,
                          std::string_view x_cache, FillStream stream = {}) {
    CacheExchange& x = *cx_;
    x.served = true;
    x.x_cache = x_cache;
    auto& shard = w_.shard();
    if (result) shard.cache_lookups[static_cast<std::size_t>(*result)].inc();
    if (!request_body_done_ && !co_await discard_request_body()) keep_alive_ = false;
    const cache::UnixSeconds now = snap_->cache->now();
    const std::int64_t age = cache::current_age(entry->age_value, entry->date,
                                                entry->request_time, entry->response_time, now);
    const std::uint64_t size = entry->body.size();
    int status = entry->status;
    std::uint64_t first = 0, length = size;
    cache::ByteRange range;
    bool unsatisfiable = false;
    if (cache::client_copy_current(head_, *entry)) {
      status = 304;
      length = 0;
    } else if (status == 200) {
      switch (cache::parse_range(head_, *entry, size, range)) {
        case cache::RangeResult::ignore:
          break;
        case cache::RangeResult::partial:
          status = 206;
          first = range.first;
          length = range.last - range.first + 1;
          break;
        case cache::RangeResult::unsatisfiable:
          status = 416;
          unsatisfiable = true;
          length = 0;
          break;
      }
    }
    out_.clear();
    out_.append("HTTP/1.1 "sv);
    append_uint(out_, static_cast<std::uint64_t>(status));
    out_.push_back(' ');
    out_.append(status == entry->status && !entry->reason.empty() ? std::string_view(entry->reason)
                                                                  : reason_phrase(status));
    out_.append(kCrlf);
    for (const auto& [n, v] : entry->headers) {
      // A 304 carries the fields a 200 would, except the content ones (RFC 9110 15.4.5).
      if (status == 304 && istarts_with(n, "content-") && !iequals(n, "content-location"))
        continue;
      if (status == 416 && istarts_with(n, "content-")) continue;
      append_field(out_, n, v);
    }
    append_field(out_, "Date", w_.date().value());
    out_.append("Age: "sv);
    append_uint(out_, static_cast<std::uint64_t>(std::max<std::int64_t>(0, age)));
    out_.append(kCrlf);
    append_field(out_, "Via", "1.1 edged");
    append_field(out_, "X-Cache", x_cache);
    if (status == 206 || unsatisfiable) {
      out_.append("Content-Range: bytes "sv);
      if (unsatisfiable) {
        out_.push_back('*');
      } else {
        append_uint(out_, first);
        out_.push_back('-');
        append_uint(out_, first + length - 1);
      }
      out_.push_back('/');
      append_uint(out_, size);
      out_.append(kCrlf);
    }
    if (status == 200 && entry->status == 200) append_field(out_, "Accept-Ranges", "bytes");
    if (status != 304 && status != 204 && !(status >= 100 && status < 200)) {
      out_.append("Content-Length: "sv);
      append_uint(out_, length);
      out_.append(kCrlf);
    }
    apply_response_edits();
    finish_response_head(status);
    if (is_head_request()) length = 0;
    if (stream.fill && length > 0) {
      co_await serve_streaming(*entry, stream, first, first + length);
      co_return;
    }
    std::array<asio::const_buffer, 2> bufs{
        out_.buffer(), asio::buffer(entry->body.data() + first, static_cast<std::size_t>(length))};
    shard.cache_hit_bytes.inc(bufs[1].size());
    written(co_await write_client_last(bufs));
  }

  /// The body bytes [pos, end) of a response still streaming into a fill:
  /// the head (already in out_) goes out at once, then each part as the
  /// leader publishes it, straight from the fill's buffer. If the fill ends
  /// before `end` (the target failed), or nothing arrives for
  /// timeouts.upstream_response, the response is cut short: the connection
  /// closes, and it is counted.
  Task<void> serve_streaming(const cache::CachedResponse& entry, FillStream stream,
                             std::uint64_t pos, const std::uint64_t end) {
    auto& shard = w_.shard();
    bool head_out = false;
    for (;;) {
      const std::uint64_t published = stream.fill->published();
      const std::uint64_t avail = std::clamp(published, pos, end);
      if (avail > pos || !head_out) {
        std::array<asio::const_buffer, 2> bufs{
            head_out ? asio::const_buffer() : out_.buffer(),
            asio::buffer(entry.body.data() + pos, static_cast<std::size_t>(avail - pos))};
        shard.cache_hit_bytes.inc(bufs[1].size());
        if (!written(co_await write_client_last(bufs, avail == end))) co_return;
        head_out = true;
        pos = avail;
      }
      if (pos == end) co_return;
      if (!stream.fill->arm(stream.waiter, published)) {
        if (stream.fill->published() > published) continue;  // more arrived meanwhile
        break;                                                 // ended short of `end`
      }
      if (!co_await sleep_for_fill(*stream.slot,
                                   SteadyClock::now() + cfg_->timeouts.upstream_response))
        break;
    }
    shard.cache_collapsed_aborted.inc();
    keep_alive_ = false;
  }

  // --------------------------------------------------------------- forward
  Task<void> forward(const server::GroupRuntime& group) {
    ctx_.target_group = group.group;
    const auto& tg = group.group->config();
    const bool idempotent = is_idempotent(req_->get().method());
    upstream::ExcludeSet tried;
    int connect_retries_left = tg.retries;
    bool reused_retry_done = false;
    bool force_new = false;
    upstream::OutstandingGuard guard;
    EdgeError last_error = EdgeError::no_target;

    // Body bytes already buffered go out with the head; a body that fits in
    // the buffer can be sent again if a reused connection turns out dead.
    if (EdgeError e = prepare_request_body(); e != EdgeError::none) {
      co_await send_error(e);
      co_return;
    }

    for (;;) {
      if (!guard.target()) {
        upstream::Target* t = pick_target(group, tried);
        if (!t) {
          co_await send_error(last_error);
          co_return;
        }
        guard = upstream::OutstandingGuard(t);
        ctx_.target = t;
      }
      upstream::Target* target = guard.target();
      const std::size_t slot = target->pool_slot;
      ++ctx_.attempts;
      upstream::UpstreamConnPtr conn;
      bool reused = false;
      if (!force_new) {
        conn = w_.pool().checkout(slot);
        reused = conn != nullptr;
      }
      force_new = false;
      if (reused) {
        w_.shard().upstream_connections_reused.inc();
      } else {
        EdgeError err = co_await acquire(group, *target, conn);
        if (err != EdgeError::none) {
          w_.shard().groups[group.group->index()].connection_errors.inc();
          upstream::report_gateway_error(*group.group, *target);
          last_error = err;
          tried.add(target->index);
          guard.release();
          ctx_.failed_target = target;
          ctx_.target = nullptr;
          if (connect_retries_left-- > 0) {
            w_.shard().upstream_retries.inc();
            continue;
          }
          co_await send_error(err);
          co_return;
        }
      }
      current_conn_ = conn;
      if (auto* hooks = snap_->hooks.get()) {
        ctx_.upstream_request_edits.clear();
        hooks->on_upstream_request(ctx_);
      }
      Step sent = co_await send_request(*conn);
      if (sent == Step::answered) {
        close_upstream(*conn);
        co_return;
      }
      ResponseHead rh = ResponseHead::failed;
      if (sent == Step::ok) rh = co_await read_response_head(*conn);
      if (sent == Step::ok && rh == ResponseHead::ok) {
        if (ctx_.target_status == 101) [[unlikely]] {
          co_await tunnel(*conn);  // `guard` keeps it one outstanding request meanwhile
          co_return;
        }
        if (cx_on_) [[unlikely]] {
          if (co_await cache_response_head(*conn, tg, slot)) co_return;
        }
        co_await relay_response(*conn, tg, slot);
        co_return;
      }
      const bool replayable = request_replayable();
      close_upstream(*conn);
      if (reused && !reused_retry_done && replayable && idempotent &&
          (sent == Step::failed || rh == ResponseHead::failed_before_bytes)) {
        // The target closed a pooled connection under us: once more, fresh.
        reused_retry_done = true;
        force_new = true;
        w_.shard().upstream_retries.inc();
        continue;
      }
      upstream::report_gateway_error(*group.group, *target);
      if (!reused && replayable && idempotent &&
          (sent == Step::failed || rh == ResponseHead::failed_before_bytes) &&
          connect_retries_left-- > 0) {
        // A fresh connection closed before any response byte (the target went
        // away): an idempotent request goes to another target.
        last_error = EdgeError::target_reset;
        tried.add(target->index);
        guard.release();
        ctx_.target = nullptr;
        w_.shard().upstream_retries.inc();
        continue;
      }
      if (rh == ResponseHead::timeout) {
        co_await send_error(EdgeError::target_timeout);
      } else if (rh == ResponseHead::bad) {
        co_await send_error(EdgeError::target_bad_response);
      } else {
        co_await send_error(EdgeError::target_reset);
      }
      co_return;
    }
  }

  bool request_replayable() const { return request_body_done_ && !body_streamed_; }

  // ---------------------------------------------------------------- tunnel
  /// The target switched protocols: 101 to the client, then bytes both ways
  /// until either side closes. The upstream connection is never pooled again.
  Task<void> tunnel(upstream::UpstreamConn& conn) {
    keep_alive_ = false;
    // A wss:// client answers our close_notify with its own: read it (bounded)
    // at close, so that the close is not a reset.
    if (tls_) close_after_ = true;
    auto& shard = w_.shard();
    const std::size_t kind = upgrade_.kind == UpgradeKind::websocket ? 0 : 1;
    std::string head;  // rare: an allocation is fine
    // The stickiness cookies go on a 101 as on any response (as ALB).
    build_switching_protocols_head(head, *res_, w_.date().value(), sticky_cookies_);
    ctx_.status = 101;
    shard.listener_requests[listener_->index][0].inc();
    shard.upgrades[kind].inc();
    shard.active_upgraded_connections[kind].add(1);
    TunnelResult r =
        co_await run_tunnel({sock_, tls_.get()}, in_, {conn.socket, conn.tls.get()}, conn.buffer,
                            head, w_.relay_buffers(), w_.deadlines(), cfg_->timeouts.websocket_idle);
    shard.active_upgraded_connections[kind].add(-1);
    ctx_.sent_bytes += r.to_client;
    ctx_.received_bytes += r.to_target;
    shard.bytes_sent.inc(r.to_client);
    shard.bytes_received.inc(r.to_target);
    close_upstream(conn);
  }

  // ----------------------------------------------------------- pick_target
  upstream::Target* pick_target(const server::GroupRuntime& group,
                                const upstream::ExcludeSet& tried) {
    std::span<upstream::Target* const> candidates = group.group->members();
    if (auto* hooks = snap_->hooks.get()) {
      if (auto* t = hooks->select_target(ctx_, candidates)) return t;
    }
    const std::size_t gi = group.group->index();
    return upstream::pick_routable(w_.balancer(gi), *group.group, candidates, tried,
                                   w_.shard().target_group_fail_open[gi]);
  }

  // --------------------------------------------------------------- acquire
  Task<EdgeError> acquire(const server::GroupRuntime& group, upstream::Target& target,
                          upstream::UpstreamConnPtr& out) {
    auto conn = std::make_shared<upstream::UpstreamConn>(w_.executor(), kUpstreamBuffer);
    conn->target = &target;
    conn->deadline.attach(w_.deadlines(), &Session::on_upstream_deadline, conn.get());
    conn->deadline.arm(cfg_->timeouts.upstream_connect);
    auto [ec] = co_await conn->socket.async_connect(target.endpoint, kUseTuple);
    conn->deadline.disarm();
    if (ec) {
      bool timed_out = conn->deadline.fired();
      co_return timed_out ? EdgeError::target_connect_timeout : EdgeError::target_connect_failed;
    }
    beast::error_code ignored;
    conn->socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    if (!group.tls.empty()) {
      // HTTPS target group: TLS on the new connection, within the connect timeout.
      auto& cc = *group.tls[w_.index()];
      conn->tls = std::make_unique<TlsStream>(conn->socket, cc.asio());
      if (!tls::prepare_client(conn->tls->native_handle(), cc, host_of(target.id)))
        co_return EdgeError::target_tls_failed;
      conn->deadline.arm(cfg_->timeouts.upstream_connect);
      auto [hec] = co_await conn->tls->async_handshake(asio::ssl::stream_base::client, kUseTuple);
      conn->deadline.disarm();
      if (hec) {
        co_return conn->deadline.fired() ? EdgeError::target_connect_timeout
                                         : EdgeError::target_tls_failed;
      }
    }
    w_.shard().upstream_connections_opened.inc();
    out = std::move(conn);
    co_return EdgeError::none;
  }

  // --------------------------------------------------------- request body
  /// Takes what the client already sent of the body: for Content-Length the
  /// bytes in `in_`; for chunked, decodes what is buffered into the relay
  /// buffer (so a malformed chunk is refused before the target sees anything).
  EdgeError prepare_request_body() {
    body_streamed_ = false;
    if (req_chunked_) {
      req_->eager(true);
      int r = decode_request_chunks();
      if (r < 0) return r == -2 ? EdgeError::body_too_large : EdgeError::bad_chunk;
    } else if (req_length_ > 0) {
      body_in_buffer_ = static_cast<std::size_t>(std::min<std::uint64_t>(in_.size(), req_length_));
      if (body_in_buffer_ == req_length_) request_body_done_ = true;
    }
    return EdgeError::none;
  }

  /// Decodes buffered chunked input into relay_ (appending after chunk_pending_).
  /// Returns 0 on progress or need-more, -1 on bad framing, -2 over the limit.
  int decode_request_chunks() {
    auto& p = *req_;
    for (;;) {
      if (p.is_done()) {
        request_body_done_ = true;
        return 0;
      }
      if (in_.size() == 0 || chunk_pending_ == relay_cap_) return 0;
      auto& body = p.get().body();
      body.data = relay() + chunk_pending_;
      body.size = relay_cap_ - chunk_pending_;
      beast::error_code ec;
      std::size_t n = p.put(in_.data(), ec);
      in_.consume(n);
      chunk_pending_ = relay_cap_ - body.size;
      if (ec == bhttp::error::need_buffer) return 0;
      if (ec == bhttp::error::need_more) return 0;
      if (ec) return -1;
      if (n == 0 && !p.is_done()) return 0;
      const std::uint64_t max_body = cfg_->limits.max_body_bytes;
      if (max_body != 0 && request_body_sent_ + chunk_pending_ > max_body) return -2;
    }
  }

  // ----------------------------------------------------------- send_request
  Task<Step> send_request(upstream::UpstreamConn& conn) {
    build_upstream_head();
    request_body_sent_ = 0;
    const bool has_body = req_chunked_ || req_length_ > 0;
    std::array<asio::const_buffer, 5> bufs;
    std::size_t nb = 0;
    bufs[nb++] = out_.buffer();
    char chunk_head[20];
    if (req_chunked_) {
      if (chunk_pending_ > 0) {
        bufs[nb++] = asio::buffer(chunk_head, format_chunk_header(chunk_head, chunk_pending_));
        bufs[nb++] = asio::buffer(relay(), chunk_pending_);
        bufs[nb++] = asio::buffer(kCrlf.data(), kCrlf.size());
      }
      if (request_body_done_) bufs[nb++] = asio::buffer(kLastChunk.data(), kLastChunk.size());
    } else if (body_in_buffer_ > 0) {
      bufs[nb++] = asio::buffer(in_.data().data(), body_in_buffer_);
    }
    conn.deadline.arm(cfg_->timeouts.upstream_response);
    // The whole array (unused entries are empty): a fixed buffer-sequence type
    // keeps Asio's write operation small enough for its recycling allocator.
    auto [ec, n] = co_await upstream_write(conn, bufs);
    (void)n;
    if (ec) co_return Step::failed;
    request_body_sent_ = req_chunked_ ? chunk_pending_ : body_in_buffer_;
    if (!has_body || request_body_done_) {
      ctx_.target_sent = SteadyClock::now();
      co_return Step::ok;
    }
    // The rest of the body streams now: it cannot be sent a second time.
    body_streamed_ = true;
    if (req_chunked_) {
      chunk_pending_ = 0;
    } else {
      in_.consume(body_in_buffer_);
      body_in_buffer_ = 0;
    }
    if (expect_continue_) {
      auto [wec, wn] = co_await client_write(asio::buffer(kContinue));
      (void)wn;
      if (wec) co_return Step::failed;
    }
    Step s = req_chunked_ ? co_await stream_chunked_body(conn) : co_await stream_length_body(conn);
    if (s == Step::ok) ctx_.target_sent = SteadyClock::now();
    co_return s;
  }

  /// Content-Length body: client → relay buffer → target, never more than the
  /// body (a pipelined next request stays in the socket).
  Task<Step> stream_length_body(upstream::UpstreamConn& conn) {
    std::uint64_t remaining = req_length_ - request_body_sent_;
    while (remaining > 0) {
      std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, relay_cap_));
      deadline_.arm(cfg_->timeouts.idle);
      auto [ec, n] = co_await client_read(asio::buffer(relay(), want));
      deadline_.disarm();
      if (ec) {
        bool timed_out = deadline_.fired();
        deadline_.reset_fired();
        keep_alive_ = false;
        if (timed_out) co_await send_error(EdgeError::client_timeout);
        co_return Step::answered;  // client gone or too slow: nothing to relay
      }
      ctx_.received_bytes += n;
      w_.shard().bytes_received.inc(n);
      conn.deadline.arm(cfg_->timeouts.upstream_response);
      auto [wec, wn] = co_await upstream_write(conn, asio::buffer(relay(), n));
      (void)wn;
      if (wec) {
        keep_alive_ = false;
        co_return Step::failed;
      }
      remaining -= n;
      request_body_sent_ += n;
    }
    request_body_done_ = true;
    co_return Step::ok;
  }

  /// Chunked body: decoded by the parser (framing validated), re-framed by us.
  Task<Step> stream_chunked_body(upstream::UpstreamConn& conn) {
    for (;;) {
      int r = decode_request_chunks();
      if (r < 0) {
        keep_alive_ = false;
        co_await send_error(r == -2 ? EdgeError::body_too_large : EdgeError::bad_chunk);
        co_return Step::answered;
      }
      if (chunk_pending_ > 0 || request_body_done_) {
        std::array<asio::const_buffer, 4> bufs;
        std::size_t nb = 0;
        char chunk_head[20];
        if (chunk_pending_ > 0) {
          bufs[nb++] = asio::buffer(chunk_head, format_chunk_header(chunk_head, chunk_pending_));
          bufs[nb++] = asio::buffer(relay(), chunk_pending_);
          bufs[nb++] = asio::buffer(kCrlf.data(), kCrlf.size());
        }
        if (request_body_done_) bufs[nb++] = asio::buffer(kLastChunk.data(), kLastChunk.size());
        conn.deadline.arm(cfg_->timeouts.upstream_response);
        auto [wec, wn] = co_await upstream_write(conn, bufs);
        (void)wn;
        if (wec) {
          keep_alive_ = false;
          co_return Step::failed;
        }
        request_body_sent_ += chunk_pending_;
        chunk_pending_ = 0;
        if (request_body_done_) co_return Step::ok;
        continue;
      }
      // need more input from the client
      deadline_.arm(cfg_->timeouts.idle);
      auto [ec, n] = co_await client_read(in_.prepare(read_size(in_)));
      deadline_.disarm();
      if (ec) {
        bool timed_out = deadline_.fired();
        deadline_.reset_fired();
        keep_alive_ = false;
        if (timed_out) co_await send_error(EdgeError::client_timeout);
        co_return Step::answered;
      }
      in_.commit(n);
      ctx_.received_bytes += n;
      w_.shard().bytes_received.inc(n);
    }
  }

  /// Reads and drops the rest of the request body (local answers). False when
  /// the body could not be read to its end.
  Task<bool> discard_request_body() {
    if (req_chunked_) {
      req_->eager(true);
      for (;;) {
        chunk_pending_ = 0;
        int r = decode_request_chunks();
        chunk_pending_ = 0;
        if (r < 0) co_return false;
        if (request_body_done_) co_return true;
        if (in_.size() > 0) continue;
        deadline_.arm(cfg_->timeouts.idle);
        auto [ec, n] = co_await client_read(in_.prepare(read_size(in_)));
        deadline_.disarm();
        if (ec) co_return false;
        in_.commit(n);
      }
    }
    std::uint64_t remaining = req_length_;
    std::size_t from_buffer = static_cast<std::size_t>(std::min<std::uint64_t>(in_.size(), remaining));
    in_.consume(from_buffer);
    remaining -= from_buffer;
    // Do not read large bodies just to throw them away.
    if (remaining > 4 * relay_cap_) co_return false;
    while (remaining > 0) {
      std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, relay_cap_));
      deadline_.arm(cfg_->timeouts.idle);
      auto [ec, n] = co_await client_read(asio::buffer(relay(), want));
      deadline_.disarm();
      if (ec) co_return false;
      remaining -= n;
    }
    request_body_done_ = true;
    co_return true;
  }

  /// Request head for the target: hop-by-hop fields dropped, framing redone,
  /// X-Forwarded-*, Via and the trace id added, hook edits applied.
  void build_upstream_head() {
    const auto& msg = req_->get();
    out_.clear();
    auto m = msg.method_string();
    out_.append(m.data(), m.size());
    out_.push_back(' ');
    out_.append(cx_on_ && cx_->rewrite_target ? std::string_view(cx_->target) : head_.target());
    out_.append(" HTTP/1.1\r\n"sv);

    ConnectionOptions opts;
    auto conn_it = msg.find(field::connection);
    if (conn_it != msg.end()) {
      auto v = conn_it->value();
      opts.load(std::string_view(v.data(), v.size()));
    }
    std::string_view xff, via, trace;
    bool has_host = false;
    const auto& edits = ctx_.upstream_request_edits;
    for (const auto& f : msg) {
      const field name = f.name();
      auto ns = f.name_string();
      auto vs = f.value();
      std::string_view n(ns.data(), ns.size()), v(vs.data(), vs.size());
      if (http::is_hop_by_hop_or_framing(name)) continue;
      switch (name) {
        case field::expect:
          continue;
        case field::via:
          via = v;
          continue;
        case field::host:
          has_host = true;
          break;
        case field::if_none_match:
        case field::if_modified_since:
        case field::if_range:
        case field::range:
          // Revalidating a stored response: the target gets our validators.
          if (cx_on_ && cx_->strip_conditionals) continue;
          break;
        default:
          if (name == field::unknown && n.size() >= 12 && (n[0] | 0x20) == 'x') {
            if (iequals(n, "x-forwarded-for")) {
              xff = v;
              continue;
            }
            if (iequals(n, "x-forwarded-proto") || iequals(n, "x-forwarded-port")) continue;
            // Only the edge speaks about the client's TLS session: never a client.
            if (is_tls_info_field(n)) continue;
            if (iequals(n, "x-amzn-trace-id")) {
              trace = v;
              continue;
            }
          }
          break;
      }
      if (cx_on_ && cx_->fwd) [[unlikely]] {
        // Cached route: only what the key and the origin request policy name.
        if (name == field::host) {
          if (cx_->fwd->replace_host()) {
            has_host = false;
            continue;
          }
        } else if (name == field::cookie || !cx_->fwd->header(n)) {
          continue;
        }
      }
      if (opts.count && opts.contains(n)) continue;
      if (!edits.remove.empty() && removed_by(edits, n)) continue;
      out_.append(n);
      out_.append(": "sv);
      out_.append(v);
      out_.append(kCrlf);
    }
    if (cx_on_ && cx_->fwd) [[unlikely]] {
      if (!cx_->cookie.empty()) append_field(out_, "Cookie", cx_->cookie);
      if (!cx_->accept_encoding.empty()) append_field(out_, "Accept-Encoding", cx_->accept_encoding);
    }
    if (!has_host) append_field(out_, "Host", ctx_.target ? ctx_.target->id : "");
    // X-Forwarded-For: append the client address.
    out_.append("X-Forwarded-For: "sv);
    if (!xff.empty()) {
      out_.append(xff);
      out_.append(", "sv);
    }
    out_.append(client_ip_);
    out_.append(kCrlf);
    append_field(out_, "X-Forwarded-Proto", tls_ ? "https" : "http");
    append_field(out_, "X-Forwarded-Port", listener_->port_text);
    out_.append("Via: "sv);
    if (!via.empty()) {
      out_.append(via);
      out_.append(", "sv);
    }
    out_.append("1.1 edged\r\n"sv);
    append_trace_id(trace);
    if (!tls_headers_.empty()) out_.append(tls_headers_);
    if (req_chunked_) {
      out_.append("Transfer-Encoding: chunked\r\n"sv);
    } else if (req_length_ > 0 || msg.find(field::content_length) != msg.end()) {
      out_.append("Content-Length: "sv);
      append_uint(out_, req_length_);
      out_.append(kCrlf);
    }
    if (upgrade_.kind != UpgradeKind::none) [[unlikely]] {
      out_.append("Connection: Upgrade\r\n"sv);
      append_field(out_, "Upgrade", upgrade_.protocol);
    }
    for (const auto& [n, v] : edits.add) append_field(out_, n, v);
    if (cx_on_ && cx_->strip_conditionals) [[unlikely]] append_validators(*cx_->stale);
    out_.append(kCrlf);
  }

  /// ALB-style trace id: Root=1-<8 hex epoch seconds>-<24 hex>. An incoming
  /// Root is kept (with its other fields) and Self= added for this hop.
  void append_trace_id(std::string_view incoming) {
    std::string& id = ctx_.trace_id;
    id.clear();
    auto fresh = [&](std::string& out) {
      out.append("1-"sv);
      append_hex(out, static_cast<std::uint64_t>(std::time(nullptr)) & 0xffffffffU, 8);
      out.push_back('-');
      std::uint64_t a = w_.random(), b = w_.random();
      append_hex(out, a, 16);
      append_hex(out, b & 0xffffffffU, 8);
    };
    bool has_root = incoming.find("Root=") != std::string_view::npos;
    if (has_root) {
      id.append("Self="sv);
      fresh(id);
      // keep incoming fields except a previous Self
      std::string_view rest = incoming;
      while (!rest.empty()) {
        auto semi = rest.find(';');
        std::string_view part = rest.substr(0, semi);
        while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
        if (!part.empty() && !part.starts_with("Self=")) {
          id.push_back(';');
          id.append(part);
        }
        if (semi == std::string_view::npos) break;
        rest.remove_prefix(semi + 1);
      }
    } else {
      id.append("Root="sv);
      fresh(id);
    }
    append_field(out_, "X-Amzn-Trace-Id", id);
  }

  // ---------------------------------------------------- read_response_head
  Task<ResponseHead> read_response_head(upstream::UpstreamConn& conn) {
    bool any = conn.buffer.size() > 0;
    const bool head_request = req_->get().method() == bhttp::verb::head;
    auto fresh_parser = [&] {
      auto& rp = res_.emplace(res_store_);
      rp.header_limit(static_cast<std::uint32_t>(
          std::min<std::uint64_t>(cfg_->limits.max_header_bytes, 0xffffffffU)));
      rp.body_limit(boost::none);
      if (head_request) rp.skip(true);
    };
    fresh_parser();
    conn.deadline.arm(cfg_->timeouts.upstream_response);
    bool drained = false;  // this call's last read emptied the socket
    for (;;) {
      if (conn.buffer.size() > 0) {
        beast::error_code ec;
        std::size_t n = res_->put(conn.buffer.data(), ec);
        if (!ec && res_->is_header_done()) {
          conn.buffer.consume(n);
          int status = res_->get().result_int();
          if (status >= 100 && status < 200) {
            if (status == 101 && upgrade_.kind != UpgradeKind::none) break;
            if (status == 101) {
              conn.deadline.disarm();
              co_return ResponseHead::bad;  // we never ask for an upgrade
            }
            fresh_parser();  // 100 / 103: informational, not forwarded
            continue;
          }
          break;
        }
        if (!ec) {
          conn.buffer.consume(n);
        } else if (ec != bhttp::error::need_more) {
          conn.deadline.disarm();
          co_return ResponseHead::bad;
        }
      }
      const auto buf = conn.buffer.prepare(read_size(conn.buffer));
      beast::error_code ec;
      std::size_t n = 0;
      if (!read_target_now(conn, buf, ec, n)) std::tie(ec, n) = co_await upstream_read(conn, buf);
      drained = !conn.tls && !ec && n < buf.size();
      if (ec) {
        conn.deadline.disarm();
        if (conn.deadline.fired()) co_return ResponseHead::timeout;
        co_return any ? ResponseHead::failed : ResponseHead::failed_before_bytes;
      }
      conn.buffer.commit(n);
      any = true;
    }
    // The whole response is in the buffer and the socket was emptied by the
    // read that got it: the connection's next read waits for the kernel.
    // A chunked response read whole with its head: relay_decoded_body marks.
    head_drained_ = drained && res_->get().result_int() >= 200;
    if (drained && res_->get().result_int() >= 200) {
      auto& rp = *res_;
      if (rp.is_done() ? conn.buffer.size() == 0
                       : rp.content_length() && conn.buffer.size() == *rp.content_length())
        core::mark_drained(conn.socket);
    }
    conn.deadline.disarm();
    ctx_.target_responded = SteadyClock::now();
    ctx_.target_status = res_->get().result_int();
    auto& shard = w_.shard();
    const std::size_t gi = ctx_.target_group->index();
    shard.target_group_responses[gi][metrics::status_class_index(ctx_.target_status)].inc();
    shard.target_response_time[gi].observe(ctx_.target_responded - ctx_.target_sent);
    upstream::report_response(*ctx_.target_group, *conn.target, ctx_.target_status,
                              ctx_.target_responded - ctx_.target_sent);
    co_return ResponseHead::ok;
  }

  // -------------------------------------------------------- relay_response
  Task<void> relay_response(upstream::UpstreamConn& conn, const config::TargetGroupConfig& tg,
                            std::size_t slot) {
    // The request is answered: what remains of a buffered body is consumed.
    if (body_in_buffer_ > 0) {
      in_.consume(body_in_buffer_);
      body_in_buffer_ = 0;
    }
    chunk_pending_ = 0;
    if (auto* hooks = snap_->hooks.get()) {
      ctx_.response_edits.clear();
      hooks->on_response(ctx_);
    }
    auto& rp = *res_;
    const auto& msg = rp.get();
    const int status = msg.result_int();
    const unsigned client_version = req_->get().version();
    const bool no_body = rp.is_done();  // HEAD, 204, 304, or Content-Length: 0
    enum class Framing { none, length, chunked_in, until_eof };
    Framing in_framing = no_body            ? Framing::none
                         : rp.chunked()     ? Framing::chunked_in
                         : rp.content_length() ? Framing::length
                                               : Framing::until_eof;
    bool upstream_reusable = rp.keep_alive() && in_framing != Framing::until_eof;
    // Out: chunked to HTTP/1.1 clients when the length is unknown; HTTP/1.0
    // clients get the body up to the close.
    const bool chunk_out = (in_framing == Framing::chunked_in ||
                            in_framing == Framing::until_eof) && client_version >= 11;
    if ((in_framing == Framing::chunked_in || in_framing == Framing::until_eof) && !chunk_out)
      keep_alive_ = false;
    if (!request_body_done_) keep_alive_ = false;

    // Response head.
    out_.clear();
    out_.append("HTTP/1.1 "sv);
    append_uint(out_, static_cast<std::uint64_t>(status));
    out_.push_back(' ');
    auto reason = msg.reason();
    if (reason.empty()) {
      out_.append(reason_phrase(status));
    } else {
      out_.append(reason.data(), reason.size());
    }
    out_.append(kCrlf);
    ConnectionOptions opts;
    auto conn_it = msg.find(field::connection);
    if (conn_it != msg.end()) {
      auto v = conn_it->value();
      opts.load(std::string_view(v.data(), v.size()));
    }
    bool has_date = false;
    std::string_view via;
    const auto& edits = ctx_.response_edits;
    for (const auto& f : msg) {
      const field name = f.name();
      auto ns = f.name_string();
      auto vs = f.value();
      std::string_view n(ns.data(), ns.size()), v(vs.data(), vs.size());
      if (http::is_hop_by_hop_or_framing(name)) continue;
      if (name == field::via) {
        via = v;
        continue;
      }
      if (name == field::date) has_date = true;
      if (opts.count && opts.contains(n)) continue;
      if (!edits.remove.empty() && removed_by(edits, n)) continue;
      out_.append(n);
      out_.append(": "sv);
      out_.append(v);
      out_.append(kCrlf);
    }
    if (!has_date) append_field(out_, "Date", w_.date().value());
    out_.append("Via: "sv);
    if (!via.empty()) {
      out_.append(via);
      out_.append(", "sv);
    }
    out_.append("1.1 edged\r\n"sv);
    if (cx_on_) [[unlikely]] append_field(out_, "X-Cache", cx_->x_cache);
    if (in_framing == Framing::length || (no_body && rp.content_length())) {
      out_.append("Content-Length: "sv);
      append_uint(out_, *rp.content_length());
      out_.append(kCrlf);
    } else if (chunk_out) {
      out_.append("Transfer-Encoding: chunked\r\n"sv);
    }
    apply_response_edits();
    finish_response_head(status);
    if (in_framing == Framing::none && cx_on_ && cx_->fill) [[unlikely]] capture(nullptr, 0, true);

    bool ok = false;
    switch (in_framing) {
      case Framing::none:
        ok = written(co_await write_client_last(out_.buffer()));
        break;
      case Framing::length:
        ok = co_await relay_length_body(conn, *rp.content_length());
        break;
      case Framing::chunked_in:
      case Framing::until_eof:
        ok = co_await relay_decoded_body(conn, chunk_out);
        break;
    }
    if (cx_on_) [[unlikely]] {
      cx_->fill.reset();  // not complete: not stored
      cx_->end_fill();
    }
    release_upstream(conn, ok && upstream_reusable, tg, slot);
    if (!ok) keep_alive_ = false;
  }

  /// Content-Length response: bytes already read go out with the head, the
  /// rest target → relay buffer → client.
  Task<bool> relay_length_body(upstream::UpstreamConn& conn, std::uint64_t length) {
    std::size_t first = static_cast<std::size_t>(std::min<std::uint64_t>(conn.buffer.size(), length));
    std::uint64_t rest = length - first;
    std::size_t more = 0;
    bool overrun = false;  // the target sent more than its Content-Length
    if (rest > 0) {
      // Take the next part of the body before the first write, so that head
      // and body go out in one gathered write (one syscall less per response),
      // but never wait for it: a target that pauses after part of the body
      // must not hold back what it sent. Over TLS a partial record cannot be
      // read without waiting, so only a head with no body bytes waits there.
      std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(rest, relay_cap_));
      if (!conn.tls) {
        beast::error_code ec;
        const std::size_t ask = ask_size(want);
        if (core::read_now(conn.socket, asio::buffer(relay(), ask), ec, more) && ec) more = 0;
        if (more > want) {
          more = want;
          overrun = true;
        } else if (more == rest && more < ask) {
          core::mark_drained(conn.socket);
        }
      } else if (first == 0) {
        conn.deadline.arm(cfg_->timeouts.upstream_response);
        auto [ec, n] = co_await upstream_read(conn, asio::buffer(relay(), want));
        conn.deadline.disarm();
        if (ec) co_return false;
        more = n;
      }
    }
    std::array<asio::const_buffer, 3> bufs{out_.buffer(),
                                           asio::buffer(conn.buffer.data().data(), first),
                                           asio::buffer(relay_, more)};
    if (cx_on_ && cx_->fill) [[unlikely]] {
      capture(static_cast<const char*>(conn.buffer.data().data()), first, false);
      capture(relay_, more, rest == more);
    }
    if (!written(co_await write_client_last(bufs, rest == more))) {
      co_await fill_without_client(conn, rest - more);
      co_return false;
    }
    conn.buffer.consume(first);
    std::uint64_t remaining = rest - more;
    while (remaining > 0) {
      std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, relay_cap_));
      conn.deadline.arm(cfg_->timeouts.upstream_response);
      beast::error_code ec;
      std::size_t n = 0;
      if (conn.tls) {
        std::tie(ec, n) = co_await upstream_read(conn, asio::buffer(relay(), want));
      } else {
        const std::size_t ask = ask_size(want);
        if (!core::read_now(conn.socket, asio::buffer(relay(), ask), ec, n))
          std::tie(ec, n) = co_await upstream_read(conn, asio::buffer(relay(), ask));
        if (!ec && n > want) {
          n = want;
          overrun = true;
        } else if (!ec && n == remaining && n < ask) {
          // The body's last bytes, and the socket emptied: see read_response_head.
          core::mark_drained(conn.socket);
        }
      }
      conn.deadline.disarm();
      if (ec) co_return false;
      remaining -= n;
      if (cx_on_ && cx_->fill) [[unlikely]] capture(relay_, n, remaining == 0);
      const auto piece = asio::buffer(relay(), n);
      if (!written(co_await write_client_last(piece, remaining == 0))) {
        co_await fill_without_client(conn, remaining);
        co_return false;
      }
    }
    // Bytes beyond the declared length make the connection unusable.
    co_return !overrun && conn.buffer.size() == 0;
  }

  /// The client went away (or stopped reading) during a response being
  /// stored: the rest of the body (bounded by cache.max_object_size) is still
  /// read from the target into the store, so the requests following this
  /// fill, and the next ones, are answered without another fetch, as a CDN
  /// edge does. Any other response: nothing to do.
  Task<void> fill_without_client(upstream::UpstreamConn& conn, std::uint64_t remaining) {
    if (!cx_on_ || !cx_->fill || !cx_->sized) co_return;
    while (remaining > 0 && cx_->fill) {
      std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, relay_cap_));
      conn.deadline.arm(cfg_->timeouts.upstream_response);
      auto [ec, n] = co_await upstream_read(conn, asio::buffer(relay(), want));
      conn.deadline.disarm();
      if (ec) co_return;
      remaining -= n;
      capture(relay_, n, remaining == 0);
    }
  }

  /// Chunked or close-delimited response: decoded by the parser (framing
  /// validated), re-chunked for HTTP/1.1 clients.
  Task<bool> relay_decoded_body(upstream::UpstreamConn& conn, bool chunk_out) {
    auto& rp = *res_;
    rp.eager(true);
    bool head_sent = false;
    bool need_read = conn.buffer.size() == 0;
    // The read just made emptied the socket. For the first round, the head's
    // read, unless the cache path may have waited since.
    bool drained = head_drained_ && !cx_on_;
    head_drained_ = false;
    for (;;) {
      std::size_t produced = 0;
      const bool fresh = drained;  // only until the next wait
      drained = false;
      if (!need_read && !rp.is_done()) {
        auto& body = rp.get().body();
        body.data = relay();
        body.size = relay_cap_;
        beast::error_code ec;
        std::size_t n = rp.put(conn.buffer.data(), ec);
        conn.buffer.consume(n);
        produced = relay_cap_ - body.size;
        // The last chunk, and nothing after it: see read_response_head.
        if (fresh && !ec && rp.is_done() && conn.buffer.size() == 0 && !rp.need_eof())
          core::mark_drained(conn.socket);
        if (ec == bhttp::error::need_more) {
          need_read = true;
        } else if (ec && ec != bhttp::error::need_buffer) {
          co_return false;  // bad chunk from the target: abort the response
        } else if ((conn.buffer.size() == 0 || (n == 0 && produced == 0)) && !rp.is_done()) {
          need_read = true;
        }
      }
      const bool done = rp.is_done();
      if (produced > 0 || done || !head_sent) {
        std::array<asio::const_buffer, 5> bufs;
        std::size_t nb = 0;
        char chunk_head[20];
        if (!head_sent) bufs[nb++] = out_.buffer();
        if ((produced > 0 || done) && cx_on_ && cx_->fill) [[unlikely]]
          capture(relay_, produced, done);
        if (produced > 0) {
          if (chunk_out) bufs[nb++] = asio::buffer(chunk_head, format_chunk_header(chunk_head, produced));
          bufs[nb++] = asio::buffer(relay(), produced);
          if (chunk_out) bufs[nb++] = asio::buffer(kCrlf.data(), kCrlf.size());
        }
        if (done && chunk_out) bufs[nb++] = asio::buffer(kLastChunk.data(), kLastChunk.size());
        // Hold a lone head back until the first body bytes, to send both at once.
        // A lone head waits for body bytes already buffered, to go out together.
        if (produced > 0 || done || need_read) {
          if (!written(co_await write_client_last(bufs, done))) co_return false;
          head_sent = true;
        }
      }
      if (done) co_return conn.buffer.size() == 0;
      if (need_read) {
        conn.deadline.arm(cfg_->timeouts.upstream_response);
        const auto buf = conn.buffer.prepare(read_size(conn.buffer));
        beast::error_code ec;
        std::size_t n = 0;
        if (!read_target_now(conn, buf, ec, n)) std::tie(ec, n) = co_await upstream_read(conn, buf);
        drained = !conn.tls && !ec && n < buf.size();
        conn.deadline.disarm();
        if (ec == asio::error::eof && rp.need_eof()) {
          beast::error_code pec;
          rp.put_eof(pec);
          if (pec) co_return false;
          need_read = false;
          continue;
        }
        if (ec) co_return false;
        conn.buffer.commit(n);
        need_read = false;
      }
    }
  }

  // ------------------------------------------------------- release_upstream
  void release_upstream(upstream::UpstreamConn& conn, bool reusable,
                        const config::TargetGroupConfig& tg, std::size_t slot) {
    ++conn.requests;
    const auto& ka = tg.upstream_keepalive;
    if (reusable && !w_.draining() && ka.max_idle_per_target > 0 &&
        (ka.max_requests == 0 || conn.requests < ka.max_requests) && conn.target &&
        conn.target->poolable()) {
      // The pool owns it from here; find our shared_ptr through the pool API.
      w_.pool().checkin(slot, current_conn_, ka);
    } else {
      close_upstream(conn);
    }
    current_conn_.reset();
  }

  void close_upstream(upstream::UpstreamConn& conn) {
    beast::error_code ec;
    conn.deadline.disarm();
    conn.socket.close(ec);
    if (current_conn_.get() == &conn) current_conn_.reset();
  }

  // ------------------------------------------------------------ client I/O
  // Not a coroutine: `co_await write_client(b)` awaits the write itself, no
  // extra frame. The buffers must outlive the await (they live in the caller).
  template <class Buffers>
  Task<std::tuple<beast::error_code, std::size_t>> write_client(const Buffers& bufs) {
    deadline_.arm(cfg_->timeouts.idle);
    return client_write(bufs);
  }
  /// A response's last bytes. When the connection closes after them and the
  /// client has nothing more to send, the TLS close_notify goes out with them,
  /// in the same send, and close_client has no shutdown left to do.
  /// `last` false: as write_client.
  template <class Buffers>
  Task<std::tuple<beast::error_code, std::size_t>> write_client_last(const Buffers& bufs,
                                                                     bool last = true) {
    if (last && tls_ && !keep_alive_ && !close_after_ && request_body_done_)
      tls_->shutdown_after(asio::buffer_size(bufs));
    return write_client(bufs);
  }
  /// Reads and writes on the client connection: through TLS on HTTPS listeners.
  /// Not coroutines: the caller awaits the operation itself.
  Task<std::tuple<beast::error_code, std::size_t>> client_read(asio::mutable_buffer b) {
    if (tls_) return tls_->async_read_some(b, kUseTuple);
    return sock_.async_read_some(b, kUseTuple);
  }
  template <class Buffers>
  Task<std::tuple<beast::error_code, std::size_t>> client_write(const Buffers& bufs) {
    if (tls_) return asio::async_write(*tls_, bufs, kUseTuple);
    return asio::async_write(sock_, bufs, kUseTuple);
  }
  /// How much to ask for when `want` bytes of a body remain: one byte more
  /// where the relay buffer has room, so that a read that gets all of them
  /// also tells whether the socket is now empty.
  std::size_t ask_size(std::size_t want) const { return want < relay_cap_ ? want + 1 : want; }
  /// What a plain target connection has now, read without waiting
  /// (`core::read_now`); false over TLS or when nothing is there.
  static bool read_target_now(upstream::UpstreamConn& c, asio::mutable_buffer b,
                              beast::error_code& ec, std::size_t& n) {
    return !c.tls && core::read_now(c.socket, b, ec, n);
  }
  /// Reads and writes on an upstream connection: through TLS for HTTPS groups.
  /// On plain connections the session first reads what is there without
  /// waiting (`core::read_now`), and awaits these only when nothing is.
  static Task<std::tuple<beast::error_code, std::size_t>> upstream_read(upstream::UpstreamConn& c,
                                                                       asio::mutable_buffer b) {
    if (c.tls) return c.tls->async_read_some(b, kUseTuple);
    return c.socket.async_read_some(b, kUseTuple);
  }
  template <class Buffers>
  static Task<std::tuple<beast::error_code, std::size_t>> upstream_write(upstream::UpstreamConn& c,
                                                                        const Buffers& bufs) {
    if (c.tls) return asio::async_write(*c.tls, bufs, kUseTuple);
    return asio::async_write(c.socket, bufs, kUseTuple);
  }

  bool written(const std::tuple<beast::error_code, std::size_t>& r) {
    const auto& [ec, n] = r;
    deadline_.disarm();
    ctx_.sent_bytes += n;
    w_.shard().bytes_sent.inc(n);
    if (ec) {
      deadline_.reset_fired();
      keep_alive_ = false;
      return false;
    }
    return true;
  }

  /// Graceful close. When the client may still be sending (close_after_: an
  /// error answer, a desync close, a wss tunnel), FIN first, then a short
  /// bounded read so that unread request bytes do not turn our close into a
  /// reset that destroys the response still in flight to the client. Otherwise
  /// (the client asked to close, or the connection was idle) nothing is left
  /// to read and close() alone sends the FIN, as nginx does.
  Task<void> close_client() {
    beast::error_code ec;
    if (tls_ && handshake_done_ && !tls_->shutdown_sent()) {
      // close_notify, without waiting for the client's (as nginx does).
      SSL_set_shutdown(tls_->native_handle(), SSL_RECEIVED_SHUTDOWN);
      deadline_.arm(std::chrono::seconds(2));
      auto [sec] = co_await tls_->async_shutdown(kUseTuple);
      (void)sec;
      deadline_.disarm();
      deadline_.reset_fired();
    }
    if (close_after_) {
      sock_.shutdown(asio::socket_base::shutdown_send, ec);
      deadline_.arm(std::chrono::seconds(2));
      for (std::size_t drained = 0; !ec && drained < 1024 * 1024;) {
        auto [rec, n] = co_await sock_.async_read_some(asio::buffer(relay(), relay_cap_),
                                                       kUseTuple);
        ec = rec;
        drained += n;
      }
      deadline_.disarm();
    }
    sock_.close(ec);
  }

  // -------------------------------------------------------- finish_request
  void finish_request() {
    if (!request_active_ && ctx_.status == 0) return;
    ctx_.end = SteadyClock::now();
    if (ctx_.status != 0)
      w_.shard().listeners[listener_->index].processing_time.observe(ctx_.end - ctx_.start);
    if (auto* hooks = snap_->hooks.get()) hooks->on_log(ctx_);
    if (auto* log = snap_->access_log) log_access(log->ring(w_.index()));
    request_active_ = false;
    w_.relay_buffers().release(relay_);
    relay_ = nullptr;
  }

  /// For the status page: errors only, never on a request's fast path.
  void record_recent_error(EdgeError e) {
    std::string_view method, path;
    if (req_ && req_->is_header_done()) {
      const auto& m = req_->get();
      method = as_view(m.method_string());
      path = as_view(m.target());
      path = path.substr(0, path.find('?'));  // the query may carry secrets
    }
    const upstream::Target* t = ctx_.target ? ctx_.target : ctx_.failed_target;
    w_.shard().recent_errors.record(e, listener_->index, t ? std::string_view(t->id) : "", method,
                                    path);
  }

  /// Fills this request's access-log record in place in the worker's ring
  /// (dropped and counted when the ring is full: the worker never waits).
  void log_access(log::AccessLogRing& ring) {
    log::AccessRecord* rec = ring.try_claim();
    if (!rec) {
      w_.shard().access_log_dropped.inc();
      return;
    }
    log::RequestLine line;
    if (req_ && req_->is_header_done()) {
      const auto& m = req_->get();
      auto value = [&m](field f) {
        auto it = m.find(f);
        return it == m.end() ? std::string_view() : as_view(it->value());
      };
      line.method = as_view(m.method_string());
      line.target = as_view(m.target());
      line.host = value(field::host);
      line.user_agent = value(field::user_agent);
      line.version = m.version();
    }
    if (tls_ && handshake_done_) {
      SSL* ssl = tls_->native_handle();
      line.https = true;
      line.ssl_cipher = SSL_get_cipher_name(ssl);
      line.ssl_protocol = SSL_get_version(ssl);
      if (const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) line.domain_name = sni;
    }
    log::fill_record(*rec, ctx_, line, listener_->index, listener_->port,
                     std::chrono::system_clock::now());
    ring.publish();
  }

  server::Worker& w_;
  std::shared_ptr<const server::Snapshot> snap_;  // the current request's (see use_current_snapshot)
  const server::ListenerRuntime* listener_;        // in snap_
  const config::Config* cfg_;                      // snap_->config
  std::string key_;                                // listener identity across reloads
  Socket sock_;
  bool head_drained_ = false;  // read_response_head's last read emptied the target's socket
  std::shared_ptr<tls::ServerContext> tls_ctx_;  // kept for the connection's life (reloads)
  std::unique_ptr<TlsStream> tls_;                // HTTPS listeners: wraps sock_
  bool handshake_done_ = false;
  std::string tls_headers_;  // x-amzn-tls-* / X-Amzn-Mtls-Clientcert-* lines, set at handshake
  Deadline deadline_;
  beast::flat_buffer in_;
  char* relay_ = nullptr;  // from the worker's pool while a body is relayed
  std::size_t relay_cap_ = 0;
  HeadBuffer out_;
  std::string body_;
  std::string client_ip_;  // for X-Forwarded-For
  http::HeadStore req_store_;
  http::HeadStore res_store_;
  std::optional<RequestParser> req_;
  std::optional<ResponseParser> res_;
  ParserHead head_;
  RequestCtx ctx_;
  std::string_view raw_head_;
  upstream::UpstreamConnPtr current_conn_;
  int matched_priority_ = 0;
  RequestView view_;
  UpgradeRequest upgrade_;  // allowed upgrade asked by the current request
  std::string sticky_cookies_;  // Set-Cookie lines of a new sticky group choice
  std::unique_ptr<CacheExchange> cx_;  // created on the first cached request
  bool cx_on_ = false;                 // this request goes through the cache

  // per request
  bool keep_alive_ = false;
  bool close_after_ = false;
  bool request_body_done_ = true;
  bool req_chunked_ = false;
  bool expect_continue_ = false;
  bool body_streamed_ = false;
  bool request_active_ = false;
  std::uint64_t req_length_ = 0;
  std::size_t body_in_buffer_ = 0;
  std::size_t chunk_pending_ = 0;
  std::uint64_t request_body_sent_ = 0;

  // per connection
  bool idle_wait_ = false;
  bool closing_ = false;

  friend void close_session(Session* s, bool force);
  friend std::string_view session_listener(const Session* s);
};

void close_session(Session* s, bool force) { s->close(force); }

std::string_view session_listener(const Session* s) { return s->key_; }

void start_session(server::Worker& worker, const std::shared_ptr<const server::Snapshot>& snapshot,
                   std::size_t listener, Socket socket, const asio::ip::tcp::endpoint& peer) {
  auto session = std::make_unique<Session>(worker, snapshot, listener, std::move(socket), peer);
  asio::co_spawn(worker.executor(), Session::run(std::move(session)), [](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        std::fprintf(stderr, "edged: session ended by exception: %s\n", ex.what());
      }
    }
  });
}

}  // namespace edge::proxy
