// Security policies, certificate loading and SNI selection, and real TLS
// handshakes over loopback sockets against ServerContext.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <fstream>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "edge/tls/server_context.hpp"
#include "support/tls_certs.hpp"

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace edge::tls;
using edge::test::make_test_certificate;
using edge::test::TestKey;

std::string cn_of(X509* x) {
  char buf[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, sizeof buf);
  return buf;
}

TEST(TlsSelection, ExactThenWildcardThenDefault) {
  const std::vector<std::vector<std::string>> names{
      {"example.test", "www.example.test"}, {"*.example.test"}, {"api.example.test"},
      {"api.example.test"}, {"example.test", "www.example.test"}};
  using V = std::vector<std::size_t>;
  EXPECT_EQ(select_certificates(names, "api.example.test"), (V{2, 3}));
  EXPECT_EQ(select_certificates(names, "API.Example.Test."), (V{2, 3}));
  EXPECT_EQ(select_certificates(names, "foo.example.test"), (V{1}));
  EXPECT_EQ(select_certificates(names, "www.example.test"), (V{0, 4}));  // exact beats wildcard
  EXPECT_EQ(select_certificates(names, "a.b.example.test"), (V{0, 4}));  // * is one label
  EXPECT_EQ(select_certificates(names, "other.test"), (V{0, 4}));
  EXPECT_EQ(select_certificates(names, ""), (V{0, 4}));
  EXPECT_TRUE(select_certificates({}, "x").empty());
  EXPECT_FALSE(name_matches("*.example.test", "example.test"));
  EXPECT_FALSE(name_matches("*.example.test", ".example.test"));
}

