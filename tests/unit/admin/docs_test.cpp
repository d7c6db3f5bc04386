// The docs stay true to the code: every metric and RDS Proxy metric in
// docs/metrics.md, every route in docs/openapi.yaml and docs/admin-api.md,
// and the OpenAPI "required" lists equal to the keys the API really sends.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "fake_control_plane.h"
#include "pgmux/admin/metrics.h"
#include "pgmux/admin/router.h"

namespace pgmux::admin {
namespace {

using nlohmann::json;

std::string read_doc(const std::string& name) {
    std::ifstream in(std::string(PGMUX_DOCS_DIR) + "/" + name);
    EXPECT_TRUE(in.good()) << "missing docs/" << name;
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

TEST(MetricsDoc, ListsEveryMetric) {
    const std::string doc = read_doc("metrics.md");
    for (const auto& def : metric_definitions()) {
        EXPECT_NE(
            doc.find("| `" + std::string(def.name) + "` | " + std::string(to_string(def.type))),
            std::string::npos)
            << def.name << " is not in the table of docs/metrics.md (with its type)";
    }
}

TEST(MetricsDoc, MapsEveryRdsProxyMetric) {
    const std::string doc = read_doc("metrics.md");
    for (const char* name : {"ClientConnections",
                             "ClientConnectionsClosed",
                             "ClientConnectionsNoTLS",
                             "ClientConnectionsReceived",
                             "ClientConnectionsSetupFailedAuth",
                             "ClientConnectionsSetupSucceeded",
                             "ClientConnectionsTLS",
                             "DatabaseConnectionRequests",
                             "DatabaseConnectionRequestsWithTLS",
                             "DatabaseConnections",
                             "DatabaseConnectionsBorrowLatency",
                             "DatabaseConnectionsCurrentlyBorrowed",
                             "DatabaseConnectionsCurrentlyInTransaction",
                             "DatabaseConnectionsCurrentlySessionPinned",
                             "DatabaseConnectionsSetupFailed",
                             "DatabaseConnectionsSetupSucceeded",
                             "DatabaseConnectionsWithTLS",
                             "MaxDatabaseConnectionsAllowed",
                             "QueryDatabaseResponseLatency",
                             "QueryRequests",
                             "QueryRequestsNoTLS",
                             "QueryRequestsTLS",
                             "QueryResponseLatency"}) {
        const std::regex row("\\| `" + std::string(name) + "` \\| ([^|]|\\\\\\|)*pgmux_");
        EXPECT_TRUE(std::regex_search(doc, row)) << name << " has no row mapping it to pgmux_*";
    }
}

// Paths declared under "paths:" (two-space indent) with their methods.
std::map<std::string, std::set<std::string>> openapi_paths(const std::string& yaml) {
    std::map<std::string, std::set<std::string>> paths;
    std::istringstream in(yaml);
    std::string current;
    const std::regex path_line(R"(^  (/[^:]*):\s*$)");
    const std::regex method_line(R"(^    (get|post|put|delete|patch|head):\s*$)");
    for (std::string line; std::getline(in, line);) {
        std::smatch match;
        if (std::regex_match(line, match, path_line)) {
            current = match[1];
            paths[current];
        } else if (!line.empty() && line[0] != ' ') {
            current.clear();
        } else if (!current.empty() && std::regex_match(line, match, method_line)) {
            std::string method = match[1];
            for (auto& c : method) c = static_cast<char>(std::toupper(c));
            paths[current].insert(method);
        }
    }
    return paths;
}

TEST(OpenApiDoc, DescribesExactlyTheRoutes) {
    const auto paths = openapi_paths(read_doc("openapi.yaml"));
    std::map<std::string, std::set<std::string>> routes;
    for (const auto& route : route_table()) {
        routes[std::string(route.pattern)].insert(std::string(route.method));
    }
    EXPECT_EQ(paths, routes);
}

TEST(AdminApiDoc, MentionsEveryRoute) {
    const std::string doc = read_doc("admin-api.md");
    for (const auto& route : route_table()) {
        EXPECT_NE(doc.find("| " + std::string(route.method) + " | `" + std::string(route.pattern) +
                           "` | " + (route.needs_token ? "yes" : "no")),
                  std::string::npos)
            << route.method << " " << route.pattern;
    }
}

// The `required: [...]` list of components/schemas/<name> (may span lines).
std::set<std::string> required_of(const std::string& yaml, const std::string& name) {
    const auto schemas = yaml.find("\n  schemas:\n");
    const auto start = yaml.find("\n    " + name + ":\n", schemas);
    EXPECT_NE(start, std::string::npos) << name;
    const auto open = yaml.find("required: [", start);
    const auto close = yaml.find(']', open);
    std::string list = yaml.substr(open + 11, close - open - 11);
    std::set<std::string> out;
    std::regex word(R"([a-z_]+)");
    for (auto it = std::sregex_iterator(list.begin(), list.end(), word);
         it != std::sregex_iterator(); ++it) {
        out.insert(it->str());
    }
    return out;
}

std::set<std::string> keys(const json& object) {
    std::set<std::string> out;
    for (const auto& [key, value] : object.items()) out.insert(key);
    return out;
}

TEST(OpenApiDoc, RequiredFieldsMatchResponses) {
    const std::string yaml = read_doc("openapi.yaml");
    testing::FakeControlPlane control;
    testing::populate(control);
    const Router router(control, {});
    const auto get = [&](const char* target) {
        HttpRequest request;
        request.method = "GET";
        request.target = target;
        return json::parse(router.handle(request).body);
    };
    const json client = get("/api/v1/clients/7");
    EXPECT_EQ(required_of(yaml, "Client"), keys(client));
    EXPECT_EQ(required_of(yaml, "Pin"), keys(client["pins"][0]));
    EXPECT_EQ(required_of(yaml, "Pool"), keys(get("/api/v1/pools")["pools"][0]));
    EXPECT_EQ(required_of(yaml, "Server"), keys(get("/api/v1/servers")["servers"][0]));
    EXPECT_EQ(required_of(yaml, "Pinning"), keys(get("/api/v1/pinning")));
    EXPECT_EQ(required_of(yaml, "Error"), keys(get("/nope")));
}

}  // namespace
}  // namespace pgmux::admin
