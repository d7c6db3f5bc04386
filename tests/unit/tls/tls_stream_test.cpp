// TlsStream over a real socket pair: both ends run pgmux's own TLS code in
// one io_context, driven exactly like the data path (readiness wait, then a
// non-blocking read_some; writes through net::Outbox).
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>

#include "config/config.h"
#include "net/outbox.h"
#include "net/tls.h"
#include "test_certs.h"

namespace pgmux {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
using net::TlsStream;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

// A connected pair of TCP sockets on the loopback interface.
std::pair<tcp::socket, tcp::socket> socket_pair(asio::io_context& io) {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket a(io), b(io);
    a.connect(acceptor.local_endpoint());
    acceptor.accept(b);
    a.non_blocking(true);
    b.non_blocking(true);
    return {std::move(a), std::move(b)};
}

class TlsStreamTest : public ::testing::Test {
  protected:
    testing::TestPki pki;
    asio::io_context io;
    tcp::socket client_socket{io}, server_socket{io};
    std::unique_ptr<TlsStream> client, server;
    std::string client_error, server_error;

    void SetUp() override { std::tie(client_socket, server_socket) = socket_pair(io); }

    std::shared_ptr<const net::TlsContext> server_context(const testing::CertFiles& leaf) {
        config::Config c;
        c.client_tls_sslmode = config::ClientTlsMode::kRequire;
        c.client_tls_cert_file = leaf.cert;
        c.client_tls_key_file = leaf.key;
        return net::TlsContext::for_clients(c);
    }
    std::shared_ptr<const net::TlsContext> client_context(config::ServerTlsMode mode,
                                                          const std::string& ca) {
        config::Config c;
        c.server_tls_sslmode = mode;
        c.server_tls_ca_file = ca;
        return net::TlsContext::for_servers(c);
    }

    // Runs both handshakes; true when both succeeded.
    bool handshake(const testing::CertFiles& leaf,
                   config::ServerTlsMode mode = config::ServerTlsMode::kRequire,
                   const std::string& expect_host = "") {
        server = std::make_unique<TlsStream>(server_context(leaf), TlsStream::Role::kServer,
                                             server_socket.native_handle());
        client =
            std::make_unique<TlsStream>(client_context(mode, pki.ca_file()),
                                        TlsStream::Role::kClient, client_socket.native_handle());
        if (!expect_host.empty()) EXPECT_TRUE(client->expect_host(expect_host));
        int done = 0;
        bool ok = true;
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                if (co_await server->handshake(server_socket)) {
                    ok = false;
                    server_error = server->error_text();
                    client_socket.close();  // the client may wait for an answer
                }
                ++done;
            },
            asio::detached);
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                if (co_await client->handshake(client_socket)) {
                    ok = false;
                    client_error = client->error_text();
                    server_socket.close();
                }
                ++done;
            },
            asio::detached);
        io.run_for(std::chrono::seconds(10));
        io.restart();
        EXPECT_EQ(done, 2);
        return ok && done == 2;
    }

    // Reads `want` bytes the way the data path does, with `chunk`-sized reads;
    // stops after 10 s so a stall fails instead of hanging.
    std::string read_all(TlsStream& tls, tcp::socket& socket, std::size_t want, std::size_t chunk,
                         int* waits = nullptr) {
        std::string got;
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                std::vector<char> buf(chunk);
                while (got.size() < want) {
                    if (!net::has_buffered_input(&tls)) {
                        if (waits) ++*waits;
                        auto [ec] = co_await socket.async_wait(net::read_wait(&tls), use_nothrow);
                        if (ec) co_return;
                    }
                    error_code ec;
                    const auto n = net::read_some(socket, &tls, buf.data(), buf.size(), ec);
                    if (ec == asio::error::would_block) continue;
                    if (ec) co_return;
                    got.append(buf.data(), n);
                }
            },
            asio::detached);
        io.run_for(std::chrono::seconds(10));
        io.restart();
        return got;
    }
};

TEST_F(TlsStreamTest, HandshakeGivesBothEndsTheSameChannelBindingData) {
    auto leaf = pki.issue("server", {"DNS:localhost", "IP:127.0.0.1"}, 3, EVP_sha256());
    ASSERT_TRUE(handshake(leaf)) << client_error << " / " << server_error;
    const auto seen = client->peer_end_point();
    EXPECT_EQ(seen.size(), 32u);  // SHA-256 signature: SHA-256 hash
    EXPECT_EQ(seen, server->own_end_point());
    EXPECT_NE(client->description().find("TLSv1.3"), std::string::npos) << client->description();
}

TEST_F(TlsStreamTest, EndPointHashFollowsTheSignatureHash) {
    auto leaf = pki.issue("server384", {"DNS:localhost"}, 4, EVP_sha384());
    ASSERT_TRUE(handshake(leaf)) << client_error << " / " << server_error;
    EXPECT_EQ(client->peer_end_point().size(), 48u);  // RFC 5929: SHA-384 stays SHA-384
    EXPECT_EQ(client->peer_end_point(), server->own_end_point());
}

