#include "edge/tls/server_context.hpp"
#include "edge/core/text.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/tls1.h>
#include <openssl/x509v3.h>

namespace edge::tls {
namespace {

constexpr auto lower = to_lower;

/// The OpenSSL error queue as text (and cleared).
std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

File open_file(const std::string& path) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
  return f;
}

std::int64_t asn1_time_to_unix(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<std::int64_t>(timegm(&tm));
}

std::string x509_name(X509_NAME* n) {
  char buf[512];
  X509_NAME_oneline(n, buf, sizeof buf);
  return buf;
}

std::vector<std::string> certificate_names(X509* x) {
  std::vector<std::string> names;
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
      if (g->type != GEN_DNS) continue;
      const auto* s = g->d.dNSName;
      names.push_back(lower(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                             static_cast<std::size_t>(ASN1_STRING_length(s)))));
    }
    GENERAL_NAMES_free(sans);
  }
  if (names.empty()) {
    X509_NAME* subj = X509_get_subject_name(x);
    int idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
    if (idx >= 0) {
      const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
      names.push_back(lower(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                             static_cast<std::size_t>(ASN1_STRING_length(s)))));
    }
  }
  return names;
}

int ticket_keys_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

/// The tickets' cipher, fetched once: a legacy EVP_aes_256_cbc() would be
/// fetched by name from the provider on every ticket sealed or opened.
const EVP_CIPHER* ticket_cipher() {
  static EVP_CIPHER* const fetched = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
  return fetched != nullptr ? fetched : EVP_aes_256_cbc();
}

int on_ticket_key(SSL* ssl, unsigned char key_name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher,
                  EVP_MAC_CTX* mac, int enc) {
  auto* keys = static_cast<TicketKeys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ticket_keys_index()));
  if (!keys) return 0;
  keys->maybe_rotate(static_cast<std::int64_t>(std::time(nullptr)));
  auto set_mac = [&](const TicketKeys::Key& k) {
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_octet_string(
        OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(k.hmac.data()), k.hmac.size());
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 const_cast<char*>("SHA256"), 0);
    params[2] = OSSL_PARAM_construct_end();
    return EVP_MAC_CTX_set_params(mac, params) == 1;
  };
  if (enc) {
    const TicketKeys::Key k = keys->current();
    std::memcpy(key_name, k.name.data(), k.name.size());
    if (RAND_bytes(iv, 16) != 1) return -1;
    if (EVP_EncryptInit_ex(cipher, ticket_cipher(), nullptr, k.aes.data(), iv) != 1) return -1;
    return set_mac(k) ? 1 : -1;
  }
  bool is_current = false;
  auto k = keys->find(key_name, is_current);
  if (!k) return 0;  // unknown or expired key: full handshake
  if (!set_mac(*k)) return -1;
  if (EVP_DecryptInit_ex(cipher, ticket_cipher(), nullptr, k->aes.data(), iv) != 1) return -1;
  // 2: valid, but issue a new ticket (under the current key). TLS 1.3 clients use
  // a ticket once (RFC 8446, C.4), so a resumed TLS 1.3 handshake always gets a new
  // one; otherwise every other reconnection of such a client is a full handshake.
  if (!is_current || SSL_version(ssl) == TLS1_3_VERSION) return 2;
  return 1;
}

/// A certificate's intermediates as the stack OpenSSL takes; SSL(_CTX)_use_cert_and_key
/// takes its own references, so the stack (not the certificates) is freed after.
struct ChainFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }
};
std::unique_ptr<STACK_OF(X509), ChainFree> chain_of(const Certificate& c) {
  std::unique_ptr<STACK_OF(X509), ChainFree> chain(sk_X509_new_null());
  for (X509* x : c.chain()) sk_X509_push(chain.get(), x);
  return chain;
}

int session_cache_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

SessionCache* session_cache_of(SSL_CTX* ctx) {
  return static_cast<SessionCache*>(SSL_CTX_get_ex_data(ctx, session_cache_index()));
}

