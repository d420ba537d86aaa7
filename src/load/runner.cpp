#include "edge/load/runner.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "edge/core/types.hpp"
#include "edge/load/rate_schedule.hpp"
#include "edge/load/response_parser.hpp"
#include "edge/tls/stream.hpp"

namespace edge::load {
namespace {

namespace ssl = asio::ssl;
using error_code = boost::system::error_code;
using TlsStream = tls::Stream;

constexpr std::size_t kReadBufferSize = 16 * 1024;
constexpr std::int64_t kTickNs = 50'000'000;            // deadline sweep
constexpr std::int64_t kPublishNs = 1'000'000'000;      // progress snapshot
constexpr std::int64_t kConnectBackoffNs = 10'000'000;  // after a failed connect
constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::chrono::steady_clock::time_point to_time_point(std::int64_t ns) {
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(ns));
}

/// A target as the threads use it: resolved, with its request bytes prebuilt.
/// Read-only once the run starts.
struct TargetRuntime {
  std::string name;
  bool tls = false;
  std::string sni;  // host name for SNI and verification ("" for IP literals)
  asio::ip::tcp::endpoint endpoint;
  std::string request;  // the whole request, head and body
  bool head_request = false;
};

std::string build_request(const LoadOptions& o, const Url& url) {
  std::string r;
  r.reserve(256 + o.body.size());
  r.append(o.method).append(" ").append(url.target).append(" HTTP/1.1\r\n");
  bool have_host = false;
  bool have_agent = false;
  for (const auto& [name, value] : o.headers) {
    if (strcasecmp(name.c_str(), "host") == 0) have_host = true;
    if (strcasecmp(name.c_str(), "user-agent") == 0) have_agent = true;
  }
  if (!have_host) r.append("Host: ").append(url.authority()).append("\r\n");
  if (!have_agent) r.append("User-Agent: edgeload/" EDGE_VERSION "\r\n");
  for (const auto& [name, value] : o.headers) {
    r.append(name).append(": ").append(value).append("\r\n");
  }
  if (!o.keep_alive) r.append("Connection: close\r\n");
  const bool body_method = o.method == "POST" || o.method == "PUT" || o.method == "PATCH";
  if (!o.body.empty() || body_method) {
    r.append("Content-Length: ").append(std::to_string(o.body.size())).append("\r\n");
  }
  r.append("\r\n").append(o.body);
  return r;
}

struct Shared;
struct Thread;

struct SessionFree {
  void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
};
using SessionPtr = std::unique_ptr<SSL_SESSION, SessionFree>;

/// Index of the SSL ex_data slot that points from an SSL to its Conn (Asio keeps
/// the SSL's app data for its verify callback).
int conn_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

/// One client connection and the loop that drives it. Thread: its Thread's only.
struct Conn {
  Conn(Thread& t, std::size_t target_index, Executor ex, std::string_view target_header)
      : thread(&t), target(target_index), timer(ex), parser(target_header) {}

  Thread* thread;
  std::size_t target;  // index into Shared::targets and Thread::lanes
  std::optional<Socket> socket;  // plain, or under `tls` (which refers to it)
  std::optional<TlsStream> tls;
  Timer timer;  // slot waits and connect backoff
  ResponseParser parser;
  std::unique_ptr<char[]> buf = std::make_unique<char[]>(kReadBufferSize);
  std::size_t begin = 0;  // unparsed bytes are buf[begin, end)
  std::size_t end = 0;
  std::uint64_t served = 0;   // responses on the current connection
  std::int64_t deadline = 0;  // 0 = none; else the sweep closes the socket after it
  SessionPtr session;         // --tls-resume: the newest session the server gave
  bool timed_out = false;
  std::size_t target_stats = 0;  // index into Stats::targets (group mode)

