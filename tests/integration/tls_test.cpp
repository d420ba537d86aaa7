// HTTPS listeners: a real gateway terminating TLS in front of real origins.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "edge/config/loader.hpp"
#include "edge/upstream/target.hpp"
#include "edge/load/runner.hpp"
#include "edge/origin/origin_server.hpp"
#include "integration/gateway_fixture.hpp"
#include "support/tls_certs.hpp"

namespace edge::test {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

/// A blocking HTTPS/1.1 client for tests.
class TlsClient {
 public:
  explicit TlsClient(int max_version = 0, const TestCertificate* client_cert = nullptr)
      : ctx_(asio::ssl::context::tls_client) {
    ctx_.set_verify_mode(asio::ssl::verify_none);
    if (max_version) SSL_CTX_set_max_proto_version(ctx_.native_handle(), max_version);
    if (client_cert) {
      ctx_.use_certificate_chain_file(client_cert->cert_path);
      ctx_.use_private_key_file(client_cert->key_path, asio::ssl::context::pem);
    }
  }
  /// Verifies the server against `root_pem` alone (from the next connect on).
  void trust(const std::string& root_pem) {
    ctx_.load_verify_file(root_pem);
    ctx_.set_verify_mode(asio::ssl::verify_peer);
  }
  /// Certificates the server sent, its own first.
  int peer_chain_length() {
    STACK_OF(X509)* chain = SSL_get_peer_cert_chain(stream_->native_handle());
    return chain ? sk_X509_num(chain) : 0;
  }
  /// TLS 1.2 then resumes by session ID only (no ticket asked for).
  void no_tickets() { SSL_CTX_set_options(ctx_.native_handle(), SSL_OP_NO_TICKET); }
  /// Connects and handshakes (offering `resume` when given); the error
  /// message, or "" on success.
  std::string connect(std::uint16_t port, const std::string& sni, SSL_SESSION* resume = nullptr) {
    sock_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    stream_.emplace(sock_, ctx_);
    if (resume) SSL_set_session(stream_->native_handle(), resume);
    if (!sni.empty())
      SSL_ctrl(stream_->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(sni.c_str()));
    boost::system::error_code ec;
    stream_->handshake(asio::ssl::stream_base::client, ec);
    return ec ? ec.message() : std::string();
  }
  /// Sends `raw` and reads one response with a Content-Length body.
  std::pair<std::string, std::string> exchange(const std::string& raw) {
    asio::write(*stream_, asio::buffer(raw));
    asio::read_until(*stream_, buf_, "\r\n\r\n");
    std::string all(asio::buffers_begin(buf_.data()), asio::buffers_end(buf_.data()));
    const auto end = all.find("\r\n\r\n") + 4;
    std::string head = all.substr(0, end);
    buf_.consume(end);
    std::size_t length = 0;
    if (auto p = head.find("Content-Length: "); p != std::string::npos)
      length = std::stoul(head.substr(p + 16));
    if (buf_.size() < length) asio::read(*stream_, buf_, asio::transfer_exactly(length - buf_.size()));
    std::string body(asio::buffers_begin(buf_.data()), asio::buffers_begin(buf_.data()) + static_cast<std::ptrdiff_t>(length));
    buf_.consume(length);
    return {head, body};
  }
  std::string peer_cn() {
    X509* peer = SSL_get1_peer_certificate(stream_->native_handle());
    if (!peer) return {};
    char cn[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
    X509_free(peer);
    return cn;
  }
  std::string version() { return SSL_get_version(stream_->native_handle()); }
  bool reused() { return SSL_session_reused(stream_->native_handle()) == 1; }
  std::shared_ptr<SSL_SESSION> session() {
    return {SSL_get1_session(stream_->native_handle()), SSL_SESSION_free};
  }
  /// Sends `raw`, then reads until the stream ends: everything read, and the
  /// error that ended it (eof after a close_notify, stream_truncated without).
  std::pair<std::string, boost::system::error_code> send_and_read_to_end(const std::string& raw) {
    asio::write(*stream_, asio::buffer(raw));
    boost::system::error_code ec;
    asio::read(*stream_, buf_, ec);
    std::string all(asio::buffers_begin(buf_.data()), asio::buffers_end(buf_.data()));
    buf_.consume(buf_.size());
    return {all, ec};
  }
  /// close_notify both ways: a session is resumable only after a clean close.
  void close() {
    boost::system::error_code ec;
    stream_->shutdown(ec);
  }

 private:
  asio::io_context ioc_;
  asio::ssl::context ctx_;
  tcp::socket sock_{ioc_};
  std::optional<asio::ssl::stream<tcp::socket&>> stream_;
  asio::streambuf buf_;
};

class HttpsTest : public GatewayTest {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("edge-https");
    rsa_ = make_test_certificate(dir_, "site", {"edge.test", "www.edge.test"}, TestKey::rsa);
    wild_ = make_test_certificate(dir_, "wild", {"*.apps.test"}, TestKey::ecdsa);
  }
  void TearDown() override {
    GatewayTest::TearDown();
    std::filesystem::remove_all(dir_);
  }
  config::Config https_config(std::string policy = "ELBSecurityPolicy-TLS13-1-2-2021-06") {
    auto c = base_config();
    auto& l = c.listeners[0];
    l.protocol = config::Protocol::https;
    l.tls.policy = std::move(policy);
    l.tls.certificates = {{rsa_.cert_path, rsa_.key_path}, {wild_.cert_path, wild_.key_path}};
    return c;
  }
  std::uint64_t tls_errors(metrics::TlsError e) {
    return sum_shards(gateway_->metrics(), [e](metrics::WorkerShard& s) {
      return s.tls_errors[static_cast<std::size_t>(e)].value();
    });
  }
  /// The counter is written by the worker after the client already saw the
  /// failure: wait for it (bounded), no fixed sleep.
  std::uint64_t await_tls_errors(metrics::TlsError e, std::uint64_t want) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (tls_errors(e) < want && std::chrono::steady_clock::now() < until)
      std::this_thread::yield();
    return tls_errors(e);
  }

