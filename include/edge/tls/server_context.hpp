#pragma once
/// TLS for HTTPS listeners (OpenSSL 3 through Boost.Asio SSL):
///
/// - `Certificate`: a PEM chain and key, checked when loaded, with the names
///   (DNS SANs, else the CN), key type and expiry that selection and metrics use.
/// - `select_certificates`: SNI selection — exact names, then `*.example.com`
///   wildcards (one label), else the default (the first certificate and any other
///   with the same names). Every match is installed on the connection, one per
///   key type, so OpenSSL serves ECDSA to clients that can verify it and RSA to
///   the rest.
/// - `TicketKeys`: session-ticket keys shared by every context of the process
///   (so a client resumes on any worker), rotated each period; the previous key
///   still decrypts for one period.
/// - `SessionCache`: TLS 1.2 sessions by ID, shared by every context of a
///   listener (so a client resumes by session ID on any worker), behind one
///   mutex, bounded.
/// - `ServerContext`: one SSL_CTX with a security policy's versions and ciphers,
///   ALPN `http/1.1`, no 0-RTT, no renegotiation, a TLS 1.2 session cache (its
///   own, backed by the shared SessionCache when given), and the shared ticket
///   keys. Build one per worker: OpenSSL 3 contends on locks
///   inside a shared SSL_CTX under many threads; certificates and ticket keys are
///   shared, nothing else is.
///
/// Building a context loads and checks everything first and throws
/// std::runtime_error with a clear message, so a reload with a bad certificate
/// keeps the old context serving.
/// Thread: Certificate and TicketKeys are safe to share; a ServerContext is used
/// by the threads that create SSL objects from it (SSL_CTX is thread-safe for that).

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "edge/config/config.hpp"
#include "edge/tls/security_policy.hpp"

namespace edge::tls {

enum class KeyType { rsa, ecdsa, other };

class Certificate {
 public:
  /// Loads `cert_path` (leaf first, then intermediates) and `key_path`; checks
  /// that the key matches the leaf. Throws std::runtime_error naming the file.
  static std::shared_ptr<const Certificate> load(const std::string& cert_path,
                                                 const std::string& key_path);
  ~Certificate();
  Certificate(const Certificate&) = delete;
  Certificate& operator=(const Certificate&) = delete;

  const std::vector<std::string>& names() const { return names_; }  // lower-case
  KeyType key_type() const { return key_type_; }
  std::int64_t not_after() const { return not_after_; }  // Unix seconds
  const std::string& subject() const { return subject_; }
  const std::string& path() const { return path_; }

  X509* leaf() const { return leaf_; }
  EVP_PKEY* key() const { return key_; }
  const std::vector<X509*>& chain() const { return chain_; }

 private:
  Certificate() = default;
  X509* leaf_ = nullptr;
  EVP_PKEY* key_ = nullptr;
  std::vector<X509*> chain_;
  std::vector<std::string> names_;
  KeyType key_type_ = KeyType::other;
  std::int64_t not_after_ = 0;
  std::string subject_;
  std::string path_;
};

/// `pattern` (a certificate name, possibly "*.example.com") matches `host`.
bool name_matches(std::string_view pattern, std::string_view host);

/// Indexes of the certificates to offer for `server_name` (empty = no SNI);
/// `names[i]` are the names of certificate i. Never empty when `names` is not.
std::vector<std::size_t> select_certificates(std::span<const std::vector<std::string>> names,
                                             std::string_view server_name);

class TicketKeys {
 public:
  struct Key {
    std::array<unsigned char, 16> name{};
    std::array<unsigned char, 32> aes{};
    std::array<unsigned char, 32> hmac{};
  };

  /// `period`: how long a key encrypts new tickets (and then decrypts for one more).
  explicit TicketKeys(std::chrono::seconds period = std::chrono::hours(1), std::int64_t now = 0);

