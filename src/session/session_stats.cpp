#include "session/session_stats.h"

namespace pgmux::session {

const char* to_string(CloseReason r) noexcept {
    switch (r) {
        case CloseReason::kClientTerminate:
            return "client_close";
        case CloseReason::kClientEof:
            return "client_eof";
        case CloseReason::kCancelRequest:
            return "cancel_request";
        case CloseReason::kLoginFailed:
            return "login_failed";
        case CloseReason::kLoginTimeout:
            return "login_timeout";
        case CloseReason::kTooManyClients:
            return "max_client_conn";
        case CloseReason::kProtocolError:
            return "protocol_error";
        case CloseReason::kServerLost:
            return "server_lost";
        case CloseReason::kServerError:
            return "server_error";
        case CloseReason::kAdminDisconnect:
            return "admin_disconnect";
        case CloseReason::kShutdown:
            return "shutdown";
    }
    return "unknown";
}

}  // namespace pgmux::session
