#include "edge/tls/security_policy.hpp"

#include <algorithm>
#include <array>

#include <openssl/ssl.h>

namespace edge::tls {
namespace {

constexpr std::string_view kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

constexpr std::array<SecurityPolicy, 4> kPolicies{{
    {"ELBSecurityPolicy-TLS13-1-2-2021-06", TLS1_2_VERSION, TLS1_3_VERSION,
     "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
     "ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:"
     "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
     "ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384",
     kTls13Suites, false},
    {"ELBSecurityPolicy-TLS13-1-3-2021-06", TLS1_3_VERSION, TLS1_3_VERSION, "", kTls13Suites,
     false},
    {"ELBSecurityPolicy-TLS13-1-2-Res-2021-06", TLS1_2_VERSION, TLS1_3_VERSION,
     "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
     "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384",
     kTls13Suites, false},
    {"ELBSecurityPolicy-2016-08", TLS1_VERSION, TLS1_2_VERSION,
     "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
     "ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:"
     "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:"
     "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
     "ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:"
     "ECDHE-RSA-AES256-SHA:ECDHE-ECDSA-AES256-SHA:"
     "AES128-GCM-SHA256:AES128-SHA256:AES128-SHA:"
     "AES256-GCM-SHA384:AES256-SHA256:AES256-SHA",
     "", true},
}};

}  // namespace

std::optional<SecurityPolicy> find_security_policy(std::string_view name) {
  for (const auto& p : kPolicies)
    if (p.name == name) return p;
  return std::nullopt;
}

std::vector<std::string_view> security_policy_names() {
  std::vector<std::string_view> out;
  for (const auto& p : kPolicies) out.push_back(p.name);
  return out;
}

std::size_t protocol_index(int version) {
  switch (version) {
    case TLS1_1_VERSION: return 1;
    case TLS1_2_VERSION: return 2;
    case TLS1_3_VERSION: return 3;
    default: return 0;
  }
}

std::string_view protocol_label(std::size_t index) {
  static constexpr std::array<std::string_view, kProtocolCount> kNames{"TLSv1", "TLSv1.1", "TLSv1.2",
                                                                       "TLSv1.3"};
  return index < kNames.size() ? kNames[index] : "unknown";
}

namespace {
const std::vector<std::string_view>& cipher_table() {
  static const std::vector<std::string_view> table = [] {
    std::vector<std::string_view> t;
    auto add_list = [&](std::string_view list) {
      while (!list.empty()) {
        auto colon = list.find(':');
        auto name = list.substr(0, colon);
        if (std::find(t.begin(), t.end(), name) == t.end()) t.push_back(name);
        if (colon == std::string_view::npos) break;
        list.remove_prefix(colon + 1);
      }
    };
    for (const auto& p : kPolicies) {
      add_list(p.ciphersuites);
      add_list(p.ciphers);
    }
    t.push_back("other");
    return t;
  }();
  return table;
}
}  // namespace

std::size_t cipher_count() { return cipher_table().size(); }

std::size_t cipher_index(std::string_view openssl_name) {
  const auto& t = cipher_table();
  for (std::size_t i = 0; i + 1 < t.size(); ++i)
    if (t[i] == openssl_name) return i;
  return t.size() - 1;
}

std::string_view cipher_label(std::size_t index) {
  const auto& t = cipher_table();
  return index < t.size() ? t[index] : "other";
}

std::string_view protocol_name(int version) {
  switch (version) {
    case TLS1_VERSION: return "TLSv1";
    case TLS1_1_VERSION: return "TLSv1.1";
    case TLS1_2_VERSION: return "TLSv1.2";
    case TLS1_3_VERSION: return "TLSv1.3";
    default: return "unknown";
  }
}

}  // namespace edge::tls
