// Routing and every error case, without sockets.
#include "pgmux/admin/router.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fake_control_plane.h"

namespace pgmux::admin {
namespace {

using nlohmann::json;
using testing::FakeControlPlane;

HttpRequest request(std::string method, std::string target) {
    HttpRequest r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.host = "127.0.0.1:9930";
    return r;
}

// Checks the error envelope and returns the code.
std::string error_code(const HttpResponse& response) {
    EXPECT_EQ(response.content_type, "application/json");
    const auto body = json::parse(response.body);
    EXPECT_TRUE(body.contains("error")) << response.body;
    EXPECT_TRUE(body["error"]["message"].is_string()) << response.body;
    EXPECT_FALSE(body["error"]["message"].get<std::string>().empty());
    EXPECT_EQ(body.size(), 1u);
    return body["error"]["code"].get<std::string>();
}

class RouterTest : public ::testing::Test {
  protected:
    RouterTest() { testing::populate(control); }

    HttpResponse get(std::string target) { return router().handle(request("GET", target), now); }
    HttpResponse post(std::string target) { return router().handle(request("POST", target), now); }
    Router router() { return Router(control, options); }

    FakeControlPlane control;
    RouterOptions options;
    WallTime now = testing::at_seconds(1100);
};

TEST_F(RouterTest, HealthzAnswersOk) {
    const auto response = get("/healthz");
    EXPECT_EQ(response.status, 200u);
    EXPECT_EQ(json::parse(response.body), json({{"status", "ok"}}));
}

TEST_F(RouterTest, ReadyzFollowsControlPlane) {
    EXPECT_EQ(get("/readyz").status, 200u);
    control.readiness_value = {false, "shutting down"};
    const auto response = get("/readyz");
    EXPECT_EQ(response.status, 503u);
    EXPECT_EQ(error_code(response), "not_ready");
    EXPECT_EQ(json::parse(response.body)["error"]["message"], "shutting down");
}

TEST_F(RouterTest, EveryResponseForbidsCachingAndSniffing) {
    for (const auto& response : {get("/healthz"), get("/nope"), get("/api/v1/pools")}) {
        ASSERT_NE(response.header("Cache-Control"), nullptr);
        EXPECT_EQ(*response.header("Cache-Control"), "no-store");
        ASSERT_NE(response.header("X-Content-Type-Options"), nullptr);
    }
}

TEST_F(RouterTest, UnknownPathIs404) {
    for (const char* target : {"/nope", "/api/v1/pools/", "/api/v1", "/api/v2/pools",
                               "/api/v1/clients/7/extra", "/metrics/x", ""}) {
        const auto response = get(target);
        EXPECT_EQ(response.status, 404u) << target;
        EXPECT_EQ(error_code(response), "not_found") << target;
    }
}

TEST_F(RouterTest, WrongMethodIs405WithAllow) {
    struct Case {
        const char* method;
        const char* target;
        const char* allow;
    };
    for (const Case& c :
         {Case{"POST", "/api/v1/pools", "GET, HEAD"}, Case{"DELETE", "/healthz", "GET, HEAD"},
          Case{"GET", "/api/v1/reload", "POST"},
          Case{"GET", "/api/v1/clients/7/disconnect", "POST"},
          Case{"PUT", "/api/v1/pools/app/alice/pause", "POST"},
          Case{"POST", "/metrics", "GET, HEAD"}}) {
        const auto response = router().handle(request(c.method, c.target), now);
        EXPECT_EQ(response.status, 405u) << c.target;
        EXPECT_EQ(error_code(response), "method_not_allowed");
        ASSERT_NE(response.header("Allow"), nullptr);
        EXPECT_EQ(*response.header("Allow"), c.allow);
    }
    EXPECT_TRUE(control.recorded().empty());
}

TEST_F(RouterTest, HeadIsServedLikeGet) {
    const auto response = router().handle(request("HEAD", "/api/v1/pools"), now);
    EXPECT_EQ(response.status, 200u);
    EXPECT_EQ(response.body, get("/api/v1/pools").body);
}

TEST_F(RouterTest, ClientById) {
    const auto response = get("/api/v1/clients/7");
    ASSERT_EQ(response.status, 200u);
    EXPECT_EQ(json::parse(response.body)["id"], 7);
}

TEST_F(RouterTest, UnknownClientIs404) {
    const auto response = get("/api/v1/clients/99");
    EXPECT_EQ(response.status, 404u);
    EXPECT_EQ(error_code(response), "not_found");
}

TEST_F(RouterTest, BadClientIdIs400) {
    for (const char* id :
         {"abc", "-1", "7x", "0x7", "99999999999999999999999", "%37%zz", "", "+7", "7.0"}) {
        const std::string target = std::string("/api/v1/clients/") + id;
        const auto response = get(target);
        EXPECT_EQ(response.status, 400u) << target;
        EXPECT_EQ(error_code(response), "bad_request");
        const auto action = post(target + "/disconnect");
        EXPECT_EQ(action.status, 400u) << target;
    }
    EXPECT_TRUE(control.recorded().empty());
}

TEST_F(RouterTest, PercentEncodedIdIsDecoded) {
    EXPECT_EQ(get("/api/v1/clients/%37").status, 200u);
}

TEST_F(RouterTest, DisconnectClient) {
    const auto response = post("/api/v1/clients/7/disconnect");
    ASSERT_EQ(response.status, 200u);
    EXPECT_EQ(json::parse(response.body), json({{"status", "disconnected"}, {"client_id", 7}}));
    const auto missing = post("/api/v1/clients/99/disconnect");
    EXPECT_EQ(missing.status, 404u);
    EXPECT_EQ(error_code(missing), "not_found");
    EXPECT_EQ(control.recorded(), (std::vector<std::string>{"disconnect 7", "disconnect 99"}));
}

TEST_F(RouterTest, PauseAndResumePool) {
    auto response = post("/api/v1/pools/app/alice/pause");
    ASSERT_EQ(response.status, 200u);
    EXPECT_EQ(json::parse(response.body),
              json({{"status", "paused"}, {"database", "app"}, {"user", "alice"}}));
    EXPECT_TRUE(control.pool_list[0].paused);
    response = post("/api/v1/pools/app/alice/resume");
    ASSERT_EQ(response.status, 200u);
    EXPECT_EQ(json::parse(response.body)["status"], "resumed");
    EXPECT_FALSE(control.pool_list[0].paused);
}

TEST_F(RouterTest, PoolNamesAreUrlDecoded) {
    const auto response = post("/api/v1/pools/we%2Fird%20db/b%22ob/pause");
    ASSERT_EQ(response.status, 200u) << response.body;
    EXPECT_EQ(json::parse(response.body)["database"], "we/ird db");
    EXPECT_EQ(control.recorded(), std::vector<std::string>{"pause we/ird db/b\"ob"});
}

TEST_F(RouterTest, BadPoolPathIs400) {
    for (const char* target : {"/api/v1/pools/%zz/alice/pause", "/api/v1/pools/app/%4/resume",
                               "/api/v1/pools//alice/pause", "/api/v1/pools/app//resume"}) {
        const auto response = post(target);
        EXPECT_EQ(response.status, 400u) << target;
        EXPECT_EQ(error_code(response), "bad_request");
    }
    EXPECT_TRUE(control.recorded().empty());
}

TEST_F(RouterTest, UnknownPoolIs404) {
    const auto response = post("/api/v1/pools/app/mallory/pause");
    EXPECT_EQ(response.status, 404u);
    EXPECT_EQ(error_code(response), "not_found");
}

TEST_F(RouterTest, Reload) {
    auto response = post("/api/v1/reload");
    ASSERT_EQ(response.status, 200u);
    EXPECT_EQ(json::parse(response.body)["status"], "reloaded");
    control.reload_result = {false, "pgmux.ini line 3: unknown key"};
    response = post("/api/v1/reload");
    EXPECT_EQ(response.status, 500u);
    EXPECT_EQ(error_code(response), "reload_failed");
    EXPECT_EQ(json::parse(response.body)["error"]["message"], "pgmux.ini line 3: unknown key");
}

TEST_F(RouterTest, ControlPlaneExceptionIs500) {
    control.throw_on_pools = true;
    const auto response = get("/api/v1/pools");
    EXPECT_EQ(response.status, 500u);
    EXPECT_EQ(error_code(response), "internal_error");
    EXPECT_EQ(json::parse(response.body)["error"]["message"], "pools unavailable");
    EXPECT_EQ(get("/healthz").status, 200u);
}

TEST_F(RouterTest, OversizedBodyIs413) {
    options.max_body_bytes = 16;
    auto r = request("POST", "/api/v1/reload");
    r.body = std::string(17, 'x');
    const auto response = router().handle(r, now);
    EXPECT_EQ(response.status, 413u);
    EXPECT_EQ(error_code(response), "payload_too_large");
    r.body.resize(16);
    EXPECT_EQ(router().handle(r, now).status, 200u);
    EXPECT_EQ(control.recorded(), std::vector<std::string>{"reload"});
}

TEST_F(RouterTest, ListLimitAndFilter) {
    auto body = json::parse(get("/api/v1/clients").body);
    EXPECT_EQ(body["clients"].size(), 2u);
    EXPECT_EQ(body["total"], 2);
    EXPECT_EQ(body["truncated"], false);

    body = json::parse(get("/api/v1/clients?limit=1").body);
    EXPECT_EQ(body["clients"].size(), 1u);
    EXPECT_EQ(body["total"], 2);
    EXPECT_EQ(body["truncated"], true);

    body = json::parse(get("/api/v1/clients?pinned=true").body);
    ASSERT_EQ(body["clients"].size(), 1u);
    EXPECT_EQ(body["clients"][0]["id"], 7);
    EXPECT_EQ(json::parse(get("/api/v1/clients?pinned=false").body)["total"], 2);

    body = json::parse(get("/api/v1/servers?limit=1").body);
    EXPECT_EQ(body["servers"].size(), 1u);
    EXPECT_EQ(body["truncated"], true);

    for (const char* target : {"/api/v1/clients?limit=0", "/api/v1/clients?limit=abc",
                               "/api/v1/clients?limit=-3", "/api/v1/servers?limit=100001",
                               "/api/v1/clients?limit=%zz", "/api/v1/clients?pinned=maybe"}) {
        const auto response = get(target);
        EXPECT_EQ(response.status, 400u) << target;
        EXPECT_EQ(error_code(response), "bad_request");
    }
}

TEST_F(RouterTest, MetricsIsPrometheusText) {
    const auto response = get("/metrics");
    ASSERT_EQ(response.status, 200u);
    EXPECT_EQ(response.content_type, "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_NE(response.body.find("pgmux_transactions_total 42\n"), std::string::npos);
    // The pool gauges come from pools(), not from the proxy's metrics().
    EXPECT_NE(response.body.find(R"(pgmux_pool_size{database="app",user="alice"} 2)"),
              std::string::npos);
    EXPECT_NE(
        response.body.find(R"(pgmux_pool_servers{database="app",user="alice",state="pinned"} 1)"),
        std::string::npos);
}

TEST_F(RouterTest, DashboardIsSelfContainedHtml) {
    const auto response = get("/");
    ASSERT_EQ(response.status, 200u);
    EXPECT_EQ(response.content_type, "text/html; charset=utf-8");
    ASSERT_NE(response.header("Content-Security-Policy"), nullptr);
    EXPECT_NE(response.header("Content-Security-Policy")->find("default-src 'none'"),
              std::string::npos);
    EXPECT_NE(response.body.find("<html"), std::string::npos);
    // No external assets: nothing is loaded from another origin.
    EXPECT_EQ(response.body.find("http://"), std::string::npos);
    EXPECT_EQ(response.body.find("https://"), std::string::npos);
    EXPECT_EQ(response.body.find("src=\"//"), std::string::npos);
}

class TokenTest : public RouterTest {
  protected:
    TokenTest() { options.bearer_token = "s3cret-token"; }

    HttpResponse with_auth(std::string method, std::string target,
                           std::optional<std::string> authorization) {
        auto r = request(std::move(method), std::move(target));
        r.authorization = std::move(authorization);
        return router().handle(r, now);
    }
};

TEST_F(TokenTest, MissingTokenIs401WithChallenge) {
    for (const char* target : {"/api/v1/pools", "/api/v1/clients", "/api/v1/clients/7",
                               "/api/v1/servers", "/api/v1/pinning", "/metrics"}) {
        const auto response = with_auth("GET", target, std::nullopt);
        EXPECT_EQ(response.status, 401u) << target;
        EXPECT_EQ(error_code(response), "unauthorized");
        ASSERT_NE(response.header("WWW-Authenticate"), nullptr);
        EXPECT_EQ(*response.header("WWW-Authenticate"), R"(Bearer realm="pgmux-admin")");
    }
}

TEST_F(TokenTest, WrongTokenIs401AndNoActionRuns) {
    for (const char* auth : {"Bearer wrong", "Bearer s3cret-toke", "Bearer s3cret-token2",
                             "Basic czNjcmV0LXRva2Vu", "Bearer", "s3cret-token", ""}) {
        for (const char* target :
             {"/api/v1/reload", "/api/v1/clients/7/disconnect", "/api/v1/pools/app/alice/pause"}) {
            const auto response = with_auth("POST", target, std::string(auth));
            EXPECT_EQ(response.status, 401u) << auth << " " << target;
            EXPECT_EQ(error_code(response), "unauthorized");
            ASSERT_NE(response.header("WWW-Authenticate"), nullptr);
        }
    }
    EXPECT_EQ(*with_auth("GET", "/metrics", "Bearer nope").header("WWW-Authenticate"),
              R"(Bearer realm="pgmux-admin", error="invalid_token")");
    EXPECT_TRUE(control.recorded().empty());
}

TEST_F(TokenTest, RightTokenIsAccepted) {
    EXPECT_EQ(with_auth("GET", "/api/v1/pools", "Bearer s3cret-token").status, 200u);
    EXPECT_EQ(with_auth("GET", "/metrics", "bearer   s3cret-token ").status, 200u);
    EXPECT_EQ(with_auth("POST", "/api/v1/reload", "BEARER s3cret-token").status, 200u);
}

TEST_F(TokenTest, ProbesAndDashboardNeedNoToken) {
    EXPECT_EQ(with_auth("GET", "/healthz", std::nullopt).status, 200u);
    EXPECT_EQ(with_auth("GET", "/readyz", std::nullopt).status, 200u);
    EXPECT_EQ(with_auth("GET", "/", std::nullopt).status, 200u);
}

TEST_F(TokenTest, TokenIsCheckedBeforeMethodAndPath) {
    // Without the token nothing about the route is revealed beyond 401.
    EXPECT_EQ(with_auth("DELETE", "/api/v1/pools", std::nullopt).status, 401u);
    EXPECT_EQ(with_auth("GET", "/api/v1/clients/abc", std::nullopt).status, 401u);
}

TEST_F(RouterTest, ForeignHostIsRefusedWithoutToken) {
    auto r = request("GET", "/api/v1/pools");
    r.host = "attacker.example:9930";  // DNS rebinding
    auto response = router().handle(r, now);
    EXPECT_EQ(response.status, 403u);
    EXPECT_EQ(error_code(response), "forbidden");
    for (const char* host :
         {"localhost:9930", "127.0.0.1", "127.1.2.3:80", "[::1]:9930", "LOCALHOST"}) {
        r.host = host;
        EXPECT_EQ(router().handle(r, now).status, 200u) << host;
    }
    options.bearer_token = "t";
    r.host = "admin.internal:9930";
    r.authorization = "Bearer t";
    EXPECT_EQ(router().handle(r, now).status, 200u);
}

TEST_F(RouterTest, CrossOriginPostIsRefused) {
    auto r = request("POST", "/api/v1/reload");
    r.origin = "http://attacker.example";
    auto response = router().handle(r, now);
    EXPECT_EQ(response.status, 403u);
    EXPECT_EQ(error_code(response), "forbidden");
    EXPECT_TRUE(control.recorded().empty());
    r.origin = "http://127.0.0.1:9930";  // the dashboard itself
    EXPECT_EQ(router().handle(r, now).status, 200u);
}

TEST(ConstantTimeEqual, ComparesWholeStrings) {
    EXPECT_TRUE(constant_time_equal("abc", "abc"));
    EXPECT_TRUE(constant_time_equal("", ""));
    EXPECT_FALSE(constant_time_equal("abc", "abd"));
    EXPECT_FALSE(constant_time_equal("ab", "abc"));
    EXPECT_FALSE(constant_time_equal("abcd", "abc"));
    EXPECT_FALSE(constant_time_equal("", "abc"));
    EXPECT_FALSE(constant_time_equal(std::string_view("a\0c", 3), "abc"));
}

}  // namespace
}  // namespace pgmux::admin
