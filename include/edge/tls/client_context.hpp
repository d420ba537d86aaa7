#pragma once
/// TLS to targets (HTTPS target groups): a client SSL_CTX per worker and group,
/// TLS 1.2 and 1.3, optional verification of the chain (a CA file or the
/// system's) and of the name, and SNI.
/// Thread: built on the control thread; used by one worker.

#include <string>

#include <boost/asio/ssl/context.hpp>

#include "edge/config/config.hpp"

namespace edge::tls {

class ClientContext {
 public:
  /// Throws std::runtime_error naming the CA file when it cannot be loaded.
  explicit ClientContext(const config::TargetTlsConfig& cfg);

  boost::asio::ssl::context& asio() { return ctx_; }
  bool verify() const { return verify_; }
  /// The name to send as SNI (and verify) for a target whose host is `host`:
  /// the configured server_name, else `host` unless it is an IP address (SNI
  /// carries names only).
  std::string server_name(const std::string& host) const;

 private:
  boost::asio::ssl::context ctx_;
  bool verify_ = false;
  std::string server_name_;
};

/// Prepares `ssl` (a new client connection): SNI and, when verifying, the name
/// to check. Returns false when OpenSSL refuses the name.
bool prepare_client(SSL* ssl, const ClientContext& ctx, const std::string& host);

}  // namespace edge::tls