  std::string dir_;
  TestCertificate rsa_, wild_;
};

TEST_F(HttpsTest, TerminatesTlsAndForwardsOverKeepAlive) {
  origin::OriginOptions o;
  o.echo = true;
  add_origin(o);
  start(https_config());

  TlsClient client;
  ASSERT_EQ(client.connect(port_, "edge.test"), "");
  EXPECT_EQ(client.peer_cn(), "edge.test");
  EXPECT_EQ(client.version(), "TLSv1.3");
  for (int i = 0; i < 3; ++i) {
    auto [head, body] = client.exchange("GET /echo/" + std::to_string(i) +
                                        " HTTP/1.1\r\nHost: edge.test\r\n\r\n");
    EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 200") << head;
    EXPECT_NE(body.find("[\"X-Forwarded-Proto\",\"https\"]"), std::string::npos) << body;
    EXPECT_NE(body.find("/echo/" + std::to_string(i)), std::string::npos) << body;
  }
  auto handshakes = sum_shards(gateway_->metrics(), [](metrics::WorkerShard& s) {
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < s.tls_handshakes.size(); ++i) n += s.tls_handshakes[i].value();
    return n;
  });
  EXPECT_EQ(handshakes, 1U);  // three requests, one handshake
  const std::string scrape = gateway_->metrics().serialize();
  EXPECT_NE(scrape.find("edged_tls_handshakes_total{protocol=\"TLSv1.3\",cipher=\"TLS_AES_"),
            std::string::npos)
      << scrape;
  EXPECT_NE(scrape.find("edged_tls_certificate_expiry_timestamp_seconds{"), std::string::npos);
}

