#include "edge/log/access_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "edge/upstream/target.hpp"

namespace edge::log {

static_assert([] {
  std::size_t total = 0;
  for (auto n : AccessRecord::kTextLimit) total += n;
  return total <= AccessRecord::kTextBytes;
}());

// ------------------------------------------------------------------ record

void AccessRecord::set_text(Text f, std::string_view v) {
  std::size_t off = 0;
  for (std::size_t i = 0; i < f; ++i) off += kTextLimit[i];
  const std::size_t n = std::min<std::size_t>(v.size(), kTextLimit[f]);
  if (n) std::memcpy(text + off, v.data(), n);
  text_len[f] = static_cast<std::uint16_t>(n);
}

std::string_view AccessRecord::get_text(Text f) const {
  std::size_t off = 0;
  for (std::size_t i = 0; i < f; ++i) off += kTextLimit[i];
  return {text + off, text_len[f]};
}

void fill_record(AccessRecord& r, const proxy::RequestCtx& ctx, const RequestLine& line,
                 std::size_t listener_index, std::uint16_t listener_port,
                 std::chrono::system_clock::time_point now_wall) {
  using std::chrono::duration_cast;
  using std::chrono::microseconds;
  using std::chrono::nanoseconds;
  const auto zero = proxy::RequestCtx::Clock::time_point{};
  r.time_us = duration_cast<microseconds>(now_wall.time_since_epoch()).count();
  const auto total = ctx.start != zero && ctx.end >= ctx.start
                         ? ctx.end - ctx.start
                         : proxy::RequestCtx::Clock::duration{};
  r.created_us = r.time_us - duration_cast<microseconds>(total).count();
  const bool sent = ctx.target_sent != zero;
  const bool responded = ctx.target_responded != zero;
  r.request_processing_ns =
      sent ? duration_cast<nanoseconds>(ctx.target_sent - ctx.start).count() : -1;
  r.target_processing_ns =
      sent && responded ? duration_cast<nanoseconds>(ctx.target_responded - ctx.target_sent).count()
                        : -1;
  r.response_processing_ns =
      responded ? duration_cast<nanoseconds>(ctx.end - ctx.target_responded).count() : -1;
  r.received_bytes = ctx.received_bytes;
  r.sent_bytes = ctx.sent_bytes;
  r.client = ctx.client;
  // The target that answered, else the last one that could not be reached (as ALB).
  const upstream::Target* t = ctx.target ? ctx.target : ctx.failed_target;
  r.target = t ? t->endpoint : boost::asio::ip::tcp::endpoint{};
  r.matched_rule_priority = ctx.matched_rule_priority;
  r.listener = static_cast<std::uint16_t>(listener_index);
  r.listener_port = listener_port;
  r.target_group = ctx.target_group ? static_cast<std::uint16_t>(ctx.target_group->index())
                                    : AccessRecord::kNone;
  r.elb_status = static_cast<std::uint16_t>(ctx.status);
  r.target_status = static_cast<std::uint16_t>(ctx.target_status);
  r.http_version = static_cast<std::uint8_t>(line.version);
  r.classification = ctx.classification;
  r.error = ctx.error;
  r.action = ctx.action;
  r.edge_result = ctx.edge_result == "Hit"          ? 1
                  : ctx.edge_result == "RefreshHit" ? 2
                  : ctx.edge_result == "Miss"       ? 3
                  : ctx.edge_result == "Error"      ? 4
                                                    : 0;
  r.set_text(AccessRecord::kMethod, line.method);
  r.set_text(AccessRecord::kTarget, line.target);
  r.set_text(AccessRecord::kHost, line.host);
  r.set_text(AccessRecord::kUserAgent, line.user_agent);
  r.set_text(AccessRecord::kTraceId, ctx.trace_id);
  r.set_text(AccessRecord::kRedirectUrl, ctx.redirect_url);
  r.set_text(AccessRecord::kClassificationReason, ctx.classification_reason);
  r.https = line.https;
  r.set_text(AccessRecord::kSslCipher, line.ssl_cipher);
  r.set_text(AccessRecord::kSslProtocol, line.ssl_protocol);
  r.set_text(AccessRecord::kDomainName, line.domain_name);
}

// -------------------------------------------------------------------- ring

AccessLogRing::AccessLogRing(std::size_t capacity)
    : capacity_(std::bit_ceil(std::max<std::size_t>(capacity, 2))) {
  slots_ = std::make_unique_for_overwrite<AccessRecord[]>(capacity_);
}

// ------------------------------------------------------------------- sinks

namespace {

class FdSink final : public AccessLogSink {
 public:
  explicit FdSink(std::string path) : path_(std::move(path)) {
    if (path_ == "stdout") {
      fd_ = 1;
    } else {
      fd_ = open_file();
      if (fd_ < 0)
        throw std::runtime_error("access_log: cannot open '" + path_ +
                                 "': " + std::strerror(errno));
    }
  }
  ~FdSink() override {
    if (fd_ > 2) ::close(fd_);
  }