TEST(TlsPolicy, AlbPoliciesByName) {
  for (auto n : {"ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-TLS13-1-3-2021-06",
                 "ELBSecurityPolicy-TLS13-1-2-Res-2021-06", "ELBSecurityPolicy-2016-08"})
    EXPECT_TRUE(find_security_policy(n).has_value()) << n;
  EXPECT_FALSE(find_security_policy("ELBSecurityPolicy-Nope").has_value());
  auto only13 = *find_security_policy("ELBSecurityPolicy-TLS13-1-3-2021-06");
  EXPECT_EQ(only13.min_version, TLS1_3_VERSION);
  EXPECT_TRUE(only13.ciphers.empty());
  auto legacy = *find_security_policy("ELBSecurityPolicy-2016-08");
  EXPECT_EQ(legacy.min_version, TLS1_VERSION);
  EXPECT_EQ(legacy.max_version, TLS1_2_VERSION);
  EXPECT_EQ(security_policy_names().size(), 4U);
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(edge::test::make_temp_dir("edge-tls"));
    auto& d = *dir_;
    certs_ = new std::vector<edge::test::TestCertificate>{
        make_test_certificate(d, "default", {"default.test"}, TestKey::rsa),
        make_test_certificate(d, "wild", {"*.example.test"}, TestKey::rsa),
        make_test_certificate(d, "api-ec", {"api.example.test"}, TestKey::ecdsa),
        make_test_certificate(d, "api-rsa", {"api.example.test"}, TestKey::rsa),
    };
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
    delete certs_;
  }

  static ServerOptions options(std::string_view policy,
                               std::shared_ptr<TicketKeys> keys = nullptr) {
    edge::config::TlsConfig cfg;
    cfg.policy = std::string(policy);
    for (const auto& c : *certs_) cfg.certificates.push_back({c.cert_path, c.key_path});
    return load_server_options(cfg, std::move(keys));
  }

  struct Client {
    std::string sni{};
    int min_version = 0;
    int max_version = 0;
    std::string ciphers{};
    std::string sigalgs{};
    SSL_SESSION* session = nullptr;
    bool no_tickets = false;  // SSL_OP_NO_TICKET: TLS 1.2 resumes by session ID only
  };
  struct Result {
    bool ok = false;
    std::string error;
    std::string cn;
    int key_type = 0;
    std::string version;
    std::string cipher;
    std::string alpn;
    bool reused = false;
    std::shared_ptr<SSL_SESSION> session;  // for resuming in a later handshake
  };

  /// One handshake: the server side on a thread of its own, the client here,
  /// both over a real loopback connection.
  static Result handshake(ServerContext& server, const Client& c) {
    asio::io_context ioc;
    tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    std::thread srv([&] {
      tcp::socket s(ioc);
      boost::system::error_code ec;
      acceptor.accept(s, ec);
      if (ec) return;
      asio::ssl::stream<tcp::socket&> tls(s, server.asio());
      tls.handshake(asio::ssl::stream_base::server, ec);
      if (ec) return;
      asio::write(tls, asio::buffer("x", 1), ec);
      char b[16];
      while (!ec) tls.read_some(asio::buffer(b), ec);  // until the client's close_notify
      if (ec == asio::error::eof) tls.shutdown(ec);
    });
    Result r;
    asio::ssl::context cctx(asio::ssl::context::tls_client);
    cctx.set_verify_mode(asio::ssl::verify_none);
    SSL_CTX* ctx = cctx.native_handle();
    if (c.min_version) SSL_CTX_set_min_proto_version(ctx, c.min_version);
    if (c.max_version) SSL_CTX_set_max_proto_version(ctx, c.max_version);
    if (!c.ciphers.empty()) SSL_CTX_set_cipher_list(ctx, c.ciphers.c_str());
    if (!c.sigalgs.empty()) SSL_CTX_set1_sigalgs_list(ctx, c.sigalgs.c_str());
    SSL_CTX_set_security_level(ctx, 0);
    if (c.no_tickets) SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    tcp::socket s(ioc);
    s.connect(acceptor.local_endpoint());
    {
      asio::ssl::stream<tcp::socket&> tls(s, cctx);
      SSL* ssl = tls.native_handle();
      if (!c.sni.empty())
        SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(c.sni.c_str()));
      static const unsigned char kAlpn[] = "\x02h2\x08http/1.1";
      SSL_set_alpn_protos(ssl, kAlpn, sizeof kAlpn - 1);
      if (c.session) SSL_set_session(ssl, c.session);
      boost::system::error_code ec;
      tls.handshake(asio::ssl::stream_base::client, ec);
      if (ec) {
        r.error = ec.message();
      } else {
        char b;
        asio::read(tls, asio::buffer(&b, 1), ec);  // also takes in TLS 1.3 session tickets
        r.ok = !ec;
        if (X509* peer = SSL_get1_peer_certificate(ssl)) {
          r.cn = cn_of(peer);
          r.key_type = EVP_PKEY_get_base_id(X509_get0_pubkey(peer));
          X509_free(peer);
        }
        r.version = SSL_get_version(ssl);
        r.cipher = SSL_get_cipher_name(ssl);
        const unsigned char* alpn = nullptr;
        unsigned alpn_len = 0;
        SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
        r.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
        r.reused = SSL_session_reused(ssl) == 1;
        r.session.reset(SSL_get1_session(ssl), SSL_SESSION_free);
        tls.shutdown(ec);  // a clean close keeps the session resumable
      }
    }
    boost::system::error_code ignored;
    s.shutdown(tcp::socket::shutdown_both, ignored);
    s.close(ignored);
    srv.join();
    return r;
  }

  static std::string* dir_;
  static std::vector<edge::test::TestCertificate>* certs_;
};
std::string* TlsTest::dir_ = nullptr;
std::vector<edge::test::TestCertificate>* TlsTest::certs_ = nullptr;

TEST_F(TlsTest, CertificateInfoAndLoadErrors) {
  auto c = Certificate::load((*certs_)[2].cert_path, (*certs_)[2].key_path);
  EXPECT_EQ(c->names(), std::vector<std::string>{"api.example.test"});
  EXPECT_EQ(c->key_type(), KeyType::ecdsa);
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  EXPECT_GT(c->not_after(), now + 29 * 86400);
  EXPECT_LT(c->not_after(), now + 31 * 86400);

  try {
    Certificate::load(*dir_ + "/missing.pem", (*certs_)[0].key_path);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.pem: cannot open"), std::string::npos) << e.what();
  }
  const std::string garbage = *dir_ + "/garbage.pem";
  std::ofstream(garbage) << "not a certificate\n";
  try {
    Certificate::load(garbage, (*certs_)[0].key_path);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no PEM certificate"), std::string::npos) << e.what();
  }
  try {
    Certificate::load((*certs_)[0].cert_path, (*certs_)[1].key_path);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("does not match"), std::string::npos) << e.what();
  }
  edge::config::TlsConfig bad;
  bad.policy = "ELBSecurityPolicy-Nope";
  bad.certificates.push_back({garbage, (*certs_)[0].key_path});
  try {
    load_server_options(bad, nullptr);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();  // every problem at once
    EXPECT_NE(m.find("unknown TLS security policy"), std::string::npos) << m;
    EXPECT_NE(m.find("garbage.pem"), std::string::npos) << m;
  }
}

