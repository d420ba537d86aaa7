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

TestCertificate make_test_certificate(const std::string& dir, const std::string& name,
                                      const std::vector<std::string>& dns_names, TestKey key,
                                      int days) {
  EVP_PKEY* pkey = key == TestKey::rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
  if (!pkey) throw std::runtime_error("key generation failed");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey_guard(pkey, EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), X509_free);
  X509_set_version(x.get(), 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), static_cast<long>(days) * 86400);
  X509_set_pubkey(x.get(), pkey);
  X509_NAME* subj = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(dns_names.at(0).c_str()), -1, -1, 0);
  X509_set_issuer_name(x.get(), subj);
  std::string san;
  for (const auto& n : dns_names) san += (san.empty() ? "DNS:" : ",DNS:") + n;
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str());
  if (!ext) throw std::runtime_error("SAN extension failed");
  X509_add_ext(x.get(), ext, -1);
  X509_EXTENSION_free(ext);
  if (X509_sign(x.get(), pkey, EVP_sha256()) == 0) throw std::runtime_error("signing failed");

  TestCertificate out{dir + "/" + name + ".pem", dir + "/" + name + ".key"};
  std::FILE* f = std::fopen(out.cert_path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + out.cert_path);
  PEM_write_X509(f, x.get());
  std::fclose(f);
  f = std::fopen(out.key_path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + out.key_path);
  PEM_write_PrivateKey(f, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  return out;
}

std::string make_temp_dir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

}  // namespace edge::test