  bool connected() const { return socket.has_value(); }
  void close() {
    error_code ignored;
    tls.reset();
    if (socket) {
      socket->close(ignored);
      socket.reset();
    }
    begin = end = 0;
    served = 0;
  }
  /// Closes a connection whose last response is complete. OpenSSL marks the
  /// session of an SSL freed without a shutdown as not resumable; this one ended
  /// cleanly, so it is flagged as shut down (no close_notify is sent, as most
  /// clients do not wait for one) and its session stays usable.
  void finish() {
    if (tls) SSL_set_shutdown(tls->native_handle(), SSL_SENT_SHUTDOWN);
    close();
  }
  /// Closes the socket under a pending operation (timeout, end of run); the
  /// coroutine sees operation_aborted and cleans up.
  void abort() {
    error_code ignored;
    if (socket) socket->close(ignored);
    timer.cancel();
  }
};

/// Read-only during the run.
struct Shared {
  LoadOptions options;
  std::vector<TargetRuntime> targets;
  mutable std::optional<ssl::context> tls_context;  // Asio wants it non-const
  std::int64_t t0 = 0;
  std::int64_t measure_start = 0;
  std::int64_t end = kNever;
  std::atomic<bool> stop{false};
};

/// One event loop with its connections and counters. Thread: its own, except the
/// `live_*` atomics and `snapshot` (under `snapshot_mutex`), read by the main thread.
struct Thread {
  Thread(const Shared& s, std::uint32_t index, std::uint32_t count) : shared(&s), ioc(1) {
    const std::size_t n = s.targets.size();
    for (std::size_t i = 0; i < n; ++i) {
      // Lanes are numbered target-major so each target's lanes spread its rate.
      lanes.emplace_back(s.options.open_loop() ? s.options.rate / static_cast<double>(n) : 1.0,
                         s.t0, index, count);
    }
  }

  const Shared* shared;
  asio::io_context ioc;
  std::vector<RateSchedule> lanes;  // one per target (open loop)
  std::vector<std::unique_ptr<Conn>> conns;
  Stats stats;
  std::uint64_t budget = 0;  // closed loop with --requests: measured requests left
  bool limited = false;      // budget applies
  bool per_target = false;   // several targets: Stats::targets[i] is target i
  bool ending = false;       // the run is over: abandon what is in flight
  int active = 0;            // running connection loops
  std::int64_t last_done = 0;

  std::atomic<std::uint64_t> live_responses{0};
  std::atomic<std::uint64_t> live_failures{0};
  std::atomic<std::uint64_t> live_behind{0};  // open loop: slots due and not yet sent
  std::mutex snapshot_mutex;
  Histogram snapshot;