// A response that the connection closes after ends with the TLS close_notify
// (a clean end, not a cut one), whatever its framing: edged writes it with the
// response's last bytes, in the same send.
TEST_F(HttpsTest, AResponseBeforeACloseEndsWithTheCloseNotify) {
  add_origin();
  auto c = https_config();
  config::Rule ping;
  ping.priority = 10;
  ping.conditions.path_pattern = {"/ping"};
  ping.action.kind = config::Action::Kind::fixed_response;
  ping.action.fixed_response = {200, "text/plain", "pong"};
  c.listeners[0].rules.push_back(ping);
  start(c);
  struct Case {
    std::string path, status, ends_with;
    std::size_t min_size;
  };
  const std::vector<Case> cases = {
      {"/bytes/1000", "200", "", 1000},
      {"/bytes/300000", "200", "", 300000},  // several TLS writes
      {"/chunked/70000", "200", "0\r\n\r\n", 70000},
      {"/status/204", "204", "\r\n\r\n", 0},
      {"/ping", "200", "pong", 4},
  };
  for (const auto& k : cases) {
    TlsClient client;
    ASSERT_EQ(client.connect(port_, "edge.test"), "");
    auto [all, end] = client.send_and_read_to_end(
        "GET " + k.path + " HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(all.substr(0, 12), "HTTP/1.1 " + k.status) << k.path;
    EXPECT_GE(all.size(), k.min_size) << k.path;
    if (!k.ends_with.empty()) {
      ASSERT_GE(all.size(), k.ends_with.size()) << k.path;
      EXPECT_EQ(all.substr(all.size() - k.ends_with.size()), k.ends_with) << k.path;
    }
    if (auto p = all.find("Content-Length: "); p != std::string::npos) {
      const auto body = all.size() - (all.find("\r\n\r\n") + 4);
      EXPECT_EQ(body, std::stoul(all.substr(p + 16))) << k.path;
    }
    EXPECT_EQ(end, asio::error::eof) << k.path << ": " << end.message();
  }
}

// Bodies larger than one TLS write (32 KiB) and than the sockets' buffers, both
// ways through an HTTPS listener: every byte arrives, in order.
TEST_F(HttpsTest, LargeResponsesStreamThroughTls) {
  origin::OriginOptions o;
  o.body_size = 5 * 1024 * 1024 + 3;
  add_origin(o);
  start(https_config());
  TlsClient client;
  ASSERT_EQ(client.connect(port_, "edge.test"), "");
  for (int i = 0; i < 2; ++i) {  // twice on one connection
    auto [head, body] = client.exchange("GET /big HTTP/1.1\r\nHost: edge.test\r\n\r\n");
    EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 200") << head;
    ASSERT_EQ(body.size(), o.body_size);
    EXPECT_TRUE(body == origin::OriginServer::make_body(o.body_size));
  }
}

TEST_F(HttpsTest, LargeUploadsStreamThroughTls) {
  origin::OriginOptions o;
  o.echo = true;
  add_origin(o);
  start(https_config());
  std::string upload(3 * 1024 * 1024 + 7, '\0');
  for (std::size_t i = 0; i < upload.size(); ++i)
    upload[i] = static_cast<char>((i * 131 + (i >> 12)) & 0xff);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_Digest(upload.data(), upload.size(), md, &md_len, EVP_sha256(), nullptr);
  std::string hex;
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned i = 0; i < md_len; ++i) {
    hex.push_back(kHex[md[i] >> 4]);
    hex.push_back(kHex[md[i] & 15]);
  }
  TlsClient client;
  ASSERT_EQ(client.connect(port_, "edge.test"), "");
  auto [head, body] = client.exchange("POST /up HTTP/1.1\r\nHost: edge.test\r\nContent-Length: " +
                                      std::to_string(upload.size()) + "\r\n\r\n" + upload);
  EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 200") << head;
  EXPECT_NE(body.find("\"body_length\":" + std::to_string(upload.size())), std::string::npos) << body;
  EXPECT_NE(body.find(hex), std::string::npos) << body;
}

