// 1 GiB up and 1 GiB down through the gateway in bounded memory.
#include <openssl/evp.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <fstream>

#include "integration/gateway_fixture.hpp"

namespace edge::test {
namespace {

namespace asio = boost::asio;
constexpr std::uint64_t kGiB = 1024ULL * 1024 * 1024;

std::uint64_t rss_bytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

// Sanitizer runtimes keep freed memory in quarantine: RSS says nothing there.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kMeasureRss = false;
#else
constexpr bool kMeasureRss = true;
#endif
constexpr std::uint64_t kMaxRssGrowth = 64ULL * 1024 * 1024;

std::string to_hex(const unsigned char* p, std::size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    s.push_back(d[p[i] >> 4]);
    s.push_back(d[p[i] & 15]);
  }
  return s;
}

class StreamingTest : public GatewayTest {};

TEST_F(StreamingTest, OneGiBUploadStreamsInBoundedMemory) {
  origin::OriginOptions o;
  o.request_log_capacity = 0;
  add_origin(o);
  start(base_config(1));
  const std::uint64_t before = rss_bytes();

  asio::io_context ioc;
  asio::ip::tcp::socket s(ioc);
  s.connect({asio::ip::make_address("127.0.0.1"), port_});
  std::string head = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(kGiB) +
                     "\r\n\r\n";
  asio::write(s, asio::buffer(head));
  std::vector<char> chunk(256 * 1024);
  for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>('a' + i % 26);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md, EVP_sha256(), nullptr);
  std::uint64_t peak = before;
  for (std::uint64_t sent = 0; sent < kGiB; sent += chunk.size()) {
    asio::write(s, asio::buffer(chunk));
    EVP_DigestUpdate(md, chunk.data(), chunk.size());
    if ((sent / chunk.size()) % 256 == 0) peak = std::max(peak, rss_bytes());
  }
  unsigned char digest[32];
  unsigned len = 0;
  EVP_DigestFinal_ex(md, digest, &len);
  EVP_MD_CTX_free(md);

  // Read the echo response (small) with a Beast-free minimal parse.
  std::string resp;
  char buf[4096];
  boost::system::error_code ec;
  while (resp.find("}") == std::string::npos) {
    std::size_t n = s.read_some(asio::buffer(buf), ec);
    if (ec) break;
    resp.append(buf, n);
  }
  ASSERT_FALSE(ec) << ec.message();
  auto body = resp.substr(resp.find("\r\n\r\n") + 4);
  auto j = boost::json::parse(body).as_object();
  EXPECT_EQ(static_cast<std::uint64_t>(j.at("body_length").as_int64()), kGiB);
  EXPECT_EQ(j.at("body_sha256").as_string(), to_hex(digest, 32));
  if (kMeasureRss) {
    EXPECT_LT(peak - before, kMaxRssGrowth) << "RSS grew by " << (peak - before);
  }
}

TEST_F(StreamingTest, OneGiBDownloadStreamsInBoundedMemory) {
  origin::OriginOptions o;
  o.request_log_capacity = 0;
  add_origin(o);
  start(base_config(1));
  const std::uint64_t before = rss_bytes();

  asio::io_context ioc;
  asio::ip::tcp::socket s(ioc);
  s.connect({asio::ip::make_address("127.0.0.1"), port_});
  std::string req = "GET /bytes/" + std::to_string(kGiB) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  asio::write(s, asio::buffer(req));
  std::vector<char> buf(256 * 1024);
  std::string head;
  std::uint64_t body = 0;
  std::uint64_t peak = before;
  std::uint64_t reads = 0;
  const std::string expected_prefix = origin::OriginServer::make_body(64);
  std::string first_bytes;
  boost::system::error_code ec;
  while (body < kGiB) {
    std::size_t n = s.read_some(asio::buffer(buf), ec);
    ASSERT_FALSE(ec) << ec.message() << " after " << body << " body bytes";
    std::size_t off = 0;
    if (head.find("\r\n\r\n") == std::string::npos) {
      head.append(buf.data(), n);
      auto e = head.find("\r\n\r\n");
      if (e == std::string::npos) continue;
      off = n - (head.size() - (e + 4));
      head.resize(e + 4);
    }
    if (first_bytes.size() < 64)
      first_bytes.append(buf.data() + off, std::min<std::size_t>(64 - first_bytes.size(), n - off));
    body += n - off;
    if (++reads % 512 == 0) peak = std::max(peak, rss_bytes());
  }
  EXPECT_NE(head.find("Content-Length: " + std::to_string(kGiB)), std::string::npos) << head;
  EXPECT_EQ(body, kGiB);
  EXPECT_EQ(first_bytes, expected_prefix);
  if (kMeasureRss) {
    EXPECT_LT(peak - before, kMaxRssGrowth) << "RSS grew by " << (peak - before);
  }
}

}  // namespace
}  // namespace edge::test