TEST_F(TlsTest, SniChoosesTheCertificate) {
  ServerContext server(options("ELBSecurityPolicy-TLS13-1-2-2021-06"));
  EXPECT_EQ(handshake(server, {.sni = "api.example.test"}).cn, "api.example.test");
  EXPECT_EQ(handshake(server, {.sni = "shop.example.test"}).cn, "*.example.test");
  EXPECT_EQ(handshake(server, {.sni = "unknown.test"}).cn, "default.test");
  auto none = handshake(server, {});
  EXPECT_TRUE(none.ok) << none.error;
  EXPECT_EQ(none.cn, "default.test");
}

TEST_F(TlsTest, EcdsaForClientsThatTakeItRsaForTheOthers) {
  ServerContext server(options("ELBSecurityPolicy-TLS13-1-2-2021-06"));
  auto modern = handshake(server, {.sni = "api.example.test"});
  ASSERT_TRUE(modern.ok) << modern.error;
  EXPECT_EQ(modern.key_type, EVP_PKEY_EC);
  auto rsa_only = handshake(server, {.sni = "api.example.test", .sigalgs = "RSA-PSS+SHA256:RSA+SHA256"});
  ASSERT_TRUE(rsa_only.ok) << rsa_only.error;
  EXPECT_EQ(rsa_only.key_type, EVP_PKEY_RSA);
  auto tls12_rsa = handshake(server, {.sni = "api.example.test", .max_version = TLS1_2_VERSION,
                                      .ciphers = "ECDHE-RSA-AES128-GCM-SHA256"});
  ASSERT_TRUE(tls12_rsa.ok) << tls12_rsa.error;
  EXPECT_EQ(tls12_rsa.key_type, EVP_PKEY_RSA);
  EXPECT_EQ(tls12_rsa.cipher, "ECDHE-RSA-AES128-GCM-SHA256");
}

TEST_F(TlsTest, PoliciesBoundVersionsAndCiphers) {
  ServerContext default_policy(options("ELBSecurityPolicy-TLS13-1-2-2021-06"));
  auto v13 = handshake(default_policy, {});
  EXPECT_EQ(v13.version, "TLSv1.3");
  EXPECT_EQ(v13.alpn, "http/1.1");
  auto v12 = handshake(default_policy, {.max_version = TLS1_2_VERSION});
  EXPECT_EQ(v12.version, "TLSv1.2");
  EXPECT_FALSE(handshake(default_policy, {.max_version = TLS1_1_VERSION}).ok);
  EXPECT_FALSE(handshake(default_policy, {.max_version = TLS1_2_VERSION, .ciphers = "AES128-SHA"}).ok);

  ServerContext only13(options("ELBSecurityPolicy-TLS13-1-3-2021-06"));
  EXPECT_TRUE(handshake(only13, {}).ok);
  EXPECT_FALSE(handshake(only13, {.max_version = TLS1_2_VERSION}).ok);

  ServerContext restricted(options("ELBSecurityPolicy-TLS13-1-2-Res-2021-06"));
  EXPECT_FALSE(handshake(restricted, {.max_version = TLS1_2_VERSION,
                                      .ciphers = "ECDHE-RSA-AES128-SHA256"}).ok);
  EXPECT_TRUE(handshake(restricted, {.max_version = TLS1_2_VERSION,
                                     .ciphers = "ECDHE-RSA-AES128-GCM-SHA256"}).ok);

  ServerContext legacy(options("ELBSecurityPolicy-2016-08"));
  auto old = handshake(legacy, {.max_version = TLS1_2_VERSION, .ciphers = "AES128-SHA"});
  EXPECT_TRUE(old.ok) << old.error;
  EXPECT_EQ(old.cipher, "AES128-SHA");
  EXPECT_FALSE(handshake(legacy, {.min_version = TLS1_3_VERSION}).ok);
}

