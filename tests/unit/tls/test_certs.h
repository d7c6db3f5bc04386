// Certificates made at test time with OpenSSL's API (EC P-256 keys, so it is
// quick): a CA and leaf certificates it signs, written as PEM files.
#pragma once

#include <openssl/evp.h>

#include <string>
#include <vector>

namespace pgmux::testing {

struct CertFiles {
    std::string cert;  // PEM certificate
    std::string key;   // PEM private key
};

class TestPki {
  public:
    // Creates a directory under the system's temporary directory and a CA in it.
    TestPki();
    ~TestPki();
    TestPki(const TestPki&) = delete;
    TestPki& operator=(const TestPki&) = delete;

    [[nodiscard]] const std::string& ca_file() const { return ca_.cert; }
    [[nodiscard]] const std::string& dir() const { return dir_; }
    // A leaf signed by the CA with `digest`, with these subjectAltName entries
    // (e.g. "DNS:localhost", "IP:127.0.0.1") and serial number.
    CertFiles issue(const std::string& name, const std::vector<std::string>& sans, long serial,
                    const EVP_MD* digest);
    // Writes `text` to a file in the directory and returns its path.
    std::string write(const std::string& name, const std::string& text) const;

  private:
    std::string dir_;
    CertFiles ca_;
    EVP_PKEY* ca_key_ = nullptr;
    void* ca_cert_ = nullptr;  // X509*
};

}  // namespace pgmux::testing
