#include "edge/origin/origin_server.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <future>
#include <mutex>
#include <random>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace edge::origin {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

namespace {

// ---- types ---------------------------------------------------------------------

using Executor = asio::io_context::executor_type;
template <class T = void>
using Task = asio::awaitable<T, Executor>;
using Socket = asio::basic_stream_socket<asio::ip::tcp, Executor>;
using Acceptor = asio::basic_socket_acceptor<asio::ip::tcp, Executor>;
using Timer = asio::basic_waitable_timer<std::chrono::steady_clock,
                                         asio::wait_traits<std::chrono::steady_clock>, Executor>;
using Parser = http::request_parser<http::buffer_body>;

/// Every await returns its error code in a tuple instead of throwing.
constexpr auto kUse = asio::as_tuple(asio::use_awaitable_t<Executor>{});

constexpr std::size_t kReadBufferReserve = 16 * 1024;
constexpr std::size_t kBodyBufferSize = 64 * 1024;
constexpr std::uint32_t kHeaderLimit = 256 * 1024;
/// Largest single write of a Content-Length body streamed without delays.
constexpr std::size_t kFastWriteSize = 256 * 1024;

// ---- generated body pattern ------------------------------------------------------

/// Byte i of every generated body is kPattern[i % kPatternPeriod]: printable, with a
/// newline per period so a body is readable in a terminal.
constexpr std::string_view kPattern =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-\n";
constexpr std::size_t kPatternPeriod = kPattern.size();
static_assert(kPatternPeriod == 64);

/// One immutable block holding the pattern repeated: any body slice of up to
/// kMaxChunkSize bytes (or kFastWriteSize) is a pointer into it, so bodies are never
/// copied or held whole. Built once, shared read-only by all threads.
const char* pattern_block() {
  static const std::string block = [] {
    std::string s;
    const std::size_t size =
        std::max(OriginOptions::kMaxChunkSize, kFastWriteSize) + kPatternPeriod;
    s.reserve(size);
    while (s.size() < size) s.append(kPattern);
    return s;
  }();
  return block.data();
}

// ---- small helpers ----------------------------------------------------------------

struct EvpDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

template <class T>
bool parse_uint(std::string_view text, T& out) {
  if (text.empty()) return false;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && ptr == text.data() + text.size();
}

void append_uint(std::string& out, std::uint64_t v, int base = 10) {
  std::array<char, 24> buf{};
  const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v, base);
  out.append(buf.data(), res.ptr);
}

std::string_view reason_phrase(int status) {
  const auto s = http::int_to_status(static_cast<unsigned>(status));
  if (s == http::status::unknown) return "Unknown";
  return http::obsolete_reason(s);
}

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_benign(const error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::operation_aborted ||
         ec == asio::error::connection_reset || ec == asio::error::bad_descriptor ||
         ec == asio::error::broken_pipe || ec == http::error::end_of_stream ||
         ec == http::error::partial_message;
}

/// A malformed request (as opposed to a closed or failed socket).
bool is_parse_error(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category() &&
         !is_benign(ec) && ec != http::error::need_buffer;
}

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// ---- per-connection state ------------------------------------------------------------

/// Everything a session needs that outlives one await, kept on the heap so the
/// coroutine frames stay small (asio recycles frames only up to ~1 KiB).
/// Thread: the owning worker's thread only.
struct Connection {
  Connection(Socket s, std::uint64_t conn_id)
      : socket(std::move(s)), timer(socket.get_executor()), id(conn_id) {
    buffer.reserve(kReadBufferReserve);
  }

  Socket socket;
  Timer timer;                          // delays and slow streaming; cancelled by stop()
  beast::flat_buffer buffer;            // reused across keep-alive requests
  std::optional<Parser> parser;         // re-emplaced per request (Beast parsers are one-shot)
  std::unique_ptr<char[]> body_buffer;  // lazily allocated, kBodyBufferSize
  std::unique_ptr<EVP_MD_CTX, EvpDeleter> sha;  // lazily allocated for echo
  std::string head;                             // response head being written
  std::string body;                             // small response bodies (text, JSON)
  std::string extra;  // extra response header lines from `header=` query params
  std::vector<asio::const_buffer> buffers;  // gathered write, reused
  std::array<char, 24> chunk_header{};      // "<hex>\r\n" of the chunk being written
  std::uint64_t id;
  std::uint64_t requests = 0;

  Connection* prev = nullptr;  // Worker::connections list
  Connection* next = nullptr;

  char* body_buf() {
    if (!body_buffer) body_buffer = std::make_unique<char[]>(kBodyBufferSize);
    return body_buffer.get();
  }
};

/// One event loop and its thread. `connections` and `stopping` are touched only on
/// this worker's thread (stop() posts there).
struct Worker {
  explicit Worker(std::uint64_t seed) : ioc(1), guard(ioc.get_executor()), rng(seed) {}

