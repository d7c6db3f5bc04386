#pragma once

// tls-server-end-point channel binding data (RFC 5929 section 4.1): the hash
// of the server's DER certificate, with the hash function of the
// certificate's signature algorithm, except that MD5 and SHA-1 are replaced
// by SHA-256. pgmux computes it for its own certificate (client side of the
// proxy, for ScramServerOptions) and for the server's certificate (server
// side, for ScramClientOptions).

#include <openssl/types.h>

#include "pgmux/auth/crypto.hpp"

namespace pgmux::auth {

[[nodiscard]] Result<Bytes> tls_server_end_point(ByteView der_certificate);
// Same for a certificate already parsed by OpenSSL (e.g. SSL_get_certificate
// or SSL_get0_peer_certificate); the certificate is not consumed.
[[nodiscard]] Result<Bytes> tls_server_end_point(const X509* certificate);

}  // namespace pgmux::auth
