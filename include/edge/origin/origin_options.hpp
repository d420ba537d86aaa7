#pragma once
/// Behaviour of an `OriginServer`: the app-tier stand-in that tests, demos and
/// benchmarks put behind edged. Plain data with defaults; every field can also be
/// set from the `edge-origin` command line (see command_line.hpp).
/// Thread: any (copied into the server at construction, read-only afterwards).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace edge::origin {

/// Delay applied before a response head is written, sampled per request.
struct Latency {
  enum class Kind : std::uint8_t {
    none,         // no delay
    fixed,        // always `first`
    uniform,      // uniform in [first, second]
    exponential,  // exponential with mean `first`
  };
  Kind kind = Kind::none;
  std::chrono::microseconds first{0};
  std::chrono::microseconds second{0};

  /// "none", "fixed:5ms", "uniform:1ms:10ms", "exp:5ms".
  std::string to_string() const;
};

struct OriginOptions {
  /// IP literal (v4 or v6) or "localhost"; empty = all interfaces.
  std::string host = "127.0.0.1";
  /// 0 = an ephemeral port, read it back with `OriginServer::port()`.
  std::uint16_t port = 0;

  /// Body size of the default response. Generated on the fly from a fixed pattern
  /// (see `OriginServer::make_body`), so any size streams in bounded memory.
  std::uint64_t body_size = 1024;
  /// Default responses use `Transfer-Encoding: chunked` instead of Content-Length.
  bool chunked = false;
  /// Bytes per chunk (chunked encoding) and per write when `slow_chunk_delay` is set.
  /// Between 1 and `kMaxChunkSize`.
  std::size_t chunk_size = 16 * 1024;
  /// Pause between body chunks (slow streaming); zero = stream as fast as possible.
  std::chrono::microseconds slow_chunk_delay{0};

  /// Applied before the response head of every request except the health endpoints.
  Latency latency;
  /// Fraction in [0, 1] of requests (health endpoints excepted) answered 500.
  double error_rate = 0.0;
  /// Seed of the per-thread random generators (latency, error rate); 0 = random.
  std::uint64_t seed = 0;

  /// Value of the `X-Served-By` header on every response; empty = "host:port" as bound.
  std::string id;
  /// Answer every request (health endpoints excepted) with the echo JSON.
  bool echo = false;

  /// Event-loop threads; connections are spread over them round-robin.
  int threads = 1;
  /// Entries kept in the in-memory request log (0 disables it). Each entry copies
  /// the request head, so the standalone binary leaves it off.
  std::size_t request_log_capacity = 256;

  static constexpr std::size_t kMaxChunkSize = 1024 * 1024;

  /// Empty when the options are usable, else a one-line reason.
  std::string validate() const;
};

}  // namespace edge::origin
