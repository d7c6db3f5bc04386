#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <fstream>
#include <utility>

#include "pgmux/auth/channel_binding.hpp"

namespace pgmux::net {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using boost::system::error_code;
using config::ConfigError;

namespace {

// The OpenSSL reason for the last failure, in words.
std::string openssl_reason(const error_code& ec) {
    unsigned long e = ERR_peek_last_error();
    std::string text;
    if (e != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        text = buf;
    } else if (ec) {
        text = ec.message();
    } else {
        text = "unknown error";
    }
    ERR_clear_error();
    return text;
}

[[noreturn]] void refuse(const std::string& key, const std::string& what, const error_code& ec) {
    throw ConfigError("invalid value for '" + key + "': " + what + ": " + openssl_reason(ec));
}

void require_readable(const std::string& key, const std::string& path) {
    std::ifstream f(path);
    if (!f) throw ConfigError("invalid value for '" + key + "': cannot read file '" + path + "'");
}

void common_setup(SSL_CTX* ctx) {
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // The PostgreSQL protocol delimits its own messages, so a missing
    // close_notify cannot truncate anything: treat it as a plain EOF.
    SSL_CTX_set_options(
        ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    // Partial writes and a moving buffer let the output queue retry from its
    // own copy; released buffers keep idle connections small.
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
}

void load_key_pair(TlsContext& t, ssl::context& ctx, const std::string& cert_key,
                   const std::string& cert, const std::string& key_key, const std::string& key) {
    require_readable(cert_key, cert);
    require_readable(key_key, key);
    error_code ec;
    ctx.use_certificate_chain_file(cert, ec);
    if (ec) refuse(cert_key, "cannot load certificate '" + cert + "'", ec);
    ctx.use_private_key_file(key, ssl::context::pem, ec);
    if (ec) refuse(key_key, "cannot load private key '" + key + "'", ec);
    if (SSL_CTX_check_private_key(t.native()) != 1) {
        refuse(key_key, "the key does not match '" + cert + "'", {});
    }
}

void set_ciphers(SSL_CTX* ctx, const std::string& key, const std::string& ciphers) {
    if (ciphers.empty()) return;
    if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) {
        refuse(key, "no usable cipher in '" + ciphers + "'", {});
    }
}

std::string describe_certificate(const X509* cert) {
    if (cert == nullptr) return "(none)";
    std::string out;
    char buf[512];
    X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
    out = buf;
    if (const ASN1_INTEGER* serial = X509_get0_serialNumber(cert)) {
        if (BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr)) {
            if (char* hex = BN_bn2hex(bn)) {
                out += " serial ";
                out += hex;
                OPENSSL_free(hex);
            }
            BN_free(bn);
        }
    }
    return out;
}

}  // namespace

TlsContext::TlsContext(ssl::context::method method) : ctx_(method) {}

SSL_CTX* TlsContext::native() const noexcept {
    return ctx_.native_handle();
}

std::shared_ptr<const TlsContext> TlsContext::for_clients(const config::Config& c) {
    if (c.client_tls_sslmode == config::ClientTlsMode::kDisable) return nullptr;
    auto t = std::make_shared<TlsContext>(ssl::context::tls_server);
    SSL_CTX* ctx = t->native();
    common_setup(ctx);
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
    // No session resumption, like PostgreSQL: nothing to send after the
    // handshake, nothing cached between connections.
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    load_key_pair(*t, t->ctx_, "client_tls_cert_file", c.client_tls_cert_file,
                  "client_tls_key_file", c.client_tls_key_file);
    if (!c.client_tls_ca_file.empty()) {
        require_readable("client_tls_ca_file", c.client_tls_ca_file);
        error_code ec;
        t->ctx_.load_verify_file(c.client_tls_ca_file, ec);
        if (ec) refuse("client_tls_ca_file", "cannot load '" + c.client_tls_ca_file + "'", ec);
        // Client certificates are asked for and must verify when presented;
        // clients without one are still accepted (they log in by password).
        t->ctx_.set_verify_mode(ssl::verify_peer);
        if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(c.client_tls_ca_file.c_str())) {
            SSL_CTX_set_client_CA_list(ctx, names);
        }
    }
    set_ciphers(ctx, "client_tls_ciphers", c.client_tls_ciphers);
    const X509* own = SSL_CTX_get0_certificate(ctx);
    if (auto ep = auth::tls_server_end_point(own)) t->end_point_ = std::move(*ep);
    t->cert_name_ = describe_certificate(own);
    return t;
}

