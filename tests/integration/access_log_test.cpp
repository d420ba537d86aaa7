// Access logs through a real gateway: lines parsed back field by field in both
// formats, a stalled writer makes the queue drop and count (the workers keep
// serving), and the file is reopened for log rotation.
#include "edge/log/access_log.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/gateway_fixture.hpp"
#include "support/exposition.hpp"

namespace edge::test {
namespace {

using namespace std::chrono_literals;

/// ALB's field names, in ALB's order (also the JSON keys).
const std::vector<std::string> kFields = {"type",
                                          "time",
                                          "elb",
                                          "client:port",
                                          "target:port",
                                          "request_processing_time",
                                          "target_processing_time",
                                          "response_processing_time",
                                          "elb_status_code",
                                          "target_status_code",
                                          "received_bytes",
                                          "sent_bytes",
                                          "request",
                                          "user_agent",
                                          "ssl_cipher",
                                          "ssl_protocol",
                                          "target_group_arn",
                                          "trace_id",
                                          "domain_name",
                                          "chosen_cert_arn",
                                          "matched_rule_priority",
                                          "request_creation_time",
                                          "actions_executed",
                                          "redirect_url",
                                          "error_reason",
                                          "target:port_list",
                                          "target_status_code_list",
                                          "classification",
                                          "classification_reason"};

class MemorySink final : public log::AccessLogSink {
 public:
  void write(std::string_view lines) override {
    std::lock_guard lk(mu_);
    data_.append(lines);
  }
  std::vector<std::string> lines() const {
    std::lock_guard lk(mu_);
    std::vector<std::string> out;
    std::istringstream in(data_);
    std::string l;
    while (std::getline(in, l)) out.push_back(l);
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::string data_;
};

/// Blocks every write until released: a writer stuck on a full disk.
class StalledSink final : public log::AccessLogSink {
 public:
  void write(std::string_view lines) override {
    std::unique_lock lk(mu_);
    ++writes_;
    cv_.notify_all();
    cv_.wait(lk, [&] { return released_; });
    for (char c : lines) lines_ += c == '\n' ? 1 : 0;
  }
  void release() {
    std::lock_guard lk(mu_);
    released_ = true;
    cv_.notify_all();
  }
  bool wait_first_write(std::chrono::milliseconds t) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, t, [&] { return writes_ > 0; });
  }
  std::uint64_t lines() const {
    std::lock_guard lk(mu_);
    return lines_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  std::uint64_t writes_ = 0;
  std::uint64_t lines_ = 0;
};

/// Splits an ALB line: space-separated, "quoted" fields with backslash escapes.
std::vector<std::string> split_alb(const std::string& line) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < line.size()) {
    std::string f;
    if (line[i] == '"') {
      ++i;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\' && i + 1 < line.size()) ++i;
        f += line[i++];
      }
      ++i;  // closing quote
    } else {
      while (i < line.size() && line[i] != ' ') f += line[i++];
    }
    out.push_back(f);
    if (i < line.size()) {
      EXPECT_EQ(line[i], ' ') << line;
      ++i;
    }
  }
  return out;
}

using Record = std::map<std::string, std::string>;

Record parse_alb(const std::string& line) {
  auto f = split_alb(line);
  EXPECT_EQ(f.size(), kFields.size()) << line;
  Record r;
  for (std::size_t i = 0; i < f.size() && i < kFields.size(); ++i) r[kFields[i]] = f[i];
  return r;
}

/// JSON values as the ALB text would show them: null → "-", numbers as text.
Record parse_json(const std::string& line) {
  Record r;
  boost::json::value v = boost::json::parse(line);
  const auto& o = v.as_object();
  // ALB's fields, plus CloudFront's x_edge_result_type (null without a cache policy).
  EXPECT_EQ(o.size(), kFields.size() + 1) << line;
  EXPECT_TRUE(o.contains("x_edge_result_type")) << line;
  for (const auto& k : kFields) {
    EXPECT_TRUE(o.contains(k)) << k;
    if (!o.contains(k)) continue;
    const auto& x = o.at(k);
    if (x.is_null()) {
      r[k] = "-";
    } else if (x.is_string()) {
      r[k] = std::string(x.as_string());
    } else if (x.is_int64()) {
      r[k] = std::to_string(x.as_int64());
    } else if (x.is_double()) {
      std::ostringstream s;
      s << x.as_double();
      r[k] = s.str();
    } else {
      ADD_FAILURE() << "unexpected JSON type for " << k;
    }
  }
  return r;
}

/// A record is published once its response is written, so just after the
/// client read the response it may still be on its way: wait for `n` lines
/// (written, or written + dropped when `with_dropped`).
bool wait_logged(log::AccessLog& log, std::uint64_t n, bool with_dropped = false) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!log.flush()) return false;
    if (log.written() + (with_dropped ? log.dropped() : 0) >= n) return true;
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