TEST_F(TlsTest, TicketsResumeOnAnyWorkerUntilTheKeyIsRetired) {
  for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    auto keys = std::make_shared<TicketKeys>(std::chrono::hours(1), std::time(nullptr));
    ServerContext worker_a(options("ELBSecurityPolicy-TLS13-1-2-2021-06", keys));
    ServerContext worker_b(options("ELBSecurityPolicy-TLS13-1-2-2021-06", keys));
    auto first = handshake(worker_a, {.max_version = version});
    ASSERT_TRUE(first.ok) << first.error;
    EXPECT_FALSE(first.reused);
    auto again = handshake(worker_b, {.max_version = version, .session = first.session.get()});
    EXPECT_TRUE(again.reused) << version;  // another context, same keys
    ServerContext stranger(options("ELBSecurityPolicy-TLS13-1-2-2021-06",
                                   std::make_shared<TicketKeys>()));
    auto elsewhere = handshake(stranger, {.max_version = version, .session = first.session.get()});
    ASSERT_TRUE(elsewhere.ok) << elsewhere.error;
    EXPECT_FALSE(elsewhere.reused) << version;  // other keys: a full handshake
    keys->rotate(std::time(nullptr));     // the ticket's key is now the previous one: still good
    auto after_one = handshake(worker_a, {.max_version = version, .session = first.session.get()});
    EXPECT_TRUE(after_one.reused) << version;
    keys->rotate(std::time(nullptr));  // retired
    // A worker that never saw the session (no TLS 1.2 session-ID cache entry).
    ServerContext worker_c(options("ELBSecurityPolicy-TLS13-1-2-2021-06", keys));
    auto after_two = handshake(worker_c, {.max_version = version, .session = first.session.get()});
    ASSERT_TRUE(after_two.ok);
    EXPECT_FALSE(after_two.reused) << version;
  }
}

// TLS 1.2 without tickets: the session ID is looked up in the server's cache.
TEST_F(TlsTest, SessionIdResumesFromTheCache) {
  ServerContext worker(options("ELBSecurityPolicy-TLS13-1-2-2021-06"));
  const Client full{.max_version = TLS1_2_VERSION, .no_tickets = true};
  auto first = handshake(worker, full);
  ASSERT_TRUE(first.ok) << first.error;
  EXPECT_FALSE(first.reused);
  auto again = handshake(worker, {.max_version = TLS1_2_VERSION,
                                  .session = first.session.get(), .no_tickets = true});
  ASSERT_TRUE(again.ok) << again.error;
  EXPECT_TRUE(again.reused);
}

// With a SessionCache shared by the contexts (as the gateway does per
// listener), a session ID made on one worker resumes on another.
TEST_F(TlsTest, SharedSessionCacheResumesSessionIdsOnAnyWorker) {
  auto shared = std::make_shared<SessionCache>(16);
  auto with_cache = [&](std::shared_ptr<SessionCache> cache) {
    auto o = options("ELBSecurityPolicy-TLS13-1-2-2021-06");
    o.session_cache = std::move(cache);
    return o;
  };
  ServerContext worker_a(with_cache(shared));
  ServerContext worker_b(with_cache(shared));
  ServerContext alone(options("ELBSecurityPolicy-TLS13-1-2-2021-06"));
  auto first = handshake(worker_a, {.max_version = TLS1_2_VERSION, .no_tickets = true});
  ASSERT_TRUE(first.ok) << first.error;
  EXPECT_FALSE(first.reused);
  EXPECT_EQ(shared->size(), 1U);
  auto other = handshake(worker_b, {.max_version = TLS1_2_VERSION,
                                    .session = first.session.get(), .no_tickets = true});
  ASSERT_TRUE(other.ok) << other.error;
  EXPECT_TRUE(other.reused);  // found in the shared cache
  // A context without the shared cache (each worker on its own): a full handshake.
  auto lone = handshake(alone, {.max_version = TLS1_2_VERSION,
                                .session = first.session.get(), .no_tickets = true});
  ASSERT_TRUE(lone.ok) << lone.error;
  EXPECT_FALSE(lone.reused);
  // A context going away (a reload) leaves the shared sessions in place.
  {
    ServerContext short_lived(with_cache(shared));
    EXPECT_TRUE(handshake(short_lived, {.max_version = TLS1_2_VERSION,
                                        .session = first.session.get(), .no_tickets = true})
                    .reused);
  }
  EXPECT_GE(shared->size(), 1U);
  EXPECT_TRUE(handshake(worker_b, {.max_version = TLS1_2_VERSION,
                                   .session = first.session.get(), .no_tickets = true})
                  .reused);
}

