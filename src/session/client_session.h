// One client connection: the login handshake, then relaying between the
// client and whichever server connection its current transaction holds.
//
// On the worker's thread, two chains of completion handlers do the relaying.
// The client side waits until the client is readable, reads, forwards to the
// server and waits again; the server side keeps one read of the linked server
// outstanding, forwards what arrives to the client and reads again. They
// share state without locks because they never run at the same time. The
// server side gives the server back to the pool at ReadyForQuery 'I' when
// nothing is outstanding. Both are plain handlers, not coroutines: resuming
// a coroutine per message cost more than the proxy's own bookkeeping, and an
// idle client holds nothing for them. A client that must wait for a server
// waits in the pool's queue as a callback; only the rare waits (for one
// particular server, for a slow peer's queue) run as coroutines.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "backend/server_connection.h"
#include "net/outbox.h"
#include "net/reactor_read.h"
#include "net/read_buffer.h"
#include "net/tls.h"
#include "pgmux/pinning/pin_stats.hpp"
#include "pgmux/pinning/policy.hpp"
#include "pgmux/pinning/sequence_draws.hpp"
#include "pgmux/pinning/session_state.hpp"
#include "pool/pool.h"
#include "protocol/frame.h"
#include "session/proxy_context.h"
#include "session/reply_tracker.h"
#include "session/session_info.h"
#include "session/session_stats.h"
#include "statements/prepared_statement.h"

namespace pgmux::session {

// The statement a Parse of a name the client already uses runs under, to fail
// on the server with PostgreSQL's own errors (see on_parse).
inline constexpr std::string_view kDuplicateName = "pgmux_duplicate_name";

// ServerConnection::discard_reason of a backend that holds prepared
// statements pgmux lost track of (a skipped or unconfirmed Close, DEALLOCATE
// or DISCARD): another client could collide with their names.
inline constexpr const char* kHoldsUntrackedStatements =
    "it holds prepared statements pgmux no longer tracks";

class ClientSession : public std::enable_shared_from_this<ClientSession> {
  public:
    // `peer`: the client's address, as accept() returned it.
    ClientSession(boost::asio::ip::tcp::socket socket, boost::asio::ip::tcp::endpoint peer,
                  ProxyContext& proxy, WorkerContext& worker, std::uint64_t id);
    ~ClientSession();

    // Logs the client in, then hands it to the relay's handlers, which keep
    // the session alive until it ends.
    boost::asio::awaitable<void> run();

    // Forwards a CancelRequest to the server this client is using, if any.
    // Must be called on the session's executor.
    void cancel_current_query();
    // Closes the connection from outside (admin API, shutdown); any thread.
    void request_close(CloseReason reason);

    [[nodiscard]] std::uint64_t id() const noexcept { return id_; }
    // The client's address and port, "192.0.2.7:53412".
    [[nodiscard]] std::string peer() const;
    // A copy of this session's figures for the admin API (session_info.cpp).
    // Must be called on the session's executor.
    [[nodiscard]] SessionInfo describe(DescribeDetail detail) const;

  private:
    using Clock = std::chrono::steady_clock;

    // startup.cpp: the login handshake.
    boost::asio::awaitable<bool> login();
    boost::asio::awaitable<std::optional<std::string>> read_startup_packet();
    // Answers an SSLRequest with 'S' and runs the TLS handshake.
    boost::asio::awaitable<bool> start_client_tls(std::shared_ptr<const net::TlsContext> context);
    boost::asio::awaitable<bool> handle_startup(const protocol::StartupPacket& packet);
    boost::asio::awaitable<bool> finish_login();
    // `parameter_statuses`: the ParameterStatus messages, encoded.
    void send_login_reply(std::string_view parameter_statuses);
    // startup_auth.cpp: authentication (between the startup checks and
    // finish_login), then handing what the client proved to its pool.
    boost::asio::awaitable<bool> authenticate();
    void share_server_credentials();
    static boost::asio::awaitable<void> forward_cancel(boost::asio::any_io_executor executor,
                                                       config::Endpoint server,
                                                       backend::ServerTls tls, std::int32_t pid,
                                                       std::int32_t secret);