bool iso_time(const std::string& s) {
  static const std::regex re(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)");
  return std::regex_match(s, re);
}

class AccessLogTest : public GatewayTest {
 protected:
  /// Forward, fixed response, redirect and a refused (smuggling) request; the
  /// lines must tell each apart exactly.
  void run_sequence_and_check(config::AccessLogFormat format) {
    auto& o = add_origin();
    config::Config c = base_config(1);
    c.access_log.path = "stdout";  // replaced by the sink below
    c.access_log.format = format;
    config::Rule ping;
    ping.priority = 10;
    ping.conditions.path_pattern = {"/ping"};
    ping.action.kind = config::Action::Kind::fixed_response;
    ping.action.fixed_response = {200, "text/plain", "pong"};
    config::Rule old;
    old.priority = 20;
    old.conditions.path_pattern = {"/old/*"};
    old.action.kind = config::Action::Kind::redirect;
    old.action.redirect.path = "/new/#{path}";
    config::Rule missing;
    missing.priority = 30;
    missing.conditions.path_pattern = {"/missing/*"};
    missing.action.forward.target_groups.push_back({"dead", 1});
    c.listeners[0].rules = {ping, old, missing};
    add_target(c, o.port());
    config::TargetGroupConfig dead;
    dead.name = "dead";
    dead.health_check.enabled = false;
    dead.retries = 0;
    c.target_groups.push_back(dead);
    const std::uint16_t dead_port = refused_port();
    add_target(c, dead_port, 1);
    auto sink = std::make_shared<MemorySink>();
    server::GatewayOptions opts;
    opts.access_log_sink = sink;
    gateway_ = std::make_unique<server::Gateway>(std::move(c), nullptr, opts);
    gateway_->start();
    port_ = gateway_->listener_port(0);
    const std::string port = std::to_string(port_);

    auto conn = connect(port_);
    const std::uint16_t client_port = conn.local_port();
    const std::string fwd =
        "GET /hello?x=1 HTTP/1.1\r\nHost: x.test\r\nUser-Agent: te\"st/1.0\r\n\r\n";
    ASSERT_FALSE(conn.send_raw(fwd));
    auto r1 = conn.read_response();
    ASSERT_EQ(r1.status, 200);
    const std::string ping_req = "GET /ping HTTP/1.1\r\nHost: x.test\r\n\r\n";
    ASSERT_FALSE(conn.send_raw(ping_req));
    auto r2 = conn.read_response();
    ASSERT_EQ(r2.body, "pong");
    ASSERT_FALSE(conn.send_raw("GET /old/a?b=c HTTP/1.1\r\nHost: x.test\r\n\r\n"));
    auto r3 = conn.read_response();
    ASSERT_EQ(r3.status, 301);
    const std::string location = r3.header("Location");
    ASSERT_FALSE(conn.send_raw("GET /missing/x HTTP/1.1\r\nHost: x.test\r\n\r\n"));
    ASSERT_EQ(conn.read_response().status, 502);
    // Refused by the parser (no request line to log) ...
    auto bad = connect(port_);
    ASSERT_FALSE(
        bad.send_raw("POST /s HTTP/1.1\r\nHost: x.test\r\nContent-Length: 4\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"));
    ASSERT_EQ(bad.read_response().status, 400);
    ASSERT_TRUE(bad.closed_by_peer());
    // ... and by the desync classifier (parsed, then refused).
    auto bad2 = connect(port_);
    ASSERT_FALSE(bad2.send_raw("GET foo HTTP/1.1\r\nHost: x.test\r\n\r\n"));
    ASSERT_EQ(bad2.read_response().status, 400);
    ASSERT_TRUE(bad2.closed_by_peer());

    ASSERT_TRUE(wait_logged(*gateway_->access_log(), 6));
    const auto lines = sink->lines();
    ASSERT_EQ(lines.size(), 6u);
    std::vector<Record> recs;
    for (const auto& l : lines)
      recs.push_back(format == config::AccessLogFormat::json ? parse_json(l) : parse_alb(l));
    // The 400 may be logged before the first connection's requests: find by status.
    auto find = [&](const std::string& status) -> const Record& {
      for (const auto& r : recs)
        if (r.at("elb_status_code") == status && r.at("request").find("/ping") == std::string::npos)
          return r;
      return recs.at(0);
    };

    for (const auto& r : recs) {
      EXPECT_EQ(r.at("type"), "http");
      EXPECT_TRUE(iso_time(r.at("time"))) << r.at("time");
      EXPECT_TRUE(iso_time(r.at("request_creation_time"))) << r.at("request_creation_time");
      EXPECT_LE(r.at("request_creation_time"), r.at("time"));
      EXPECT_EQ(r.at("elb"), "web");
      EXPECT_EQ(r.at("client:port").rfind("127.0.0.1:", 0), 0u) << r.at("client:port");
      EXPECT_EQ(r.at("ssl_cipher"), "-");
      EXPECT_EQ(r.at("ssl_protocol"), "-");
      EXPECT_EQ(r.at("domain_name"), "-");
      EXPECT_EQ(r.at("chosen_cert_arn"), "-");
    }

    const Record& f = find("200");
    const std::string target = "127.0.0.1:" + std::to_string(o.port());
    EXPECT_EQ(f.at("client:port"), "127.0.0.1:" + std::to_string(client_port));
    EXPECT_EQ(f.at("target:port"), target);
    EXPECT_GE(std::stod(f.at("request_processing_time")), 0.0);
    EXPECT_GE(std::stod(f.at("target_processing_time")), 0.0);
    EXPECT_GE(std::stod(f.at("response_processing_time")), 0.0);
    EXPECT_LT(std::stod(f.at("target_processing_time")), 5.0);
    EXPECT_EQ(f.at("target_status_code"), "200");
    EXPECT_EQ(f.at("received_bytes"), std::to_string(fwd.size()));
    EXPECT_GT(std::stoull(f.at("sent_bytes")), 1024u);  // default origin body: 1 KiB
    EXPECT_EQ(f.at("request"), "GET http://x.test:" + port + "/hello?x=1 HTTP/1.1");
    EXPECT_EQ(f.at("user_agent"), "te\"st/1.0");
    EXPECT_EQ(f.at("target_group_arn"), "app");
    EXPECT_EQ(f.at("trace_id").rfind("Root=1-", 0), 0u) << f.at("trace_id");
    EXPECT_EQ(f.at("matched_rule_priority"), "0");
    EXPECT_EQ(f.at("actions_executed"), "forward");
    EXPECT_EQ(f.at("redirect_url"), "-");
    EXPECT_EQ(f.at("error_reason"), "-");
    EXPECT_EQ(f.at("target:port_list"), target);
    EXPECT_EQ(f.at("target_status_code_list"), "200");
    EXPECT_EQ(f.at("classification"), "-");
    EXPECT_EQ(f.at("classification_reason"), "-");

    const Record* p = nullptr;
    for (const auto& r : recs)
      if (r.at("request").find("/ping") != std::string::npos) p = &r;
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->at("elb_status_code"), "200");
    EXPECT_EQ(p->at("target_status_code"), "-");
    EXPECT_EQ(p->at("target:port"), "-");
    EXPECT_EQ(p->at("request_processing_time"), "-1");
    EXPECT_EQ(p->at("target_processing_time"), "-1");
    EXPECT_EQ(p->at("response_processing_time"), "-1");
    EXPECT_EQ(p->at("received_bytes"), std::to_string(ping_req.size()));
    EXPECT_EQ(p->at("user_agent"), "-");
    EXPECT_EQ(p->at("target_group_arn"), "-");
    EXPECT_EQ(p->at("trace_id"), "-");
    EXPECT_EQ(p->at("matched_rule_priority"), "10");
    EXPECT_EQ(p->at("actions_executed"), "fixed-response");
    EXPECT_EQ(p->at("target_status_code_list"), "-");