  void write(std::string_view lines) override {
    const char* p = lines.data();
    std::size_t left = lines.size();
    while (left > 0 && fd_ >= 0) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (!reported_)
          std::fprintf(stderr, "edged: access_log: write failed: %s\n", std::strerror(errno));
        reported_ = true;
        return;
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }

  void reopen() override {
    if (path_ == "stdout") return;
    const int fd = open_file();
    if (fd < 0) {
      std::fprintf(stderr, "edged: access_log: cannot reopen '%s': %s\n", path_.c_str(),
                   std::strerror(errno));
      return;  // keep writing to the old file
    }
    if (fd_ > 2) ::close(fd_);
    fd_ = fd;
    reported_ = false;
  }

 private:
  int open_file() const {
    return ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  }

  std::string path_;
  int fd_ = -1;
  bool reported_ = false;
};

// --------------------------------------------------------------- formatting

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

/// Seconds with microsecond precision ("0.000123"); -1 stays "-1".
void append_seconds(std::string& out, std::int64_t ns) {
  if (ns < 0) {
    out.append("-1");
    return;
  }
  const std::int64_t us = (ns + 500) / 1000;
  append_int(out, us / 1'000'000);
  out.push_back('.');
  char frac[7];
  std::int64_t f = us % 1'000'000;
  for (int i = 5; i >= 0; --i) {
    frac[i] = static_cast<char>('0' + f % 10);
    f /= 10;
  }
  out.append(frac, 6);
}

/// ISO 8601 UTC with microseconds: 2026-11-25T07:20:00.123456Z.
void append_time(std::string& out, std::int64_t unix_us) {
  std::time_t secs = static_cast<std::time_t>(unix_us / 1'000'000);
  std::int64_t us = unix_us % 1'000'000;
  if (us < 0) {
    us += 1'000'000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ",
                              tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                              tm.tm_sec, static_cast<long long>(us));
  out.append(buf, static_cast<std::size_t>(std::max(n, 0)));
}

void append_endpoint(std::string& out, const boost::asio::ip::tcp::endpoint& ep) {
  auto addr = ep.address();
  if (addr.is_v6() && addr.to_v6().is_v4_mapped())
    addr = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, addr.to_v6());
  char buf[16];
  if (addr.is_v6()) {
    out.push_back('[');
    out.append(addr.to_v6().to_string());
    out.push_back(']');
  } else {
    out.append(addr.to_v4().to_string());
  }
  out.push_back(':');
  auto r = std::to_chars(buf, buf + sizeof buf, ep.port());
  out.append(buf, r.ptr);
}

/// Escapes `v` for a quoted field: '"' and '\\' get a backslash; control and
/// non-ASCII bytes become `hex_prefix` + two hex digits, so a line stays one line
/// of ASCII whatever the input (which is not known to be UTF-8).
void append_escaped_with(std::string& out, std::string_view v, std::string_view hex_prefix) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20 || u >= 0x7f) {
      out.append(hex_prefix);
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    } else {
      out.push_back(c);
    }
  }
}

/// ALB quoted field: \xHH.
void append_escaped(std::string& out, std::string_view v) { append_escaped_with(out, v, "\\x"); }

/// JSON string: \u00HH.
void append_json_escaped(std::string& out, std::string_view v) {
  append_escaped_with(out, v, "\\u00");
}

std::string_view action_name(ActionTaken a) {
  switch (a) {
    case ActionTaken::forward:
      return "forward";
    case ActionTaken::fixed_response:
      return "fixed-response";
    case ActionTaken::redirect:
      return "redirect";
    case ActionTaken::hook_response:
      return "hook-response";
    case ActionTaken::none:
      break;
  }
  return {};
}