    // client_session.cpp: the client side of the relay, a chain of handlers
    // like the server side: wait until the client is readable, read, handle
    // what arrived, wait again.
    void wait_for_client();
    void on_client_readable(boost::system::error_code ec);
    // A plain-TCP client read (net/reactor_read.h) ended; its bytes are in
    // the worker's scratch buffer or in in_.
    void on_client_read(boost::system::error_code ec);
    // The worker's scratch buffer, free for a read: bytes another session's
    // read left there for its completion move to that session's in_ first.
    std::span<char> claim_scratch();
    struct ClientReader;
    struct ServerReader;
    void serve_client_bytes(std::string_view data, bool from_scratch);
    // Waits for a server (the pool had no idle one), then handles the frames
    // that waited and reads on.
    void wait_for_server(bool wants_same_server);
    boost::asio::awaitable<void> link_then_serve(std::shared_ptr<ClientSession> self,
                                                 bool wants_same_server);
    void serve_after_link(bool linked);
    boost::asio::awaitable<void> wait_for_server_queue(std::shared_ptr<ClientSession> self);
    // Ends the session once, whichever handler sees the end first.
    void end_serving();
    // A client read failed (`ec`: end of file, reset...): the session ends,
    // or, after a FIN with replies owed, waits for them first.
    void on_client_input_ended(boost::system::error_code ec);
    // The client sent FIN (it may still read, or be gone). The server is
    // told the same (its socket's sending side is shut down), so PostgreSQL
    // does what it does for a direct client: answers what it received before
    // the end of its input, or, with client_connection_check_interval, stops.
    // The session lives on until those answers are relayed; false when
    // nothing is owed or no answer will come (requests without Sync).
    bool wait_for_owed_replies();
    // Ends a half-closed session once its last reply reached the client.
    void finish_half_closed();
    // What handling a client read came to: the bytes used, and what next.
    struct ClientBytes {
        enum class Next : std::uint8_t {
            kRead,        // read the client again
            kNeedServer,  // the frame at `used` needs a server none was idle for
            kClose,       // the session must end
        };
        std::size_t used = 0;
        Next next = Next::kRead;
        bool wants_same_server = false;  // for kNeedServer (see link_server)
    };
    // Handles the complete frames at the start of `data`. It never waits:
    // when a frame needs a server and the pool has no idle one, it stops
    // there and wait_for_server() waits for one (see link_server).
    ClientBytes handle_client_bytes(std::string_view data);
    // The link attempt for a frame failed (the error was sent): finishes the
    // frame's cycle the way the server would have.
    void after_failed_link();
    // client_messages.cpp: per-message handling on the way to the server.
    // Each appends what the server must receive to `to_server` and records
    // the replies it expects.
    // Answers a Parse/Close...Sync batch without a server when it can;
    // returns the bytes consumed (0: a server is needed).
    [[nodiscard]] std::size_t answer_without_server(std::string_view data);
    // Handles one client message bound for the server (also when a batch
    // runs again after a plan invalidation).
    void dispatch_client_message(const protocol::Frame& f, std::string& to_server);
    void on_query(const protocol::Frame& f, std::string& to_server);
    // Session mode: handles messages that need no rewriting; false for the rest.
    bool forward_in_session_mode(const protocol::Frame& f);
    // sql_prepared.cpp: SQL PREPARE/EXECUTE/DEALLOCATE under pooling.
    // Returns the Query text with statement names rewritten ("" = unchanged).
    std::string rewrite_sql_prepared(std::string_view sql, const parser::Classification& c,
                                     std::string& to_server);
    void ensure_prepared_for_query(const statements::PreparedStatement& ps, std::string& to_server);
    // A Bind of DEALLOCATE / DISCARD ALL text: its effect on the server's and
    // the client's statements (see sql_prepared.cpp).
    void drop_statements_at_bind(const parser::Classification& c);
    // DEALLOCATE ALL / DISCARD ALL and DEALLOCATE name sent to the server:
    // its statements go now, the client's until the server confirms.
    void drop_all_statements();
    using StatementMap =
        std::unordered_map<std::string, std::shared_ptr<const statements::PreparedStatement>>;
    void drop_statement(StatementMap::iterator it);
    // Drops a server statement before a simple Query (Close and Sync, replies hidden).
    void close_before_query(const std::string& server_name, std::string& to_server);
    // SQL-level prepared statements that `sql` runs through dynamic SQL
    // (`execute 'execute name(...)'` inside a function): prepared on the
    // server under the client's own name around the query (PREPARE before,
    // DEALLOCATE after). Returns the DEALLOCATEs to append after the query.
    std::string alias_for_dynamic_sql(std::string_view sql, std::string& to_server);
    void inject_query(std::string_view sql, std::string& to_server,
                      Inspect inspect = Inspect::kNone, std::string creates_statement = {});
    // Shows the client its own statements in pg_prepared_statements ("" = no
    // reference to the view).
    std::string rewrite_prepared_statements_view(std::string_view sql, std::string& to_server);
    // Parse of text that EXECUTEs or DEALLOCATEs prepared statements (or
    // drops them all): the names rewritten ("" = unchanged), the statements
    // it needs on the server, the bookkeeping of what it drops.
    std::string rewrite_executes_for_parse(
        std::string_view sql, const parser::Classification& c,
        std::vector<std::shared_ptr<const statements::PreparedStatement>>& depends_on,
        std::string& to_server);
    void ensure_dependencies(const statements::PreparedStatement& ps, std::string& to_server);
    // Confirms a PREPARE / DEALLOCATE / DISCARD ALL that completed, or
    // (nullptr) undoes the ones that did not when their Query ended.
    void settle_sql_statements(const parser::Statement* done);
    // An ErrorResponse naming server-side statements, with the client's names
    // (`preferred` first, when it is one of them) and its position mapped back
    // to the client's own text.
    [[nodiscard]] std::optional<std::string> error_with_client_names(
        std::string_view body, const std::vector<std::pair<std::size_t, long>>* shifts,
        std::string_view preferred = {}) const;
    // The edits of the last rewrite_sql_prepared, as position shifts.
    std::shared_ptr<const std::vector<std::pair<std::size_t, long>>> take_text_shifts();
    void on_parse(const protocol::Frame& f, std::string& to_server);
    // Sends the message unchanged (see forward_verbatim_).
    void forward_as_is(const protocol::Frame& f, std::string& to_server);
    // The unnamed statement is now this client's, on this server.
    void claim_unnamed();
    // Records that a Parse of this client's unnamed statement is on its way.
    void mark_unnamed_parsed();
    // `previous`: the unnamed statement this Parse replaces (restored if the
    // server skips the Parse).
    void forward_unnamed_parse(const protocol::Frame& f, std::string& to_server,
                               std::shared_ptr<const statements::PreparedStatement> previous);
    void on_bind(const protocol::Frame& f, std::string& to_server);
    void on_describe(const protocol::Frame& f, std::string& to_server);
    void on_close(const protocol::Frame& f, std::string& to_server);
    void on_execute(const protocol::Frame& f, std::string& to_server);
    void remember_portal(std::string_view portal,
                         std::shared_ptr<const parser::Classification> classification,
                         std::string_view bind_rest, std::string_view param_types);
    // Applies the pool's on_pin policy; false when the statement was refused
    // (the refusal is already queued for the server to fail).
    bool pin_policy_allows(const parser::Classification& c, bool simple_query,
                           std::string& to_server);
    // Makes the server hold `ps` (re-Parse if needed, evicting LRU entries).
    void ensure_prepared(const statements::PreparedStatement& ps, std::string& to_server);
    // Creates an SQL-level statement inside an extended-protocol batch.
    void inject_sql_prepare(const statements::PreparedStatement& ps, std::string& to_server);
    // Cache bookkeeping shared by both ways of preparing: false when the
    // server already holds `ps`; otherwise records it and sets `evicted` to
    // the statement the caller must drop to make room.
    // `stale` is set when the server holds the statement with an invalidated
    // plan: the caller must Close (or DEALLOCATE) it before preparing it again.
    bool server_lacks(const statements::PreparedStatement& ps, std::optional<std::string>& evicted,
                      bool& stale);
    // Closes a server statement (extended protocol, replies hidden).
    void close_on_server(const std::string& name, std::string& to_server);
    // Makes the server hold this client's unnamed statement; false if it has none.
    bool ensure_unnamed(std::string& to_server);
    // Makes the server fail the current extended-protocol batch with our own
    // error, so the transaction aborts and later messages are skipped exactly
    // as PostgreSQL would.
    void fail_on_server(std::string_view sqlstate, std::string message, std::string& to_server);
    // The same with a complete ErrorResponse message.
    void fail_on_server(std::string error, std::string& to_server);
    void expect(PendingReply&& reply);
    void expect(Expect plain);  // PendingReply{.expect = plain}, without building one
    void emit_synthesized();
    [[nodiscard]] std::shared_ptr<const parser::Classification> classify(std::string_view sql);
    // reads_sequence_state() classifies a Query before link_server(); on_query
    // reuses that answer when it sees the very same bytes.
    std::string_view last_classified_;
    std::shared_ptr<const parser::Classification> last_classification_;

