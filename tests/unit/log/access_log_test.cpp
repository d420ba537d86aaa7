#include "edge/log/access_log.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <thread>

namespace edge::log {
namespace {

namespace asio = boost::asio;

TEST(AccessLogRingTest, FullRingDropsAndCountsThenRecovers) {
  AccessLogRing ring(5);  // rounded up to 8
  EXPECT_EQ(ring.capacity(), 8u);
  for (int i = 0; i < 8; ++i) {
    AccessRecord* r = ring.try_claim();
    ASSERT_NE(r, nullptr) << i;
    r->elb_status = static_cast<std::uint16_t>(200 + i);
    ring.publish();
  }
  EXPECT_EQ(ring.try_claim(), nullptr);
  EXPECT_EQ(ring.try_claim(), nullptr);
  EXPECT_EQ(ring.dropped(), 2u);
  ASSERT_NE(ring.front(), nullptr);
  EXPECT_EQ(ring.front()->elb_status, 200);
  ring.pop();
  AccessRecord* r = ring.try_claim();  // one slot free again
  ASSERT_NE(r, nullptr);
  r->elb_status = 299;
  ring.publish();
  for (int i = 1; i < 8; ++i) {
    ASSERT_NE(ring.front(), nullptr);
    EXPECT_EQ(ring.front()->elb_status, 200 + i);
    ring.pop();
  }
  EXPECT_EQ(ring.front()->elb_status, 299);
  ring.pop();
  EXPECT_EQ(ring.front(), nullptr);
}

TEST(AccessLogRingTest, OneProducerOneConsumerSeeEveryRecordInOrder) {
  AccessLogRing ring(64);
  constexpr std::uint64_t kN = 20'000;
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < kN;) {
      if (AccessRecord* r = ring.try_claim()) {
        r->received_bytes = i++;
        ring.publish();
      } else {
        std::this_thread::yield();
      }
    }
  });
  std::uint64_t next = 0;
  while (next < kN) {
    if (const AccessRecord* r = ring.front()) {
      ASSERT_EQ(r->received_bytes, next);
      ++next;
      ring.pop();
    } else {
      std::this_thread::yield();
    }
  }
  producer.join();
  EXPECT_EQ(ring.published(), kN);
}

TEST(AccessRecordTest, TextFieldsAreCutToTheirBound) {
  AccessRecord r;
  const std::string long_target(5000, 'a');
  r.set_text(AccessRecord::kMethod, "GET");
  r.set_text(AccessRecord::kTarget, long_target);
  r.set_text(AccessRecord::kUserAgent, "ua");
  EXPECT_EQ(r.get_text(AccessRecord::kMethod), "GET");
  EXPECT_EQ(r.get_text(AccessRecord::kTarget).size(),
            AccessRecord::kTextLimit[AccessRecord::kTarget]);
  EXPECT_EQ(r.get_text(AccessRecord::kUserAgent), "ua");
  EXPECT_EQ(r.get_text(AccessRecord::kTraceId), "");
}

AccessRecord sample() {
  AccessRecord r;
  r.time_us = 1'764'055'775'123'456;  // 2025-11-25T07:29:35.123456Z
  r.created_us = r.time_us - 2'500;
  r.request_processing_ns = 41'000;
  r.target_processing_ns = 2'210'400;
  r.response_processing_ns = 35'000;
  r.received_bytes = 84;
  r.sent_bytes = 1198;
  r.client = {asio::ip::make_address("2001:db8::1"), 40000};
  r.target = {asio::ip::make_address("10.0.0.5"), 5001};
  r.matched_rule_priority = 0;
  r.listener = 0;
  r.listener_port = 8080;
  r.target_group = 0;
  r.elb_status = 200;
  r.target_status = 200;
  r.http_version = 11;
  r.action = ActionTaken::forward;
  r.set_text(AccessRecord::kMethod, "GET");
  r.set_text(AccessRecord::kTarget, "/a b?\"q\"");
  r.set_text(AccessRecord::kHost, "shop.example:8080");
  r.set_text(AccessRecord::kUserAgent, "evil\"\n\x01ua\\");
  r.set_text(AccessRecord::kTraceId, "Root=1-abc");
  return r;
}