    const Record& d = find("301");
    EXPECT_EQ(d.at("matched_rule_priority"), "20");
    EXPECT_EQ(d.at("actions_executed"), "redirect");
    EXPECT_FALSE(location.empty());
    EXPECT_EQ(d.at("redirect_url"), location);
    EXPECT_EQ(d.at("request"), "GET http://x.test:" + port + "/old/a?b=c HTTP/1.1");

    const Record& failed = find("502");
    EXPECT_EQ(failed.at("target:port"), "127.0.0.1:" + std::to_string(dead_port));
    EXPECT_EQ(failed.at("target_status_code"), "-");
    EXPECT_EQ(failed.at("target_group_arn"), "dead");
    EXPECT_EQ(failed.at("matched_rule_priority"), "30");
    EXPECT_EQ(failed.at("actions_executed"), "forward");
    EXPECT_EQ(failed.at("error_reason"), "target_connect_failed");
    EXPECT_EQ(failed.at("request_processing_time"), "-1");

    const Record* unparsed = nullptr;
    const Record* rejected = nullptr;
    for (const auto& r : recs) {
      if (r.at("elb_status_code") != "400") continue;
      (r.at("request") == "- - -" ? unparsed : rejected) = &r;
    }
    ASSERT_NE(unparsed, nullptr);
    ASSERT_NE(rejected, nullptr);
    for (const Record* e : {unparsed, rejected}) {
      EXPECT_EQ(e->at("matched_rule_priority"), "-1");
      EXPECT_EQ(e->at("actions_executed"), "-");
      EXPECT_EQ(e->at("classification"), "Severe");
      EXPECT_EQ(e->at("target:port"), "-");
      EXPECT_EQ(e->at("target_group_arn"), "-");
    }
    EXPECT_EQ(unparsed->at("error_reason"), "bad_request");
    EXPECT_EQ(unparsed->at("classification_reason"), "unparseable_head");
    EXPECT_EQ(rejected->at("error_reason"), "desync_rejected");
    EXPECT_EQ(rejected->at("classification_reason"), "bad_target");
    EXPECT_EQ(rejected->at("request"), "GET http://x.test:" + port + "foo HTTP/1.1");
  }
};