TEST_F(TlsStreamTest, PipelinedRecordsAreReadWithoutWaitingForTheSocket) {
    auto leaf = pki.issue("server", {"DNS:localhost"}, 3, EVP_sha256());
    ASSERT_TRUE(handshake(leaf));
    // 300 records land in the kernel before the server reads any of them;
    // reading 50 bytes at a time leaves most of them inside OpenSSL, where a
    // readiness wait alone would never see them.
    std::string sent;
    for (int i = 0; i < 300; ++i) {
        const std::string message = "message " + std::to_string(i) + std::string(i % 37, 'x') + ";";
        error_code ec;
        ASSERT_EQ(client->write_some(message.data(), message.size(), ec), message.size());
        ASSERT_FALSE(ec);
        sent += message;
    }
    int waits = 0;
    EXPECT_EQ(read_all(*server, server_socket, sent.size(), 50, &waits), sent);
    EXPECT_LT(waits, 10);  // one recv takes many records at once
}

TEST_F(TlsStreamTest, LargeTransferThroughTheOutboxKeepsEveryByte) {
    auto leaf = pki.issue("server", {"DNS:localhost"}, 3, EVP_sha256());
    ASSERT_TRUE(handshake(leaf));
    // More than the socket buffers hold, so writes block part way through a
    // record and are retried from the outbox's (moving) queue.
    std::string payload(6 * 1024 * 1024, '\0');
    std::mt19937 rng(42);
    for (auto& ch : payload) ch = static_cast<char>(rng());
    net::Outbox out(client_socket);
    out.use_tls(client.get());
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            for (std::size_t at = 0; at < payload.size(); at += 100000) {
                out.send(std::string_view(payload).substr(at, 100000));
                if (out.queued() > 512 * 1024) co_await out.wait_below(128 * 1024);
            }
        },
        asio::detached);
    const auto got = read_all(*server, server_socket, payload.size(), 16 * 1024);
    EXPECT_FALSE(out.failed()) << out.error().message();
    EXPECT_EQ(out.queued(), 0u);
    ASSERT_EQ(got.size(), payload.size());
    EXPECT_TRUE(got == payload);
}

TEST_F(TlsStreamTest, PeerCloseIsEof) {
    auto leaf = pki.issue("server", {"DNS:localhost"}, 3, EVP_sha256());
    ASSERT_TRUE(handshake(leaf));
    error_code ec;
    ASSERT_EQ(client->write_some("bye", 3, ec), 3u);
    client->shutdown();
    client_socket.close();
    EXPECT_EQ(read_all(*server, server_socket, 3, 64), "bye");
    char byte;
    std::size_t n = 0;
    for (int i = 0; i < 100; ++i) {
        n = server->read_some(&byte, 1, ec);
        if (ec != asio::error::would_block) break;
        io.run_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(n, 0u);
    EXPECT_EQ(ec, asio::error::eof) << ec.message();
}

TEST_F(TlsStreamTest, VerifyFullAcceptsTheRightNameAndAddress) {
    auto leaf = pki.issue("server", {"DNS:localhost", "IP:127.0.0.1"}, 3, EVP_sha256());
    ASSERT_TRUE(handshake(leaf, config::ServerTlsMode::kVerifyFull, "localhost")) << client_error;
}

TEST_F(TlsStreamTest, VerifyFullAcceptsAnIpAddressSan) {
    auto leaf = pki.issue("server", {"DNS:localhost", "IP:127.0.0.1"}, 3, EVP_sha256());
    ASSERT_TRUE(handshake(leaf, config::ServerTlsMode::kVerifyFull, "127.0.0.1")) << client_error;
}

TEST_F(TlsStreamTest, VerifyFullRefusesAnotherName) {
    auto leaf = pki.issue("server", {"DNS:localhost"}, 3, EVP_sha256());
    EXPECT_FALSE(handshake(leaf, config::ServerTlsMode::kVerifyFull, "db.example.com"));
    EXPECT_NE(client_error.find("hostname mismatch"), std::string::npos) << client_error;
}

TEST_F(TlsStreamTest, VerifyFullRefusesAnAddressNotInTheCertificate) {
    auto leaf = pki.issue("server", {"DNS:localhost"}, 3, EVP_sha256());
    EXPECT_FALSE(handshake(leaf, config::ServerTlsMode::kVerifyFull, "127.0.0.1"));
    EXPECT_NE(client_error.find("IP address mismatch"), std::string::npos) << client_error;
}

TEST_F(TlsStreamTest, VerifyCaRefusesACertificateFromAnotherCa) {
    testing::TestPki other;
    auto leaf = other.issue("server", {"DNS:localhost"}, 3, EVP_sha256());
    EXPECT_FALSE(handshake(leaf, config::ServerTlsMode::kVerifyCa));
    EXPECT_NE(client_error.find("certificate verify failed"), std::string::npos) << client_error;
    // require does not verify: the same certificate is accepted.
    client_socket.close();
    server_socket.close();
    std::tie(client_socket, server_socket) = socket_pair(io);
    EXPECT_TRUE(handshake(leaf, config::ServerTlsMode::kRequire)) << client_error;
}

}  // namespace
}  // namespace pgmux