// A TLS 1.3 session with tickets on lives in its ticket alone: storing it would
// serialize it and take the shared cache's lock on every handshake (and for every
// ticket) for a session that is never looked up by ID. OpenSSL still hands them to
// these callbacks because a remove callback is set.
bool stateless(const SSL_CTX* ctx, const SSL_SESSION* session) {
  return SSL_SESSION_get_protocol_version(session) == TLS1_3_VERSION &&
         (SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET) == 0;
}

int on_new_session(SSL* ssl, SSL_SESSION* session) {
  SSL_CTX* ctx = SSL_get_SSL_CTX(ssl);
  if (stateless(ctx, session)) return 0;
  if (SessionCache* cache = session_cache_of(ctx)) cache->put(session);
  return 0;  // OpenSSL keeps its reference: the shared cache holds a copy
}

SSL_SESSION* on_get_session(SSL* ssl, const unsigned char* id, int length, int* copy) {
  *copy = 0;  // the session returned carries the reference OpenSSL takes over
  SessionCache* cache = session_cache_of(SSL_get_SSL_CTX(ssl));
  if (cache == nullptr || length <= 0) return nullptr;
  return cache->get(id, static_cast<std::size_t>(length));
}

void on_remove_session(SSL_CTX* ctx, SSL_SESSION* session) {
  SessionCache* cache = session_cache_of(ctx);
  if (cache == nullptr || stateless(ctx, session)) return;
  unsigned int length = 0;
  const unsigned char* id = SSL_SESSION_get_id(session, &length);
  cache->remove(id, length);
}

int on_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
            unsigned int inlen, void*) {
  static constexpr unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11, in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;  // no common protocol: go on without ALPN
}

/// server_name from a ClientHello extension body (RFC 6066 3); empty when absent.
std::string_view parse_sni(const unsigned char* p, std::size_t len) {
  if (len < 2) return {};
  std::size_t list = static_cast<std::size_t>(p[0] << 8 | p[1]);
  p += 2;
  len -= 2;
  if (list > len) return {};
  while (list >= 3) {
    const unsigned type = p[0];
    const std::size_t n = static_cast<std::size_t>(p[1] << 8 | p[2]);
    p += 3;
    list -= 3;
    if (n > list) return {};
    if (type == 0) return {reinterpret_cast<const char*>(p), n};
    p += n;
    list -= n;
  }
  return {};
}

}  // namespace

// ------------------------------------------------------------------ Certificate

std::shared_ptr<const Certificate> Certificate::load(const std::string& cert_path,
                                                     const std::string& key_path) {
  std::shared_ptr<Certificate> c(new Certificate());
  c->path_ = cert_path;
  ERR_clear_error();
  {
    File f = open_file(cert_path);
    c->leaf_ = PEM_read_X509(f.get(), nullptr, nullptr, nullptr);
    if (!c->leaf_)
      throw std::runtime_error(cert_path + ": no PEM certificate (" + openssl_errors() + ")");
    while (X509* x = PEM_read_X509(f.get(), nullptr, nullptr, nullptr)) c->chain_.push_back(x);
    ERR_clear_error();  // the end of the file reads as an error
  }
  {
    File f = open_file(key_path);
    c->key_ = PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr);
    if (!c->key_)
      throw std::runtime_error(key_path + ": no PEM private key (" + openssl_errors() + ")");
  }
  if (X509_check_private_key(c->leaf_, c->key_) != 1) {
    ERR_clear_error();
    throw std::runtime_error(key_path + ": the private key does not match the certificate " +
                             cert_path);
  }
  switch (EVP_PKEY_get_base_id(c->key_)) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
      c->key_type_ = KeyType::rsa;
      break;
    case EVP_PKEY_EC:
      c->key_type_ = KeyType::ecdsa;
      break;
    default:
      c->key_type_ = KeyType::other;
  }
  c->names_ = certificate_names(c->leaf_);
  c->not_after_ = asn1_time_to_unix(X509_get0_notAfter(c->leaf_));
  c->subject_ = x509_name(X509_get_subject_name(c->leaf_));
  return c;
}

Certificate::~Certificate() {
  X509_free(leaf_);
  EVP_PKEY_free(key_);
  for (X509* x : chain_) X509_free(x);
}

