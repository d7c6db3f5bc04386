// AdminServer on an ephemeral port, driven by curl and by raw sockets.
#include "pgmux/admin/server.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace pgmux::admin {
namespace {

using nlohmann::json;
using testing::curl;
using testing::eventually;
using testing::RawClient;
using testing::RunningServer;
using namespace std::chrono_literals;

AdminConfig ephemeral() {
    AdminConfig config;
    config.listen = "127.0.0.1:0";
    config.request_timeout = 2000ms;
    return config;
}

class ServerTest : public ::testing::Test {
  protected:
    ServerTest() { testing::populate(control); }
    testing::FakeControlPlane control;
};

TEST_F(ServerTest, ServesJsonOverHttp) {
    RunningServer server(ephemeral(), control);
    const auto result = curl(server.url("/api/v1/pools"));
    ASSERT_EQ(result.status, 200) << result.body;
    EXPECT_EQ(result.header("content-type"), "application/json");
    EXPECT_EQ(result.header("cache-control"), "no-store");
    EXPECT_EQ(json::parse(result.body)["pools"][0]["database"], "app");
}

TEST_F(ServerTest, ErrorsOverHttp) {
    RunningServer server(ephemeral(), control);
    auto result = curl(server.url("/nope"));
    EXPECT_EQ(result.status, 404);
    EXPECT_EQ(json::parse(result.body)["error"]["code"], "not_found");

    result = curl("-X DELETE " + server.url("/api/v1/pools"));
    EXPECT_EQ(result.status, 405);
    EXPECT_EQ(result.header("allow"), "GET, HEAD");
    EXPECT_EQ(json::parse(result.body)["error"]["code"], "method_not_allowed");

    result = curl(server.url("/api/v1/clients/abc"));
    EXPECT_EQ(result.status, 400);
    EXPECT_EQ(json::parse(result.body)["error"]["code"], "bad_request");

    result = curl("-X POST " + server.url("/api/v1/clients/99/disconnect"));
    EXPECT_EQ(result.status, 404);
}

TEST_F(ServerTest, ActionsOverHttp) {
    RunningServer server(ephemeral(), control);
    EXPECT_EQ(curl("-X POST " + server.url("/api/v1/clients/7/disconnect")).status, 200);
    EXPECT_EQ(curl("-X POST " + server.url("/api/v1/pools/we%2Fird%20db/b%22ob/pause")).status,
              200);
    EXPECT_EQ(curl("-X POST " + server.url("/api/v1/reload")).status, 200);
    EXPECT_EQ(control.recorded(),
              (std::vector<std::string>{"disconnect 7", "pause we/ird db/b\"ob", "reload"}));
}

TEST_F(ServerTest, MetricsContentType) {
    RunningServer server(ephemeral(), control);
    const auto result = curl(server.url("/metrics"));
    ASSERT_EQ(result.status, 200);
    EXPECT_EQ(result.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_NE(result.body.find("pgmux_transactions_total 42"), std::string::npos);
}

TEST_F(ServerTest, HeadHasLengthButNoBody) {
    RunningServer server(ephemeral(), control);
    const auto result = curl("-I " + server.url("/healthz"));
    EXPECT_EQ(result.status, 200);
    EXPECT_NE(result.header("content-length"), "0");
    EXPECT_TRUE(result.body.empty());
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
    RunningServer server(ephemeral(), control);
    RawClient client(server.port());
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(
        client.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                    "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
    const std::string replies = client.read_until_closed();
    EXPECT_EQ(replies.find("HTTP/1.1 200"), 0u);
    EXPECT_NE(replies.find("HTTP/1.1 200", 10), std::string::npos);
    EXPECT_NE(replies.find("\"ready\""), std::string::npos);
}

TEST_F(ServerTest, TokenOverHttp) {
    auto config = ephemeral();
    config.bearer_token = "tok-123";
    RunningServer server(config, control);
    auto result = curl(server.url("/api/v1/pools"));
    EXPECT_EQ(result.status, 401);
    EXPECT_EQ(result.header("www-authenticate"), R"(Bearer realm="pgmux-admin")");
    EXPECT_EQ(json::parse(result.body)["error"]["code"], "unauthorized");

    result = curl("-H 'Authorization: Bearer nope' -X POST " + server.url("/api/v1/reload"));
    EXPECT_EQ(result.status, 401);
    EXPECT_TRUE(control.recorded().empty());

    result = curl("-H 'Authorization: Bearer tok-123' " + server.url("/api/v1/pools"));
    EXPECT_EQ(result.status, 200);
    result = curl("-H 'Authorization: Bearer tok-123' -X POST " + server.url("/api/v1/reload"));
    EXPECT_EQ(result.status, 200);
    EXPECT_EQ(control.recorded(), std::vector<std::string>{"reload"});
    EXPECT_EQ(curl(server.url("/healthz")).status, 200);
}

TEST_F(ServerTest, OversizedBodyIs413) {
    auto config = ephemeral();
    config.max_body_bytes = 1024;
    RunningServer server(config, control);
    const std::string big(64 * 1024, 'x');
    // Announced by Content-Length: refused before the body is read.
    auto result = curl("-X POST --data-binary " + std::string("@- ") +
                       server.url("/api/v1/reload") + " <<'EOF'\n" + big + "\nEOF");
    EXPECT_EQ(result.status, 413) << result.body;
    EXPECT_EQ(json::parse(result.body)["error"]["code"], "payload_too_large");
    // Chunked, so the size is only known while reading.
    result = curl("-X POST -H 'Transfer-Encoding: chunked' --data-binary @- " +
                  server.url("/api/v1/reload") + " <<'EOF'\n" + big + "\nEOF");
    EXPECT_EQ(result.status, 413) << result.body;
    // With Expect: 100-continue the client never has to send the body.
    result = curl("-X POST -H 'Expect: 100-continue' --data-binary @- " +
                  server.url("/api/v1/reload") + " <<'EOF'\n" + big + "\nEOF");
    EXPECT_EQ(result.status, 413) << result.body;
    EXPECT_TRUE(control.recorded().empty());
    // A small body passes (and 100-continue is honoured).
    result = curl("-X POST -H 'Expect: 100-continue' --data-binary small " +
                  server.url("/api/v1/reload"));
    EXPECT_EQ(result.status, 200) << result.body;
}

TEST_F(ServerTest, MalformedRequestIs400) {
    RunningServer server(ephemeral(), control);
    RawClient client(server.port());
    ASSERT_TRUE(client.send("GET /healthz HTTP/9\r\n\r\n"));
    const std::string reply = client.read_until_closed();
    EXPECT_EQ(reply.find("HTTP/1.1 400"), 0u) << reply;
    EXPECT_NE(reply.find("bad_request"), std::string::npos);
}

TEST_F(ServerTest, HugeHeaderIs431) {
    RunningServer server(ephemeral(), control);
    RawClient client(server.port());
    ASSERT_TRUE(
        client.send("GET /healthz HTTP/1.1\r\nX-Big: " + std::string(16 * 1024, 'a') + "\r\n\r\n"));
    const std::string reply = client.read_until_closed();
    EXPECT_EQ(reply.find("HTTP/1.1 431"), 0u) << reply.substr(0, 100);
}

TEST_F(ServerTest, SlowClientIsCutOffAtTheDeadline) {
    auto config = ephemeral();
    config.request_timeout = 300ms;
    RunningServer server(config, control);

    // Half a request, then silence.
    RawClient silent(server.port());
    ASSERT_TRUE(silent.send("GET /healthz HTTP/1.1\r\nHo"));
    auto start = std::chrono::steady_clock::now();
    bool closed = false;
    EXPECT_EQ(silent.read_until_closed(&closed), "");
    auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_TRUE(closed);
    EXPECT_GE(elapsed, 250ms);
    EXPECT_LT(elapsed, 4000ms);

    // Trickling a byte every 50 ms does not extend the deadline: the whole
    // request must arrive within it.
    RawClient trickle(server.port());
    start = std::chrono::steady_clock::now();
    const std::string request =
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + std::string(40, 'p') + "\r\n\r\n";
    std::size_t sent = 0;
    for (; sent < request.size(); ++sent) {
        if (!trickle.send(request.substr(sent, 1))) break;
        std::this_thread::sleep_for(50ms);
        if (std::chrono::steady_clock::now() - start > 1500ms) break;
    }
    const std::string reply = trickle.read_until_closed(&closed);
    EXPECT_EQ(reply.find("HTTP/1.1 200"), std::string::npos) << "a trickled request was served";
    EXPECT_TRUE(closed);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 4000ms);

    // An idle keep-alive connection is closed too.
    RawClient idle(server.port());
    ASSERT_TRUE(idle.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    start = std::chrono::steady_clock::now();
    const std::string idle_reply = idle.read_until_closed(&closed);
    EXPECT_EQ(idle_reply.find("HTTP/1.1 200"), 0u);
    EXPECT_TRUE(closed);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 4000ms);
    EXPECT_TRUE(eventually([&] { return server.server().active_connections() == 0; }));
}

TEST_F(ServerTest, ConnectionCapAnswers503) {
    auto config = ephemeral();
    config.max_connections = 2;
    RunningServer server(config, control);
    RawClient first(server.port());
    RawClient second(server.port());
    ASSERT_TRUE(eventually([&] { return server.server().active_connections() == 2; }));

    auto result = curl(server.url("/healthz"));
    EXPECT_EQ(result.status, 503) << result.body;
    EXPECT_EQ(json::parse(result.body)["error"]["code"], "service_unavailable");
    EXPECT_EQ(result.header("retry-after"), "1");

    first.close();
    ASSERT_TRUE(eventually([&] { return server.server().active_connections() < 2; }));
    EXPECT_EQ(curl(server.url("/healthz")).status, 200);
}

TEST_F(ServerTest, StopClosesOpenConnections) {
    RunningServer server(ephemeral(), control);
    RawClient idle(server.port());
    ASSERT_TRUE(eventually([&] { return server.server().active_connections() == 1; }));
    const auto start = std::chrono::steady_clock::now();
    server.stop();  // joins the io thread: returns only when everything unwound
    bool closed = false;
    idle.read_until_closed(&closed);
    EXPECT_TRUE(closed);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3000ms);
    EXPECT_EQ(server.server().active_connections(), 0u);
}

TEST_F(ServerTest, RefusesNonLoopbackWithoutToken) {
    boost::asio::io_context io;
    AdminConfig config;
    config.listen = "0.0.0.0:0";
    try {
        AdminServer server(io, config, control);
        FAIL() << "expected an exception";
    } catch (const std::runtime_error& error) {
        EXPECT_NE(std::string(error.what()).find("without a bearer token"), std::string::npos)
            << error.what();
    }
    config.bearer_token = "a-token";
    AdminServer allowed(io, config, control);
    EXPECT_NE(allowed.local_endpoint().port(), 0);
}

TEST_F(ServerTest, RejectsBadConfig) {
    boost::asio::io_context io;
    for (const char* listen :
         {"127.0.0.1", "127.0.0.1:99999", "::1:80", "example.com:80", "[::1:80", "127.0.0.1:x"}) {
        AdminConfig config;
        config.listen = listen;
        EXPECT_THROW(AdminServer(io, config, control), std::invalid_argument) << listen;
    }
    AdminConfig config = ephemeral();
    config.bearer_token = "has space";
    EXPECT_THROW(AdminServer(io, config, control), std::runtime_error);
    config.bearer_token = "";
    EXPECT_THROW(AdminServer(io, config, control), std::runtime_error);

    // A port already taken gives a clear error.
    AdminServer first(io, ephemeral(), control);
    config = ephemeral();
    config.listen = "127.0.0.1:" + std::to_string(first.local_endpoint().port());
    try {
        AdminServer second(io, config, control);
        FAIL() << "expected an exception";
    } catch (const std::runtime_error& error) {
        EXPECT_NE(std::string(error.what()).find("cannot listen"), std::string::npos);
    }
}

TEST(ListenAddress, Parses) {
    EXPECT_EQ(parse_listen_address("127.0.0.1:9930").port(), 9930);
    EXPECT_TRUE(parse_listen_address("localhost:1").address().is_loopback());
    EXPECT_TRUE(parse_listen_address("[::1]:9930").address().is_v6());
    EXPECT_FALSE(parse_listen_address("0.0.0.0:9930").address().is_loopback());
}

}  // namespace
}  // namespace pgmux::admin