std::shared_ptr<const TlsContext> TlsContext::for_servers(const config::Config& c) {
    if (c.server_tls_sslmode == config::ServerTlsMode::kDisable) return nullptr;
    auto t = std::make_shared<TlsContext>(ssl::context::tls_client);
    SSL_CTX* ctx = t->native();
    common_setup(ctx);
    if (!c.server_tls_ca_file.empty()) {
        require_readable("server_tls_ca_file", c.server_tls_ca_file);
        error_code ec;
        t->ctx_.load_verify_file(c.server_tls_ca_file, ec);
        if (ec) refuse("server_tls_ca_file", "cannot load '" + c.server_tls_ca_file + "'", ec);
    }
    const bool verify = c.server_tls_sslmode == config::ServerTlsMode::kVerifyCa ||
                        c.server_tls_sslmode == config::ServerTlsMode::kVerifyFull;
    t->ctx_.set_verify_mode(verify ? ssl::verify_peer : ssl::verify_none);
    if (!c.server_tls_cert_file.empty()) {
        load_key_pair(*t, t->ctx_, "server_tls_cert_file", c.server_tls_cert_file,
                      "server_tls_key_file", c.server_tls_key_file);
        t->cert_name_ = describe_certificate(SSL_CTX_get0_certificate(ctx));
    }
    set_ciphers(ctx, "server_tls_ciphers", c.server_tls_ciphers);
    return t;
}

TlsStream::TlsStream(std::shared_ptr<const TlsContext> context, Role role, int fd)
    : context_(std::move(context)) {
    ssl_ = SSL_new(context_->native());
    if (ssl_ == nullptr) return;
    if (SSL_set_fd(ssl_, fd) != 1) {
        SSL_free(ssl_);
        ssl_ = nullptr;
        return;
    }
    // One recv takes whatever records are there instead of a header and a
    // body per record; has_buffered_input() accounts for the surplus.
    SSL_set_read_ahead(ssl_, 1);
    if (role == Role::kServer) {
        SSL_set_accept_state(ssl_);
    } else {
        SSL_set_connect_state(ssl_);
    }
}

TlsStream::~TlsStream() {
    if (ssl_ != nullptr) SSL_free(ssl_);
}

bool TlsStream::expect_host(const std::string& host) {
    error_code ec;
    const auto address = asio::ip::make_address(host, ec);
    SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (!ec) {
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), address.to_string().c_str()) ==
               1;
    }
    return SSL_set1_host(ssl_, host.c_str()) == 1 &&
           SSL_set_tlsext_host_name(ssl_, host.c_str()) == 1;
}

asio::awaitable<error_code> TlsStream::handshake(asio::ip::tcp::socket& socket) {
    constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
    for (;;) {
        ERR_clear_error();
        const int r = SSL_do_handshake(ssl_);
        if (r == 1) co_return error_code{};
        const int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            auto [ec] =
                co_await socket.async_wait(e == SSL_ERROR_WANT_READ ? asio::socket_base::wait_read
                                                                    : asio::socket_base::wait_write,
                                           use_nothrow);
            if (ec) {
                error_text_ = "the TLS handshake was interrupted: " + ec.message();
                co_return ec;
            }
            continue;
        }
        co_return fail(r, e, "the TLS handshake");
    }
}