  void bump(std::atomic<std::uint64_t>& a) {
    // Single writer: no locked read-modify-write needed.
    a.store(a.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void publish() {
    std::lock_guard lock(snapshot_mutex);
    snapshot = stats.latency;
  }
  void end_run() {
    ending = true;
    for (auto& c : conns) c->abort();
  }
};

/// OpenSSL's new-session callback (client side): a TLS 1.2 session after its
/// handshake, or each TLS 1.3 ticket as it arrives after the handshake. The
/// connection keeps the newest for its next handshake. Returns 1: the session
/// is ours.
int on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* c = static_cast<Conn*>(SSL_get_ex_data(ssl, conn_index()));
  if (c == nullptr) return 0;
  c->session.reset(session);
  return 1;
}

void record_error(Conn& c, ErrorKind kind, bool measured) {
  Thread& t = *c.thread;
  if (t.ending || !measured) return;
  t.stats.errors[static_cast<std::size_t>(kind)]++;
  if (t.per_target) t.stats.targets[c.target_stats].errors++;
  t.bump(t.live_failures);
}

/// Connects (and handshakes) `c` to its target. False on failure (error recorded).
Task<bool> connect(Conn& c, bool measured) {
  Thread& t = *c.thread;
  const TargetRuntime& target = t.shared->targets[c.target];
  c.close();
  // The socket lives in the Conn from the start so that the sweep can abort a
  // connect that exceeds the deadline.
  c.socket.emplace(t.ioc.get_executor());
  auto [ec] = co_await c.socket->async_connect(target.endpoint, kUseTuple);
  if (ec) {
    record_error(c, c.timed_out ? ErrorKind::timeout : ErrorKind::connect, measured);
    c.close();
    co_return false;
  }
  c.socket->set_option(asio::ip::tcp::no_delay(true), ec);
  t.stats.connects++;
  if (!target.tls) co_return true;
  c.tls.emplace(*c.socket, t.shared->tls_context->native_handle());
  SSL* ssl = c.tls->native_handle();
  if (t.shared->options.tls_resume) {
    SSL_set_ex_data(ssl, conn_index(), &c);
    // A session the server does not take back just means a full handshake.
    if (c.session) SSL_set_session(ssl, c.session.get());
  }
  if (!target.sni.empty()) {
    // SSL_set_tlsext_host_name without its C cast.
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(target.sni.c_str()));
    // The certificate must name the host (the context verifies the chain).
    if (t.shared->options.verify_tls) SSL_set1_host(ssl, target.sni.c_str());
  }
  auto [hec] = co_await c.tls->async_handshake(ssl::stream_base::client, kUseTuple);
  if (hec) {
    record_error(c, c.timed_out ? ErrorKind::timeout : ErrorKind::tls, measured);
    c.session.reset();  // do not offer it again
    c.close();
    co_return false;
  }
  if (SSL_session_reused(ssl) == 1) {
    t.stats.handshakes_resumed++;
  } else {
    t.stats.handshakes_full++;
  }
  co_return true;
}

template <class Stream>
Task<std::pair<error_code, std::size_t>> read_some(Stream& s, char* data, std::size_t size) {
  auto [ec, n] = co_await s.async_read_some(asio::buffer(data, size), kUseTuple);
  co_return std::pair{ec, n};
}

/// Sends the request and reads the response on the open connection. Returns the
/// error kind, or nullopt on success.
template <class Stream>
Task<std::optional<ErrorKind>> exchange(Conn& c, Stream& s, const TargetRuntime& target) {
  Thread& t = *c.thread;
  const bool reused = c.served > 0;
  {
    auto [ec, n] = co_await asio::async_write(
        s, asio::buffer(target.request.data(), target.request.size()), kUseTuple);
    (void)n;
    if (ec)
      co_return c.timed_out ? ErrorKind::timeout : (reused ? ErrorKind::closed : ErrorKind::write);
  }
  c.parser.reset(target.head_request);
  std::uint64_t got = 0;
  for (;;) {
    if (c.end > c.begin) {
      const auto r = c.parser.parse(c.buf.get() + c.begin, c.end - c.begin);
      c.begin += c.parser.consumed();
      if (r == ResponseParser::Result::done) break;
      if (r == ResponseParser::Result::error) co_return ErrorKind::parse;
      if (c.begin == c.end) {
        c.begin = c.end = 0;
      } else if (kReadBufferSize - c.end < 4096) {
        std::memmove(c.buf.get(), c.buf.get() + c.begin, c.end - c.begin);
        c.end -= c.begin;
        c.begin = 0;
        if (c.end == kReadBufferSize) co_return ErrorKind::parse;  // head too large
      }
    } else {
      c.begin = c.end = 0;
    }
    auto [ec, n] = co_await read_some(s, c.buf.get() + c.end, kReadBufferSize - c.end);
    if (ec) {
      if (c.timed_out) co_return ErrorKind::timeout;
      const bool eof = ec == asio::error::eof || ec == ssl::error::stream_truncated;
      if (eof && c.parser.finish_on_eof() == ResponseParser::Result::done) {
        c.finish();
        break;
      }
      co_return (reused && got == 0) ? ErrorKind::closed : ErrorKind::read;
    }
    got += n;
    c.end += n;
    t.stats.bytes_read += n;
  }
  co_return std::nullopt;
}

Task<void> conn_loop(Conn* cp) {
  Conn& c = *cp;
  Thread& t = *c.thread;
  const Shared& sh = *t.shared;
  const LoadOptions& o = sh.options;
  const TargetRuntime& target = sh.targets[c.target];
  RateSchedule& lane = t.lanes[c.target];
  const bool open = o.open_loop();
  const std::int64_t timeout_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(o.timeout).count();

  for (;;) {
    if (t.ending) break;
    std::int64_t intended = 0;
    bool measured = false;
    if (open) {
      if (lane.next() >= sh.end) break;
      intended = lane.take();
      measured = intended >= sh.measure_start;
      if (intended > now_ns()) {
        c.timer.expires_at(to_time_point(intended));
        auto [ec] = co_await c.timer.async_wait(kUseTuple);
        if (t.ending) break;
        (void)ec;
      }
    } else {
      const std::int64_t now = now_ns();
      if (now >= sh.end) break;
      measured = now >= sh.measure_start;
      if (measured && t.limited) {
        if (t.budget == 0) break;
        --t.budget;
      }
    }

    const std::int64_t start = now_ns();
    if (!open) intended = start;
    if (measured) t.stats.sent++;
    c.deadline = start + timeout_ns;
    c.timed_out = false;

    if (!c.connected() || !o.keep_alive) {
      if (!co_await connect(c, measured)) {
        c.deadline = 0;
        c.close();
        if (t.ending) break;
        if (!open) {
          // Do not spin on a refused target.
          c.timer.expires_after(std::chrono::nanoseconds(kConnectBackoffNs));
          co_await c.timer.async_wait(kUseTuple);
        }
        continue;
      }
    }

    std::optional<ErrorKind> failure;
    if (c.tls) {
      failure = co_await exchange(c, *c.tls, target);
    } else {
      failure = co_await exchange(c, *c.socket, target);
    }
    c.deadline = 0;
    if (t.ending) break;
    if (failure) {
      record_error(c, *failure, measured);
      c.close();
      continue;
    }

    const std::int64_t done = now_ns();
    c.served++;
    if (!c.parser.keep_alive() || !o.keep_alive) c.finish();
    t.bump(t.live_responses);
    if (!measured) continue;
    const auto latency = static_cast<std::uint64_t>(std::max<std::int64_t>(done - intended, 0));
    Stats& st = t.stats;
    st.latency.record(latency);
    st.service_time.record(static_cast<std::uint64_t>(std::max<std::int64_t>(done - start, 0)));
    const int status = c.parser.status();
    st.status[(status >= 100 && status < 600) ? static_cast<std::size_t>(status) : 0]++;
    st.requests++;
    t.last_done = std::max(t.last_done, done);
    if (status >= 400) t.bump(t.live_failures);
    if (!st.targets.empty() || !o.target_header.empty()) {
      std::size_t index = c.target_stats;
      if (!o.target_header.empty()) {
        const std::string_view name = c.parser.target();
        index = st.target_index(name.empty() ? std::string_view("(none)") : name);
      }
      TargetStats& ts = st.targets[index];
      ts.requests++;
      ts.status_classes[(status >= 100 && status < 600) ? static_cast<std::size_t>(status / 100)
                                                        : 0]++;
      ts.latency.record(latency);
    }
  }
  c.close();
  --t.active;
}

/// Sweeps deadlines, ends a closed-loop run on time, publishes progress snapshots;
/// returns once every connection loop has finished.
Task<void> ticker(Thread* tp) {
  Thread& t = *tp;
  const Shared& sh = *t.shared;
  Timer timer(t.ioc.get_executor());
  std::int64_t next_publish = now_ns() + kPublishNs;
  while (t.active > 0) {
    std::int64_t now = now_ns();
    std::int64_t wake = now + kTickNs;
    if (!sh.options.open_loop() && !t.ending) wake = std::min(wake, sh.end);
    timer.expires_at(to_time_point(wake));
    co_await timer.async_wait(kUseTuple);
    now = now_ns();
    if (!t.ending &&
        (sh.stop.load(std::memory_order_relaxed) || (!sh.options.open_loop() && now >= sh.end))) {
      t.end_run();
    }
    for (auto& c : t.conns) {
      if (c->deadline != 0 && now > c->deadline) {
        c->timed_out = true;
        c->deadline = 0;
        c->abort();
      }
    }
    if (sh.options.open_loop()) {
      std::uint64_t behind = 0;
      for (const auto& lane : t.lanes) behind += lane.due(std::min(now, sh.end - 1));
      t.live_behind.store(behind, std::memory_order_relaxed);
    }
    if (now >= next_publish) {
      t.publish();
      next_publish = now + kPublishNs;
    }
  }
  t.publish();
}

void on_spawn_done(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "edgeload: internal error: %s\n", ex.what());
  }
}

}  // namespace

