#pragma once
/// Access logs in ALB's field order (or as JSON), written by a background thread.
///
/// A worker fills one fixed-size `AccessRecord` in place, in a slot of its own
/// single-producer/single-consumer ring (`AccessLogRing`), and publishes it with
/// one release store: no lock, no allocation, no formatting and no system call on
/// the worker. When its ring is full the record is dropped and counted: a worker
/// never waits for the log. The writer thread (`AccessLog`) drains every ring,
/// formats the lines (ALB text or JSON) and hands them to an `AccessLogSink`
/// (stdout or a file, reopened on request for log rotation).
/// Thread: a ring's producer side is its worker; everything else the writer
/// thread; `reopen()`, `flush()` and the counters any thread.

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "edge/config/config.hpp"
#include "edge/core/error.hpp"
#include "edge/metrics/metrics.hpp"
#include "edge/proxy/request_ctx.hpp"

namespace edge::log {

using proxy::ActionTaken;

/// One request as the log sees it: plain data, fixed size, filled in place in a
/// ring slot. Strings are copied (truncated to their share of `text`) because
/// the buffers they come from are reused by the next request.
struct AccessRecord {
  /// Text fields, stored one after the other in `text`.
  enum Text : std::uint8_t {
    kMethod,
    kTarget,  // request-target as received
    kHost,    // Host header
    kUserAgent,
    kTraceId,
    kRedirectUrl,
    kClassificationReason,
    kSslCipher,    // HTTPS listeners: negotiated cipher (OpenSSL name)
    kSslProtocol,  // HTTPS listeners: TLSv1.2 / TLSv1.3
    kDomainName,   // HTTPS listeners: SNI sent by the client
    kTextFields
  };
  static constexpr std::size_t kTextBytes = 1024;
  /// Longest copy of each text field (the rest is cut; the total fits kTextBytes).
  static constexpr std::uint16_t kTextLimit[kTextFields] = {16, 400, 96, 160, 96,
                                                            64, 32,  48, 16,  96};

  std::int64_t time_us = 0;                  // wall clock, µs since the epoch: response completed
  std::int64_t created_us = 0;               // wall clock: first byte of the request head received
  std::int64_t request_processing_ns = -1;   // received → sent to the target; -1 = not sent
  std::int64_t target_processing_ns = -1;    // sent → target's response head; -1 = none
  std::int64_t response_processing_ns = -1;  // target's response head → last byte to the client
  std::uint64_t received_bytes = 0;
  std::uint64_t sent_bytes = 0;
  boost::asio::ip::tcp::endpoint client;
  boost::asio::ip::tcp::endpoint target;    // port 0 = no target
  std::int32_t matched_rule_priority = -1;  // 0 = default action, -1 = not routed
  std::uint16_t listener = 0;               // listener index
  std::uint16_t listener_port = 0;
  std::uint16_t target_group = kNone;  // target group index, kNone = none
  std::uint16_t elb_status = 0;        // sent to the client (0 = none)
  std::uint16_t target_status = 0;     // from the target (0 = none)
  std::uint8_t http_version = 0;       // 10, 11; 0 = head not parsed
  std::uint8_t classification = 0;     // http::DesyncClass
  std::uint8_t edge_result = 0;        // 0 none, 1 Hit, 2 RefreshHit, 3 Miss, 4 Error (JSON only)
  bool https = false;                  // type "https" (TLS listener)
  EdgeError error = EdgeError::none;
  ActionTaken action = ActionTaken::none;
  std::uint16_t text_len[kTextFields] = {};
  char text[kTextBytes];

  static constexpr std::uint16_t kNone = 0xffff;

  /// Copies `v` (cut to its limit) as text field `f`. Fields are set in enum
  /// order; a field never set reads as empty.
  void set_text(Text f, std::string_view v);
  std::string_view get_text(Text f) const;
};

/// The request-line parts the session reads from its parser (empty when the
/// head could not be parsed).
struct RequestLine {
  std::string_view method;
  std::string_view target;
  std::string_view host;
  std::string_view user_agent;
  unsigned version = 0;  // 10 / 11, 0 = not parsed
  // HTTPS listeners (empty for HTTP): what the TLS handshake negotiated.
  bool https = false;
  std::string_view ssl_cipher;
  std::string_view ssl_protocol;
  std::string_view domain_name;  // SNI
};

/// Fills `r` from what the session collected for one request. `now_wall` is the
/// wall clock at the end of the request (the only clock read the log adds).
void fill_record(AccessRecord& r, const proxy::RequestCtx& ctx, const RequestLine& line,
                 std::size_t listener_index, std::uint16_t listener_port,
                 std::chrono::system_clock::time_point now_wall);

/// Bounded single-producer/single-consumer ring of records.
/// Producer (the worker): try_claim() → fill → publish(). Consumer (the writer):
/// front() → read → pop(). Capacity is a power of two fixed at construction.
class AccessLogRing {
 public:
  explicit AccessLogRing(std::size_t capacity);
  AccessLogRing(const AccessLogRing&) = delete;
  AccessLogRing& operator=(const AccessLogRing&) = delete;