  asio::io_context ioc;
  asio::executor_work_guard<Executor> guard;
  std::thread thread;
  Connection* connections = nullptr;
  bool stopping = false;
  std::mt19937_64 rng;

  void link(Connection* c) {
    c->next = connections;
    if (connections) connections->prev = c;
    connections = c;
  }
  void unlink(Connection* c) {
    if (c->prev)
      c->prev->next = c->next;
    else
      connections = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = nullptr;
  }
};

// ---- what to answer ---------------------------------------------------------------

enum class Action : std::uint8_t {
  generated,  // pattern body of `bytes`
  text,       // conn.body
  echo,       // JSON of the request
  reset,      // RST, no response
  garbage,    // invalid response, then close
  hang,       // never answer
};

enum class CloseMode : std::uint8_t { keep, announced, silent };

/// The decision for one request, made from its head. Small and trivially copyable.
struct Plan {
  Action action = Action::generated;
  int status = 200;
  std::uint64_t bytes = 0;
  bool chunked = false;
  bool faults = true;  // latency and error rate apply
  CloseMode close = CloseMode::keep;
  std::chrono::milliseconds delay{0};
};

}  // namespace

// ---- the server state ---------------------------------------------------------------

struct OriginServer::Impl {
  explicit Impl(OriginOptions o) : options(std::move(o)) {}

  void pause_for(std::chrono::milliseconds d) {
    paused_until.store(steady_ns() +
                       std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
  }

  OriginOptions options;
  std::string id;
  std::atomic<std::uint16_t> port{0};
  std::vector<std::unique_ptr<Worker>> workers;
  std::optional<Acceptor> acceptor;  // worker 0's thread once running
  std::size_t next_worker = 0;       // accept loop only

  std::mutex lifecycle_mutex;
  bool started = false;
  bool stopped = false;

  std::atomic<bool> healthy{true};
  /// steady_clock nanoseconds until which responses are held (pause_for, /pause/<ms>).
  std::atomic<std::int64_t> paused_until{0};
  std::atomic<std::uint64_t> total_requests{0};
  std::atomic<std::uint64_t> total_connections{0};
  std::atomic<std::uint64_t> open_connections{0};

  mutable std::mutex stats_mutex;  // by_path + log
  std::map<std::string, std::uint64_t, std::less<>> by_path;
  std::deque<RequestRecord> log;

  mutable std::mutex wait_mutex;
  mutable std::condition_variable wait_cv;
  mutable std::atomic<int> waiters{0};

  /// Wakes wait_for_*; takes the mutex only when someone waits. Sequentially
  /// consistent counter updates + `waiters` make a missed wake-up impossible.
  void notify() {
    if (waiters.load() > 0) {
      { std::lock_guard lock(wait_mutex); }
      wait_cv.notify_all();
    }
  }

  template <class Pred>
  bool wait_until(Pred pred, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(wait_mutex);
    waiters.fetch_add(1);
    const bool reached = wait_cv.wait_for(lock, timeout, pred);
    waiters.fetch_sub(1);
    return reached;
  }

  void record(const Parser::value_type& req, std::string_view path, const Connection& conn) {
    std::optional<RequestRecord> rec;
    if (options.request_log_capacity > 0) {
      rec.emplace();
      rec->method = std::string(req.method_string());
      rec->target = std::string(req.target());
      for (const auto& f : req) {
        rec->headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      }
      rec->connection_id = conn.id;
      rec->connection_request = conn.requests;
    }
    {
      std::lock_guard lock(stats_mutex);
      if (auto it = by_path.find(path); it != by_path.end()) {
        ++it->second;
      } else if (by_path.size() < kMaxPathKeys) {
        by_path.emplace(std::string(path), 1);
      }
      if (rec) {
        log.push_back(std::move(*rec));
        while (log.size() > options.request_log_capacity) log.pop_front();
      }
    }
    total_requests.fetch_add(1);
    notify();
  }
};

namespace {

using Impl = OriginServer::Impl;

// ---- response head ------------------------------------------------------------------

enum class Framing : std::uint8_t { none, length, chunked };

/// Builds the response head into conn.head. `keep_alive` is what the connection
/// will do afterwards; HTTP/1.0 clients get an explicit keep-alive.
void build_head(const Impl& impl, Connection& conn, int status, Framing framing,
                std::uint64_t length, std::string_view content_type, bool announce_close,
                bool http10_keep_alive) {
  std::string& h = conn.head;
  h.clear();
  h.append("HTTP/1.1 ");
  append_uint(h, static_cast<std::uint64_t>(status));
  h.push_back(' ');
  h.append(reason_phrase(status));
  h.append("\r\nServer: edge-origin\r\nX-Served-By: ");
  h.append(impl.id);
  h.append("\r\n");
  if (framing != Framing::none && !content_type.empty()) {
    h.append("Content-Type: ");
    h.append(content_type);
    h.append("\r\n");
  }
  if (framing == Framing::length) {
    h.append("Content-Length: ");
    append_uint(h, length);
    h.append("\r\n");
  } else if (framing == Framing::chunked) {
    h.append("Transfer-Encoding: chunked\r\n");
  }
  h.append(conn.extra);
  if (announce_close) {
    h.append("Connection: close\r\n");
  } else if (http10_keep_alive) {
    h.append("Connection: keep-alive\r\n");
  }
  h.append("\r\n");
}

bool status_has_body(int status) { return status != 204 && status != 304 && status >= 200; }

// ---- awaitable steps ------------------------------------------------------------------

/// Sleeps on the connection's timer; false when cancelled (stop) or stopping.
Task<bool> sleep_for(Worker& worker, Connection& conn, std::chrono::microseconds d) {
  if (worker.stopping) co_return false;
  if (d.count() <= 0) co_return true;
  conn.timer.expires_after(d);
  auto [ec] = co_await conn.timer.async_wait(kUse);
  co_return !ec && !worker.stopping;
}

/// Reads the rest of the request body in kBodyBufferSize pieces, hashing it when
/// `hash` is set. Memory stays bounded whatever the body size or framing.
Task<error_code> read_body(Connection& conn, bool hash, std::uint64_t& length) {
  Parser& p = *conn.parser;
  if (hash) {
    if (!conn.sha) conn.sha.reset(EVP_MD_CTX_new());
    EVP_DigestInit_ex(conn.sha.get(), EVP_sha256(), nullptr);
  }
  while (!p.is_done()) {
    char* buf = conn.body_buf();
    p.get().body().data = buf;
    p.get().body().size = kBodyBufferSize;
    auto [ec, n] = co_await http::async_read(conn.socket, conn.buffer, p, kUse);
    (void)n;
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return ec;
    const std::size_t got = kBodyBufferSize - p.get().body().size;
    length += got;
    if (hash && got > 0) EVP_DigestUpdate(conn.sha.get(), buf, got);
  }
  co_return error_code{};
}

std::string sha_hex(Connection& conn) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(conn.sha.get(), md.data(), &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xf]);
  }
  return out;
}

