#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pgmux/auth/scram_client.hpp"
#include "pgmux/auth/scram_server.hpp"

namespace pgmux::auth::testing {

inline std::vector<std::string> mechanism_list(const ScramServer& server) {
    std::vector<std::string> out;
    for (auto m : server.mechanisms()) out.emplace_back(m);
    return out;
}

struct ExchangeOutcome {
    std::string mechanism;
    std::optional<AuthError> client_error;  // from the client's own checks
    std::optional<AuthError> server_error;  // what the server decided
    bool client_verified_server = false;
};

// Runs a whole SCRAM exchange between the two state machines, as the proxy
// would with the wire in between.
inline ExchangeOutcome run_exchange(ScramClient& client, ScramServer& server) {
    ExchangeOutcome outcome;
    auto first = client.start(mechanism_list(server));
    if (!first) {
        outcome.client_error = first.error();
        return outcome;
    }
    outcome.mechanism = std::string(first->mechanism);
    auto server_first = server.handle_client_first(first->mechanism, first->message);
    if (!server_first) {
        outcome.server_error = server_first.error();
        return outcome;
    }
    auto client_final = client.handle_server_first(*server_first);
    if (!client_final) {
        outcome.client_error = client_final.error();
        return outcome;
    }
    auto server_final = server.handle_client_final(*client_final);
    if (!server_final) {
        outcome.server_error = server_final.error();
        return outcome;
    }
    auto verified = client.handle_server_final(*server_final);
    if (!verified) outcome.client_error = verified.error();
    outcome.client_verified_server = client.server_verified();
    return outcome;
}

inline Bytes bytes_of(std::string_view text) {
    return Bytes(text.begin(), text.end());
}

}  // namespace pgmux::auth::testing
