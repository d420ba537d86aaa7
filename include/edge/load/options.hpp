#pragma once
/// edgeload's options, its command line, and the targets they name (a URL, or every
/// target of a target group of an edged configuration). Thread: any (no shared state).

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edge::load {

/// `http[s]://host[:port][/path][?query]`; host may be `[v6]`.
struct Url {
  bool tls = false;
  std::string host;          // without brackets
  std::uint16_t port = 0;    // 80 / 443 when not given
  std::string target = "/";  // path and query

  /// Value for the Host header: host, bracketed when v6, with :port when not default.
  std::string authority() const;
};

/// Parses `text` into `out`; false with a one-line reason in `error`.
bool parse_url(std::string_view text, Url& out, std::string& error);

/// One endpoint edgeload drives. `name` labels it in the per-target breakdown.
struct LoadTarget {
  std::string name;
  Url url;
};

struct LoadOptions {
  std::string url;           // positional URL (one target)
  std::string config_path;   // --config: drive a target group's targets directly
  std::string target_group;  // --target-group
  std::string path = "/";    // --path: request target in --target-group mode

  int connections = 64;  // closed loop: concurrent requests; open loop: the most in flight
  int threads = 0;       // 0 = min(hardware threads, connections)
  double rate = 0;       // requests/s for the whole run; 0 = closed loop
  std::chrono::milliseconds duration{10'000};  // 0 = until `requests` are done
  std::chrono::milliseconds warmup{0};         // run, but not measured, before `duration`
  std::chrono::milliseconds timeout{10'000};   // per request (connect to last byte)
  std::uint64_t requests = 0;  // closed loop: stop after this many measured requests (0 = none)

  bool keep_alive = true;   // false: `Connection: close`, one connection per request
  bool verify_tls = false;  // HTTPS: verify the certificate chain and host name
  /// HTTPS: each connection offers the session of its previous one (TLS 1.3 ticket,
  /// TLS 1.2 ticket or session ID), so a new connection resumes instead of doing a
  /// full handshake. Off: every connection does a full handshake.
  bool tls_resume = false;
  bool tls_tickets = true;  // false: ask for no TLS 1.2 ticket (resume by session ID)
  std::string tls_max;      // highest TLS version offered: "" (OpenSSL's), "1.2", "1.3"

  std::string method = "GET";
  std::vector<std::pair<std::string, std::string>> headers;  // -H "Name: value"
  std::string body;                                          // --body
  std::string body_file;  // --body-file (read by the caller into `body`)

  std::string target_header;  // --target-header: per-target breakdown by this response header
  bool json = false;          // --json: JSON summary on stdout instead of text
  bool progress = true;       // live line on stderr each second (--quiet turns it off)

  /// Empty when usable, else a one-line reason.
  std::string validate() const;
  bool open_loop() const { return rate > 0; }
};

struct LoadCommandLine {
  LoadOptions options;
  bool help = false;
  std::string error;  // non-empty: print it and usage, exit 2
  bool ok() const { return error.empty(); }
};

/// Parses the arguments after the program name (`--name value` or `--name=value`).
LoadCommandLine parse_load_command_line(std::span<const std::string_view> args);
std::string load_usage_text(std::string_view program);

/// The targets `options` names: the URL, or each target of `--target-group` in
/// `--config` (loaded with the edged config loader; `--path` is the request target,
/// the group's protocol decides HTTPS). False with a reason in `error`.
bool resolve_targets(const LoadOptions& options, std::vector<LoadTarget>& out, std::string& error);

}  // namespace edge::load