TEST_F(AccessLogTest, AlbLinesParsedBackFieldByField) {
  run_sequence_and_check(config::AccessLogFormat::alb);
}

TEST_F(AccessLogTest, JsonLinesParsedBackFieldByField) {
  run_sequence_and_check(config::AccessLogFormat::json);
}

TEST_F(AccessLogTest, StalledWriterDropsAndCountsWithoutBlockingWorkers) {
  add_origin();
  config::Config c = base_config(1);
  c.access_log.path = "stdout";
  auto sink = std::make_shared<StalledSink>();
  server::GatewayOptions opts;
  opts.access_log_sink = sink;
  opts.access_log_ring_records = 8;
  for (auto& o : origins_) add_target(c, o->port());
  gateway_ = std::make_unique<server::Gateway>(std::move(c), nullptr, opts);
  gateway_->start();
  port_ = gateway_->listener_port(0);

  constexpr int kRequests = 300;
  auto conn = connect(port_);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRequests; ++i) {
    auto r = conn.request("GET", "/", {}, {}, 5s);
    ASSERT_EQ(r.status, 200) << i;
    if (i == 0) {
      ASSERT_TRUE(sink->wait_first_write(5s));  // the writer is now stuck
    }
  }
  // Served at loopback speed although no line can be written.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 20s);

  auto* log = gateway_->access_log();
  ASSERT_NE(log, nullptr);
  // Everything that did not fit the ring (8) and the stuck batch was dropped.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (log->dropped() < kRequests - 8 - 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  EXPECT_GE(log->dropped(), static_cast<std::uint64_t>(kRequests - 8 - 1));
  const Exposition before = parse(gateway_->metrics().serialize());
  EXPECT_EQ(before.get("edged_access_log_lines_total", {{"result", "dropped"}}),
            static_cast<double>(log->dropped()));

  sink->release();
  ASSERT_TRUE(wait_logged(*log, kRequests, true));
  // Nothing lost silently: every request was either written or counted as dropped.
  EXPECT_EQ(log->written() + log->dropped(), static_cast<std::uint64_t>(kRequests));
  EXPECT_EQ(sink->lines(), log->written());
  const Exposition after = parse(gateway_->metrics().serialize());
  EXPECT_EQ(after.get("edged_access_log_lines_total", {{"result", "written"}}),
            static_cast<double>(log->written()));
}

TEST_F(AccessLogTest, FileIsReopenedForLogRotation) {
  add_origin();
  const auto dir = std::filesystem::temp_directory_path() /
                   ("edged-access-" + std::to_string(::getpid()) + "-" +
                    std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::filesystem::create_directories(dir);
  const auto path = dir / "access.log";
  config::Config c = base_config(1);
  c.access_log.path = path.string();
  start(std::move(c));

  auto count_lines = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    std::string l;
    std::size_t n = 0;
    while (std::getline(in, l)) {
      EXPECT_EQ(split_alb(l).size(), kFields.size()) << l;
      ++n;
    }
    return n;
  };
  auto conn = connect(port_);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(conn.request("GET", "/a").status, 200);
  ASSERT_TRUE(wait_logged(*gateway_->access_log(), 3));
  EXPECT_EQ(count_lines(path), 3u);

  // logrotate: move the file away, then signal (edged: SIGUSR1 → reopen_logs()).
  std::filesystem::rename(path, dir / "access.log.1");
  gateway_->reopen_logs();
  ASSERT_TRUE(gateway_->access_log()->flush());
  EXPECT_EQ(gateway_->access_log()->reopens(), 1u);
  for (int i = 0; i < 2; ++i) ASSERT_EQ(conn.request("GET", "/b").status, 200);
  ASSERT_TRUE(wait_logged(*gateway_->access_log(), 5));
  EXPECT_EQ(count_lines(dir / "access.log.1"), 3u);
  EXPECT_EQ(count_lines(path), 2u);
  std::filesystem::remove_all(dir);
}

TEST_F(AccessLogTest, OffCreatesNoLog) {
  add_origin();
  start(base_config(1));  // access_log.path: off
  EXPECT_EQ(gateway_->access_log(), nullptr);
  EXPECT_EQ(http_get(port_, "/").status, 200);
  gateway_->reopen_logs();  // harmless
}

}  // namespace
}  // namespace edge::test