    // Gets a server for the next transaction. `wants_same_server`: the
    // statement reads currval()/lastval(), which live in the previous backend.
    boost::asio::awaitable<bool> link_server(bool wants_same_server = false);
    // What a borrow that began at `started` came to: linked (true), or the
    // error was sent to the client (false).
    bool finish_link(pool::AcquireResult result, Clock::time_point started);
    // The same without waiting: false when no server is idle right now.
    bool try_link_server(bool wants_same_server);
    // Needs exactly the server it used last (currval()/lastval()).
    [[nodiscard]] bool needs_same_server(bool wants_same_server) const;
    [[nodiscard]] pool::Affinity affinity() const { return {last_server_id_, id_}; }
    // The client's search_path when it set one (startup or SET), else "".
    [[nodiscard]] std::string_view search_path() const;
    // Makes `conn` this client's server: replays state, starts the relay.
    void attach_server(std::unique_ptr<backend::ServerConnection> conn, Clock::time_point asked,
                       Clock::time_point linked);
    [[nodiscard]] bool reads_sequence_state(const protocol::Frame& f);
    // Notes a statement that may draw from a sequence (sequence_draws_), and
    // whether it runs now (Query, Bind) rather than later (Parse).
    void note_sequence_draw(std::string_view sql, bool runs);
    void start_relay();
    // The time the current batch's requests arrived and were forwarded: the
    // last borrow's if none of them used it yet, else one clock read.
    [[nodiscard]] RequestTimes::Stamp request_stamp();
    void reply_wait_failure(const pool::AcquireError& error);
    void finish();