std::string_view classification_name(std::uint8_t c) {
  switch (c) {
    case 1:
      return "Acceptable";
    case 2:
      return "Ambiguous";
    case 3:
      return "Severe";
    default:
      return {};
  }
}

/// The values of one record as text, shared by both formats. An empty view
/// means absent ("-" in ALB, null in JSON).
struct Fields {
  std::string scratch;  // owns the formatted pieces below
  // offsets into scratch
  struct Piece {
    std::size_t off = 0, len = 0;
    bool present = false;
  };
  Piece time, client, target, request, created;

  std::string_view view(const Piece& p) const { return {scratch.data() + p.off, p.len}; }
  template <class F>
  Piece make(F&& f) {
    Piece p;
    p.off = scratch.size();
    f(scratch);
    p.len = scratch.size() - p.off;
    p.present = true;
    return p;
  }
};

/// Host for the request field: the Host header without its port, or "-".
std::string_view host_of(std::string_view host) {
  if (host.empty()) return "-";
  if (host.front() == '[') {
    auto e = host.find(']');
    return e == std::string_view::npos ? host : host.substr(0, e + 1);
  }
  auto c = host.rfind(':');
  return c == std::string_view::npos ? host : host.substr(0, c);
}

void build_fields(const AccessRecord& r, Fields& f) {
  f.scratch.clear();
  f.time = f.make([&](std::string& s) { append_time(s, r.time_us); });
  f.created = f.make([&](std::string& s) { append_time(s, r.created_us); });
  f.client = f.make([&](std::string& s) { append_endpoint(s, r.client); });
  f.target = Fields::Piece{};
  if (r.target.port() != 0)
    f.target = f.make([&](std::string& s) { append_endpoint(s, r.target); });
  // ALB: "GET http://www.example.com:80/path HTTP/1.1"; "- - -" when not parsed.
  f.request = f.make([&](std::string& s) {
    if (r.http_version == 0) {
      s.append("- - -");
      return;
    }
    s.append(r.get_text(AccessRecord::kMethod));
    s.append(r.https ? " https://" : " http://");
    s.append(host_of(r.get_text(AccessRecord::kHost)));
    s.push_back(':');
    append_int(s, r.listener_port);
    std::string_view t = r.get_text(AccessRecord::kTarget);
    if (auto scheme = t.find("://"); !t.empty() && t.front() != '/' && scheme != t.npos) {
      // absolute-form: keep its path part
      auto start = t.find_first_of("/?", scheme + 3);
      t = start == std::string_view::npos ? std::string_view("/") : t.substr(start);
    }
    s.append(t);
    s.append(r.http_version == 10 ? " HTTP/1.0" : " HTTP/1.1");
  });
}

}  // namespace

std::unique_ptr<AccessLogSink> make_sink(const std::string& path) {
  return std::make_unique<FdSink>(path);
}

