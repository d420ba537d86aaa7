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

/// A certificate issued through an intermediate CA: `<dir>/<name>.pem` holds the
/// leaf then the intermediate (the chain a server sends), `<dir>/<name>.key` the
/// leaf's key, and `root_path` (`<dir>/<name>-root.pem`) the self-signed root
/// that a client trusts. The intermediate is not trusted by itself.
struct TestChain {
  TestCertificate leaf;
  std::string root_path;
};
TestChain make_test_chain(const std::string& dir, const std::string& name,
                          const std::vector<std::string>& dns_names, TestKey key);

/// A fresh empty directory under the system temp dir.
std::string make_temp_dir(const std::string& prefix);

}  // namespace edge::test