    // plan_retry.cpp: statements whose cached plan a server invalidated
    // ("cached plan must not change result type").
    // Keeps a message of the batch being recorded (see retry_batch_).
    void record_for_retry(const protocol::Frame& f);
    // Called for the error: marks the statement stale on every server of the
    // pool and, when that is safe, runs the failed request again. True when
    // it did (the error is then hidden from the client).
    bool on_plan_invalidated(const Verdict& v, std::string_view error);
    [[nodiscard]] std::optional<std::string> invalidated_statement(const Verdict& v) const;
    [[nodiscard]] bool can_rerun(const Verdict& v, const std::string& server_name) const;
    void rerun_recorded_request();

    // relay.cpp: the server side of the relay.
    // Reads the linked server once (a read is always outstanding while one
    // is linked); on_server_read handles what arrived and reads again.
    void read_server();
    void on_server_read(std::uint64_t server_id, boost::system::error_code ec, std::size_t n);
    boost::asio::awaitable<void> read_server_when_drained(std::shared_ptr<ClientSession> self,
                                                          std::uint64_t server_id);
    // Processes the complete server frames in `data`; returns bytes consumed
    // and whether the server was released back to the pool.
    std::pair<std::size_t, bool> handle_server_bytes(std::string_view data);
    void on_server_message_seen(const protocol::Frame& f, const Verdict& v);
    // Undoes what pgmux recorded for a Parse (or its own Close) that the
    // server skipped after an error.
    void undo_skipped(const TrackedReply& parse);
    void undo_skipped();  // everything the tracker reports skipped
    enum class IdleAction { kKeep, kRelease, kClose };
    // The linked server is idle ('I', nothing outstanding): keep it, give it
    // back, or close it (verifying pins with the server first if needed).
    [[nodiscard]] IdleAction on_idle();
    void apply_verification_row(std::string_view body);
    void note_pin_transitions();
    // At the end of a transaction: the server holds the client's settings,
    // except what the server reset to its own defaults meanwhile.
    void adopt_client_settings();
    // Sets the client's values again on a server it keeps (after a RESET).
    void replay_onto_kept_server();
    // Queues the statements that give `server` this client's settings (replies
    // hidden); false when it has them already.
    bool queue_replay(backend::ServerConnection& server);
    void log_pin_event(const pinning::PinEvent& e);
    void hand_back_server_at_disconnect();
    // `now`: when the server finished (a ReadyForQuery handler passes the clock
    // reading it took for the latency metrics).
    void release_server(Clock::time_point now = Clock::now());
    // After a transaction of a client that reads lastval()/currval(): keeps
    // the server a moment (see sequence_draws_); false when not.
    bool linger_for_sequence_read();
    void drop_server(const char* why);