error_code TlsStream::fail(int result, int ssl_error, const char* during) {
    error_code ec;
    if (ssl_error == SSL_ERROR_ZERO_RETURN ||
        (ssl_error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && (result == 0 || errno == 0))) {
        ec = asio::error::eof;
        error_text_ = std::string("the peer closed the connection during ") + during;
    } else if (ssl_error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        ec = error_code(errno, boost::system::system_category());
        error_text_ = std::string(during) + " failed: " + ec.message();
    } else {
        const unsigned long e = ERR_peek_last_error();
        ec = error_code(static_cast<int>(e), asio::error::get_ssl_category());
        error_text_ = std::string(during) + " failed: " + openssl_reason(ec);
        const long verify = SSL_get_verify_result(ssl_);
        if (verify != X509_V_OK) {
            error_text_ += " (";
            error_text_ += X509_verify_cert_error_string(verify);
            error_text_ += ")";
        }
    }
    ERR_clear_error();
    return ec;
}

std::size_t TlsStream::read_some(char* data, std::size_t size, error_code& ec) {
    ec.clear();
    if (read_error_) {
        ec = std::exchange(read_error_, {});
        return 0;
    }
    read_wants_write_ = false;
    std::size_t total = 0;
    while (total < size) {
        ERR_clear_error();
        std::size_t n = 0;
        const int r = SSL_read_ex(ssl_, data + total, size - total, &n);
        if (r == 1) {
            total += n;
            read_blocked_ = false;
            // Only what OpenSSL already holds: another SSL_read would cost a
            // recv that the caller's readiness wait makes unnecessary.
            if (SSL_has_pending(ssl_) != 1) break;
            continue;
        }
        const int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            read_blocked_ = true;
            read_wants_write_ = e == SSL_ERROR_WANT_WRITE;
            if (total == 0) ec = asio::error::would_block;
            break;
        }
        read_blocked_ = false;
        if (total > 0) {
            read_error_ = fail(r, e, "reading");  // reported by the next call
        } else {
            ec = fail(r, e, "reading");
        }
        break;
    }
    return total;
}

std::size_t TlsStream::write_some(const char* data, std::size_t size, error_code& ec) {
    ec.clear();
    if (size == 0) return 0;
    ERR_clear_error();
    std::size_t n = 0;
    const int r = SSL_write_ex(ssl_, data, size, &n);
    if (r == 1) return n;
    const int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
        ec = asio::error::would_block;
        return 0;
    }
    ec = fail(r, e, "writing");
    if (ec == asio::error::eof) ec = asio::error::broken_pipe;
    return 0;
}

void TlsStream::shutdown() noexcept {
    if (ssl_ == nullptr || SSL_is_init_finished(ssl_) != 1) return;
    ERR_clear_error();
    (void)SSL_shutdown(ssl_);
    ERR_clear_error();
}

auth::Bytes TlsStream::peer_end_point() const {
    const X509* cert = SSL_get0_peer_certificate(ssl_);
    if (cert == nullptr) return {};
    auto ep = auth::tls_server_end_point(cert);
    return ep ? std::move(*ep) : auth::Bytes{};
}

std::string TlsStream::description() const {
    std::string out = SSL_get_version(ssl_);
    if (const char* cipher = SSL_get_cipher_name(ssl_)) {
        out += " ";
        out += cipher;
    }
    return out;
}

asio::awaitable<std::tuple<error_code, std::size_t>> async_read_some(asio::ip::tcp::socket& socket,
                                                                     TlsStream* tls, char* data,
                                                                     std::size_t size) {
    constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
    if (tls == nullptr)
        co_return co_await socket.async_read_some(asio::buffer(data, size), use_nothrow);
    for (;;) {
        if (!tls->has_buffered_input()) {
            auto [wec] = co_await socket.async_wait(tls->read_wait(), use_nothrow);
            if (wec) co_return std::tuple{wec, std::size_t{0}};
        }
        error_code ec;
        const std::size_t n = tls->read_some(data, size, ec);
        if (ec == asio::error::would_block) continue;
        co_return std::tuple{ec, n};
    }
}

}  // namespace pgmux::net