void format_alb(const AccessRecord& r, const AccessLogNames& names, std::string& out) {
  thread_local Fields f;
  build_fields(r, f);
  auto plain = [&](std::string_view v) {
    out.append(v.empty() ? std::string_view("-") : v);
    out.push_back(' ');
  };
  auto quoted = [&](std::string_view v) {
    out.push_back('"');
    if (v.empty())
      out.push_back('-');
    else
      append_escaped(out, v);
    out.append("\" ");
  };
  auto number = [&](std::int64_t v) {
    append_int(out, v);
    out.push_back(' ');
  };
  auto status = [&](std::uint16_t s) {
    if (s == 0)
      out.append("- ");
    else
      number(s);
  };
  plain(r.https ? "https" : "http");
  plain(f.view(f.time));
  plain(r.listener < names.listeners.size() ? std::string_view(names.listeners[r.listener]) : "");
  plain(f.view(f.client));
  plain(f.target.present ? f.view(f.target) : "");
  append_seconds(out, r.request_processing_ns);
  out.push_back(' ');
  append_seconds(out, r.target_processing_ns);
  out.push_back(' ');
  append_seconds(out, r.response_processing_ns);
  out.push_back(' ');
  status(r.elb_status);
  status(r.target_status);
  number(static_cast<std::int64_t>(r.received_bytes));
  number(static_cast<std::int64_t>(r.sent_bytes));
  quoted(f.view(f.request));
  quoted(r.get_text(AccessRecord::kUserAgent));
  plain(r.get_text(AccessRecord::kSslCipher));
  plain(r.get_text(AccessRecord::kSslProtocol));
  plain(r.target_group < names.target_groups.size()
            ? std::string_view(names.target_groups[r.target_group])
            : "");
  quoted(r.get_text(AccessRecord::kTraceId));
  quoted(r.get_text(AccessRecord::kDomainName));
  quoted("");  // chosen_cert_arn
  if (r.matched_rule_priority < 0)
    out.append("-1 ");
  else
    number(r.matched_rule_priority);
  plain(f.view(f.created));
  quoted(action_name(r.action));
  quoted(r.get_text(AccessRecord::kRedirectUrl));
  quoted(r.error == EdgeError::none ? std::string_view{} : reason_of(r.error));
  quoted(f.target.present ? f.view(f.target) : "");  // target:port_list
  if (r.target_status == 0) {
    quoted("");
  } else {
    out.push_back('"');
    append_int(out, r.target_status);
    out.append("\" ");
  }
  quoted(classification_name(r.classification));
  quoted(r.classification == 0 ? std::string_view{}
                               : r.get_text(AccessRecord::kClassificationReason));
  out.back() = '\n';
}

void format_json(const AccessRecord& r, const AccessLogNames& names, std::string& out) {
  thread_local Fields f;
  build_fields(r, f);
  bool first = true;
  auto key = [&](std::string_view k) {
    out.append(first ? "{\"" : ",\"");
    first = false;
    out.append(k);
    out.append("\":");
  };
  auto str = [&](std::string_view k, std::string_view v) {
    key(k);
    if (v.empty()) {
      out.append("null");
      return;
    }
    out.push_back('"');
    append_json_escaped(out, v);
    out.push_back('"');
  };
  auto num = [&](std::string_view k, std::int64_t v) {
    key(k);
    append_int(out, v);
  };
  auto secs = [&](std::string_view k, std::int64_t ns) {
    key(k);
    append_seconds(out, ns);
  };
  auto status = [&](std::string_view k, std::uint16_t s) {
    if (s == 0) {
      key(k);
      out.append("null");
    } else {
      num(k, s);
    }
  };
  str("type", r.https ? "https" : "http");
  str("time", f.view(f.time));
  str("elb",
      r.listener < names.listeners.size() ? std::string_view(names.listeners[r.listener]) : "");
  str("client:port", f.view(f.client));
  str("target:port", f.target.present ? f.view(f.target) : "");
  secs("request_processing_time", r.request_processing_ns);
  secs("target_processing_time", r.target_processing_ns);
  secs("response_processing_time", r.response_processing_ns);
  status("elb_status_code", r.elb_status);
  status("target_status_code", r.target_status);
  num("received_bytes", static_cast<std::int64_t>(r.received_bytes));
  num("sent_bytes", static_cast<std::int64_t>(r.sent_bytes));
  str("request", f.view(f.request));
  str("user_agent", r.get_text(AccessRecord::kUserAgent));
  str("ssl_cipher", r.get_text(AccessRecord::kSslCipher));
  str("ssl_protocol", r.get_text(AccessRecord::kSslProtocol));
  str("target_group_arn", r.target_group < names.target_groups.size()
                              ? std::string_view(names.target_groups[r.target_group])
                              : "");
  str("trace_id", r.get_text(AccessRecord::kTraceId));
  str("domain_name", r.get_text(AccessRecord::kDomainName));
  str("chosen_cert_arn", "");
  num("matched_rule_priority", r.matched_rule_priority < 0 ? -1 : r.matched_rule_priority);
  str("request_creation_time", f.view(f.created));
  str("actions_executed", action_name(r.action));
  str("redirect_url", r.get_text(AccessRecord::kRedirectUrl));
  str("error_reason", r.error == EdgeError::none ? std::string_view{} : reason_of(r.error));
  str("target:port_list", f.target.present ? f.view(f.target) : "");
  if (r.target_status == 0) {
    str("target_status_code_list", "");
  } else {
    char buf[8];
    auto res = std::to_chars(buf, buf + sizeof buf, r.target_status);
    str("target_status_code_list", std::string_view(buf, static_cast<std::size_t>(res.ptr - buf)));
  }
  str("classification", classification_name(r.classification));
  str("classification_reason",
      r.classification == 0 ? std::string_view{} : r.get_text(AccessRecord::kClassificationReason));
  // CloudFront's field, after ALB's (JSON only: the ALB line keeps ALB's fields).
  static constexpr std::string_view kEdgeResults[] = {"", "Hit", "RefreshHit", "Miss", "Error"};
  str("x_edge_result_type", r.edge_result < 5 ? kEdgeResults[r.edge_result] : "");
  out.append("}\n");
}

