// tls-server-end-point data for certificates generated in the test with
// OpenSSL, signed with SHA-384 (hash kept) and SHA-1 (upgraded to SHA-256).

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>

#include "pgmux/auth/channel_binding.hpp"

namespace pgmux::auth {
namespace {

struct CertDeleter {
    void operator()(X509* x) const { X509_free(x); }
};
struct KeyDeleter {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using CertPtr = std::unique_ptr<X509, CertDeleter>;

CertPtr self_signed(const EVP_MD* md) {
    std::unique_ptr<EVP_PKEY, KeyDeleter> key(EVP_EC_gen("P-256"));
    if (!key) return nullptr;
    CertPtr cert(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("pgmux-test"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    if (X509_sign(cert.get(), key.get(), md) == 0) return nullptr;
    return cert;
}

Bytes der_of(X509* cert) {
    unsigned char* buffer = nullptr;
    const int length = i2d_X509(cert, &buffer);
    Bytes der(buffer, buffer + (length > 0 ? length : 0));
    OPENSSL_free(buffer);
    return der;
}

TEST(ChannelBinding, UsesTheSignatureHash) {
    auto cert = self_signed(EVP_sha384());
    ASSERT_TRUE(cert);
    const Bytes der = der_of(cert.get());
    auto expected = crypto::digest("SHA384", der);
    ASSERT_TRUE(expected);
    auto from_der = tls_server_end_point(ByteView(der));
    ASSERT_TRUE(from_der);
    EXPECT_EQ(from_der->size(), 48u);
    EXPECT_EQ(*from_der, *expected);
    auto from_x509 = tls_server_end_point(static_cast<const X509*>(cert.get()));
    ASSERT_TRUE(from_x509);
    EXPECT_EQ(*from_x509, *expected);
}

TEST(ChannelBinding, Sha1SignaturesUseSha256) {
    auto cert = self_signed(EVP_sha1());
    ASSERT_TRUE(cert);
    const Bytes der = der_of(cert.get());
    auto expected = crypto::sha256(der);
    ASSERT_TRUE(expected);
    auto binding = tls_server_end_point(ByteView(der));
    ASSERT_TRUE(binding);
    EXPECT_EQ(*binding, Bytes(expected->begin(), expected->end()));
}

TEST(ChannelBinding, RejectsGarbage) {
    const Bytes garbage{0x30, 0x03, 0x01, 0x02};
    EXPECT_FALSE(tls_server_end_point(ByteView(garbage)));
    EXPECT_FALSE(tls_server_end_point(static_cast<const X509*>(nullptr)));
}

}  // namespace
}  // namespace pgmux::auth