// Resumption through a real listener: by ticket (TLS 1.3 and 1.2) and by
// session ID from the cache (TLS 1.2, the client asks for no ticket). Two
// workers: tickets resume on any worker (shared keys), session IDs too (the
// listener's shared SessionCache behind each worker's own cache; which worker
// accepts is the kernel's choice, so the deterministic cross-worker check is
// the unit test SharedSessionCacheResumesSessionIdsOnAnyWorker).
TEST_F(HttpsTest, ResumedSessionsAreReportedResumed) {
  add_origin();
  start(https_config());
  struct Case {
    int version;
    bool tickets;
  };
  int resumptions = 0;
  for (const Case k : {Case{TLS1_3_VERSION, true}, Case{TLS1_2_VERSION, true},
                       Case{TLS1_2_VERSION, false}}) {
    std::shared_ptr<SSL_SESSION> session;
    {
      TlsClient first(k.version);
      if (!k.tickets) first.no_tickets();
      ASSERT_EQ(first.connect(port_, "edge.test"), "");
      // The exchange also takes in TLS 1.3 tickets (sent after the handshake).
      EXPECT_EQ(first.exchange("GET / HTTP/1.1\r\nHost: edge.test\r\n\r\n").first.substr(0, 12),
                "HTTP/1.1 200");
      EXPECT_FALSE(first.reused());
      session = first.session();
      first.close();
    }
    TlsClient second(k.version);
    if (!k.tickets) second.no_tickets();
    ASSERT_EQ(second.connect(port_, "edge.test", session.get()), "");
    EXPECT_TRUE(second.reused()) << "version " << k.version << " tickets " << k.tickets;
    EXPECT_EQ(second.exchange("GET / HTTP/1.1\r\nHost: edge.test\r\n\r\n").first.substr(0, 12),
              "HTTP/1.1 200");
    second.close();
    ++resumptions;
  }
  auto resumed = sum_shards(gateway_->metrics(), [](metrics::WorkerShard& s) {
    std::uint64_t n = 0;
    for (std::size_t i = 1; i < s.tls_handshakes.size(); i += 2) n += s.tls_handshakes[i].value();
    return n;  // odd slots: resumed (metrics::tls_handshake_index)
  });
  EXPECT_EQ(resumed, static_cast<std::uint64_t>(resumptions));
  const std::string scrape = gateway_->metrics().serialize();
  EXPECT_NE(scrape.find("edged_tls_handshakes_total{protocol=\"TLSv1.2\",cipher=\"ECDHE-"),
            std::string::npos)
      << scrape;
  EXPECT_NE(scrape.find("resumed=\"true\"} 2"), std::string::npos) << scrape;  // both TLS 1.2
}

TEST_F(HttpsTest, SniPicksTheWildcardCertificate) {
  add_origin();
  start(https_config());
  TlsClient client;
  ASSERT_EQ(client.connect(port_, "shop.apps.test"), "");
  EXPECT_EQ(client.peer_cn(), "*.apps.test");
  auto [head, body] = client.exchange("GET / HTTP/1.1\r\nHost: shop.apps.test\r\n\r\n");
  EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 200") << head;
}

// A certificate's chain goes out with it, whether the handshake keeps the
// listener's default certificate (no SNI, unknown SNI, its own name) or SNI
// picks another one: a client that trusts only the root verifies the server.
TEST_F(HttpsTest, CertificateChainsAreSentWithTheirCertificates) {
  auto first = make_test_chain(dir_, "first", {"first.test"}, TestKey::ecdsa);
  auto second = make_test_chain(dir_, "second", {"second.test"}, TestKey::rsa);
  add_origin();
  auto c = https_config();
  c.listeners[0].tls.certificates = {{first.leaf.cert_path, first.leaf.key_path},
                                     {second.leaf.cert_path, second.leaf.key_path}};
  start(c);
  for (std::string sni : {"", "unknown.test", "first.test"}) {
    TlsClient client;
    client.trust(first.root_path);
    ASSERT_EQ(client.connect(port_, sni), "") << "SNI '" << sni << "'";
    EXPECT_EQ(client.peer_cn(), "first.test");
    EXPECT_EQ(client.peer_chain_length(), 2) << "SNI '" << sni << "'";
    auto [head, body] = client.exchange("GET / HTTP/1.1\r\nHost: first.test\r\n\r\n");
    EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 200") << head;
  }
  TlsClient client;
  client.trust(second.root_path);
  ASSERT_EQ(client.connect(port_, "second.test"), "");
  EXPECT_EQ(client.peer_cn(), "second.test");
  EXPECT_EQ(client.peer_chain_length(), 2);
  // The root alone does not vouch for a leaf sent without its intermediate:
  // a client trusting the other root refuses.
  TlsClient stranger;
  stranger.trust(second.root_path);
  EXPECT_NE(stranger.connect(port_, "first.test"), "");
}