Task<bool> write_buffers(Connection& conn) {
  auto [ec, n] = co_await asio::async_write(conn.socket, conn.buffers, kUse);
  (void)n;
  co_return !ec;
}

/// Writes conn.head followed (unless `head_only`) by conn.body, in one gathered write.
Task<bool> write_text(Connection& conn, bool head_only, Framing framing) {
  static constexpr std::string_view kCrlf = "\r\n";
  static constexpr std::string_view kCrlfLast = "\r\n0\r\n\r\n";
  static constexpr std::string_view kLast = "0\r\n\r\n";
  conn.buffers.clear();
  conn.buffers.push_back(asio::buffer(conn.head));
  if (!head_only && framing == Framing::length) {
    conn.buffers.push_back(asio::buffer(conn.body));
  } else if (!head_only && framing == Framing::chunked) {
    if (conn.body.empty()) {
      conn.buffers.push_back(asio::buffer(kLast.data(), kLast.size()));
    } else {
      char* const end = std::to_chars(conn.chunk_header.data(), conn.chunk_header.data() + 20,
                                      conn.body.size(), 16)
                            .ptr;
      std::copy(kCrlf.begin(), kCrlf.end(), end);
      conn.buffers.push_back(asio::buffer(
          conn.chunk_header.data(), static_cast<std::size_t>(end - conn.chunk_header.data()) + 2));
      conn.buffers.push_back(asio::buffer(conn.body));
      conn.buffers.push_back(asio::buffer(kCrlfLast.data(), kCrlfLast.size()));
    }
  }
  co_return co_await write_buffers(conn);
}

/// Streams `total` generated bytes after conn.head. Small bodies go out with the head
/// in one gathered write; large ones in kFastWriteSize pieces, or in `chunk_size`
/// pieces with a pause between them when slow streaming is on.
Task<bool> write_generated(const Impl& impl, Worker& worker, Connection& conn, std::uint64_t total,
                           bool chunked) {
  static constexpr std::string_view kCrlf = "\r\n";
  static constexpr std::string_view kCrlfLast = "\r\n0\r\n\r\n";
  static constexpr std::string_view kLast = "0\r\n\r\n";
  const char* const block = pattern_block();
  const bool slow = impl.options.slow_chunk_delay.count() > 0;
  const std::uint64_t piece = (chunked || slow) ? impl.options.chunk_size : kFastWriteSize;
  std::uint64_t offset = 0;
  bool head_pending = true;
  do {
    const std::size_t n = static_cast<std::size_t>(std::min(piece, total - offset));
    const bool last = offset + n == total;
    conn.buffers.clear();
    if (head_pending) conn.buffers.push_back(asio::buffer(conn.head));
    if (chunked && n > 0) {
      char* const end =
          std::to_chars(conn.chunk_header.data(), conn.chunk_header.data() + 20, n, 16).ptr;
      std::copy(kCrlf.begin(), kCrlf.end(), end);
      conn.buffers.push_back(asio::buffer(
          conn.chunk_header.data(), static_cast<std::size_t>(end - conn.chunk_header.data()) + 2));
    }
    if (n > 0) conn.buffers.push_back(asio::buffer(block + offset % kPatternPeriod, n));
    if (chunked) {
      if (n == 0) {
        conn.buffers.push_back(asio::buffer(kLast.data(), kLast.size()));
      } else if (last) {
        conn.buffers.push_back(asio::buffer(kCrlfLast.data(), kCrlfLast.size()));
      } else {
        conn.buffers.push_back(asio::buffer(kCrlf.data(), kCrlf.size()));
      }
    }
    if (!co_await write_buffers(conn)) co_return false;
    head_pending = false;
    offset += n;
    if (!last && slow) {
      if (!co_await sleep_for(worker, conn, impl.options.slow_chunk_delay)) co_return false;
    }
  } while (offset < total);
  co_return true;
}

