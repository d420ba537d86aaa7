#include "edge/tls/client_context.hpp"

#include <stdexcept>

#include <boost/asio/ip/address.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace edge::tls {

ClientContext::ClientContext(const config::TargetTlsConfig& cfg)
    : ctx_(boost::asio::ssl::context::tls_client), verify_(cfg.verify), server_name_(cfg.server_name) {
  SSL_CTX* ctx = ctx_.native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (!verify_) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    return;
  }
  ERR_clear_error();
  const int ok = cfg.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                                     : SSL_CTX_load_verify_locations(ctx, cfg.ca_file.c_str(), nullptr);
  if (ok != 1) {
    char buf[256] = {};
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    throw std::runtime_error((cfg.ca_file.empty() ? std::string("system CA store") : cfg.ca_file) +
                             ": cannot load CA certificates (" + buf + ")");
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
}

std::string ClientContext::server_name(const std::string& host) const {
  if (!server_name_.empty()) return server_name_;
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  return ec ? host : std::string();
}

bool prepare_client(SSL* ssl, const ClientContext& ctx, const std::string& host) {
  const std::string name = ctx.server_name(host);
  if (!name.empty() &&
      SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(name.c_str())) != 1)
    return false;
  if (ctx.verify()) {
    // Check the certificate against the name (or the IP address) we dialled.
    const std::string& check = name.empty() ? host : name;
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (name.empty()) {
      if (X509_VERIFY_PARAM_set1_ip_asc(param, check.c_str()) != 1) return false;
    } else {
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (X509_VERIFY_PARAM_set1_host(param, check.c_str(), 0) != 1) return false;
    }
  }
  return true;
}

}  // namespace edge::tls