TEST_F(HttpsTest, NegotiationFailuresAreCountedByReason) {
  add_origin();
  start(https_config("ELBSecurityPolicy-TLS13-1-3-2021-06"));
  {
    TlsClient old(TLS1_2_VERSION);
    EXPECT_NE(old.connect(port_, "edge.test"), "");
  }
  EXPECT_EQ(await_tls_errors(metrics::TlsError::protocol_version, 1), 1U);

  // Plain HTTP on the HTTPS port: refused, counted, no request reaches a target.
  Connection plain(port_);
  plain.send_raw("GET / HTTP/1.1\r\nHost: edge.test\r\n\r\n");
  EXPECT_EQ(await_tls_errors(metrics::TlsError::plain_http, 1), 1U);
  EXPECT_EQ(origin_requests(), 0U);
}

TEST_F(HttpsTest, TlsVersionAndCipherHeadersWhenEnabled) {
  origin::OriginOptions o;
  o.echo = true;
  add_origin(o);
  auto c = https_config();
  c.listeners[0].tls.tls_version_and_cipher_headers = true;
  start(std::move(c));
  TlsClient client;
  ASSERT_EQ(client.connect(port_, "edge.test"), "");
  // A client cannot pass its own: the edge drops them.
  auto [head, body] = client.exchange(
      "GET / HTTP/1.1\r\nHost: edge.test\r\nx-amzn-tls-version: SSLv2\r\n"
      "X-Amzn-Mtls-Clientcert-Subject: CN=admin\r\n\r\n");
  EXPECT_NE(body.find("[\"x-amzn-tls-version\",\"TLSv1.3\"]"), std::string::npos) << body;
  EXPECT_NE(body.find("[\"x-amzn-tls-cipher-suite\",\"TLS_AES_"), std::string::npos) << body;
  EXPECT_EQ(body.find("SSLv2"), std::string::npos) << body;
  EXPECT_EQ(body.find("CN=admin"), std::string::npos) << body;
}

TEST_F(HttpsTest, MutualTlsVerifiesClientsAndTellsTargets) {
  origin::OriginOptions o;
  o.echo = true;
  add_origin(o);
  const auto client_cert = make_test_certificate(dir_, "client", {"client.test"}, TestKey::ecdsa);
  const auto stranger = make_test_certificate(dir_, "stranger", {"stranger.test"}, TestKey::rsa);
  auto c = https_config();
  c.listeners[0].mutual_authentication.mode = config::MutualAuthentication::Mode::verify;
  c.listeners[0].mutual_authentication.trust_store = client_cert.cert_path;  // self-signed: its own CA
  start(std::move(c));

  TlsClient trusted(0, &client_cert);
  ASSERT_EQ(trusted.connect(port_, "edge.test"), "");
  auto [head, body] = trusted.exchange("GET / HTTP/1.1\r\nHost: edge.test\r\n\r\n");
  EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 200") << head;
  EXPECT_NE(body.find("[\"X-Amzn-Mtls-Clientcert-Subject\",\"CN=client.test\"]"), std::string::npos)
      << body;
  EXPECT_NE(body.find("[\"X-Amzn-Mtls-Clientcert-Issuer\",\"CN=client.test\"]"), std::string::npos);
  EXPECT_NE(body.find("X-Amzn-Mtls-Clientcert-Serial-Number"), std::string::npos);
  EXPECT_NE(body.find("\"NotBefore="), std::string::npos);
  EXPECT_NE(body.find("-----BEGIN%20CERTIFICATE-----"), std::string::npos);

  // TLS 1.3 reports a refused client certificate after the client's side of
  // the handshake: the refusal shows on the first exchange, and in the counter.
  {
    TlsClient anonymous;
    if (anonymous.connect(port_, "edge.test").empty()) {
      EXPECT_ANY_THROW(anonymous.exchange("GET / HTTP/1.1\r\nHost: edge.test\r\n\r\n"));
    }
  }
  {
    TlsClient untrusted(0, &stranger);
    if (untrusted.connect(port_, "edge.test").empty()) {
      EXPECT_ANY_THROW(untrusted.exchange("GET / HTTP/1.1\r\nHost: edge.test\r\n\r\n"));
    }
  }
  EXPECT_EQ(await_tls_errors(metrics::TlsError::client_certificate, 2), 2U);
  EXPECT_EQ(origin_requests(), 1U);
}

