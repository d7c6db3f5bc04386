#pragma once
// One client's session state as PostgreSQL would hold it on a dedicated connection: its
// settings (startup baseline + confirmed changes, with PostgreSQL's transactional rules)
// and the state that pins it to a server connection.
//
// The proxy drives it with server-confirmed events only:
//   on_statement_succeeded(stmt)   CommandComplete for a classified statement
//   on_statement_failed()          ErrorResponse (for any statement, classified or not)
//   on_parameter_status(n, v)      ParameterStatus the client's own statements caused (not
//                                  the startup burst, not replies to pgmux's replays)
//   on_ready_for_query(status)     end of a query cycle ('I', 'T', 'E')
// Statements the prefilter let through need not be fed on success. Not thread-safe: it
// belongs to the client session (one worker thread).

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pgmux/parser/statement.hpp"
#include "pgmux/pinning/pin_reason.hpp"
#include "pgmux/pinning/settings.hpp"
#include "pgmux/pinning/startup.hpp"
#include "pgmux/pinning/verification.hpp"

namespace pgmux::pinning {

// Bind parameter values in text form, indexed by parameter number - 1 (nullopt: NULL or
// binary, i.e. unknown to pgmux).
using BindValues = std::span<const std::optional<std::string_view>>;

struct PinTransitions {
    PinSet started;
    PinSet ended;
    // For each started reason: the trimmed text of the statement that caused it.
    std::array<std::string, kPinReasonCount> causes;
    [[nodiscard]] bool empty() const noexcept { return started.empty() && ended.empty(); }
};

class SessionState {
  public:
    explicit SessionState(const StartupParameters& startup);

    // --- driving -------------------------------------------------------------------------
    void on_statement_succeeded(const parser::Statement& stmt, BindValues params = {});
    void on_statement_failed() noexcept;
    void on_ready_for_query(char status);
    // Returns the value the client must be told instead, when the server reported its own
    // default for a setting it reset where the client's is a startup value (which pgmux sets
    // on the server again before the client's next statement).
    std::optional<std::string> on_parameter_status(std::string_view name, std::string_view value);
    // The pool runs in session mode: the client keeps its server for the whole session.
    void set_session_mode(bool on) noexcept { session_mode_ = on; }
    // The client's next transaction got a (possibly different) server connection.
    void on_attached() noexcept { temp_namespace_created_ = false; }
    // Settings the server itself reset (RESET x, SET x TO DEFAULT, RESET ALL, DISCARD ALL)
    // since the last call: it now holds its own default there, which for a client's startup
    // parameter is not the client's value (pgmux logged the server in, not the client).
    struct ServerResets {
        bool all = false;
        std::vector<std::string> names;
        [[nodiscard]] bool any() const noexcept { return all || !names.empty(); }
    };
    [[nodiscard]] bool has_server_resets() const noexcept { return server_resets_.any(); }
    [[nodiscard]] ServerResets take_server_resets() { return std::exchange(server_resets_, {}); }
    // The server answered verification_sql(); replaces the predicted counts it checked.
    void apply_verification(const VerificationResult& result);

    // --- reading -------------------------------------------------------------------------
    // Current settings (what the server has now, staged changes included) and the startup
    // baseline RESET returns to.
    [[nodiscard]] const SettingsMap& settings() const noexcept { return tx_.settings; }
    [[nodiscard]] const SettingsMap& baseline() const noexcept { return baseline_.settings; }
    [[nodiscard]] const StartupBaseline& startup() const noexcept { return baseline_; }
    // Bumped whenever settings() changes; with id() it lets ServerSettings skip copies.
    [[nodiscard]] std::uint64_t settings_version() const noexcept { return settings_version_; }
    [[nodiscard]] std::uint64_t id() const noexcept { return id_; }