    // Helpers shared by both halves.
    void send_error(std::string_view severity, std::string_view sqlstate, std::string_view message,
                    std::string_view detail = {});
    void close_client(CloseReason reason);
    void append_replay(backend::ServerConnection& server);

    boost::asio::ip::tcp::socket socket_;
    std::unique_ptr<net::TlsStream> tls_;  // set once the client negotiated TLS
    net::Outbox out_;
    net::ReadBuffer in_;     // only a partial frame, between reads
    net::Reactor& reactor_;  // of socket_'s io_context, which linked servers share
    ProxyContext& proxy_;
    WorkerContext& worker_;
    const std::uint64_t id_;
    // Formatted only when a log line or the admin API shows it (peer()).
    boost::asio::ip::tcp::endpoint peer_;
    Clock::time_point connected_at_ = Clock::now();

    std::shared_ptr<const config::Config> config_;
    std::shared_ptr<pool::Pool> pool_;
    config::PoolMode mode_ = config::PoolMode::kTransaction;
    std::string database_;
    std::string user_;
    std::optional<pinning::SessionState> state_;  // set at login
    pinning::ClientPins pins_;
    bool verifying_ = false;  // a pin verification query is outstanding
    // What the client proved at login (SCRAM pass-through keys, an MD5 hash
    // from auth_query), kept only until the pool has it. Never logged.
    // What the login proved (SCRAM pass-through keys, an auth_query MD5
    // hash), until handed to the pool; most logins have none.
    std::unique_ptr<backend::ServerCredentials> learned_credentials_;
    CancelKey cancel_key_;
    bool registered_cancel_ = false;

