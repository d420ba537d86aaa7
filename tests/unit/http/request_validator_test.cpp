#include "edge/http/request_validator.hpp"

#include <gtest/gtest.h>

namespace edge::http {
namespace {

struct Case {
  const char* name;
  std::string head;
  DesyncClass cls;
};

std::string h(std::string fields, std::string line = "GET / HTTP/1.1") {
  return line + "\r\n" + fields + "\r\n";
}

TEST(RequestValidator, ClassifiesHeads) {
  const Case cases[] = {
      {"plain", h("Host: a\r\n"), DesyncClass::compliant},
      {"post_cl", h("Host: a\r\nContent-Length: 5\r\n", "POST / HTTP/1.1"), DesyncClass::compliant},
      {"chunked", h("Host: a\r\nTransfer-Encoding: chunked\r\n", "POST / HTTP/1.1"),
       DesyncClass::compliant},
      {"http10_no_host", h("", "GET / HTTP/1.0"), DesyncClass::compliant},
      {"options_star", h("Host: a\r\n", "OPTIONS * HTTP/1.1"), DesyncClass::compliant},
      {"obs_text", h("Host: a\r\nX: caf\xc3\xa9\r\n"), DesyncClass::acceptable},
      {"absolute_form", h("Host: a\r\n", "GET http://a/x HTTP/1.1"), DesyncClass::acceptable},
      {"dup_equal_cl", h("Host: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n"),
       DesyncClass::ambiguous},
      {"cl_list_equal", h("Host: a\r\nContent-Length: 5, 5\r\n"), DesyncClass::ambiguous},
      {"te_http10", h("Host: a\r\nTransfer-Encoding: chunked\r\n", "POST / HTTP/1.0"),
       DesyncClass::ambiguous},
      {"cl_te", h("Host: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
       DesyncClass::severe},
      {"cl_differs", h("Host: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n"),
       DesyncClass::severe},
      {"cl_leading_zero_equal", h("Host: a\r\nContent-Length: 5\r\nContent-Length: 05\r\n"),
       DesyncClass::ambiguous},
      {"cl_negative", h("Host: a\r\nContent-Length: -1\r\n"), DesyncClass::severe},
      {"te_identity", h("Host: a\r\nTransfer-Encoding: identity\r\n"), DesyncClass::severe},
      {"te_chunked_not_last", h("Host: a\r\nTransfer-Encoding: chunked, gzip\r\n"),
       DesyncClass::severe},
      {"te_twice", h("Host: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
       DesyncClass::severe},
      {"obs_fold", h("Host: a\r\nX: a\r\n b\r\n"), DesyncClass::severe},
      {"space_before_colon", h("Host: a\r\nContent-Length : 5\r\n"), DesyncClass::severe},
      {"bare_lf", "GET / HTTP/1.1\nHost: a\r\n\r\n", DesyncClass::severe},
      {"bare_cr", h("Host: a\r\nX: a\rb\r\n"), DesyncClass::severe},
      {"ctl", h("Host: a\r\nX: a\x01" "b\r\n"), DesyncClass::severe},
      {"missing_host", h("X: a\r\n"), DesyncClass::severe},
      {"two_hosts", h("Host: a\r\nHost: b\r\n"), DesyncClass::severe},
      {"bad_target", h("Host: a\r\n", "GET foo HTTP/1.1"), DesyncClass::severe},
      {"fragment", h("Host: a\r\n", "GET /a#b HTTP/1.1"), DesyncClass::severe},
      {"bad_version", h("Host: a\r\n", "GET / HTTP/2.0"), DesyncClass::severe},
      {"bad_method", h("Host: a\r\n", "G(T / HTTP/1.1"), DesyncClass::severe},
  };
  for (const auto& c : cases) {
    auto v = classify_request_head(c.head, 16 * 1024);
    EXPECT_EQ(v.cls, c.cls) << c.name << " reason=" << v.reason;
    if (c.cls != DesyncClass::compliant) {
      EXPECT_FALSE(v.reason.empty()) << c.name;
    }
  }
  std::string nul = h("Host: a\r\nX: a") ;
  nul.insert(nul.size() - 2, 1, '\0');
  EXPECT_EQ(classify_request_head(nul, 16 * 1024).cls, DesyncClass::severe);
}

TEST(RequestValidator, LineLimit) {
  auto head = h("Host: a\r\nX: " + std::string(100, 'a') + "\r\n");
  EXPECT_TRUE(classify_request_head(head, 50).line_too_long);
  EXPECT_FALSE(classify_request_head(head, 200).line_too_long);
}

TEST(RequestValidator, ModeActions) {
  using config::DesyncMode;
  EXPECT_EQ(desync_action(DesyncMode::monitor, DesyncClass::severe), DesyncAction::forward);
  EXPECT_EQ(desync_action(DesyncMode::defensive, DesyncClass::severe), DesyncAction::reject);
  EXPECT_EQ(desync_action(DesyncMode::defensive, DesyncClass::ambiguous),
            DesyncAction::forward_then_close);
  EXPECT_EQ(desync_action(DesyncMode::defensive, DesyncClass::acceptable), DesyncAction::forward);
  EXPECT_EQ(desync_action(DesyncMode::strictest, DesyncClass::acceptable), DesyncAction::reject);
  EXPECT_EQ(desync_action(DesyncMode::strictest, DesyncClass::compliant), DesyncAction::forward);
}

}  // namespace
}  // namespace edge::http