/// Sends FIN after the response and closes. Pending unread input may turn the
/// close into a reset, which is what a real server does too.
void close_gracefully(Connection& conn) {
  error_code ec;
  conn.socket.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  conn.socket.close(ec);
}

void close_with_reset(Connection& conn) {
  error_code ec;
  conn.socket.set_option(asio::socket_base::linger(true, 0), ec);
  conn.socket.close(ec);
}

// ---- routing ------------------------------------------------------------------------

/// "/prefix<number>" → number.
template <class T>
bool number_after(std::string_view path, std::string_view prefix, T& out) {
  return path.starts_with(prefix) && parse_uint(path.substr(prefix.size()), out);
}

void set_text(Connection& conn, Plan& plan, int status, std::string_view text) {
  plan.action = Action::text;
  plan.status = status;
  conn.body.assign(text);
}

/// Percent-decodes a query component ('+' stays '+'). False on a bad escape.
bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = hex(in[i + 1]);
    const int lo = hex(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

/// Applies `?status=&delay=&bytes=&chunked=&close=&header=`. False (and a 400 plan)
/// on a malformed value.
bool apply_query(Connection& conn, Plan& plan, std::string_view query) {
  std::string key;
  std::string value;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    if (!percent_decode(item.substr(0, eq), key) ||
        !percent_decode(eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1),
                        value)) {
      conn.extra.clear();
      set_text(conn, plan, 400, "bad query string\n");
      return false;
    }
    bool ok = true;
    if (key == "status") {
      int status = 0;
      ok = parse_uint(value, status) && status >= 200 && status <= 599;
      if (ok) {
        plan.status = status;
        if (plan.action == Action::text) conn.body = "status " + value + "\n";
      }
    } else if (key == "delay") {
      std::uint64_t ms = 0;
      ok = parse_uint(value, ms) && ms <= 86'400'000;
      if (ok) plan.delay = std::chrono::milliseconds(ms);
    } else if (key == "bytes") {
      ok = parse_uint(value, plan.bytes);
      if (ok && plan.action == Action::text) plan.action = Action::generated;
    } else if (key == "chunked") {
      ok = value == "0" || value == "1" || value.empty();
      plan.chunked = value != "0";
    } else if (key == "close") {
      ok = value == "1" || value == "silent" || value.empty();
      plan.close = value == "silent" ? CloseMode::silent : CloseMode::announced;
    } else if (key == "header") {
      const auto colon = value.find(':');
      ok = colon != std::string::npos && colon > 0;
      if (ok) {
        const std::string_view name = std::string_view(value).substr(0, colon);
        std::string_view v = std::string_view(value).substr(colon + 1);
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
        ok = std::all_of(name.begin(), name.end(), is_token_char) &&
             v.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
        if (ok) {
          conn.extra.append(name);
          conn.extra.append(": ");
          conn.extra.append(v);
          conn.extra.append("\r\n");
        }
      }
    }
    if (!ok) {
      conn.extra.clear();
      set_text(conn, plan, 400, "bad query parameter '" + key + "'\n");
      plan.close = CloseMode::keep;
      return false;
    }
  }
  return true;
}