TEST(AccessLogFormatTest, AlbLineIsOneLineWithEscapedQuotes) {
  const AccessLogNames names{{"web"}, {"app"}};
  std::string line;
  format_alb(sample(), names, line);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_EQ(
      line.rfind("http 2025-11-25T07:29:35.123456Z web [2001:db8::1]:40000 10.0.0.5:5001 "
                 "0.000041 0.002210 0.000035 200 200 84 1198 "
                 "\"GET http://shop.example:8080/a b?\\\"q\\\" HTTP/1.1\" "
                 "\"evil\\\"\\x0a\\x01ua\\\\\" - - app \"Root=1-abc\" \"-\" \"-\" 0 "
                 "2025-11-25T07:29:35.120956Z \"forward\" \"-\" \"-\" \"10.0.0.5:5001\" \"200\" "
                 "\"-\" \"-\"\n",
                 0),
      0u)
      << line;
}

TEST(AccessLogFormatTest, JsonLineParsesWithTheSameValues) {
  const AccessLogNames names{{"web"}, {"app"}};
  std::string line;
  format_json(sample(), names, line);
  ASSERT_EQ(line.back(), '\n');
  const auto v = boost::json::parse(line).as_object();
  EXPECT_EQ(v.at("client:port").as_string(), "[2001:db8::1]:40000");
  EXPECT_EQ(v.at("user_agent").as_string(), "evil\"\n\x01ua\\");
  EXPECT_EQ(v.at("request").as_string(), "GET http://shop.example:8080/a b?\"q\" HTTP/1.1");
  EXPECT_DOUBLE_EQ(v.at("target_processing_time").as_double(), 0.00221);
  EXPECT_EQ(v.at("elb_status_code").as_int64(), 200);
  EXPECT_TRUE(v.at("redirect_url").is_null());
  EXPECT_TRUE(v.at("ssl_cipher").is_null());
  EXPECT_EQ(v.at("target_group_arn").as_string(), "app");
  EXPECT_TRUE(v.at("x_edge_result_type").is_null());  // no cache policy on the route
}

TEST(AccessLogFormatTest, JsonCarriesTheCacheResultAlbDoesNot) {
  const AccessLogNames names{{"web"}, {"app"}};
  AccessRecord r = sample();
  proxy::RequestCtx ctx;
  ctx.edge_result = "RefreshHit";
  ctx.status = 200;
  RequestLine request;
  fill_record(r, ctx, request, 0, 8080, std::chrono::system_clock::now());
  EXPECT_EQ(r.edge_result, 2);
  std::string js, alb, alb_without;
  format_json(r, names, js);
  EXPECT_EQ(boost::json::parse(js).as_object().at("x_edge_result_type").as_string(), "RefreshHit");
  format_alb(r, names, alb);
  r.edge_result = 0;
  format_alb(r, names, alb_without);
  EXPECT_EQ(alb, alb_without);  // ALB's field order and count untouched
}

TEST(AccessLogFormatTest, HttpsFieldsWhenTheSessionProvidesThem) {
  AccessRecord r = sample();
  r.https = true;
  r.set_text(AccessRecord::kSslCipher, "ECDHE-RSA-AES128-GCM-SHA256");
  r.set_text(AccessRecord::kSslProtocol, "TLSv1.2");
  r.set_text(AccessRecord::kDomainName, "shop.example");
  const AccessLogNames names{{"web"}, {"app"}};
  std::string line;
  format_alb(r, names, line);
  EXPECT_EQ(line.rfind("https ", 0), 0u) << line;
  EXPECT_NE(line.find("\"GET https://shop.example:8080/"), std::string::npos) << line;
  EXPECT_NE(
      line.find(" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 app \"Root=1-abc\" \"shop.example\" \"-\" "),
      std::string::npos)
      << line;
  std::string js;
  format_json(r, names, js);
  const auto v = boost::json::parse(js).as_object();
  EXPECT_EQ(v.at("type").as_string(), "https");
  EXPECT_EQ(v.at("ssl_protocol").as_string(), "TLSv1.2");
  EXPECT_EQ(v.at("domain_name").as_string(), "shop.example");
}

}  // namespace
}  // namespace edge::log
