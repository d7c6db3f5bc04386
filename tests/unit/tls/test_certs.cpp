#include "test_certs.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace pgmux::testing {

namespace {

void write_pem(const std::string& path, EVP_PKEY* key, X509* cert) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) throw std::runtime_error("cannot write " + path);
    const int ok = key != nullptr
                       ? PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr)
                       : PEM_write_X509(f, cert);
    std::fclose(f);
    if (ok != 1) throw std::runtime_error("cannot write PEM " + path);
}

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (ext == nullptr) throw std::runtime_error("bad extension " + value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

X509* make_cert(const std::string& cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                long serial, const EVP_MD* digest) {
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600L * 24);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert, issuer != nullptr ? X509_get_subject_name(issuer) : name);
    if (issuer == nullptr) {
        add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign");
    }
    return cert;
}

}  // namespace

TestPki::TestPki() {
    char tmpl[] = "/tmp/pgmux-tls-test-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    ca_key_ = EVP_EC_gen("P-256");
    X509* ca = make_cert("pgmux test CA", ca_key_, nullptr, nullptr, 1, EVP_sha256());
    X509_sign(ca, ca_key_, EVP_sha256());
    ca_cert_ = ca;
    ca_.cert = dir_ + "/ca.crt";
    ca_.key = dir_ + "/ca.key";
    write_pem(ca_.cert, nullptr, ca);
    write_pem(ca_.key, ca_key_, nullptr);
}

TestPki::~TestPki() {
    X509_free(static_cast<X509*>(ca_cert_));
    EVP_PKEY_free(ca_key_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

CertFiles TestPki::issue(const std::string& name, const std::vector<std::string>& sans, long serial,
                         const EVP_MD* digest) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    auto* ca = static_cast<X509*>(ca_cert_);
    X509* cert = make_cert(name, key, ca, ca_key_, serial, digest);
    if (!sans.empty()) {
        std::string list;
        for (const auto& s : sans) list += (list.empty() ? "" : ",") + s;
        add_ext(cert, ca, NID_subject_alt_name, list);
    }
    X509_sign(cert, ca_key_, digest);
    CertFiles out{dir_ + "/" + name + ".crt", dir_ + "/" + name + ".key"};
    write_pem(out.cert, nullptr, cert);
    write_pem(out.key, key, nullptr);
    X509_free(cert);
    EVP_PKEY_free(key);
    return out;
}

std::string TestPki::write(const std::string& name, const std::string& text) const {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
}

}  // namespace pgmux::testing