/// Decides the answer from the request head (health first, then echo, then the
/// control paths, then the default body).
Plan make_plan(Impl& impl, Connection& conn, const Parser::value_type& req, std::string_view path,
               std::string_view query) {
  const OriginOptions& o = impl.options;
  Plan plan;
  plan.bytes = o.body_size;
  plan.chunked = o.chunked;
  conn.extra.clear();

  if (path == "/health") {
    plan.faults = false;
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      set_text(conn, plan, 405, "method not allowed\n");
    } else if (impl.healthy.load(std::memory_order_relaxed)) {
      set_text(conn, plan, 200, "ok\n");
    } else {
      set_text(conn, plan, 503, "unhealthy\n");
    }
    return plan;
  }
  if (path == "/health/fail" || path == "/health/ok") {
    plan.faults = false;
    if (req.method() != http::verb::post) {
      set_text(conn, plan, 405, "method not allowed\n");
    } else {
      const bool healthy = path == "/health/ok";
      impl.healthy.store(healthy);
      set_text(conn, plan, 200, healthy ? "ok\n" : "unhealthy\n");
    }
    return plan;
  }

  if (path == "/stats") {
    plan.faults = false;
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      set_text(conn, plan, 405, "method not allowed\n");
    } else {
      // Every request counts, this one included.
      set_text(conn, plan, 200,
               "{\"requests\":" + std::to_string(impl.total_requests.load()) + "}\n");
    }
    return plan;
  }

  std::uint64_t n = 0;
  if (path.starts_with("/pause/")) {
    plan.faults = false;
    if (req.method() != http::verb::post) {
      set_text(conn, plan, 405, "method not allowed\n");
    } else if (number_after(path, "/pause/", n) && n <= 3'600'000) {
      impl.pause_for(std::chrono::milliseconds(n));
      set_text(conn, plan, 200, "paused\n");
    } else {
      set_text(conn, plan, 400, "bad pause\n");
    }
    return plan;
  }
  if (o.echo || path.starts_with("/echo")) {
    plan.action = Action::echo;
    plan.chunked = false;
  } else if (path.starts_with("/delay/")) {
    if (number_after(path, "/delay/", n) && n <= 86'400'000) {
      plan.delay = std::chrono::milliseconds(n);
    } else {
      set_text(conn, plan, 400, "bad delay\n");
    }
  } else if (path.starts_with("/status/")) {
    int status = 0;
    if (number_after(path, "/status/", status) && status >= 200 && status <= 599) {
      set_text(conn, plan, status, "status " + std::to_string(status) + "\n");
    } else {
      set_text(conn, plan, 400, "bad status\n");
    }
  } else if (path.starts_with("/bytes/")) {
    if (number_after(path, "/bytes/", n)) {
      plan.bytes = n;
      plan.chunked = false;
    } else {
      set_text(conn, plan, 400, "bad byte count\n");
    }
  } else if (path.starts_with("/chunked/")) {
    if (number_after(path, "/chunked/", n)) {
      plan.bytes = n;
      plan.chunked = true;
    } else {
      set_text(conn, plan, 400, "bad byte count\n");
    }
  } else if (path == "/close") {
    plan.close = CloseMode::announced;
  } else if (path == "/reset") {
    plan.action = Action::reset;
  } else if (path == "/garbage") {
    plan.action = Action::garbage;
  } else if (path == "/hang") {
    plan.action = Action::hang;
  }
  if (plan.status == 400) {
    plan.faults = false;
    return plan;
  }
  if (!query.empty() && !apply_query(conn, plan, query)) plan.faults = false;
  return plan;
}

/// Latency and error-rate injection (worker RNG, worker thread only).
void apply_faults(const Impl& impl, Worker& worker, Connection& conn, Plan& plan,
                  std::chrono::microseconds& delay) {
  const OriginOptions& o = impl.options;
  const std::int64_t held = impl.paused_until.load(std::memory_order_relaxed) - steady_ns();
  if (held > 0) delay += std::chrono::microseconds((held + 999) / 1000);
  switch (o.latency.kind) {
    case Latency::Kind::none:
      break;
    case Latency::Kind::fixed:
      delay += o.latency.first;
      break;
    case Latency::Kind::uniform: {
      std::uniform_int_distribution<std::int64_t> d(o.latency.first.count(),
                                                    o.latency.second.count());
      delay += std::chrono::microseconds(d(worker.rng));
      break;
    }
    case Latency::Kind::exponential: {
      if (o.latency.first.count() > 0) {
        std::exponential_distribution<double> d(1.0 / static_cast<double>(o.latency.first.count()));
        delay += std::chrono::microseconds(static_cast<std::int64_t>(d(worker.rng)));
      }
      break;
    }
  }
  if (o.error_rate > 0.0) {
    std::uniform_real_distribution<double> d(0.0, 1.0);
    if (d(worker.rng) < o.error_rate) set_text(conn, plan, 500, "injected error\n");
  }
}

void build_echo(const Impl& impl, Connection& conn, const Parser::value_type& req,
                std::uint64_t body_length) {
  boost::json::object obj;
  obj["method"] = req.method_string();
  obj["target"] = req.target();
  const unsigned v = req.version();
  obj["version"] = "HTTP/" + std::to_string(v / 10) + "." + std::to_string(v % 10);
  boost::json::array headers;
  for (const auto& f : req) {
    headers.emplace_back(boost::json::array{f.name_string(), f.value()});
  }
  obj["headers"] = std::move(headers);
  obj["body_length"] = body_length;
  obj["body_sha256"] = sha_hex(conn);
  obj["connection_requests"] = conn.requests;
  obj["connection_id"] = conn.id;
  obj["served_by"] = impl.id;
  conn.body = boost::json::serialize(obj);
  conn.body.push_back('\n');
}

