// Query latencies and disconnect reasons, kept per worker without locks or
// allocations and merged by the admin API (like BorrowStats).
//
// A "request" is a client message that the server answers with exactly one
// ReadyForQuery: a simple Query, a Sync or a FunctionCall. Each one forwarded
// to a server gets a stamp (when pgmux received it, when it was forwarded);
// the ReadyForQuery forwarded back to the client takes the oldest stamp and
// records two latencies: the server's (forwarded -> ReadyForQuery, RDS
// Proxy's QueryDatabaseResponseLatency) and the client's (received ->
// ReadyForQuery, QueryResponseLatency: it includes the borrow wait).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>

namespace pgmux::session {

// A latency histogram as plain counters: per bucket (not cumulative), the
// last one is +Inf. The bounds are admin::kDefaultLatencyBuckets.
struct LatencyBuckets {
    static constexpr std::array<double, 16> kUpperBounds{
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
        0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};

    std::array<std::uint64_t, kUpperBounds.size() + 1> buckets{};
    double seconds_total = 0;

    void record(double seconds) noexcept {
        // First bound >= seconds: Prometheus buckets are "less or equal".
        const auto it = std::lower_bound(kUpperBounds.begin(), kUpperBounds.end(), seconds);
        ++buckets[static_cast<std::size_t>(it - kUpperBounds.begin())];
        seconds_total += seconds;
    }
    void merge(const LatencyBuckets& other) noexcept {
        for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += other.buckets[i];
        seconds_total += other.seconds_total;
    }
    [[nodiscard]] std::uint64_t count() const noexcept {
        std::uint64_t n = 0;
        for (auto b : buckets) n += b;
        return n;
    }
};

// Why a client connection ended (logged and counted). Keep kCloseReasonCount
// and to_string() in step: the names are metric labels operators alert on.
enum class CloseReason {
    kClientTerminate,  // the client sent Terminate
    kClientEof,        // the socket closed without Terminate (crash, kill, network)
    kCancelRequest,    // a connection that only carried a CancelRequest
    kLoginFailed,      // startup or authentication refused
    kLoginTimeout,     // client_login_timeout ran out
    kTooManyClients,   // max_client_conn reached
    kProtocolError,    // the client (or its server) broke the protocol
    kServerLost,       // the server connection in use ended
    kServerError,      // the server refused pgmux's replay of the session state
    kAdminDisconnect,  // POST /api/v1/clients/{id}/disconnect
    kShutdown,         // pgmux is shutting down
};
inline constexpr std::size_t kCloseReasonCount = 11;
[[nodiscard]] const char* to_string(CloseReason r) noexcept;

// Counters of one worker's sessions, merged by the admin API.
struct SessionStats {
    LatencyBuckets server;  // request forwarded -> its ReadyForQuery from the server
    LatencyBuckets client;  // request received -> its ReadyForQuery sent to the client
    std::array<std::uint64_t, kCloseReasonCount> disconnects{};
    std::uint64_t logins = 0;  // clients that completed startup and authentication

    void record(std::chrono::steady_clock::time_point received,
                std::chrono::steady_clock::time_point forwarded,
                std::chrono::steady_clock::time_point answered) noexcept {
        using Seconds = std::chrono::duration<double>;
        server.record(std::max(0.0, Seconds(answered - forwarded).count()));
        client.record(std::max(0.0, Seconds(answered - received).count()));
    }
    void disconnected(CloseReason r) noexcept { ++disconnects[static_cast<std::size_t>(r)]; }
    void merge(const SessionStats& other) noexcept {
        server.merge(other.server);
        client.merge(other.client);
        for (std::size_t i = 0; i < disconnects.size(); ++i) {
            disconnects[i] += other.disconnects[i];
        }
        logins += other.logins;
    }
};

// The stamps of one session's requests still waiting for their
// ReadyForQuery, oldest first. Fixed capacity: a client pipelining more
// requests than that has the excess go unmeasured (counted, so later
// ReadyForQuery messages still pair with the right stamps) until the queue
// drains. No allocation, ever.
class RequestTimes {
  public:
    using TimePoint = std::chrono::steady_clock::time_point;
    static constexpr std::uint32_t kCapacity = 8;
    struct Stamp {
        TimePoint received;
        TimePoint forwarded;
    };

    void push(const Stamp& s) noexcept {
        // Once one request went unmeasured, later ones must queue behind it.
        if (unmeasured_ != 0 || size_ == kCapacity) {
            ++unmeasured_;
            return;
        }
        ring_[(head_ + size_) % kCapacity] = s;
        ++size_;
    }
    // The oldest request's stamp; nullopt when it went unmeasured or when
    // nothing is outstanding.
    [[nodiscard]] std::optional<Stamp> pop() noexcept {
        if (size_ != 0) {
            const Stamp s = ring_[head_];
            head_ = (head_ + 1) % kCapacity;
            --size_;
            return s;
        }
        if (unmeasured_ != 0) --unmeasured_;
        return std::nullopt;
    }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0 && unmeasured_ == 0; }
    void clear() noexcept { head_ = size_ = unmeasured_ = 0; }

  private:
    std::array<Stamp, kCapacity> ring_{};
    std::uint32_t head_ = 0;
    std::uint32_t size_ = 0;
    std::uint32_t unmeasured_ = 0;
};

}  // namespace pgmux::session
