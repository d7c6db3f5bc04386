// One connection from pgmux to a PostgreSQL server: the socket, what pgmux
// knows about the backend (key data, reported parameters, settings it applied)
// and the login handshake. The relaying itself lives in session/.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "backend/server_auth.h"
#include "backend/server_tls.h"
#include "config/config.h"
#include "net/outbox.h"
#include "net/read_buffer.h"
#include "pgmux/pinning/replay.hpp"
#include "protocol/messages.h"
#include "statements/prepared_statement.h"

namespace pgmux::backend {

struct ServerTarget {
    config::Endpoint endpoint;
    std::string user;
    std::string database;
    std::optional<std::string> password;  // plaintext: serves every method
    std::optional<std::string> md5_hash;  // "md5...": serves MD5 only
    // Shared by a pool's connection attempts: pass-through keys and hashes
    // learned from clients that authenticated (see server_auth.h).
    std::shared_ptr<LearnedCredentials> learned;
    ServerTls tls;  // server_tls_sslmode and its context
    std::chrono::milliseconds connect_timeout{15000};
    config::TcpOptions tcp;  // keepalive and TCP_USER_TIMEOUT
    std::size_t max_message_bytes = 64u * 1024u * 1024u;
};

// Why a connection attempt failed. When the server itself refused (bad
// database, auth failure, too many connections) `server_error` holds its
// ErrorResponse so the client can be shown PostgreSQL's own words.
struct ConnectError {
    std::string description;
    std::optional<protocol::ErrorFields> server_error;
};

class ServerConnection {
  public:
    using Clock = std::chrono::steady_clock;

    ServerConnection(boost::asio::ip::tcp::socket socket, std::uint64_t id,
                     config::Endpoint endpoint);
    ~ServerConnection();
    ServerConnection(const ServerConnection&) = delete;
    ServerConnection& operator=(const ServerConnection&) = delete;

    using ConnectResult = std::variant<std::unique_ptr<ServerConnection>, ConnectError>;
    // Connects, logs in and waits for the first ReadyForQuery.
    static boost::asio::awaitable<ConnectResult> connect(boost::asio::any_io_executor executor,
                                                         ServerTarget target, std::uint64_t id);

    // A cheap check for an idle connection taken from the pool: false when
    // the server has closed it or sent something unsolicited (a FATAL).
    [[nodiscard]] bool looks_alive() noexcept;
    // Free of that system call: true when the last read drained the socket
    // and its reactor has seen nothing arrive since (net::quiet_since_drained;
    // plain TCP only). False means "ask looks_alive()". Only on the thread of
    // the socket's executor.
    [[nodiscard]] bool known_quiet() noexcept;

    // The execution context (a worker's io_context) whose thread owns the
    // socket. The pool compares it to the asker's: a pointer comparison,
    // where comparing two type-erased executors costs a copy and a call.
    [[nodiscard]] const boost::asio::execution_context* home() const noexcept { return home_; }
    // The execution context an executor runs on, to compare with home().
    static const boost::asio::execution_context* context_of(
        const boost::asio::any_io_executor& executor);
    // Moves the socket onto another worker's executor (idle connections only).
    void rebind(const boost::asio::any_io_executor& executor);

    // Sends Terminate (best effort) and closes the socket.
    void close() noexcept;

    [[nodiscard]] std::uint64_t id() const noexcept { return id_; }
    [[nodiscard]] const config::Endpoint& endpoint() const noexcept { return endpoint_; }
    [[nodiscard]] std::int32_t backend_pid() const noexcept { return backend_pid_; }
    [[nodiscard]] std::int32_t backend_secret() const noexcept { return backend_secret_; }

    boost::asio::ip::tcp::socket& socket() noexcept { return socket_; }
    // The link's TLS stream; nullptr for plain TCP (see net/tls.h for I/O).
    net::TlsStream* tls() noexcept { return tls_.get(); }
    net::Outbox& out() noexcept { return out_; }
    net::ReadBuffer& in() noexcept { return in_; }

    // ParameterStatus values the server reported, kept current while relaying.
    std::map<std::string, std::string, std::less<>> parameters;
    // Settings pgmux applied on this connection for the client that used it
    // last (name -> value); replays send only the difference.
    pinning::ServerSettings settings;
    // Content-addressed prepared statements this backend holds.
    statements::ServerStatementCache statements{1024};
    // Whose unnamed statement the backend holds (a token a client gets per
    // unnamed Parse; 0 = none or unknown).
    std::uint64_t unnamed_owner = 0;
    // The server acknowledged the Parse that made the claim (ParseComplete).
    // Until then a batch after its Sync cannot rely on it: an error before
    // the Parse makes the server skip it.
    bool unnamed_confirmed = false;
    // The pool's plan-invalidation epoch this connection's cache has caught up
    // with (see Pool::apply_invalidations).
    std::uint64_t invalidation_epoch = 0;
    // Named Parses sent in the batch being written (since the last Sync):
    // at the Sync they become unconfirmed until their ParseComplete arrives
    // (see ServerStatementCache::mark_unconfirmed).
    std::vector<std::string> parsed_in_batch;
    // Why the backend must not be reused (logged when it is closed instead);
    // nullptr while it may be.
    const char* discard_reason = nullptr;

    Clock::time_point created_at = Clock::now();
    Clock::time_point last_used_at = Clock::now();
    std::uint64_t last_client_id = 0;
    // The client whose currval()/lastval() this backend holds (it ran
    // nextval()/setval() here), while that client is connected: other
    // clients take another idle server while there is one.
    std::uint64_t sequence_owner = 0;
    std::weak_ptr<const void> sequence_owner_alive;
    [[nodiscard]] bool holds_sequences_of_another(std::uint64_t client) const {
        return sequence_owner != 0 && sequence_owner != client && !sequence_owner_alive.expired();
    }

    // Released when the connection is destroyed: the pool's slot accounting.
    std::shared_ptr<void> slot;

  private:
    boost::asio::awaitable<std::optional<ConnectError>> login(const ServerTarget& target);
    // Sends everything through the outbox and waits until the kernel has it.
    boost::asio::awaitable<boost::system::error_code> write_all(std::string_view bytes);

    boost::asio::ip::tcp::socket socket_;
    const boost::asio::execution_context* home_;  // socket_'s, see home()
    std::unique_ptr<net::TlsStream> tls_;         // bound to socket_'s descriptor
    net::Outbox out_;
    net::ReadBuffer in_;
    std::uint64_t id_;
    config::Endpoint endpoint_;
    std::int32_t backend_pid_ = 0;
    std::int32_t backend_secret_ = 0;
};

}  // namespace pgmux::backend
