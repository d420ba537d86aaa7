// edgeload over HTTPS against a small in-process TLS server with a self-signed
// certificate made at start: keep-alive, one connection per request, certificate
// verification (off by default, failing with --verify), and session resumption
// (TLS 1.3 tickets, TLS 1.2 tickets and session IDs) counted on both sides.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <string>
#include <thread>

#include "edge/core/types.hpp"
#include "edge/load/runner.hpp"

namespace edge::test {
namespace {

namespace ssl = asio::ssl;

/// Answers every request with "ok" over TLS; counts requests, connections and
/// handshakes (resumed, TLS 1.2). Thread: its own io_context thread; the counters
/// are atomic. `resumable` false: no tickets and no session cache, so every
/// handshake is a full one.
class TlsServer {
 public:
  explicit TlsServer(bool resumable = true)
      : ctx_(ssl::context::tls_server), acceptor_(ioc_.get_executor()) {
    if (!resumable) {
      SSL_CTX_set_options(ctx_.native_handle(), SSL_OP_NO_TICKET);
      SSL_CTX_set_num_tickets(ctx_.native_handle(), 0);
      SSL_CTX_set_session_cache_mode(ctx_.native_handle(), SSL_SESS_CACHE_OFF);
    }
    EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509_sign(cert, key, EVP_sha256());
    SSL_CTX_use_certificate(ctx_.native_handle(), cert);
    SSL_CTX_use_PrivateKey(ctx_.native_handle(), key);
    X509_free(cert);
    EVP_PKEY_free(key);

    const asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(ioc_, accept_loop(this), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~TlsServer() {
    asio::post(ioc_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      ioc_.stop();
    });
    thread_.join();
  }
  TlsServer(const TlsServer&) = delete;
  TlsServer& operator=(const TlsServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::uint64_t requests() const { return requests_.load(); }
  std::uint64_t connections() const { return connections_.load(); }
  std::uint64_t resumed() const { return resumed_.load(); }
  std::uint64_t tls12() const { return tls12_.load(); }

 private:
  static Task<void> accept_loop(TlsServer* self) {
    for (;;) {
      auto [ec, sock] = co_await self->acceptor_.async_accept(kUseTuple);
      if (ec) co_return;
      self->connections_++;
      asio::co_spawn(self->ioc_, serve(self, std::move(sock)), asio::detached);
    }
  }
  static Task<void> serve(TlsServer* self, Socket sock) {
    auto stream = std::make_unique<ssl::stream<Socket>>(std::move(sock), self->ctx_);
    auto [hec] = co_await stream->async_handshake(ssl::stream_base::server, kUseTuple);
    if (hec) co_return;
    if (SSL_session_reused(stream->native_handle()) == 1) self->resumed_++;
    if (SSL_version(stream->native_handle()) == TLS1_2_VERSION) self->tls12_++;
    auto buffer = std::make_unique<std::string>();
    static constexpr std::string_view kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    static constexpr std::string_view kClose =
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
    for (;;) {
      auto [ec, n] = co_await asio::async_read_until(*stream, asio::dynamic_buffer(*buffer),
                                                     "\r\n\r\n", kUseTuple);
      if (ec) co_return;
      const bool close = buffer->substr(0, n).find("Connection: close") != std::string::npos;
      buffer->erase(0, n);
      self->requests_++;
      const std::string_view reply = close ? kClose : kOk;
      auto [wec, w] =
          co_await asio::async_write(*stream, asio::buffer(reply.data(), reply.size()), kUseTuple);
      (void)w;
      if (wec || close) {
        co_await stream->async_shutdown(kUseTuple);
        co_return;
      }
    }
  }

  asio::io_context ioc_{1};
  ssl::context ctx_;
  Acceptor acceptor_;
  std::thread thread_;
  std::uint16_t port_ = 0;
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> connections_{0};
  std::atomic<std::uint64_t> resumed_{0};
  std::atomic<std::uint64_t> tls12_{0};
};

load::LoadResult run_https(std::uint16_t port, bool keep_alive, bool verify,
                           void (*adjust)(load::LoadOptions&) = nullptr) {
  load::LoadOptions o;
  o.url = "https://127.0.0.1:" + std::to_string(port) + "/";
  o.progress = false;
  o.threads = 1;
  o.connections = 2;
  o.requests = 20;
  o.duration = std::chrono::milliseconds(0);
  o.keep_alive = keep_alive;
  o.verify_tls = verify;
  if (adjust != nullptr) adjust(o);
  load::LoadTarget t;
  std::string error;
  EXPECT_TRUE(load::parse_url(o.url, t.url, error)) << error;
  t.name = t.url.authority();
  load::LoadRunner runner(o, {t});
  return runner.run();
}

TEST(EdgeloadTlsTest, KeepAliveOverHttps) {
  TlsServer server;
  const auto r = run_https(server.port(), true, false);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.stats.status[200], 20u);
  EXPECT_EQ(r.stats.error_count(), 0u);
  EXPECT_EQ(r.stats.connects, 2u);
  EXPECT_EQ(server.requests(), 20u);
}

TEST(EdgeloadTlsTest, ConnectionPerRequestOverHttps) {
  TlsServer server;
  const auto r = run_https(server.port(), false, false);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.stats.status[200], 20u);
  EXPECT_EQ(r.stats.connects, 20u);
  EXPECT_EQ(server.connections(), 20u);
}

TEST(EdgeloadTlsTest, VerifyRejectsASelfSignedCertificate) {
  TlsServer server;
  const auto r = run_https(server.port(), true, true);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.stats.requests, 0u);
  EXPECT_EQ(r.stats.errors[static_cast<std::size_t>(load::ErrorKind::tls)], 20u);
}

TEST(EdgeloadTlsTest, FullHandshakePerConnectionWithoutResumption) {
  TlsServer server;
  const auto r = run_https(server.port(), false, false);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.stats.status[200], 20u);
  EXPECT_EQ(r.stats.handshakes_full, 20u);
  EXPECT_EQ(r.stats.handshakes_resumed, 0u);
  EXPECT_EQ(server.resumed(), 0u);
}