  /// The next free slot, or nullptr when the ring is full (the record is then
  /// dropped and counted in dropped()).
  AccessRecord* try_claim() {
    const std::uint64_t h = head_.load(std::memory_order_relaxed);
    if (h - tail_cache_ >= capacity_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (h - tail_cache_ >= capacity_) {
        dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        return nullptr;
      }
    }
    return &slots_[h & (capacity_ - 1)];
  }
  /// Makes the slot returned by the last try_claim() visible to the writer.
  void publish() {
    head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }

  /// Writer side: the oldest published record, or nullptr.
  const AccessRecord* front() const {
    const std::uint64_t t = tail_.load(std::memory_order_relaxed);
    if (t == head_.load(std::memory_order_acquire)) return nullptr;
    return &slots_[t & (capacity_ - 1)];
  }
  void pop() { tail_.store(tail_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

  std::size_t capacity() const { return capacity_; }
  std::uint64_t published() const { return head_.load(std::memory_order_acquire); }
  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  std::unique_ptr<AccessRecord[]> slots_;
  std::size_t capacity_;
  alignas(64) std::atomic<std::uint64_t> head_{0};  // producer writes
  std::uint64_t tail_cache_ = 0;                    // producer only
  std::atomic<std::uint64_t> dropped_{0};           // producer writes
  alignas(64) std::atomic<std::uint64_t> tail_{0};  // consumer writes
};

/// Where formatted lines go. Called from the writer thread only; may block
/// (a slow disk blocks the writer, never a worker).
class AccessLogSink {
 public:
  virtual ~AccessLogSink() = default;
  /// Writes whole lines (each ends with '\n').
  virtual void write(std::string_view lines) = 0;
  /// Reopens the destination (log rotation). Default: nothing to reopen.
  virtual void reopen() {}
};

/// "stdout" → standard output; anything else → that file, opened for append
/// (created 0644) and reopened by reopen(). Throws std::runtime_error if the
/// file cannot be opened at construction.
std::unique_ptr<AccessLogSink> make_sink(const std::string& path);

/// Names the formatter needs to turn indexes back into labels.
struct AccessLogNames {
  std::vector<std::string> listeners;
  std::vector<std::string> target_groups;
};

/// Formats one record as an ALB access-log line (with '\n'), appended to `out`.
void format_alb(const AccessRecord& r, const AccessLogNames& names, std::string& out);
/// Formats one record as a JSON object on one line (with '\n'), appended to `out`.
void format_json(const AccessRecord& r, const AccessLogNames& names, std::string& out);

struct AccessLogOptions {
  config::AccessLogFormat format = config::AccessLogFormat::alb;
  /// Records per worker ring (rounded up to a power of two).
  std::size_t ring_records = 1024;
  /// How long the writer sleeps when every ring is empty.
  std::chrono::milliseconds idle_poll{5};
  /// Incremented by the writer thread for each line written (optional).
  metrics::Counter* written_metric = nullptr;
};

/// The writer thread and the per-worker rings.
class AccessLog {
 public:
  AccessLog(std::shared_ptr<AccessLogSink> sink, AccessLogNames names, std::size_t workers,
            AccessLogOptions options = {});
  /// Writes what is queued, then stops the writer thread.
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  AccessLogRing& ring(std::size_t worker) { return *rings_[worker]; }

  /// Any thread: the sink is reopened before the next write (SIGUSR1).
  void reopen();
  /// Any thread: returns once every record published before the call has been
  /// written (or `timeout` passed: false).
  bool flush(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  std::uint64_t written() const { return written_.load(std::memory_order_relaxed); }
  std::uint64_t dropped() const;
  std::uint64_t reopens() const { return reopens_.load(std::memory_order_relaxed); }
  /// Any thread: the names from now on (a reload adds listeners or groups; the
  /// indexes of existing ones never change, so queued records stay right).
  void set_names(AccessLogNames names);

 private:
  void run();
  bool drain_once(std::string& buf);

  std::shared_ptr<AccessLogSink> sink_;
  std::shared_ptr<const AccessLogNames> names_;  // guarded by mu_ (the pointer)
  AccessLogOptions options_;
  std::vector<std::unique_ptr<AccessLogRing>> rings_;
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> reopens_{0};
  std::atomic<bool> reopen_{false};

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::uint64_t flush_requested_ = 0;
  std::uint64_t flush_done_ = 0;
  std::condition_variable flushed_cv_;
  std::thread thread_;
};

}  // namespace edge::log