// ------------------------------------------------------------ writer thread

AccessLog::AccessLog(std::shared_ptr<AccessLogSink> sink, AccessLogNames names, std::size_t workers,
                     AccessLogOptions options)
    : sink_(std::move(sink)),
      names_(std::make_shared<const AccessLogNames>(std::move(names))),
      options_(options) {
  for (std::size_t i = 0; i < workers; ++i)
    rings_.push_back(std::make_unique<AccessLogRing>(options_.ring_records));
  thread_ = std::thread([this] { run(); });
}

AccessLog::~AccessLog() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AccessLog::set_names(AccessLogNames names) {
  auto fresh = std::make_shared<const AccessLogNames>(std::move(names));
  std::lock_guard lk(mu_);
  names_ = std::move(fresh);
}

void AccessLog::reopen() {
  {
    std::lock_guard lk(mu_);
    reopen_.store(true, std::memory_order_relaxed);
  }
  cv_.notify_all();
}

bool AccessLog::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  const std::uint64_t gen = ++flush_requested_;
  cv_.notify_all();
  return flushed_cv_.wait_for(lk, timeout, [&] { return flush_done_ >= gen || stop_; });
}

std::uint64_t AccessLog::dropped() const {
  std::uint64_t n = 0;
  for (const auto& r : rings_) n += r->dropped();
  return n;
}

/// Formats every queued record; writes in batches. True if any was found.
bool AccessLog::drain_once(std::string& buf) {
  bool any = false;
  std::uint64_t lines = 0;
  std::shared_ptr<const AccessLogNames> names;
  {
    std::lock_guard lk(mu_);
    names = names_;
  }
  for (auto& ring : rings_) {
    while (const AccessRecord* r = ring->front()) {
      if (options_.format == config::AccessLogFormat::json)
        format_json(*r, *names, buf);
      else
        format_alb(*r, *names, buf);
      ring->pop();
      any = true;
      ++lines;
      if (buf.size() >= 64 * 1024) {
        sink_->write(buf);
        buf.clear();
        written_.fetch_add(lines, std::memory_order_relaxed);
        if (options_.written_metric) options_.written_metric->inc(lines);
        lines = 0;
      }
    }
  }
  if (!buf.empty()) {
    sink_->write(buf);
    buf.clear();
  }
  written_.fetch_add(lines, std::memory_order_relaxed);
  if (options_.written_metric && lines) options_.written_metric->inc(lines);
  return any;
}

void AccessLog::run() {
  std::string buf;
  buf.reserve(80 * 1024);
  for (;;) {
    std::uint64_t flush_gen;
    bool stopping;
    {
      std::lock_guard lk(mu_);
      flush_gen = flush_requested_;
      stopping = stop_;
    }
    // After reading flush_gen: reopen() then flush() guarantees the reopen.
    if (reopen_.exchange(false, std::memory_order_acq_rel)) {
      sink_->reopen();
      reopens_.fetch_add(1, std::memory_order_relaxed);
    }
    // One pass drains every ring to empty: all that was published before
    // flush_gen was read is written when it returns.
    const bool any = drain_once(buf);
    std::unique_lock lk(mu_);
    if (flush_gen > flush_done_) {
      flush_done_ = flush_gen;
      flushed_cv_.notify_all();
    }
    if (stopping) {
      lk.unlock();
      while (drain_once(buf)) {
      }
      return;
    }
    if (!any) {
      cv_.wait_for(lk, options_.idle_poll, [&] {
        return stop_ || flush_requested_ != flush_done_ || reopen_.load(std::memory_order_relaxed);
      });
    }
  }
}

}  // namespace edge::log