// Each of the 2 connections does one full handshake, then resumes on every
// reconnect; the server sees the same.
void expect_resumed(const load::LoadResult& r, const TlsServer& server) {
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.stats.status[200], 20u);
  EXPECT_EQ(r.stats.error_count(), 0u);
  EXPECT_EQ(r.stats.connects, 20u);
  EXPECT_EQ(r.stats.handshakes_full, 2u);
  EXPECT_EQ(r.stats.handshakes_resumed, 18u);
  EXPECT_EQ(server.resumed(), 18u);
  EXPECT_NE(load::format_json(r).find(R"("handshakes":{"full":2,"resumed":18})"),
            std::string::npos);
  EXPECT_NE(load::format_text(r).find("TLS handshakes: 2 full, 18 resumed"), std::string::npos);
}

TEST(EdgeloadTlsTest, ResumesTls13SessionsFromTickets) {
  TlsServer server;
  const auto r =
      run_https(server.port(), false, false, [](load::LoadOptions& o) { o.tls_resume = true; });
  expect_resumed(r, server);
  EXPECT_EQ(server.tls12(), 0u);
}

TEST(EdgeloadTlsTest, ResumesTls12SessionsFromTickets) {
  TlsServer server;
  const auto r = run_https(server.port(), false, false, [](load::LoadOptions& o) {
    o.tls_resume = true;
    o.tls_max = "1.2";
  });
  expect_resumed(r, server);
  EXPECT_EQ(server.tls12(), 20u);
}

TEST(EdgeloadTlsTest, ResumesTls12SessionsBySessionId) {
  TlsServer server;
  const auto r = run_https(server.port(), false, false, [](load::LoadOptions& o) {
    o.tls_resume = true;
    o.tls_max = "1.2";
    o.tls_tickets = false;
  });
  expect_resumed(r, server);
  EXPECT_EQ(server.tls12(), 20u);
}

TEST(EdgeloadTlsTest, ServerThatDoesNotResumeGetsFullHandshakes) {
  TlsServer server(false);
  const auto tls13 =
      run_https(server.port(), false, false, [](load::LoadOptions& o) { o.tls_resume = true; });
  const auto tls12 = run_https(server.port(), false, false, [](load::LoadOptions& o) {
    o.tls_resume = true;
    o.tls_max = "1.2";
  });
  for (const auto* r : {&tls13, &tls12}) {
    ASSERT_TRUE(r->ok()) << r->error;
    EXPECT_EQ(r->stats.status[200], 20u);
    EXPECT_EQ(r->stats.error_count(), 0u);
    EXPECT_EQ(r->stats.handshakes_full, 20u);
    EXPECT_EQ(r->stats.handshakes_resumed, 0u);
  }
  EXPECT_EQ(server.resumed(), 0u);
  EXPECT_EQ(server.tls12(), 20u);
}

TEST(EdgeloadTlsTest, KeepAliveHandshakesOncePerConnection) {
  TlsServer server;
  const auto r =
      run_https(server.port(), true, false, [](load::LoadOptions& o) { o.tls_resume = true; });
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.stats.status[200], 20u);
  EXPECT_EQ(r.stats.handshakes_full, 2u);
  EXPECT_EQ(r.stats.handshakes_resumed, 0u);
}

}  // namespace
}  // namespace edge::test