/// Answers one request whose head (and body) has been read. Returns whether the
/// connection may serve another request.
Task<bool> respond(Impl& impl, Worker& worker, Connection& conn, Plan plan,
                   std::uint64_t body_length) {
  const Parser::value_type& req = conn.parser->get();
  std::chrono::microseconds delay = plan.delay;
  if (plan.faults) apply_faults(impl, worker, conn, plan, delay);
  if (delay.count() > 0 && !co_await sleep_for(worker, conn, delay)) co_return false;

  switch (plan.action) {
    case Action::reset:
      close_with_reset(conn);
      co_return false;
    case Action::garbage: {
      static constexpr std::string_view kGarbage =
          "HTTX/9.9 nonsense\r\n\x01\x02 this is not http\r\n\r\n";
      conn.buffers.clear();
      conn.buffers.push_back(asio::buffer(kGarbage.data(), kGarbage.size()));
      co_await write_buffers(conn);
      close_gracefully(conn);
      co_return false;
    }
    case Action::hang: {
      // Wait for the client to close (or stop() to close the socket); discard input.
      for (;;) {
        auto [ec, n] = co_await conn.socket.async_read_some(
            asio::buffer(conn.body_buf(), kBodyBufferSize), kUse);
        (void)n;
        if (ec) break;
      }
      co_return false;
    }
    case Action::echo:
      build_echo(impl, conn, req, body_length);
      break;
    case Action::generated:
    case Action::text:
      break;
  }

  const bool head_only = req.method() == http::verb::head;
  const bool http10 = req.version() < 11;
  const bool keep_alive = req.keep_alive() && plan.close == CloseMode::keep && !worker.stopping;
  const bool has_body = status_has_body(plan.status);
  const bool generated = plan.action == Action::generated && has_body;
  const std::uint64_t length = generated ? plan.bytes : conn.body.size();
  Framing framing = Framing::none;
  if (has_body) framing = (plan.chunked && !http10) ? Framing::chunked : Framing::length;
  const std::string_view type = plan.action == Action::echo ? "application/json" : "text/plain";
  build_head(impl, conn, plan.status, framing, length, type,
             !keep_alive && plan.close != CloseMode::silent, http10 && keep_alive);

  bool ok = false;
  if (generated && !head_only) {
    ok = co_await write_generated(impl, worker, conn, length, framing == Framing::chunked);
  } else {
    if (!has_body) conn.body.clear();
    ok = co_await write_text(conn, head_only, framing);
  }
  if (!ok) co_return false;
  if (!keep_alive) {
    close_gracefully(conn);
    co_return false;
  }
  co_return true;
}

/// WebSocket echo (paths under /ws): accepts the upgrade, sends every message
/// back with its type, answers a close; the text message "close" makes the
/// origin start the closing handshake itself.
Task<void> websocket_echo(Connection& conn) {
  namespace websocket = boost::beast::websocket;
  websocket::stream<Socket&> ws(conn.socket);
  ws.read_message_max(16 * 1024 * 1024);
  {
    auto [ec] = co_await ws.async_accept(conn.parser->get(), kUse);
    if (ec) co_return;
  }
  beast::flat_buffer& buf = conn.buffer;
  buf.consume(buf.size());
  for (;;) {
    auto [ec, n] = co_await ws.async_read(buf, kUse);
    (void)n;
    if (ec) co_return;  // closed by the client (handshake answered) or gone
    const bool text = ws.got_text();
    if (text && beast::buffers_to_string(buf.data()) == "close") {
      auto [cec] = co_await ws.async_close(websocket::close_code::normal, kUse);
      (void)cec;
      co_return;
    }
    ws.text(text);
    auto [wec, wn] = co_await ws.async_write(buf.data(), kUse);
    (void)wn;
    buf.consume(buf.size());
    if (wec) co_return;
  }
}

/// 400/431 for a request that failed to parse, then close.
Task<void> reject(Impl& impl, Connection& conn, const error_code& ec) {
  const int status = ec == http::error::header_limit ? 431 : 400;
  conn.extra.clear();
  conn.body = "bad request: " + ec.message() + "\n";
  build_head(impl, conn, status, Framing::length, conn.body.size(), "text/plain", true, false);
  co_await write_text(conn, false, Framing::length);
  close_gracefully(conn);
}

