// TLS for both legs of the proxy (docs/tls.md).
//
// TlsContext is an OpenSSL context configured through Boost.Asio's
// ssl::context (certificate, key, CA, ciphers, TLS 1.2 minimum), shared by
// many connections and replaced as a whole on reload.
//
// TlsStream is one connection's SSL object bound directly to the connection's
// non-blocking socket descriptor. It is driven the same way as the plain data
// path: wait for readiness, then a non-blocking read_some/write_some. Asio's
// ssl::stream is not used for the connection itself because its synchronous
// operations cannot run on a non-blocking socket (a partial write would lose
// encrypted bytes), and its asynchronous ones would add a completion hop per
// read and write; binding the descriptor also makes moving a connection to
// another worker's io_context free (the SSL object follows the descriptor).
//
// The one rule callers must follow: before waiting for the socket to become
// readable, ask has_buffered_input(). TLS records arrive several at a time,
// and OpenSSL keeps what it already read from the kernel; waiting on the
// socket while OpenSSL holds a complete record would stall the connection.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <tuple>

#include "config/config.h"
#include "net/syscalls.h"
#include "pgmux/auth/crypto.hpp"

namespace pgmux::net {

class TlsContext {
  public:
    // pgmux as the TLS server, towards clients; nullptr when
    // client_tls_sslmode is disable. Throws config::ConfigError naming the
    // key whose file or value OpenSSL refused.
    [[nodiscard]] static std::shared_ptr<const TlsContext> for_clients(const config::Config& c);
    // pgmux as the TLS client, towards servers; nullptr when
    // server_tls_sslmode is disable. Throws config::ConfigError.
    [[nodiscard]] static std::shared_ptr<const TlsContext> for_servers(const config::Config& c);

    [[nodiscard]] SSL_CTX* native() const noexcept;
    // tls-server-end-point data of this context's own certificate (RFC 5929;
    // empty when it has none or its signature has no usable hash).
    [[nodiscard]] const auth::Bytes& end_point() const noexcept { return end_point_; }
    // Subject and serial of the own certificate, for the log.
    [[nodiscard]] const std::string& certificate_name() const noexcept { return cert_name_; }

    explicit TlsContext(boost::asio::ssl::context::method method);

  private:
    mutable boost::asio::ssl::context ctx_;
    auth::Bytes end_point_;
    std::string cert_name_;
};

class TlsStream {
  public:
    enum class Role { kClient, kServer };

    // Binds a new SSL object of `context` to the descriptor `fd` (which must
    // stay open, in non-blocking mode, for the stream's lifetime).
    TlsStream(std::shared_ptr<const TlsContext> context, Role role, int fd);
    ~TlsStream();
    TlsStream(const TlsStream&) = delete;
    TlsStream& operator=(const TlsStream&) = delete;

    [[nodiscard]] bool valid() const noexcept { return ssl_ != nullptr; }

    // Client role, before the handshake: check that the peer certificate
    // names `host` (an IP address is matched against IP SANs), and send it
    // as SNI when it is a name.
    [[nodiscard]] bool expect_host(const std::string& host);

    // Runs the handshake to completion on `socket` (whose descriptor this
    // stream is bound to). On failure, error_text() says why in words.
    boost::asio::awaitable<boost::system::error_code> handshake(
        boost::asio::ip::tcp::socket& socket);

    // True when decrypted bytes (or whole records) are already buffered, so
    // read_some() can make progress without the socket becoming readable.
    [[nodiscard]] bool has_buffered_input() const noexcept {
        return (!read_blocked_ && SSL_has_pending(ssl_) == 1) || static_cast<bool>(read_error_);
    }
    // What to wait for before the next read_some(): almost always readable;
    // writable when OpenSSL must send something before it can read on.
    [[nodiscard]] boost::asio::socket_base::wait_type read_wait() const noexcept {
        return read_wants_write_ ? boost::asio::socket_base::wait_write
                                 : boost::asio::socket_base::wait_read;
    }

    // Non-blocking, like a socket's: would_block when nothing can be read
    // without waiting, eof on a clean or unclean end of the peer.
    std::size_t read_some(char* data, std::size_t size, boost::system::error_code& ec);
    // Non-blocking. After would_block the caller must offer the same bytes
    // again (more may follow them), as OpenSSL has encrypted part of them.
    std::size_t write_some(const char* data, std::size_t size, boost::system::error_code& ec);

    // Sends close_notify if the socket takes it at once (best effort).
    void shutdown() noexcept;

    // Client role, after the handshake: tls-server-end-point data of the
    // server's certificate (empty if unavailable).
    [[nodiscard]] auth::Bytes peer_end_point() const;
    // Server role: the same for the certificate pgmux presented.
    [[nodiscard]] const auth::Bytes& own_end_point() const noexcept {
        return context_->end_point();
    }
    // "TLSv1.3 TLS_AES_256_GCM_SHA384", for the log.
    [[nodiscard]] std::string description() const;
    [[nodiscard]] const std::string& error_text() const noexcept { return error_text_; }
    [[nodiscard]] SSL* native() const noexcept { return ssl_; }

  private:
    boost::system::error_code fail(int result, int ssl_error, const char* during);

    std::shared_ptr<const TlsContext> context_;  // keeps the SSL_CTX of an old reload alive
    SSL* ssl_ = nullptr;
    bool read_blocked_ = false;             // the last read stopped for want of socket input
    bool read_wants_write_ = false;         // the last read stopped for want of socket output
    boost::system::error_code read_error_;  // met after bytes that were returned first
    std::string error_text_;
};

// The data path's I/O on a connection that is plain TCP (tls == nullptr) or
// TLS. The plain case is exactly the socket call, behind one branch.
[[nodiscard]] inline bool has_buffered_input(const TlsStream* tls) noexcept {
    return tls != nullptr && tls->has_buffered_input();
}
[[nodiscard]] inline boost::asio::socket_base::wait_type read_wait(const TlsStream* tls) noexcept {
    return tls != nullptr ? tls->read_wait() : boost::asio::socket_base::wait_read;
}
inline std::size_t read_some(boost::asio::ip::tcp::socket& socket, TlsStream* tls, char* data,
                             std::size_t size, boost::system::error_code& ec) {
    if (tls != nullptr) return tls->read_some(data, size, ec);
    return socket.read_some(boost::asio::buffer(data, size), ec);
}
inline std::size_t write_some(boost::asio::ip::tcp::socket& socket, TlsStream* tls,
                              const char* data, std::size_t size, boost::system::error_code& ec) {
    if (tls != nullptr) return tls->write_some(data, size, ec);
    return send_no_cancel(socket.native_handle(), data, size, ec);
}
// Waits until at least one byte is read (login and other cold paths).
boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> async_read_some(
    boost::asio::ip::tcp::socket& socket, TlsStream* tls, char* data, std::size_t size);

}  // namespace pgmux::net