struct LoadRunner::Impl {
  Shared shared;
  std::vector<LoadTarget> targets;
};

LoadRunner::LoadRunner(LoadOptions options, std::vector<LoadTarget> targets)
    : impl_(std::make_unique<Impl>()) {
  impl_->shared.options = std::move(options);
  impl_->targets = std::move(targets);
}

LoadRunner::~LoadRunner() = default;

void LoadRunner::stop() { impl_->shared.stop.store(true); }

LoadResult LoadRunner::run(const std::function<void(const Progress&)>& on_progress) {
  Shared& sh = impl_->shared;
  const LoadOptions& o = sh.options;
  LoadResult result;
  result.options = o;
  result.targets = impl_->targets;
  if (impl_->targets.empty()) {
    result.error = "no target";
    return result;
  }

  // ---- resolve and prepare (blocking, before any load) ----
  {
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    for (const auto& t : impl_->targets) {
      TargetRuntime rt;
      rt.name = t.name;
      rt.tls = t.url.tls;
      error_code ec;
      (void)asio::ip::make_address(t.url.host, ec);
      if (ec) rt.sni = t.url.host;  // a name, not an IP literal
      const auto found = resolver.resolve(t.url.host, std::to_string(t.url.port), ec);
      if (ec || found.empty()) {
        result.error = "cannot resolve " + t.url.host + ": " + ec.message();
        return result;
      }
      // A name may resolve to several addresses (localhost: ::1 and 127.0.0.1):
      // take the first that accepts a connection, else the first one.
      rt.endpoint = found.begin()->endpoint();
      for (const auto& entry : found) {
        if (found.size() == 1) break;
        asio::ip::tcp::socket probe(ioc);
        error_code connect_ec;
        probe.connect(entry.endpoint(), connect_ec);
        if (!connect_ec) {
          rt.endpoint = entry.endpoint();
          break;
        }
      }
      rt.request = build_request(o, t.url);
      rt.head_request = o.method == "HEAD";
      sh.targets.push_back(std::move(rt));
    }
  }
  const bool any_tls = std::any_of(sh.targets.begin(), sh.targets.end(),
                                   [](const TargetRuntime& t) { return t.tls; });
  if (any_tls) {
    sh.tls_context.emplace(ssl::context::tls_client);
    if (o.verify_tls) {
      sh.tls_context->set_default_verify_paths();
      sh.tls_context->set_verify_mode(ssl::verify_peer);
    } else {
      sh.tls_context->set_verify_mode(ssl::verify_none);
    }
    SSL_CTX* ctx = sh.tls_context->native_handle();
    if (o.tls_max == "1.2") SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
    if (!o.tls_tickets) SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    if (o.tls_resume) {
      // Sessions live in their connections, not in the context's cache.
      SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
      SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    }
  }

  // ---- threads and connections ----
  const std::size_t n_targets = sh.targets.size();
  int threads = o.threads > 0 ? o.threads
                              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::min(threads, o.connections);
  threads = std::max(threads, 1);
  // Every thread drives every target with at least one connection.
  const int connections = std::max(o.connections, threads * static_cast<int>(n_targets));
  result.threads = threads;
  result.connections = connections;

  sh.t0 = now_ns() + 20'000'000;  // leave the threads time to start
  sh.measure_start = sh.t0 + std::chrono::duration_cast<std::chrono::nanoseconds>(o.warmup).count();
  sh.end = o.duration.count() > 0
               ? sh.measure_start +
                     std::chrono::duration_cast<std::chrono::nanoseconds>(o.duration).count()
               : kNever;

  std::vector<std::unique_ptr<Thread>> ts;
  for (int i = 0; i < threads; ++i) {
    // Lane index: thread-major within each target's rate share.
    ts.push_back(std::make_unique<Thread>(sh, static_cast<std::uint32_t>(i),
                                          static_cast<std::uint32_t>(threads)));
    Thread& t = *ts.back();
    const int mine = connections / threads + (i < connections % threads ? 1 : 0);
    if (o.requests > 0) {
      t.limited = true;
      t.budget =
          o.requests / static_cast<std::uint64_t>(threads) +
          (static_cast<std::uint64_t>(i) < o.requests % static_cast<std::uint64_t>(threads) ? 1
                                                                                            : 0);
    }
    const bool per_target = n_targets > 1;
    t.per_target = per_target;
    if (per_target) {
      for (const auto& target : sh.targets) t.stats.target_index(target.name);
    }
    for (int k = 0; k < mine; ++k) {
      const std::size_t target = static_cast<std::size_t>(k) % n_targets;
      t.conns.push_back(std::make_unique<Conn>(t, target, t.ioc.get_executor(), o.target_header));
      t.conns.back()->target_stats = per_target ? target : 0;
    }
  }

  std::mutex done_mutex;
  std::condition_variable done_cv;
  int done = 0;
  std::vector<std::thread> workers;
  for (auto& tp : ts) {
    Thread* t = tp.get();
    workers.emplace_back([t, &done_mutex, &done_cv, &done] {
      // Wait for t0 so that all threads start together.
      std::this_thread::sleep_until(to_time_point(t->shared->t0));
      for (auto& c : t->conns) {
        ++t->active;
        asio::co_spawn(t->ioc, conn_loop(c.get()), on_spawn_done);
      }
      asio::co_spawn(t->ioc, ticker(t), on_spawn_done);
      t->ioc.run();
      std::lock_guard lock(done_mutex);
      ++done;
      done_cv.notify_all();
    });
  }

  // ---- progress, on this thread ----
  {
    std::unique_lock lock(done_mutex);
    // Read a little after the threads publish (each second from t0, 50 ms ticks).
    std::int64_t next = sh.t0 + kPublishNs + 2 * kTickNs;
    std::uint64_t last_responses = 0;
    std::int64_t last_time = sh.t0;
    while (done < threads) {
      done_cv.wait_until(lock, to_time_point(next), [&] { return done == threads; });
      if (done == threads) break;
      const std::int64_t now = now_ns();
      if (now < next) continue;
      next += kPublishNs;
      if (!on_progress) continue;
      Progress p;
      Histogram merged;
      for (auto& t : ts) {
        p.responses += t->live_responses.load(std::memory_order_relaxed);
        p.failures += t->live_failures.load(std::memory_order_relaxed);
        p.behind += t->live_behind.load(std::memory_order_relaxed);
        std::lock_guard snap(t->snapshot_mutex);
        merged.merge(t->snapshot);
      }
      p.elapsed_s = static_cast<double>(now - sh.t0) / 1e9;
      p.warming_up = now < sh.measure_start;
      const double dt = static_cast<double>(now - last_time) / 1e9;
      p.rate = dt > 0 ? static_cast<double>(p.responses - last_responses) / dt : 0;
      p.p99_ns = merged.percentile(99);
      last_responses = p.responses;
      last_time = now;
      lock.unlock();
      on_progress(p);
      lock.lock();
    }
  }
  for (auto& w : workers) w.join();

  const std::int64_t finished = now_ns();
  std::int64_t last_done = 0;
  for (auto& t : ts) {
    if (result.stats.targets.empty() && !t->stats.targets.empty()) {
      for (const auto& target : t->stats.targets) result.stats.target_index(target.name);
    }
    result.stats.merge(t->stats);
    last_done = std::max(last_done, t->last_done);
  }
  result.stopped = sh.stop.load();
  auto seconds_from_start = [&sh](std::int64_t t) {
    return std::max<double>(0, static_cast<double>(t - sh.measure_start) / 1e9);
  };
  if (result.stopped) {
    result.measured_s = seconds_from_start(std::min(finished, sh.end));
  } else if (o.requests > 0 && (sh.end == kNever || last_done < sh.end)) {
    result.measured_s = seconds_from_start(last_done);  // the budget ran out first
  } else {
    result.measured_s = static_cast<double>(o.duration.count()) / 1e3;
  }
  return result;
}

}  // namespace edge::load