/// The keep-alive loop of one connection.
Task<void> serve(Impl& impl, Worker& worker, Connection& conn) {
  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  while (!worker.stopping) {
    Parser& p = conn.parser.emplace();
    p.header_limit(kHeaderLimit);
    p.body_limit(boost::none);
    {
      auto [ec, n] = co_await http::async_read_header(conn.socket, conn.buffer, p, kUse);
      (void)n;
      if (ec) {
        if (is_parse_error(ec) && !worker.stopping) co_await reject(impl, conn, ec);
        co_return;
      }
    }
    ++conn.requests;
    const auto& req = p.get();
    const std::string_view target = req.target();
    const auto qpos = target.find('?');
    const std::string_view path = target.substr(0, qpos);
    const std::string_view query =
        qpos == std::string_view::npos ? std::string_view() : target.substr(qpos + 1);
    impl.record(req, path, conn);
    if (path.starts_with("/ws") && boost::beast::websocket::is_upgrade(req)) {
      co_await websocket_echo(conn);
      co_return;
    }
    const Plan plan = make_plan(impl, conn, req, path, query);

    if (!p.is_done() && iequals(req[http::field::expect], "100-continue")) {
      auto [ec, n] = co_await asio::async_write(
          conn.socket, asio::buffer(kContinue.data(), kContinue.size()), kUse);
      (void)n;
      if (ec) co_return;
    }
    std::uint64_t body_length = 0;
    if (const error_code ec = co_await read_body(conn, plan.action == Action::echo, body_length)) {
      if (is_parse_error(ec) && !worker.stopping) co_await reject(impl, conn, ec);
      co_return;
    }
    if (!co_await respond(impl, worker, conn, plan, body_length)) co_return;
  }
}

/// Owns one connection for its whole life; registered with its worker so stop()
/// can close it.
Task<void> run_session(Impl* impl, Worker* worker, std::unique_ptr<Connection> conn) {
  if (worker->stopping) co_return;
  worker->link(conn.get());
  impl->open_connections.fetch_add(1);
  impl->notify();
  co_await serve(*impl, *worker, *conn);
  worker->unlink(conn.get());
  error_code ec;
  conn->socket.close(ec);
  impl->open_connections.fetch_sub(1);
  impl->notify();
}

struct SessionDone {
  void operator()(const std::exception_ptr& e) const {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "origin: task ended by exception: %s\n", ex.what());
    } catch (...) {
      std::fprintf(stderr, "origin: task ended by unknown exception\n");
    }
  }
};

/// Accepts on worker 0 and hands connections to the workers round-robin, each
/// socket created directly on its worker's io_context.
Task<void> accept_loop(Impl* impl) {
  Worker& home = *impl->workers.front();
  for (;;) {
    Worker& w = *impl->workers[impl->next_worker++ % impl->workers.size()];
    auto [ec, sock] = co_await impl->acceptor->async_accept(w.ioc, kUse);
    if (home.stopping || !impl->acceptor->is_open()) co_return;
    if (ec) {
      // Out of descriptors or an aborted handshake: back off a little, keep serving.
      Timer t(home.ioc.get_executor());
      t.expires_after(std::chrono::milliseconds(5));
      co_await t.async_wait(kUse);
      continue;
    }
    error_code ignored;
    sock.set_option(asio::ip::tcp::no_delay(true), ignored);
    const std::uint64_t id = impl->total_connections.fetch_add(1) + 1;
    impl->notify();
    auto conn = std::make_unique<Connection>(std::move(sock), id);
    asio::co_spawn(w.ioc.get_executor(), run_session(impl, &w, std::move(conn)), SessionDone{});
  }
}

void run_worker(Worker* w) {
  for (;;) {
    try {
      w->ioc.run();
      return;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "origin: event loop exception: %s\n", e.what());
    }
  }
}

asio::ip::address resolve_host(const std::string& host) {
  if (host.empty()) return asio::ip::address_v6::any();
  if (host == "localhost") return asio::ip::address_v4::loopback();
  std::string h = host;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  error_code ec;
  auto addr = asio::ip::make_address(h, ec);
  if (ec) throw std::invalid_argument("origin: not an IP address: '" + host + "'");
  return addr;
}

}  // namespace

// ---- RequestRecord ------------------------------------------------------------------

std::string RequestRecord::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return v;
  }
  return {};
}

bool RequestRecord::has_header(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [name](const auto& h) { return iequals(h.first, name); });
}

// ---- OriginServer -------------------------------------------------------------------