    std::unique_ptr<backend::ServerConnection> server_;
    std::uint64_t last_server_id_ = 0;
    std::optional<Clock::time_point> borrow_started_;  // waiting in link_server()
    ReplyTracker tracker_;                             // what the linked server still owes us
    // Requests (Query/Sync/FunctionCall) awaiting their ReadyForQuery, and
    // the times of a borrow no request has claimed yet (see request_stamp()).
    RequestTimes request_times_;
    std::optional<RequestTimes::Stamp> link_stamp_;
    // The client's prepared statements by its own names, and its unnamed one.
    std::unordered_map<std::string, std::shared_ptr<const statements::PreparedStatement>>
        statements_;
    std::shared_ptr<const statements::PreparedStatement> unnamed_;
    std::uint64_t unnamed_token_ = 0;
    // While a client message is dispatched: the messages after it in the
    // bytes received so far (see bind_learns_new_shape).
    std::string_view following_;
    // The Query being handled begins with ROLLBACK [TO SAVEPOINT].
    bool query_leaves_failed_state_ = false;
    // INSERT, COPY and MERGE that may draw from a sequence through a column
    // DEFAULT, and whether the client reads lastval()/currval() after them
    // (PDO::lastInsertId): its server is kept for it, and after a transaction
    // that drew, lingers with it (pinning/sequence_draws.hpp).
    pinning::SequenceDraws sequence_draws_;
    bool lingering_ = false;
    std::uint64_t linger_generation_ = 0;  // the linger linger_timer_ ends
    std::unique_ptr<boost::asio::steady_timer> linger_timer_;
    // A ParameterStatus to send the client instead of the server's (see
    // SessionState::on_parameter_status).
    std::string parameter_status_for_client_;
    std::vector<std::string> unconfirmed_prepares_;  // SQL PREPAREs awaiting CommandComplete
    // SQL DEALLOCATEs awaiting CommandComplete: their statements, put back if
    // the server does not run them (a failed transaction, an earlier error).
    std::vector<std::pair<std::string, std::shared_ptr<const statements::PreparedStatement>>>
        unconfirmed_deallocates_;
    // DEALLOCATE ALL / DISCARD ALL awaiting CommandComplete: the client's
    // statements before it, put back if it fails (DISCARD ALL in a transaction).
    std::optional<
        std::unordered_map<std::string, std::shared_ptr<const statements::PreparedStatement>>>
        unconfirmed_discard_;
    struct TextEdit {
        std::size_t at, old_length, new_length;
    };
    std::vector<TextEdit> last_edits_;
    // A re-PREPARE pgmux injected failed (the table is gone): the client's
    // EXECUTE then fails too, and is shown this error, as PostgreSQL would.
    std::string substitute_error_;
    // The client messages of the last request that may run again after a
    // plan invalidation: from the first Bind of a batch begun while idle to
    // its Sync, or an EXECUTE Query. Reused; at most kMaxRetryBatch bytes.
    enum class RetryRecording : std::uint8_t { kOff, kRecording, kComplete };
    RetryRecording retry_recording_ = RetryRecording::kOff;
    std::string retry_batch_;
    bool batch_bound_ = false;              // a Bind or Execute was sent since the last Sync
    bool unnamed_parsed_in_batch_ = false;  // a Parse of the unnamed statement, ditto
    bool rerunning_ = false;                // messages come from retry_batch_, not the client
    // Portal -> what executing it does (cleared when the transaction ends).
    struct PortalInfo {
        std::shared_ptr<const parser::Classification> classification;
        std::shared_ptr<const std::vector<std::optional<std::string>>> bind_values;
    };
    std::unordered_map<std::string, PortalInfo> portals_;
    pinning::OnPin on_pin_ = pinning::OnPin::allow;
    bool unsynced_ = false;            // extended-protocol messages sent since the last Sync
    bool discard_until_sync_ = false;  // after a failure answered locally
    Clock::time_point ready_at_;       // when the last ReadyForQuery arrived
    char tx_status_ = 'I';
    // Set by a message handler that forwards its message byte for byte and
    // nothing else: the bytes go to the server straight from the read buffer.
    bool forward_verbatim_ = false;
    bool closing_ = false;
    bool finished_ = false;
    bool client_half_closed_ = false;  // see wait_for_owed_replies()
    bool fatal_forwarded_ = false;
    std::optional<CloseReason> close_reason_;
};

}  // namespace pgmux::session