// ------------------------------------------------------------------- selection

bool name_matches(std::string_view pattern, std::string_view host) {
  constexpr auto ieq = iequals;
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (pattern.starts_with("*.")) {
    auto dot = host.find('.');
    if (dot == std::string_view::npos || dot == 0) return false;
    return ieq(pattern.substr(1), host.substr(dot));  // "*" stands for exactly one label
  }
  return ieq(pattern, host);
}

std::vector<std::size_t> select_certificates(std::span<const std::vector<std::string>> names,
                                             std::string_view server_name) {
  std::vector<std::size_t> out;
  if (names.empty()) return out;
  auto collect = [&](bool wildcard) {
    for (std::size_t i = 0; i < names.size(); ++i)
      for (const auto& n : names[i])
        if (n.starts_with("*.") == wildcard && name_matches(n, server_name)) {
          out.push_back(i);
          break;
        }
  };
  if (!server_name.empty()) {
    collect(false);
    if (out.empty()) collect(true);
  }
  if (out.empty()) {
    out.push_back(0);
    for (std::size_t i = 1; i < names.size(); ++i)
      if (names[i] == names[0]) out.push_back(i);
  }
  return out;
}

// ------------------------------------------------------------------ TicketKeys

TicketKeys::TicketKeys(std::chrono::seconds period, std::int64_t now)
    : period_(period), current_(fresh()), rotated_at_(now) {}

TicketKeys::Key TicketKeys::fresh() {
  Key k;
  if (RAND_bytes(k.name.data(), static_cast<int>(k.name.size())) != 1 ||
      RAND_bytes(k.aes.data(), static_cast<int>(k.aes.size())) != 1 ||
      RAND_bytes(k.hmac.data(), static_cast<int>(k.hmac.size())) != 1)
    throw std::runtime_error("session ticket keys: no random bytes");
  return k;
}

void TicketKeys::maybe_rotate(std::int64_t now) {
  std::lock_guard lock(mutex_);
  if (now - rotated_at_ < period_.count()) return;
  previous_ = current_;
  current_ = fresh();
  rotated_at_ = now;
}

void TicketKeys::rotate(std::int64_t now) {
  std::lock_guard lock(mutex_);
  previous_ = current_;
  current_ = fresh();
  rotated_at_ = now;
}

TicketKeys::Key TicketKeys::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

std::optional<TicketKeys::Key> TicketKeys::find(const unsigned char* name, bool& is_current) const {
  std::lock_guard lock(mutex_);
  if (std::memcmp(name, current_.name.data(), current_.name.size()) == 0) {
    is_current = true;
    return current_;
  }
  if (previous_ && std::memcmp(name, previous_->name.data(), previous_->name.size()) == 0) {
    is_current = false;
    return previous_;
  }
  return std::nullopt;
}

// ------------------------------------------------------- client certificates

namespace {

std::string rfc2253(X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(std::max(0L, n)));
  BIO_free(bio);
  return out;
}

std::string iso8601(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return {};
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

/// Header values must not carry CR, LF or other controls.
void append_clean(std::string& out, std::string_view v) {
  for (char c : v) out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c);
}

}  // namespace

std::string client_certificate_headers(SSL* ssl) {
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (!peer) return {};
  std::string out;
  {
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(peer), nullptr);
    char* hex = bn ? BN_bn2hex(bn) : nullptr;
    out += "X-Amzn-Mtls-Clientcert-Serial-Number: ";
    if (hex) append_clean(out, hex);
    out += "\r\n";
    OPENSSL_free(hex);
    BN_free(bn);
  }
  out += "X-Amzn-Mtls-Clientcert-Issuer: ";
  append_clean(out, rfc2253(X509_get_issuer_name(peer)));
  out += "\r\nX-Amzn-Mtls-Clientcert-Subject: ";
  append_clean(out, rfc2253(X509_get_subject_name(peer)));
  out += "\r\nX-Amzn-Mtls-Clientcert-Validity: NotBefore=";
  out += iso8601(X509_get0_notBefore(peer));
  out += ";NotAfter=";
  out += iso8601(X509_get0_notAfter(peer));
  out += "\r\nX-Amzn-Mtls-Clientcert-Leaf: ";
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, peer);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (long i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(data[i]);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  BIO_free(bio);
  out += "\r\n";
  return out;
}