TEST_F(HttpsTest, ReloadSwapsCertificatesWithoutDroppingConnections) {
  add_origin();
  start(https_config());
  TlsClient before;
  ASSERT_EQ(before.connect(port_, "edge.test"), "");
  EXPECT_EQ(before.peer_cn(), "edge.test");

  // New files in place of the old ones, then the reload.
  auto renewed = make_test_certificate(dir_, "renewed", {"renewed.edge.test", "edge.test"},
                                       TestKey::ecdsa);
  std::filesystem::copy_file(renewed.cert_path, rsa_.cert_path,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(renewed.key_path, rsa_.key_path,
                             std::filesystem::copy_options::overwrite_existing);
  gateway_->reload_certificates();  // returns once every worker has the new contexts

  // The open connection goes on; new ones, on whichever worker, get the new certificate.
  auto [head, body] = before.exchange("GET / HTTP/1.1\r\nHost: edge.test\r\n\r\n");
  EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 200") << head;
  for (int i = 0; i < 6; ++i) {
    TlsClient after;
    ASSERT_EQ(after.connect(port_, "edge.test"), "");
    EXPECT_EQ(after.peer_cn(), "renewed.edge.test");
  }

  // A broken file: refused, and the current certificates keep serving.
  { std::ofstream(rsa_.key_path, std::ios::trunc) << "garbage\n"; }
  EXPECT_THROW(gateway_->reload_certificates(), std::runtime_error);
  TlsClient still;
  ASSERT_EQ(still.connect(port_, "edge.test"), "");
  auto r = still.exchange("GET / HTTP/1.1\r\nHost: edge.test\r\n\r\n");
  EXPECT_EQ(r.first.substr(0, 12), "HTTP/1.1 200");
}

TEST_F(HttpsTest, PostReloadReadsCertificatesAgainAndRefusesABrokenKey) {
  add_origin();
  const std::string file = dir_ + "/edged.yaml";
  {
    std::ofstream(file) << "workers: 2\n"
                           "admin: { listen: 127.0.0.1:0 }\n"
                           "access_log: { path: off }\n"
                           "listeners:\n"
                           "  - name: web\n"
                           "    listen: 127.0.0.1:0\n"
                           "    protocol: HTTPS\n"
                           "    tls: { certificates: [{ cert: " << rsa_.cert_path
                        << ", key: " << rsa_.key_path
                        << " }] }\n"
                           "    default_action: { forward: { target_group: app } }\n"
                           "target_groups:\n"
                           "  - { name: app, targets: [127.0.0.1:"
                        << origins_[0]->port() << "], health_check: { enabled: false } }\n";
  }
  auto loaded = config::load_config_file(file);
  ASSERT_TRUE(loaded.ok());
  gateway_ = std::make_unique<server::Gateway>(std::move(loaded.config));
  gateway_->start();
  port_ = gateway_->listener_port(0);
  auto post_reload = [&] {
    Connection admin(gateway_->admin_port());
    return admin.request("POST", "/reload");
  };
  TlsClient before;
  ASSERT_EQ(before.connect(port_, "edge.test"), "");
  EXPECT_EQ(before.peer_cn(), "edge.test");

  auto renewed = make_test_certificate(dir_, "renewed", {"renewed.edge.test", "edge.test"},
                                       TestKey::ecdsa);
  std::filesystem::copy_file(renewed.cert_path, rsa_.cert_path,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(renewed.key_path, rsa_.key_path,
                             std::filesystem::copy_options::overwrite_existing);
  auto r = post_reload();
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(before.exchange("GET / HTTP/1.1\r\nHost: edge.test\r\n\r\n").first.substr(0, 12),
            "HTTP/1.1 200");  // the open connection goes on
  for (int i = 0; i < 4; ++i) {
    TlsClient after;
    ASSERT_EQ(after.connect(port_, "edge.test"), "");
    EXPECT_EQ(after.peer_cn(), "renewed.edge.test");
  }

  // A broken key: 400 naming the file; the renewed certificate keeps serving.
  { std::ofstream(rsa_.key_path, std::ios::trunc) << "garbage\n"; }
  r = post_reload();
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find(rsa_.key_path), std::string::npos) << r.body;
  EXPECT_EQ(gateway_->generation(), 2U);
  TlsClient still;
  ASSERT_EQ(still.connect(port_, "edge.test"), "");
  EXPECT_EQ(still.peer_cn(), "renewed.edge.test");
  EXPECT_EQ(before.exchange("GET / HTTP/1.1\r\nHost: edge.test\r\n\r\n").first.substr(0, 12),
            "HTTP/1.1 200");
}

// TLS to targets: gateway A forwards to an HTTPS target group whose one target
// is gateway B's HTTPS listener (in front of a plain origin).
TEST_F(HttpsTest, HttpsTargetGroupsWithAndWithoutVerification) {
  origin::OriginOptions o;
  o.echo = true;
  add_origin(o);
  start(https_config());  // gateway B: the TLS "target"
  const std::uint16_t tls_target = port_;

  auto front_config = [&](bool verify, std::string server_name) {
    auto c = base_config();
    c.admin.enabled = false;
    c.target_groups[0].protocol = config::Protocol::https;
    c.target_groups[0].tls.verify = verify;
    c.target_groups[0].tls.ca_file = rsa_.cert_path;  // B's self-signed certificate
    c.target_groups[0].tls.server_name = std::move(server_name);
    add_target(c, tls_target);
    return c;
  };
  auto get = [](std::uint16_t port) {
    Connection conn(port);
    conn.send_raw("GET /echo HTTP/1.1\r\nHost: front.test\r\n\r\n");
    return conn.read_response();
  };
  {
    server::Gateway front(front_config(false, ""));  // ALB's default: no verification
    front.start();
    auto r = get(front.listener_port(0));
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("[\"X-Forwarded-Proto\",\"https\"]"), std::string::npos) << r.body;
    front.stop();
    front.wait();
  }
  {
    server::Gateway front(front_config(true, "edge.test"));  // verified, name matches
    front.start();
    EXPECT_EQ(get(front.listener_port(0)).status, 200);
    front.stop();
    front.wait();
  }
  {
    server::Gateway front(front_config(true, "other.test"));  // verified, wrong name: 502
    front.start();
    auto r = get(front.listener_port(0));
    EXPECT_EQ(r.status, 502);
    EXPECT_EQ(edge_errors(front.metrics(), EdgeError::target_tls_failed), 1U);
    front.stop();
    front.wait();
  }
}

