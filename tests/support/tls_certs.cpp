#include "support/tls_certs.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace edge::test {

namespace {

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;

Key new_key(TestKey key) {
  EVP_PKEY* pkey = key == TestKey::rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
  if (!pkey) throw std::runtime_error("key generation failed");
  return Key(pkey, EVP_PKEY_free);
}

void add_ext(X509* x, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, issuer, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
  if (!ext) throw std::runtime_error("certificate extension failed");
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
}

/// A certificate for `pkey` named `cn`, signed by `issuer`/`issuer_key` (itself
/// when null). CA certificates get basicConstraints CA:TRUE; others the SANs.
Cert issue(EVP_PKEY* pkey, const std::string& cn, const std::vector<std::string>& dns_names,
           bool ca, X509* issuer, EVP_PKEY* issuer_key, int days) {
  Cert x(X509_new(), X509_free);
  X509_set_version(x.get(), 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), static_cast<long>(days) * 86400);
  X509_set_pubkey(x.get(), pkey);
  X509_NAME* subj = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : subj);
  if (ca) {
    add_ext(x.get(), issuer ? issuer : x.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x.get(), issuer ? issuer : x.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  } else if (!dns_names.empty()) {
    std::string san;
    for (const auto& n : dns_names) san += (san.empty() ? "DNS:" : ",DNS:") + n;
    add_ext(x.get(), issuer ? issuer : x.get(), NID_subject_alt_name, san);
  }
  if (X509_sign(x.get(), issuer_key ? issuer_key : pkey, EVP_sha256()) == 0)
    throw std::runtime_error("signing failed");
  return x;
}

void write_pem(const std::string& path, std::initializer_list<X509*> certs) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + path);
  for (X509* x : certs) PEM_write_X509(f, x);
  std::fclose(f);
}

void write_key(const std::string& path, EVP_PKEY* pkey) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + path);
  PEM_write_PrivateKey(f, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

}  // namespace

TestCertificate make_test_certificate(const std::string& dir, const std::string& name,
                                      const std::vector<std::string>& dns_names, TestKey key,
                                      int days) {
  Key pkey = new_key(key);
  Cert x = issue(pkey.get(), dns_names.at(0), dns_names, false, nullptr, nullptr, days);
  TestCertificate out{dir + "/" + name + ".pem", dir + "/" + name + ".key"};
  write_pem(out.cert_path, {x.get()});
  write_key(out.key_path, pkey.get());
  return out;
}

TestChain make_test_chain(const std::string& dir, const std::string& name,
                          const std::vector<std::string>& dns_names, TestKey key) {
  Key root_key = new_key(TestKey::ecdsa), mid_key = new_key(TestKey::ecdsa), leaf_key = new_key(key);
  Cert root = issue(root_key.get(), name + " test root", {}, true, nullptr, nullptr, 30);
  Cert mid = issue(mid_key.get(), name + " test intermediate", {}, true, root.get(), root_key.get(), 30);
  Cert leaf = issue(leaf_key.get(), dns_names.at(0), dns_names, false, mid.get(), mid_key.get(), 30);
  TestChain out{{dir + "/" + name + ".pem", dir + "/" + name + ".key"}, dir + "/" + name + "-root.pem"};
  write_pem(out.leaf.cert_path, {leaf.get(), mid.get()});
  write_key(out.leaf.key_path, leaf_key.get());
  write_pem(out.root_path, {root.get()});
  return out;
}

std::string make_temp_dir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

}  // namespace edge::test