// ---------------------------------------------------------------- SessionCache

void SessionCache::put(SSL_SESSION* session) {
  unsigned int id_length = 0;
  const unsigned char* id = SSL_SESSION_get_id(session, &id_length);
  const int der_length = i2d_SSL_SESSION(session, nullptr);
  if (id_length == 0 || der_length <= 0) return;
  std::string der(static_cast<std::size_t>(der_length), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_SSL_SESSION(session, &out) != der_length) return;
  std::string key(reinterpret_cast<const char*>(id), id_length);
  std::lock_guard lock(mutex_);
  auto [it, inserted] = sessions_.insert_or_assign(key, std::move(der));
  (void)it;
  if (inserted) order_.push_back(std::move(key));
  while (sessions_.size() > capacity_ && !order_.empty()) {
    sessions_.erase(order_.front());
    order_.pop_front();
  }
  // Removed sessions leave their IDs in order_: trim them once they dominate.
  if (order_.size() > 2 * capacity_ + 64) {
    std::deque<std::string> live;
    for (auto& k : order_)
      if (sessions_.count(k) != 0) live.push_back(std::move(k));
    order_.swap(live);
  }
}

SSL_SESSION* SessionCache::get(const unsigned char* id, std::size_t length) const {
  std::string der;
  {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(std::string(reinterpret_cast<const char*>(id), length));
    if (it == sessions_.end()) return nullptr;
    der = it->second;
  }
  const auto* in = reinterpret_cast<const unsigned char*>(der.data());
  return d2i_SSL_SESSION(nullptr, &in, static_cast<long>(der.size()));
}

void SessionCache::remove(const unsigned char* id, std::size_t length) {
  std::lock_guard lock(mutex_);
  sessions_.erase(std::string(reinterpret_cast<const char*>(id), length));
}

std::size_t SessionCache::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

// --------------------------------------------------------------- ServerContext

ServerOptions load_server_options(const config::TlsConfig& tls, std::shared_ptr<TicketKeys> tickets,
                                  const config::MutualAuthentication& mtls) {
  ServerOptions o;
  std::string errors;
  if (auto p = find_security_policy(tls.policy)) {
    o.policy = *p;
  } else {
    errors += "unknown TLS security policy '" + tls.policy + "'";
  }
  if (tls.certificates.empty()) errors += std::string(errors.empty() ? "" : "; ") + "no certificate";
  for (const auto& c : tls.certificates) {
    try {
      o.certificates.push_back(Certificate::load(c.cert, c.key));
    } catch (const std::exception& e) {
      if (!errors.empty()) errors += "; ";
      errors += e.what();
    }
  }
  if (mtls.mode == config::MutualAuthentication::Mode::verify) {
    if (std::FILE* f = std::fopen(mtls.trust_store.c_str(), "rb")) {
      std::fclose(f);
      o.trust_store = mtls.trust_store;
    } else {
      errors += std::string(errors.empty() ? "" : "; ") + mtls.trust_store +
                ": cannot open trust store: " + std::strerror(errno);
    }
  }
  if (!errors.empty()) throw std::runtime_error(errors);
  o.tickets = std::move(tickets);
  return o;
}

