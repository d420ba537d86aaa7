#pragma once
// Self-signed test certificates made with OpenSSL at test time (no files in the tree).

#include <string>
#include <vector>

namespace edge::test {

enum class TestKey { rsa, ecdsa };

struct TestCertificate {
  std::string cert_path;
  std::string key_path;
};

/// Writes `<dir>/<name>.pem` and `<dir>/<name>.key`: a self-signed certificate for
/// `dns_names` (SANs; the first is also the CN), valid from now for `days`.
TestCertificate make_test_certificate(const std::string& dir, const std::string& name,
                                      const std::vector<std::string>& dns_names, TestKey key,
                                      int days = 30);

/// A fresh empty directory under the system temp dir.
std::string make_temp_dir(const std::string& prefix);

}  // namespace edge::test
