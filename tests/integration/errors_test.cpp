// Edge-generated errors through a real gateway: every smuggling vector is
// refused with 400 before the target sees anything; 408, 413, 431, 502, 503,
// 504 are answered and counted with their reason.
#include "integration/gateway_fixture.hpp"

namespace edge::test {
namespace {

using namespace std::chrono_literals;

class ErrorsTest : public GatewayTest {};

struct Vector {
  const char* name;
  const char* raw;
};

const Vector kSmuggling[] = {
    {"cl_and_te",
     "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
     "0\r\n\r\n"},
    {"te_and_cl",
     "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
     "0\r\n\r\n"},
    {"differing_cl",
     "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde"},
    {"bad_chunk_size",
     "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"},
    {"chunk_size_overflow",
     "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     "fffffffffffffffff1\r\nabc\r\n0\r\n\r\n"},
    {"obs_fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"},
    {"cr_in_value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n"},
    {"lf_in_value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\nb: c\r\n\r\n"},
    {"nul_in_value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n"},
    {"space_before_colon", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length : 0\r\n\r\n"},
    {"bad_field_name", "GET / HTTP/1.1\r\nHost: x\r\nX(A): a\r\n\r\n"},
    {"bad_target", "GET foo HTTP/1.1\r\nHost: x\r\n\r\n"},
    {"te_not_final_chunked",
     "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"},
    {"te_gzip", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc"},
    {"bad_version", "GET / HTTP/1.2\r\nHost: x\r\n\r\n"},
    {"missing_host", "GET / HTTP/1.1\r\nX-A: a\r\n\r\n"},
};

TEST_F(ErrorsTest, SmugglingVectorsRefusedWith400AndTargetReceivesNothing) {
  add_origin();
  start(base_config(1));
  for (const auto& v : kSmuggling) {
    SCOPED_TRACE(v.name);
    auto c = connect(port_);
    // sizeof-1: some vectors hold a NUL byte
    std::string raw(v.raw, std::char_traits<char>::length(v.raw));
    if (std::string_view(v.name) == "nul_in_value")
      raw = std::string("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n", 36);
    ASSERT_FALSE(c.send_raw(raw));
    auto r = c.read_response();
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.header("Server"), "edged");
    EXPECT_TRUE(c.closed_by_peer());
  }
  EXPECT_EQ(origin_requests(), 0u);
  auto& m = gateway_->metrics();
  EXPECT_EQ(edge_errors(m, EdgeError::desync_rejected) + edge_errors(m, EdgeError::bad_request) +
                edge_errors(m, EdgeError::bad_chunk),
            std::size(kSmuggling));
  EXPECT_GT(sum_shards(m, [](auto& s) { return s.desync_classifications[3].value(); }), 0u);
}

TEST_F(ErrorsTest, MonitorModeForwardsAmbiguousRequests) {
  auto& o = add_origin();
  auto c = base_config(1);
  c.desync_mitigation_mode = config::DesyncMode::monitor;
  start(c);
  auto conn = connect(port_);
  // Duplicate equal Content-Length: ambiguous; defensive forwards it and closes.
  ASSERT_FALSE(conn.send_raw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"));
  auto r = conn.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(o.total_requests(), 1u);
}

TEST_F(ErrorsTest, DefensiveModeForwardsAmbiguousThenCloses) {
  auto& o = add_origin();
  start(base_config(1));
  auto conn = connect(port_);
  ASSERT_FALSE(conn.send_raw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"));
  auto r = conn.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Connection"), "close");
  EXPECT_TRUE(conn.closed_by_peer());
  EXPECT_EQ(o.total_requests(), 1u);
}

TEST_F(ErrorsTest, StrictestModeRefusesAcceptable) {
  add_origin();
  auto c = base_config(1);
  c.desync_mitigation_mode = config::DesyncMode::strictest;
  start(c);
  auto conn = connect(port_);
  // obs-text in a field value: acceptable, forwarded in defensive, refused here.
  ASSERT_FALSE(conn.send_raw("GET / HTTP/1.1\r\nHost: x\r\nX-A: caf\xc3\xa9\r\n\r\n"));
  EXPECT_EQ(conn.read_response().status, 400);
  EXPECT_EQ(origin_requests(), 0u);
}

TEST_F(ErrorsTest, HeaderTooLarge431) {
  add_origin();
  auto c = base_config(1);
  c.limits.max_header_bytes = 4096;
  c.limits.max_header_line_bytes = 1024;
  start(c);
  {
    auto conn = connect(port_);
    auto r = conn.request("GET", "/", {{"X-Big", std::string(8000, 'a')}});
    EXPECT_EQ(r.status, 431);
  }
  {
    auto conn = connect(port_);
    auto r = conn.request("GET", "/", {{"X-Line", std::string(2000, 'a')}});
    EXPECT_EQ(r.status, 431);
  }
  EXPECT_EQ(origin_requests(), 0u);
  EXPECT_EQ(edge_errors(gateway_->metrics(), EdgeError::header_too_large), 2u);
}

TEST_F(ErrorsTest, BodyTooLarge413) {
  add_origin();
  auto c = base_config(1);
  c.limits.max_body_bytes = 1000;
  start(c);
  {
    auto conn = connect(port_);
    auto r = conn.request("POST", "/echo", {}, std::string(2000, 'b'));
    EXPECT_EQ(r.status, 413);
  }
  {
    // chunked: the limit is enforced on the decoded size
    auto conn = connect(port_);
    std::string big(1500, 'c');
    char hex[16];
    std::snprintf(hex, sizeof hex, "%zx", big.size());
    ASSERT_FALSE(conn.send_raw("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                               std::string(hex) + "\r\n" + big + "\r\n0\r\n\r\n"));
    EXPECT_EQ(conn.read_response().status, 413);
  }
  {
    auto conn = connect(port_);
    auto r = conn.request("POST", "/echo", {}, std::string(1000, 'b'));
    EXPECT_EQ(r.status, 200);
  }
  EXPECT_EQ(origin_requests(), 1u);
}

TEST_F(ErrorsTest, SlowClientHead408) {
  add_origin();
  auto c = base_config(1);
  c.timeouts.client_header = 300ms;
  start(c);
  auto conn = connect(port_);
  ASSERT_FALSE(conn.send_raw("GET / HTTP/1.1\r\nHost: x\r\n"));  // never finishes
  auto r = conn.read_response(5s);
  EXPECT_EQ(r.status, 408);
  EXPECT_TRUE(conn.closed_by_peer());
  EXPECT_EQ(edge_errors(gateway_->metrics(), EdgeError::client_timeout), 1u);
}

TEST_F(ErrorsTest, IdleKeepAliveConnectionClosed) {
  add_origin();
  auto c = base_config(1);
  c.timeouts.idle = 200ms;
  start(c);
  auto conn = connect(port_);
  EXPECT_EQ(conn.request("GET", "/").status, 200);
  EXPECT_TRUE(conn.closed_by_peer(5s));
}

TEST_F(ErrorsTest, ClientFinAfterAResponseClosesTheConnection) {
  add_origin();
  start(base_config(1));  // idle timeout 60 s: only the FIN can close it in time
  auto conn = connect(port_);
  EXPECT_EQ(conn.request("GET", "/").status, 200);
  EXPECT_EQ(conn.request("GET", "/").status, 200);
  conn.shutdown_send();
  EXPECT_TRUE(conn.closed_by_peer(10s));
}

TEST_F(ErrorsTest, ClientFinWithTheRequestStillGetsTheResponse) {
  add_origin();
  auto c = base_config(1);
  // A FIN that comes in with the request may be seen only when the idle
  // timeout closes the connection (the reactor reports both as one event).
  c.timeouts.idle = 200ms;
  start(c);
  auto conn = connect(port_);
  ASSERT_FALSE(conn.send_raw(make_request("GET", "/bytes/5000")));
  conn.shutdown_send();
  auto r = conn.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), 5000u);
  EXPECT_TRUE(conn.closed_by_peer(10s));
}

TEST_F(ErrorsTest, TargetRefused502) {
  auto c = base_config(1);
  add_target(c, refused_port());
  c.target_groups[0].retries = 0;
  start(c);
  auto r = http_get(port_, "/");
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(r.header("Server"), "edged");
  EXPECT_EQ(edge_errors(gateway_->metrics(), EdgeError::target_connect_failed), 1u);
}

TEST_F(ErrorsTest, TargetGarbageAndReset502) {
  add_origin();
  start(base_config(1));
  auto conn = connect(port_);
  EXPECT_EQ(conn.request("GET", "/garbage").status, 502);
  EXPECT_EQ(conn.request("POST", "/reset", {}, "x").status, 502);
  // The client connection survives a gateway error.
  EXPECT_EQ(conn.request("GET", "/bytes/1").status, 200);
  auto& m = gateway_->metrics();
  EXPECT_EQ(edge_errors(m, EdgeError::target_bad_response), 1u);
  EXPECT_EQ(edge_errors(m, EdgeError::target_reset), 1u);
}

TEST_F(ErrorsTest, NoRegisteredTarget503) {
  auto c = base_config(1);
  start(c);  // group "app" has no targets
  auto r = http_get(port_, "/");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(edge_errors(gateway_->metrics(), EdgeError::no_target), 1u);
}

TEST_F(ErrorsTest, TargetTooSlow504) {
  add_origin();
  auto c = base_config(1);
  c.timeouts.upstream_response = 300ms;
  start(c);
  auto r = http_get(port_, "/hang");
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(edge_errors(gateway_->metrics(), EdgeError::target_timeout), 1u);
}

TEST_F(ErrorsTest, ErrorsCountedInPrometheusText) {
  auto c = base_config(1);
  start(c);
  EXPECT_EQ(http_get(port_, "/").status, 503);
  auto r = http_get(gateway_->admin_port(), "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("edged_edge_errors_total{code=\"503\",reason=\"no_target\"} 1"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("edged_requests_total{listener=\"web\",status_class=\"5xx\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace edge::test