// HTTPS health checks: gateway A checks an HTTPS target group whose target is
// gateway B's HTTPS listener (which forwards /health to a plain origin).
class HttpsHealthTest : public HttpsTest {
 protected:
  /// Gateway A: group "app" with health checks on /health every 100 ms.
  std::unique_ptr<server::Gateway> checked_front(config::Config c) {
    auto& hc = c.target_groups[0].health_check;
    hc.enabled = true;
    hc.path = "/health";
    hc.healthy_threshold = 2;
    hc.unhealthy_threshold = 2;
    c.admin.enabled = false;
    server::GatewayOptions o;
    o.health_check_interval = std::chrono::milliseconds(100);
    o.health_check_timeout = std::chrono::seconds(2);
    auto g = std::make_unique<server::Gateway>(std::move(c), nullptr, o);
    g->start();
    return g;
  }
  static const upstream::Target& first_target(const server::Gateway& g) {
    return *g.target_group("app")->targets().at(0);
  }
  static upstream::TargetReason reason_of(const upstream::Target& t) {
    return upstream::TargetStatus::reason(t.load_status());
  }
  /// Polls `pred` (bounded): the checker runs on its own thread.
  template <class Pred>
  static bool eventually(Pred pred) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < end) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return pred();
  }
  static void stop(std::unique_ptr<server::Gateway>& g) {
    g->stop();
    g->wait();
    g.reset();
  }
};

TEST_F(HttpsHealthTest, HttpsGroupIsCheckedOverTlsByDefault) {
  auto& origin = add_origin();
  start(https_config());  // gateway B
  auto c = base_config();
  c.target_groups[0].protocol = config::Protocol::https;  // health_check.protocol unset
  add_target(c, port_);
  auto front = checked_front(c);
  const auto& t = first_target(*front);
  ASSERT_TRUE(eventually([&] { return t.state() == upstream::TargetState::healthy; }));
  EXPECT_EQ(t.last_check_status.load(), 200);
  // The GET went through B's TLS listener to the origin.
  EXPECT_GE(origin.requests_for("/health"), 1U);
  const auto rec = origin.last_request();
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->header("User-Agent"), "ELB-HealthChecker/2.0");

  // The health endpoint fails: unhealthy on the status, not on TLS.
  origin.set_healthy(false);
  ASSERT_TRUE(eventually([&] { return t.state() == upstream::TargetState::unhealthy; }));
  EXPECT_EQ(reason_of(t), upstream::TargetReason::response_code_mismatch);
  EXPECT_EQ(t.last_check_status.load(), 503);
  origin.set_healthy(true);
  EXPECT_TRUE(eventually([&] { return t.state() == upstream::TargetState::healthy; }));
  stop(front);
}

