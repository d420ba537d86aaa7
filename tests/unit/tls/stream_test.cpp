// tls::Stream over real loopback sockets: the handshake in both roles, bytes
// both ways at once, how a stream ends, back-pressure on writes, and a read
// that must answer the peer (a TLS 1.3 KeyUpdate) while a write is pending.
#include <gtest/gtest.h>
#include <poll.h>

#include <array>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "edge/core/types.hpp"
#include "edge/tls/stream.hpp"
#include "support/tls_certs.hpp"

namespace {

using namespace edge;
using boost::system::error_code;

/// Byte i of a test stream: a pattern that a lost, repeated or reordered
/// record would break.
unsigned char pattern(std::size_t i, unsigned seed) {
  return static_cast<unsigned char>((i * 131 + (i >> 13) * 7 + seed) & 0xff);
}

struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, CtxFree>;

class TlsStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(test::make_temp_dir("edge-tls-stream"));
    cert_ = new test::TestCertificate(
        test::make_test_certificate(*dir_, "server", {"stream.test"}, test::TestKey::ecdsa));
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
    delete cert_;
  }

  void SetUp() override {
    server_ctx_.reset(SSL_CTX_new(TLS_server_method()));
    ASSERT_EQ(SSL_CTX_use_certificate_chain_file(server_ctx_.get(), cert_->cert_path.c_str()), 1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey_file(server_ctx_.get(), cert_->key_path.c_str(), SSL_FILETYPE_PEM),
              1);
    SSL_CTX_set_min_proto_version(server_ctx_.get(), TLS1_3_VERSION);
    client_ctx_.reset(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_verify(client_ctx_.get(), SSL_VERIFY_NONE, nullptr);

    Acceptor acceptor(ioc_.get_executor(),
                      asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    client_sock_.connect(acceptor.local_endpoint());
    acceptor.accept(server_sock_);
    server_ = std::make_unique<tls::Stream>(server_sock_, server_ctx_.get());
    client_ = std::make_unique<tls::Stream>(client_sock_, client_ctx_.get());
  }

  /// Both handshakes, run to completion; false when either failed.
  bool handshake() {
    error_code sec = asio::error::would_block, cec = asio::error::would_block;
    server_->async_handshake(asio::ssl::stream_base::server, [&](error_code ec) { sec = ec; });
    client_->async_handshake(asio::ssl::stream_base::client, [&](error_code ec) { cec = ec; });
    ioc_.run();
    ioc_.restart();
    EXPECT_FALSE(sec) << sec.message();
    EXPECT_FALSE(cec) << cec.message();
    return !sec && !cec;
  }

  /// Starts the server writing kStuck pattern bytes (in 1 MiB writes) to a
  /// client that does not read yet, and runs until the write is stuck. True
  /// when it is still pending.
  bool stuck_server_write(unsigned seed);
  static constexpr std::size_t kStuck = 64 * 1024 * 1024;
  std::size_t wrote_ = 0;
  boost::system::error_code wec_ = boost::asio::error::would_block;

  /// Runs ready handlers until none is left.
  void settle() {
    while (ioc_.poll() > 0) {
    }
    ioc_.restart();
  }

  static std::string* dir_;
  static test::TestCertificate* cert_;
  asio::io_context ioc_;
  CtxPtr server_ctx_, client_ctx_;
  Socket server_sock_{ioc_.get_executor()}, client_sock_{ioc_.get_executor()};
  std::unique_ptr<tls::Stream> server_, client_;
};
std::string* TlsStreamTest::dir_ = nullptr;
test::TestCertificate* TlsStreamTest::cert_ = nullptr;

/// Writes `total` pattern bytes in writes of `chunk`; counts what completed.
/// `split`: each write as three buffers (100 bytes, 1000 bytes, the rest), as
/// a response head, a first body piece and more body.
Task<void> write_pattern(tls::Stream* s, std::size_t total, std::size_t chunk, unsigned seed,
                         std::size_t* completed, error_code* result, bool split = false) {
  std::vector<unsigned char> buf(chunk);
  std::size_t off = 0;
  while (off < total) {
    const std::size_t n = std::min(chunk, total - off);
    for (std::size_t i = 0; i < n; ++i) buf[i] = pattern(off + i, seed);
    const std::size_t a = split ? std::min<std::size_t>(n, 100) : n;
    const std::size_t b = split ? std::min<std::size_t>(n - a, 1000) : 0;
    const std::array<asio::const_buffer, 3> pieces{asio::buffer(buf.data(), a),
                                                   asio::buffer(buf.data() + a, b),
                                                   asio::buffer(buf.data() + a + b, n - a - b)};
    auto [ec, w] = co_await asio::async_write(*s, pieces, kUseTuple);
    off += w;
    *completed = off;
    if (ec) {
      *result = ec;
      co_return;
    }
  }
  *result = {};
}

/// Reads until the stream ends; checks every byte against the pattern.
/// `end` is the error that ended it.
Task<void> read_pattern(tls::Stream* s, unsigned seed, std::size_t* got, std::size_t* bad,
                        error_code* end) {
  std::vector<unsigned char> buf(24 * 1024);  // not a multiple of a record
  for (;;) {
    auto [ec, n] = co_await s->async_read_some(asio::buffer(buf), kUseTuple);
    for (std::size_t i = 0; i < n; ++i)
      if (buf[i] != pattern(*got + i, seed)) ++*bad;
    *got += n;
    if (ec) {
      *end = ec;
      co_return;
    }
  }
}

Task<void> write_then_close(tls::Stream* s, std::size_t total, std::size_t chunk, unsigned seed,
                            std::size_t* completed, error_code* result, error_code* shutdown) {
  co_await write_pattern(s, total, chunk, seed, completed, result, true);
  auto [ec] = co_await s->async_shutdown(kUseTuple);
  *shutdown = ec;
}

TEST_F(TlsStreamTest, BytesBothWaysAtOnceThenCloseNotifyIsEof) {
  ASSERT_TRUE(handshake());
  EXPECT_EQ(SSL_version(server_->native_handle()), TLS1_3_VERSION);
  constexpr std::size_t kTotal = 3 * 1024 * 1024 + 12345;
  // The server's writes are over kMaxWrite (small pieces in one record, the
  // rest as is); the client's are all small pieces, in one record each.
  std::size_t s_wrote = 0, c_wrote = 0, s_got = 0, c_got = 0, s_bad = 0, c_bad = 0;
  error_code s_wec, c_wec, s_end, c_end, s_shut, c_shut;
  // Each side writes and reads at once, then sends its close_notify.
  asio::co_spawn(ioc_, write_then_close(server_.get(), kTotal, 100 * 1024, 1, &s_wrote, &s_wec, &s_shut),
                 asio::detached);
  asio::co_spawn(ioc_, write_then_close(client_.get(), kTotal, 5000, 2, &c_wrote, &c_wec, &c_shut),
                 asio::detached);
  asio::co_spawn(ioc_, read_pattern(server_.get(), 2, &s_got, &s_bad, &s_end), asio::detached);
  asio::co_spawn(ioc_, read_pattern(client_.get(), 1, &c_got, &c_bad, &c_end), asio::detached);
  ioc_.run();
  EXPECT_FALSE(s_wec);
  EXPECT_FALSE(c_wec);
  EXPECT_FALSE(s_shut);
  EXPECT_FALSE(c_shut);
  EXPECT_EQ(s_wrote, kTotal);
  EXPECT_EQ(c_wrote, kTotal);
  EXPECT_EQ(s_got, kTotal);
  EXPECT_EQ(c_got, kTotal);
  EXPECT_EQ(s_bad, 0u);
  EXPECT_EQ(c_bad, 0u);
  // After the peer's close_notify a read reports eof, as Asio's ssl::stream.
  EXPECT_EQ(s_end, asio::error::eof) << s_end.message();
  EXPECT_EQ(c_end, asio::error::eof) << c_end.message();
}

TEST_F(TlsStreamTest, EndWithoutCloseNotifyIsTruncated) {
  ASSERT_TRUE(handshake());
  std::size_t got = 0, bad = 0;
  error_code end;
  asio::co_spawn(ioc_, read_pattern(server_.get(), 0, &got, &bad, &end), asio::detached);
  settle();
  client_sock_.shutdown(asio::socket_base::shutdown_send);  // a FIN, no close_notify
  ioc_.run();
  EXPECT_EQ(end, asio::ssl::error::stream_truncated) << end.message();
  EXPECT_EQ(got, 0u);
}

TEST_F(TlsStreamTest, HandshakeErrorsAreOpenSslErrors) {
  // A client that only speaks TLS 1.2 against a TLS 1.3-only server.
  SSL_CTX_set_max_proto_version(client_ctx_.get(), TLS1_2_VERSION);
  client_ = std::make_unique<tls::Stream>(client_sock_, client_ctx_.get());
  error_code sec, cec;
  server_->async_handshake(asio::ssl::stream_base::server, [&](error_code ec) { sec = ec; });
  client_->async_handshake(asio::ssl::stream_base::client, [&](error_code ec) { cec = ec; });
  ioc_.run();
  ASSERT_TRUE(sec);
  EXPECT_EQ(sec.category(), asio::error::get_ssl_category());
  const int reason = ERR_GET_REASON(static_cast<unsigned long>(sec.value()));
  EXPECT_TRUE(reason == SSL_R_UNSUPPORTED_PROTOCOL || reason == SSL_R_VERSION_TOO_LOW) << sec.message();
  // The server's alert reached the client: it fails too, with an OpenSSL error.
  ASSERT_TRUE(cec);
  EXPECT_EQ(cec.category(), asio::error::get_ssl_category()) << cec.message();
}

TEST_F(TlsStreamTest, AnErrorLeftOnTheThreadsQueueDoesNotFailTheNextStep) {
  // An error some other code left on this thread's OpenSSL error queue (as a
  // failed connection or a rejected certificate can): a step that would
  // otherwise wait for input must not take it for its own failure.
  ERR_raise(ERR_LIB_SSL, SSL_R_BAD_PACKET);
  ASSERT_TRUE(handshake());
  ERR_raise(ERR_LIB_SSL, SSL_R_BAD_PACKET);
  std::size_t got = 0, bad = 0, wrote = 0;
  error_code end, wec, shut;
  asio::co_spawn(ioc_, read_pattern(server_.get(), 3, &got, &bad, &end), asio::detached);
  settle();  // the server's read waits for input
  ERR_raise(ERR_LIB_SSL, SSL_R_BAD_PACKET);
  asio::co_spawn(ioc_, write_then_close(client_.get(), 70000, 7000, 3, &wrote, &wec, &shut),
                 asio::detached);
  ioc_.run();
  EXPECT_FALSE(wec) << wec.message();
  EXPECT_FALSE(shut) << shut.message();
  EXPECT_EQ(got, 70000u);
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(end, asio::error::eof) << end.message();
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST_F(TlsStreamTest, WritesCompleteOnlyOnceTheSocketTookTheirRecords) {
  ASSERT_TRUE(handshake());
  // The client reads nothing: the writes stop once the sockets' buffers are
  // full (a few MiB on loopback), rather than piling up in the stream.
  EXPECT_TRUE(stuck_server_write(3));
  EXPECT_GT(wrote_, 0u);
  EXPECT_LT(wrote_, kStuck / 2);
  std::size_t got = 0, bad = 0;
  error_code end;
  asio::co_spawn(ioc_, read_pattern(client_.get(), 3, &got, &bad, &end), asio::detached);
  while (got < kStuck && ioc_.run_one() > 0) {
  }
  EXPECT_EQ(got, kStuck);
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(wrote_, kStuck);
  EXPECT_FALSE(wec_);
}

bool TlsStreamTest::stuck_server_write(unsigned seed) {
  asio::co_spawn(ioc_, write_pattern(server_.get(), kStuck, 1024 * 1024, seed, &wrote_, &wec_),
                 asio::detached);
  settle();
  return wec_ == asio::error::would_block;
}

Task<void> ping(tls::Stream* s, error_code* result) {
  static const char kPing[] = "ping";
  auto [ec, n] = co_await asio::async_write(*s, asio::buffer(kPing, 4), kUseTuple);
  *result = ec;
}

Task<void> read_exactly(tls::Stream* s, std::string* out, std::size_t n, error_code* result) {
  out->resize(n);
  auto [ec, got] = co_await asio::async_read(*s, asio::buffer(out->data(), n), kUseTuple);
  out->resize(got);
  *result = ec;
}

TEST_F(TlsStreamTest, AKeyUpdateIsAnsweredWhileAWriteIsPending) {
  ASSERT_TRUE(handshake());
  ASSERT_TRUE(stuck_server_write(4));
  // The client asks for a key update: the server's read takes it in, and its
  // own KeyUpdate goes out with the next records it encrypts, after those
  // already queued.
  ASSERT_EQ(SSL_key_update(client_->native_handle(), SSL_KEY_UPDATE_REQUESTED), 1);
  std::string heard;
  error_code pec, rec = asio::error::would_block;
  asio::co_spawn(ioc_, read_exactly(server_.get(), &heard, 4, &rec), asio::detached);
  asio::co_spawn(ioc_, ping(client_.get(), &pec), asio::detached);
  settle();
  EXPECT_FALSE(pec);
  std::size_t got = 0, bad = 0;
  error_code end;
  asio::co_spawn(ioc_, read_pattern(client_.get(), 4, &got, &bad, &end), asio::detached);
  while ((got < kStuck || rec == asio::error::would_block) && ioc_.run_one() > 0) {
  }
  EXPECT_FALSE(rec) << rec.message();
  EXPECT_EQ(heard, "ping");
  EXPECT_FALSE(wec_) << wec_.message();
  EXPECT_EQ(got, kStuck);  // every record decrypted: the key change came in order
  EXPECT_EQ(bad, 0u);
  EXPECT_FALSE(end) << end.message();
}

TEST_F(TlsStreamTest, AnAlertFromTheReadSideIsSentAfterThePendingWritesRecords) {
  ASSERT_TRUE(handshake());
  ASSERT_TRUE(stuck_server_write(5));
  // A forged application-data record: the server's read fails to decrypt it
  // and answers with a fatal alert while its write still waits for the socket.
  std::string heard;
  error_code rec = asio::error::would_block;
  asio::co_spawn(ioc_, read_exactly(server_.get(), &heard, 4, &rec), asio::detached);
  unsigned char forged[5 + 32] = {0x17, 0x03, 0x03, 0x00, 0x20};
  for (std::size_t i = 5; i < sizeof forged; ++i) forged[i] = static_cast<unsigned char>(i * 37);
  asio::write(client_sock_, asio::buffer(forged));
  settle();
  std::size_t got = 0, bad = 0;
  error_code end;
  asio::co_spawn(ioc_, read_pattern(client_.get(), 5, &got, &bad, &end), asio::detached);
  ioc_.run();
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec.category(), asio::error::get_ssl_category());
  EXPECT_EQ(ERR_GET_REASON(static_cast<unsigned long>(rec.value())),
            SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC)
      << rec.message();
  EXPECT_TRUE(wec_);  // no write after a fatal alert
  // The client got every record queued before the alert, then the alert
  // itself, intact: a record out of order would not decrypt.
  EXPECT_GE(got, wrote_);
  EXPECT_GT(got, 0u);
  EXPECT_EQ(bad, 0u);
  ASSERT_TRUE(end);
  EXPECT_EQ(end.category(), asio::error::get_ssl_category());
  EXPECT_EQ(ERR_GET_REASON(static_cast<unsigned long>(end.value())), SSL_R_SSLV3_ALERT_BAD_RECORD_MAC)
      << end.message();
}

Task<void> write_string(tls::Stream* s, const std::string* data, error_code* result) {
  auto [ec, n] = co_await asio::async_write(*s, asio::buffer(*data), kUseTuple);
  *result = ec;
}

Task<void> read_all(tls::Stream* s, std::string* out, error_code* end) {
  std::vector<char> buf(24 * 1024);
  for (;;) {
    auto [ec, n] = co_await s->async_read_some(asio::buffer(buf), kUseTuple);
    out->append(buf.data(), n);
    if (ec) {
      *end = ec;
      co_return;
    }
  }
}

TEST_F(TlsStreamTest, TheCloseNotifyGoesOutWithTheLastBytes) {
  ASSERT_TRUE(handshake());
  // The last part takes two of the stream's writes (over kMaxWrite): the
  // close_notify follows the second one, not the first.
  const std::string first(5000, 'a'), last(tls::Stream::kMaxWrite + 8000, 'b');
  std::string got;
  error_code end = asio::error::would_block, w1 = asio::error::would_block,
             w2 = asio::error::would_block;
  asio::co_spawn(ioc_, read_all(client_.get(), &got, &end), asio::detached);
  asio::co_spawn(ioc_, write_string(server_.get(), &first, &w1), asio::detached);
  while (got.size() < first.size() && end == asio::error::would_block) ioc_.run_one();
  settle();
  EXPECT_FALSE(w1);
  EXPECT_FALSE(server_->shutdown_sent());
  EXPECT_EQ(got, first);
  EXPECT_EQ(end, asio::error::would_block);  // still reading

  server_->shutdown_after(last.size());
  asio::co_spawn(ioc_, write_string(server_.get(), &last, &w2), asio::detached);
  while (w2 == asio::error::would_block) ioc_.run_one();
  EXPECT_FALSE(w2);
  EXPECT_TRUE(server_->shutdown_sent());  // written with the last bytes, before any async_shutdown
  // The server's socket stays open: the client's read ends on the close_notify
  // that came with the last bytes. (Without one, a FIN ends it, as truncated.)
  if (!server_->shutdown_sent()) server_sock_.shutdown(asio::socket_base::shutdown_send);
  ioc_.run();
  ioc_.restart();
  EXPECT_EQ(got.size(), first.size() + last.size());
  EXPECT_EQ(got, first + last);
  EXPECT_EQ(end, asio::error::eof) << end.message();
  EXPECT_TRUE(server_sock_.is_open());

  // A shutdown after that has nothing left to send and succeeds.
  error_code shut = asio::error::would_block;
  server_->async_shutdown([&](error_code ec) { shut = ec; });
  ioc_.run();
  EXPECT_FALSE(shut) << shut.message();
}

TEST_F(TlsStreamTest, TicketsGoOutAtOnceWhenTheClientHasNotSentYet) {
  // TLS 1.3 tickets are written when the server reads the client's Finished.
  // They may wait for the response only when the client's first request came
  // with its Finished; here nothing came, so they are sent with the handshake.
  ASSERT_TRUE(handshake());
  pollfd p{client_sock_.native_handle(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10'000), 1);  // the tickets, queued on the client's socket
  std::string got;
  error_code end = asio::error::would_block;
  asio::co_spawn(ioc_, read_all(client_.get(), &got, &end), asio::detached);
  SSL_SESSION* session = SSL_get0_session(client_->native_handle());
  while (SSL_SESSION_is_resumable(session) != 1 && ioc_.run_one() > 0)
    session = SSL_get0_session(client_->native_handle());
  EXPECT_EQ(SSL_SESSION_is_resumable(session), 1);
  EXPECT_TRUE(got.empty());
  client_sock_.close();  // ends the read
  ioc_.run();
}

}  // namespace