// TLS 1.3 with tickets resumes from the ticket alone: its sessions never enter
// the shared cache (which would cost a serialization and a lock per ticket).
// TLS 1.3 without tickets resumes by the session cache, so those do.
TEST_F(TlsTest, SharedSessionCacheHoldsNoTls13TicketSessions) {
  auto keys = std::make_shared<TicketKeys>(std::chrono::hours(1), std::time(nullptr));
  auto shared = std::make_shared<SessionCache>(16);
  auto o = options("ELBSecurityPolicy-TLS13-1-2-2021-06", keys);
  o.session_cache = shared;
  ServerContext worker(o);
  auto first = handshake(worker, {});
  ASSERT_TRUE(first.ok) << first.error;
  EXPECT_EQ(shared->size(), 0U);
  auto again = handshake(worker, {.session = first.session.get()});
  ASSERT_TRUE(again.ok) << again.error;
  EXPECT_TRUE(again.reused);
  EXPECT_EQ(shared->size(), 0U);
  // TLS 1.2 session IDs still go there.
  ASSERT_TRUE(handshake(worker, {.max_version = TLS1_2_VERSION, .no_tickets = true}).ok);
  EXPECT_EQ(shared->size(), 1U);
  // Without tickets, TLS 1.3 sessions are stateful and shared.
  auto no_tickets = options("ELBSecurityPolicy-TLS13-1-2-2021-06");
  no_tickets.session_cache = std::make_shared<SessionCache>(16);
  ServerContext stateful(no_tickets);
  ASSERT_TRUE(handshake(stateful, {}).ok);
  EXPECT_GE(no_tickets.session_cache->size(), 1U);
}

TEST_F(TlsTest, SharedSessionCacheIsBoundedOldestFirst) {
  auto shared = std::make_shared<SessionCache>(2);
  auto o = options("ELBSecurityPolicy-TLS13-1-2-2021-06");
  o.session_cache = shared;
  ServerContext worker_a(o);
  ServerContext worker_b(o);
  const Client full{.max_version = TLS1_2_VERSION, .no_tickets = true};
  std::vector<std::shared_ptr<SSL_SESSION>> sessions;
  for (int i = 0; i < 3; ++i) {
    auto r = handshake(worker_a, full);
    ASSERT_TRUE(r.ok) << r.error;
    sessions.push_back(r.session);
  }
  EXPECT_EQ(shared->size(), 2U);
  EXPECT_TRUE(handshake(worker_b, {.max_version = TLS1_2_VERSION,
                                   .session = sessions[2].get(), .no_tickets = true})
                  .reused);
  EXPECT_FALSE(handshake(worker_b, {.max_version = TLS1_2_VERSION,
                                    .session = sessions[0].get(), .no_tickets = true})
                   .reused);  // the oldest went first
  EXPECT_EQ(shared->size(), 2U);
}

TEST_F(TlsTest, ResumedTls13HandshakeGetsANewTicket) {
  auto keys = std::make_shared<TicketKeys>(std::chrono::hours(1), std::time(nullptr));
  ServerContext server(options("ELBSecurityPolicy-TLS13-1-2-2021-06", keys));
  auto first = handshake(server, {});
  ASSERT_TRUE(first.ok) << first.error;
  auto second = handshake(server, {.session = first.session.get()});
  ASSERT_TRUE(second.ok) << second.error;
  EXPECT_TRUE(second.reused);
  EXPECT_EQ(second.version, "TLSv1.3");
  // A new ticket replaces the client's session; without one, the client would
  // still hold the ticket it just used.
  EXPECT_NE(second.session.get(), first.session.get());
  auto third = handshake(server, {.session = second.session.get()});
  EXPECT_TRUE(third.reused);
}

TEST(TlsTicketKeys, RotationFollowsThePeriod) {
  TicketKeys keys(std::chrono::seconds(100), 1000);
  const auto k0 = keys.current();
  keys.maybe_rotate(1099);
  EXPECT_EQ(keys.current().name, k0.name);
  keys.maybe_rotate(1100);
  const auto k1 = keys.current();
  EXPECT_NE(k1.name, k0.name);
  bool current = true;
  EXPECT_TRUE(keys.find(k0.name.data(), current).has_value());
  EXPECT_FALSE(current);
  keys.maybe_rotate(1200);
  EXPECT_FALSE(keys.find(k0.name.data(), current).has_value());
  EXPECT_TRUE(keys.find(k1.name.data(), current).has_value());
}

}  // namespace