OriginServer::OriginServer(OriginOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

OriginServer::~OriginServer() { stop(); }

void OriginServer::start() {
  std::lock_guard lock(impl_->lifecycle_mutex);
  if (impl_->started) return;
  Impl& impl = *impl_;
  if (std::string why = impl.options.validate(); !why.empty()) {
    throw std::invalid_argument("origin: " + why);
  }
  std::random_device rd;
  for (int i = 0; i < impl.options.threads; ++i) {
    const std::uint64_t seed = impl.options.seed != 0
                                   ? impl.options.seed + static_cast<std::uint64_t>(i)
                                   : (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    impl.workers.push_back(std::make_unique<Worker>(seed));
  }
  const asio::ip::tcp::endpoint ep(resolve_host(impl.options.host), impl.options.port);
  Acceptor& acc = impl.acceptor.emplace(impl.workers.front()->ioc.get_executor());
  const auto check = [&ep](const error_code& ec, const char* what) {
    if (ec) {
      throw std::system_error(std::error_code(ec), std::string("origin: ") + what + " " +
                                                       ep.address().to_string() + ":" +
                                                       std::to_string(ep.port()));
    }
  };
  error_code ec;
  acc.open(ep.protocol(), ec);
  check(ec, "open");
  acc.set_option(asio::socket_base::reuse_address(true), ec);
  check(ec, "setsockopt");
  if (ep.address().is_v6() && impl.options.host.empty()) {
    error_code ignored;  // dual-stack when listening on all interfaces
    acc.set_option(asio::ip::v6_only(false), ignored);
  }
  acc.bind(ep, ec);
  check(ec, "bind");
  acc.listen(asio::socket_base::max_listen_connections, ec);
  check(ec, "listen");
  const auto local = acc.local_endpoint(ec);
  check(ec, "getsockname");
  impl.port.store(local.port());
  if (impl.options.id.empty()) {
    const auto addr = local.address();
    impl.id = (addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string()) + ":" +
              std::to_string(impl.port.load());
  } else {
    impl.id = impl.options.id;
  }
  pattern_block();  // build the shared body block before serving
  asio::co_spawn(impl.workers.front()->ioc.get_executor(), accept_loop(&impl), SessionDone{});
  for (auto& w : impl.workers) w->thread = std::thread(run_worker, w.get());
  impl.started = true;
}

void OriginServer::stop() {
  std::lock_guard lock(impl_->lifecycle_mutex);
  Impl& impl = *impl_;
  if (!impl.started || impl.stopped) return;
  impl.stopped = true;
  // 1. Close the listener on its own thread and wait, so no session is spawned after.
  {
    std::promise<void> closed;
    asio::post(impl.workers.front()->ioc, [&impl, &closed] {
      error_code ec;
      impl.workers.front()->stopping = true;
      impl.acceptor->close(ec);
      closed.set_value();
    });
    closed.get_future().wait();
  }
  // 2. Close every connection and cancel its timer on its worker's thread; the
  //    sessions then end with operation_aborted and the loops run out of work.
  for (auto& w : impl.workers) {
    Worker* worker = w.get();
    asio::post(worker->ioc, [worker] {
      worker->stopping = true;
      for (Connection* c = worker->connections; c != nullptr; c = c->next) {
        error_code ec;
        c->timer.cancel();
        c->socket.close(ec);
      }
    });
    worker->guard.reset();
  }
  for (auto& w : impl.workers) {
    if (w->thread.joinable()) w->thread.join();
  }
}

bool OriginServer::running() const {
  std::lock_guard lock(impl_->lifecycle_mutex);
  return impl_->started && !impl_->stopped;
}

std::uint16_t OriginServer::port() const { return impl_->port.load(); }
std::string OriginServer::id() const { return impl_->id; }
const OriginOptions& OriginServer::options() const { return impl_->options; }

void OriginServer::set_healthy(bool healthy) { impl_->healthy.store(healthy); }
void OriginServer::pause_for(std::chrono::milliseconds duration) { impl_->pause_for(duration); }
bool OriginServer::healthy() const { return impl_->healthy.load(); }

std::uint64_t OriginServer::total_requests() const { return impl_->total_requests.load(); }
std::uint64_t OriginServer::total_connections() const { return impl_->total_connections.load(); }
std::uint64_t OriginServer::open_connections() const { return impl_->open_connections.load(); }

std::uint64_t OriginServer::requests_for(std::string_view path) const {
  std::lock_guard lock(impl_->stats_mutex);
  const auto it = impl_->by_path.find(path);
  return it == impl_->by_path.end() ? 0 : it->second;
}

std::map<std::string, std::uint64_t, std::less<>> OriginServer::requests_by_path() const {
  std::lock_guard lock(impl_->stats_mutex);
  return impl_->by_path;
}

std::vector<RequestRecord> OriginServer::request_log() const {
  std::lock_guard lock(impl_->stats_mutex);
  return {impl_->log.begin(), impl_->log.end()};
}

std::optional<RequestRecord> OriginServer::last_request() const {
  std::lock_guard lock(impl_->stats_mutex);
  if (impl_->log.empty()) return std::nullopt;
  return impl_->log.back();
}

void OriginServer::clear_request_log() {
  std::lock_guard lock(impl_->stats_mutex);
  impl_->log.clear();
}

bool OriginServer::wait_for_requests(std::uint64_t n, std::chrono::milliseconds timeout) const {
  return impl_->wait_until([this, n] { return impl_->total_requests.load() >= n; }, timeout);
}

bool OriginServer::wait_for_connections(std::uint64_t n, std::chrono::milliseconds timeout) const {
  return impl_->wait_until([this, n] { return impl_->total_connections.load() >= n; }, timeout);
}

bool OriginServer::wait_for_open_connections(std::uint64_t n,
                                             std::chrono::milliseconds timeout) const {
  return impl_->wait_until([this, n] { return impl_->open_connections.load() == n; }, timeout);
}

std::string OriginServer::make_body(std::uint64_t size) {
  std::string out;
  out.reserve(size);
  while (out.size() < size) {
    out.append(kPattern.substr(0, std::min<std::uint64_t>(kPatternPeriod, size - out.size())));
  }
  return out;
}

}  // namespace edge::origin