ServerContext::ServerContext(ServerOptions options)
    : options_(std::move(options)), ctx_(boost::asio::ssl::context::tls_server) {
  if (options_.certificates.empty()) throw std::runtime_error("TLS listener without a certificate");
  for (const auto& c : options_.certificates) names_.push_back(c->names());
  SSL_CTX* ctx = ctx_.native_handle();
  const auto& p = options_.policy;
  ERR_clear_error();
  if (SSL_CTX_set_min_proto_version(ctx, p.min_version) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, p.max_version) != 1)
    throw std::runtime_error(std::string(p.name) + ": " + openssl_errors());
  if (p.legacy) SSL_CTX_set_security_level(ctx, 0);
  if (!p.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, std::string(p.ciphers).c_str()) != 1)
    throw std::runtime_error(std::string(p.name) + ": ciphers: " + openssl_errors());
  if (SSL_CTX_set_ciphersuites(ctx, std::string(p.ciphersuites).c_str()) != 1)
    throw std::runtime_error(std::string(p.name) + ": TLS 1.3 suites: " + openssl_errors());
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_max_early_data(ctx, 0);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  static constexpr unsigned char kSessionContext[] = "edged";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_sess_set_cache_size(ctx, static_cast<long>(options_.session_cache_size));
  if (options_.session_cache) {
    // The shared cache is the only store. OpenSSL's own per-context cache would
    // also hold every TLS 1.3 ticket session (a remove callback makes it keep them)
    // and walk all of them every 255 handshakes to expire them.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL |
                                            SSL_SESS_CACHE_NO_AUTO_CLEAR);
    SSL_CTX_set_ex_data(ctx, session_cache_index(), options_.session_cache.get());
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    SSL_CTX_sess_set_get_cb(ctx, on_get_session);
    SSL_CTX_sess_set_remove_cb(ctx, on_remove_session);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  }
  if (options_.tickets) {
    SSL_CTX_set_ex_data(ctx, ticket_keys_index(), options_.tickets.get());
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket_key);
  } else {
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  }
  SSL_CTX_set_alpn_select_cb(ctx, on_alpn, nullptr);
  if (!options_.trust_store.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, options_.trust_store.c_str(), nullptr) != 1)
      throw std::runtime_error(options_.trust_store + ": not a PEM CA bundle (" + openssl_errors() + ")");
    if (STACK_OF(X509_NAME)* cas = SSL_load_client_CA_file(options_.trust_store.c_str()))
      SSL_CTX_set_client_CA_list(ctx, cas);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  SSL_CTX_set_client_hello_cb(ctx, &ServerContext::on_client_hello, this);
  // A default certificate on the context itself, for handshakes that never reach
  // the callback's choice (and for SSL_CTX_check_private_key style checks).
  // With its chain: a handshake whose choice is this one alone keeps it as is.
  const auto& first = *options_.certificates.front();
  if (SSL_CTX_use_cert_and_key(ctx, first.leaf(), first.key(), chain_of(first).get(), 1) != 1)
    throw std::runtime_error(first.path() + ": " + openssl_errors());
}

ServerContext::~ServerContext() {
  // Freeing the SSL_CTX flushes its own cache through the remove callback: the
  // shared cache keeps those sessions for the other workers (and a reload).
  SSL_CTX_sess_set_remove_cb(ctx_.native_handle(), nullptr);
}

int ServerContext::on_client_hello(SSL* ssl, int* alert, void* arg) {
  auto* self = static_cast<ServerContext*>(arg);
  const unsigned char* ext = nullptr;
  std::size_t ext_len = 0;
  std::string_view sni;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &ext_len) == 1)
    sni = parse_sni(ext, ext_len);
  const auto chosen = select_certificates(self->names_, sni);
  // The context's default alone (one certificate, or no other for its names):
  // the handshake already has it, chain included. Re-installing it would cost
  // a key check and reference counting per handshake.
  if (chosen.size() == 1 && chosen.front() == 0) return SSL_CLIENT_HELLO_SUCCESS;
  SSL_certs_clear(ssl);  // drop the context's default: only the chosen ones are offered
  bool have[3] = {false, false, false};
  for (std::size_t i : chosen) {
    const auto& c = *self->options_.certificates[i];
    auto& seen = have[static_cast<int>(c.key_type())];
    if (seen) continue;  // one certificate per key type
    seen = true;
    if (SSL_use_cert_and_key(ssl, c.leaf(), c.key(), chain_of(c).get(), 1) != 1) {
      *alert = SSL_AD_INTERNAL_ERROR;
      return SSL_CLIENT_HELLO_ERROR;
    }
  }
  return SSL_CLIENT_HELLO_SUCCESS;
}

}  // namespace edge::tls
