#include "pgmux/auth/channel_binding.hpp"

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <climits>
#include <memory>

namespace pgmux::auth {

Result<Bytes> tls_server_end_point(const X509* certificate) {
    if (certificate == nullptr) return AuthError::crypto_failure;
    int digest_nid = NID_undef;
    if (OBJ_find_sigid_algs(X509_get_signature_nid(certificate), &digest_nid, nullptr) != 1) {
        return AuthError::crypto_failure;
    }
    if (digest_nid == NID_md5 || digest_nid == NID_sha1) digest_nid = NID_sha256;
    // Signature schemes without a separate hash (Ed25519) have no defined
    // binding; PostgreSQL refuses them too.
    const EVP_MD* md = EVP_get_digestbynid(digest_nid);
    if (md == nullptr) return AuthError::crypto_failure;
    Bytes out(EVP_MAX_MD_SIZE);
    unsigned int length = 0;
    if (X509_digest(certificate, md, out.data(), &length) != 1) return AuthError::crypto_failure;
    out.resize(length);
    return out;
}

Result<Bytes> tls_server_end_point(ByteView der_certificate) {
    if (der_certificate.size() > LONG_MAX) return AuthError::crypto_failure;
    const unsigned char* cursor = der_certificate.data();
    std::unique_ptr<X509, decltype(&X509_free)> certificate(
        d2i_X509(nullptr, &cursor, static_cast<long>(der_certificate.size())), &X509_free);
    if (!certificate) return AuthError::crypto_failure;
    return tls_server_end_point(certificate.get());
}

}  // namespace pgmux::auth