    [[nodiscard]] PinSet pins() const noexcept;
    [[nodiscard]] bool pinned() const noexcept { return !pins().empty(); }
    // Pins that started/ended since the last call (for logs and statistics).
    [[nodiscard]] PinTransitions take_pin_transitions();
    // Whether take_pin_transitions() would report anything (cheap, for every transaction).
    [[nodiscard]] bool pins_changed() const noexcept { return pins() != reported_; }
    // A statement that may have ended a pin succeeded: run VerificationQuery at idle before
    // the server may be released.
    [[nodiscard]] bool needs_verification() const noexcept { return needs_verification_; }
    // The VerificationQuery for the pins in doubt (only those are checked).
    [[nodiscard]] std::string verification_sql() const;
    // The model believes a transaction block is open (BEGIN seen, no COMMIT/ROLLBACK yet).
    [[nodiscard]] bool in_transaction_block() const noexcept;

    [[nodiscard]] std::int64_t temp_objects() const noexcept { return tx_.temp_objects; }
    [[nodiscard]] std::size_t hold_cursors() const noexcept;
    [[nodiscard]] const std::set<std::string, std::less<>>& listen_channels() const noexcept {
        return tx_.listen_channels;
    }
    [[nodiscard]] std::int64_t advisory_locks() const noexcept { return advisory_locks_; }
    // A temp object was created since on_attached(): that server keeps a pg_temp schema.
    [[nodiscard]] bool temp_namespace_created() const noexcept { return temp_namespace_created_; }
    // nextval/setval ran: currval/lastval now depend on this server (affinity helps).
    [[nodiscard]] bool sequence_state_used() const noexcept { return sequence_state_used_; }

  private:
    // What a transaction (or savepoint) rollback restores.
    struct TxState {
        SettingsMap settings;
        std::int64_t temp_objects = 0;
        std::set<std::string, std::less<>> hold_cursors;
        std::set<std::string, std::less<>> listen_channels;
    };
    struct Level {
        enum class Kind : std::uint8_t { implicit, block, savepoint };
        Kind kind = Kind::implicit;
        std::string savepoint;
        std::optional<TxState> saved;  // TxState when this level began; taken lazily
    };

    TxState& mutable_tx();  // snapshots the state for the innermost level before a change
    void ensure_level();
    void ensure_block();
    void commit_all();
    void rollback_from(std::size_t level);  // undo levels [level, end) and pop them
    void release_from(std::size_t level);   // merge levels [level, end) into level - 1
    [[nodiscard]] std::optional<std::size_t> find_savepoint(std::string_view name) const;

    void apply_transaction_control(const parser::Statement& stmt);
    void apply_settings(const parser::Statement& stmt, BindValues params);
    void apply_pins(const parser::Statement& stmt);
    void apply_functions(const parser::Statement& stmt);
    void set_setting(const std::string& name, SettingValue value);
    void reset_setting(const std::string& name);
    void reset_all_settings();
    void reset_role_after_authorization_change();
    void note_cause(PinReason reason, const parser::Statement& stmt);
    void touch(std::string_view name);
    void unknown_change(const parser::Statement& stmt);

    StartupBaseline baseline_;
    TxState tx_;
    std::vector<Level> levels_;
    bool failed_ = false;  // the transaction block is aborted ('E')

    std::int64_t advisory_locks_ = 0;
    std::int64_t unknown_hold_cursors_ = 0;  // reported by verification, names unknown
    bool load_ = false;
    bool unknown_ = false;
    bool unparsed_ = false;
    bool session_mode_ = false;
    bool temp_uncertain_ = false;
    bool cursor_uncertain_ = false;
    bool advisory_uncertain_ = false;
    bool listen_uncertain_ = false;
    bool needs_verification_ = false;
    bool temp_namespace_created_ = false;
    bool sequence_state_used_ = false;

    // Settings a confirmed statement touched in this query cycle; ParameterStatus for other
    // names means something pgmux did not see (a function) changed them.
    std::vector<std::string> touched_;
    bool touched_all_ = false;
    ServerResets server_resets_;

    PinSet reported_;
    PinCauses causes_;
    std::uint64_t settings_version_ = 0;
    std::uint64_t id_;
};

}  // namespace pgmux::pinning