  /// Rotates when `now` is one period past the last rotation.
  void maybe_rotate(std::int64_t now);
  /// Rotates at once: a new current key; the current one becomes the previous.
  void rotate(std::int64_t now);
  Key current() const;
  /// The key named `name` if it is the current or the previous one; `is_current` says which.
  std::optional<Key> find(const unsigned char* name, bool& is_current) const;
  std::chrono::seconds period() const { return period_; }

 private:
  static Key fresh();
  mutable std::mutex mutex_;
  std::chrono::seconds period_;
  Key current_;
  std::optional<Key> previous_;
  std::int64_t rotated_at_ = 0;
};

/// TLS 1.2 session-ID resumption across workers. Each worker's SSL_CTX keeps
/// its own internal cache (consulted first, no shared lock); every new session
/// is also stored here (serialized, DER), and a worker that misses its own
/// cache looks here. One mutex per listener: taken once per full TLS 1.2
/// handshake (store) and once per resumption attempt that misses the worker's
/// cache (lookup). That is a contention point at high TLS 1.2 handshake rates
/// (the reason OpenSSL's own cache is per SSL_CTX and nginx shards its shared
/// cache), accepted here because the critical sections are a hash-map insert
/// or lookup and a copy of a few hundred bytes (the DER encoding and decoding
/// happen outside the lock); tickets (TLS 1.3, and TLS 1.2 clients that take
/// them) never touch it. Bounded: past `capacity` sessions the oldest go
/// first; OpenSSL checks expiry on every session it gets back.
/// Thread: any (internally locked).
class SessionCache {
 public:
  explicit SessionCache(std::size_t capacity = 20480) : capacity_(capacity) {}
  /// Stores `session` under its ID (a copy: the caller keeps its reference).
  void put(SSL_SESSION* session);
  /// A new SSL_SESSION (the caller owns the reference), or nullptr.
  SSL_SESSION* get(const unsigned char* id, std::size_t length) const;
  void remove(const unsigned char* id, std::size_t length);
  std::size_t size() const;
  std::size_t capacity() const { return capacity_; }

 private:
  mutable std::mutex mutex_;
  std::size_t capacity_;
  std::unordered_map<std::string, std::string> sessions_;  // ID → DER
  std::deque<std::string> order_;  // IDs, oldest first (may name removed ones)
};

struct ServerOptions {
  SecurityPolicy policy;
  std::vector<std::shared_ptr<const Certificate>> certificates;  // the first is the default
  std::shared_ptr<TicketKeys> tickets;                            // null: no tickets
  std::size_t session_cache_size = 20480;                         // TLS 1.2 session IDs
  std::shared_ptr<SessionCache> session_cache;  // shared by the listener's contexts; null: none
  /// Mutual TLS: client certificates required and verified against this PEM
  /// CA bundle (empty: no client certificates asked for).
  std::string trust_store;
};

/// Loads a listener's TLS settings: the policy by name and every certificate.
/// Throws std::runtime_error with every problem found.
ServerOptions load_server_options(const config::TlsConfig& tls, std::shared_ptr<TicketKeys> tickets,
                                  const config::MutualAuthentication& mtls = {});

/// X-Amzn-Mtls-Clientcert-* header lines (each ending in CRLF) describing the
/// verified client certificate of `ssl`, or "" when there is none: Serial-Number,
/// Issuer, Subject (RFC 2253), Validity ("NotBefore=…;NotAfter=…", ISO 8601 UTC)
/// and Leaf (URL-encoded PEM), as ALB sends them.
std::string client_certificate_headers(SSL* ssl);

class ServerContext {
 public:
  explicit ServerContext(ServerOptions options);
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  boost::asio::ssl::context& asio() { return ctx_; }
  SSL_CTX* native() { return ctx_.native_handle(); }
  const ServerOptions& options() const { return options_; }

 private:
  static int on_client_hello(SSL* ssl, int* alert, void* arg);
  ServerOptions options_;
  std::vector<std::vector<std::string>> names_;
  boost::asio::ssl::context ctx_;
};

}  // namespace edge::tls
