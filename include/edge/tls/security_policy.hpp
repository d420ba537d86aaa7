#pragma once
/// ALB security policies by name: the protocol versions and cipher lists a TLS
/// listener offers (server preference order, as ALB).
/// Thread: any (immutable tables).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::tls {

struct SecurityPolicy {
  std::string_view name;
  int min_version = 0;  // OpenSSL TLS1_x_VERSION
  int max_version = 0;
  /// OpenSSL cipher list for TLS 1.2 and below (empty when the policy is TLS 1.3 only).
  std::string_view ciphers;
  /// OpenSSL TLS 1.3 ciphersuites (empty when the policy has no TLS 1.3).
  std::string_view ciphersuites;
  /// The policy allows TLS 1.0/1.1 with SHA-1 suites, which OpenSSL's default
  /// security level refuses: the context runs at security level 0.
  bool legacy = false;
};

/// The policy called `name`, or nullopt.
std::optional<SecurityPolicy> find_security_policy(std::string_view name);

/// Every supported name (for error messages and docs).
std::vector<std::string_view> security_policy_names();

/// "TLSv1.2"-style name of an OpenSSL version constant.
std::string_view protocol_name(int version);

/// Protocol versions in metric order: TLSv1, TLSv1.1, TLSv1.2, TLSv1.3.
inline constexpr std::size_t kProtocolCount = 4;
/// Index of an OpenSSL version constant in that order (TLSv1 for anything older).
std::size_t protocol_index(int version);
std::string_view protocol_label(std::size_t index);

/// Every cipher any policy offers (OpenSSL names), for bounded metric labels;
/// the last index stands for anything else.
std::size_t cipher_count();
std::size_t cipher_index(std::string_view openssl_name);
std::string_view cipher_label(std::size_t index);

}  // namespace edge::tls
