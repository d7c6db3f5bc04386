// The auth_query round trip as bytes, without I/O: the extended-protocol
// request that runs the lookup with the user name as a bound parameter (so no
// SQL is ever built from client input), and a reader of the server's reply.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "protocol/frame.h"
#include "protocol/messages.h"

namespace pgmux::auth_source {

// Parse (unnamed statement) + Bind (one text parameter: `user`) + Execute + Sync.
[[nodiscard]] std::string build_lookup_request(std::string_view query, std::string_view user);

// Consumes the server's reply to build_lookup_request, frame by frame.
class LookupReply {
  public:
    enum class Progress {
        kMore,    // keep reading
        kDone,    // ReadyForQuery: the connection is idle again
        kBroken,  // something a lookup never produces: drop the connection
    };
    [[nodiscard]] Progress feed(const protocol::Frame& frame);

    // After kDone. The server's error, if the query failed.
    [[nodiscard]] const std::optional<protocol::ErrorFields>& error() const noexcept {
        return error_;
    }
    [[nodiscard]] int rows() const noexcept { return rows_; }
    // The second column of the first row; nullopt when it was NULL (no password).
    [[nodiscard]] const std::optional<std::string>& secret() const noexcept { return secret_; }
    // A row had fewer than two columns.
    [[nodiscard]] bool malformed_row() const noexcept { return malformed_row_; }

  private:
    std::optional<protocol::ErrorFields> error_;
    int rows_ = 0;
    std::optional<std::string> secret_;
    bool malformed_row_ = false;
};

}  // namespace pgmux::auth_source