TEST_F(HttpsHealthTest, PlainOriginCheckedWithHttpsFails) {
  auto& origin = add_origin();
  auto c = base_config();
  c.target_groups[0].health_check.protocol = config::HealthCheckProtocol::https;
  add_target(c, origin.port());
  auto front = checked_front(c);
  const auto& t = first_target(*front);
  ASSERT_TRUE(eventually([&] { return t.checks_failed.load() >= 2; }));
  EXPECT_EQ(t.state(), upstream::TargetState::unhealthy);
  EXPECT_EQ(reason_of(t), upstream::TargetReason::failed_health_checks);
  EXPECT_EQ(t.checks_passed.load(), 0U);
  EXPECT_EQ(t.last_check_status.load(), 0);
  // The handshake failed: no request reached the origin's health endpoint.
  EXPECT_EQ(origin.requests_for("/health"), 0U);
  stop(front);
}

TEST_F(HttpsHealthTest, ChecksVerifyAsTheGroupSays) {
  add_origin();
  start(https_config());  // gateway B, certificate for edge.test
  auto verified = [&](std::string server_name) {
    auto c = base_config();
    c.target_groups[0].protocol = config::Protocol::https;
    c.target_groups[0].tls.verify = true;
    c.target_groups[0].tls.ca_file = rsa_.cert_path;
    c.target_groups[0].tls.server_name = std::move(server_name);
    add_target(c, port_);
    return c;
  };
  auto good = checked_front(verified("edge.test"));
  EXPECT_TRUE(eventually(
      [&] { return first_target(*good).state() == upstream::TargetState::healthy; }));
  stop(good);
  auto bad = checked_front(verified("other.test"));  // the name does not match
  const auto& t = first_target(*bad);
  ASSERT_TRUE(eventually([&] { return t.checks_failed.load() >= 2; }));
  EXPECT_EQ(t.state(), upstream::TargetState::unhealthy);
  EXPECT_EQ(reason_of(t), upstream::TargetReason::failed_health_checks);
  EXPECT_EQ(t.checks_passed.load(), 0U);
  stop(bad);
}

TEST_F(HttpsTest, BadCertificateStopsTheStartWithItsFileNamed) {
  auto c = https_config();
  c.listeners[0].tls.certificates[1].key = rsa_.key_path;  // the wildcard cert with the wrong key
  try {
    server::Gateway g(c);
    FAIL() << "started with a mismatched key";
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("listener 'web'"), std::string::npos) << m;
    EXPECT_NE(m.find("does not match"), std::string::npos) << m;
  }
}

// A client that uses each session once (edgeload --tls-resume, one request per
// connection) resumes on every reconnection: a resumed TLS 1.3 handshake gets a
// new ticket, and TLS 1.2 resumes from tickets.
TEST_F(HttpsTest, EveryReconnectionResumes) {
  add_origin();
  start(https_config());
  for (const char* version : {"1.3", "1.2"}) {
    load::LoadOptions o;
    o.url = "https://127.0.0.1:" + std::to_string(port_) + "/";
    o.progress = false;
    o.threads = 1;
    o.connections = 2;
    o.requests = 20;
    o.duration = std::chrono::milliseconds(0);
    o.keep_alive = false;
    o.tls_resume = true;
    o.tls_max = version;
    load::LoadTarget t;
    std::string error;
    ASSERT_TRUE(load::parse_url(o.url, t.url, error)) << error;
    load::LoadRunner runner(o, {t});
    const auto r = runner.run();
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.stats.status[200], 20U) << version;
    EXPECT_EQ(r.stats.handshakes_full, 2U) << version;
    EXPECT_EQ(r.stats.handshakes_resumed, 18U) << version;
  }
  EXPECT_EQ(origin_requests(), 40U);
}

}  // namespace
}  // namespace edge::test
