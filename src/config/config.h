// pgmux configuration: command-line flags layered over an optional TOML file.
// Parsing throws ConfigError with a message naming the offending key; main()
// prints it and exits with status 2.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace pgmux::net {
class TlsContext;
}

namespace pgmux::config {

struct ConfigError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

enum class PoolMode { kTransaction, kSession };
enum class AuthType { kTrust, kCleartext, kMd5, kScramSha256 };
enum class PinPolicy { kAllow, kWarn, kReject };
enum class LogLevel { kDebug, kInfo, kWarn, kError };
// TLS towards clients (pgmux is the TLS server), PgBouncer's names.
enum class ClientTlsMode { kDisable, kAllow, kPrefer, kRequire };
// TLS towards PostgreSQL servers (pgmux is the TLS client), libpq's names.
enum class ServerTlsMode { kDisable, kPrefer, kRequire, kVerifyCa, kVerifyFull };

struct Endpoint {
    std::string host;
    std::uint16_t port = 0;
};

// One logical database clients can name. With --upstream every name maps to
// the same server (the wildcard entry).
struct DatabaseConfig {
    std::string name;                        // what clients put in the startup packet ("*" = any)
    Endpoint server;                         // where it lives
    std::string server_dbname;               // empty: the name the client used
    std::optional<std::string> server_user;  // force a server login user
    std::optional<std::string> server_password;  // password for the server login
    std::optional<int> pool_size;
    std::optional<int> min_pool_size;
    std::optional<PoolMode> pool_mode;
    std::optional<PinPolicy> on_pin;
    std::optional<AuthType> auth_type;     // how clients of this database log in
    std::optional<std::string> auth_user;  // auth_query user for this database
};

// Settings for one client user name, whichever database it names
// ([users.NAME] in the file). They take precedence over the database's.
struct UserConfig {
    std::string name;
    std::optional<AuthType> auth_type;  // how this user logs in
};

using Seconds = std::chrono::duration<double>;

// TCP keepalive on client and server sockets, PgBouncer's keys and defaults:
// on, with the operating system's timings unless given. It finds peers that
// vanished without closing (a killed pod, a dropped NAT mapping) on a quiet
// connection. 0 leaves a timing to the operating system.
struct TcpOptions {
    bool keepalive = true;
    int keepidle = 0;         // seconds idle before the first probe
    int keepintvl = 0;        // seconds between probes
    int keepcnt = 0;          // unanswered probes before the connection is dropped
    int user_timeout_ms = 0;  // TCP_USER_TIMEOUT: unacknowledged data for this long drops it
};

struct Config {
    Endpoint listen{"127.0.0.1", 6432};
    std::vector<DatabaseConfig> databases;
    std::vector<UserConfig> users;
    int pool_size = 20;
    int min_pool_size = 0;
    PoolMode pool_mode = PoolMode::kTransaction;
    PinPolicy on_pin = PinPolicy::kAllow;
    int workers = 1;
    int max_client_conn = 10000;
    AuthType auth_type = AuthType::kTrust;
    std::string auth_file;
    std::optional<std::string> server_password;
    // auth_query (as PgBouncer's): with auth_user set, secrets of users missing
    // from auth_file are looked up in the server with this parameterised query
    // (run as auth_user in auth_dbname, default the client's database) and
    // cached for auth_cache_ttl.
    std::string auth_user;
    std::string auth_query = "SELECT usename, passwd FROM pg_catalog.pg_shadow WHERE usename = $1";
    std::string auth_dbname;
    Seconds auth_cache_ttl{30};

    Seconds query_wait_timeout{120};
    Seconds client_login_timeout{60};
    Seconds server_connect_timeout{15};
    Seconds server_idle_timeout{600};
    Seconds server_lifetime{3600};
    Seconds shutdown_timeout{30};
    TcpOptions tcp;
    std::size_t max_message_bytes = 64u * 1024u * 1024u;
    std::size_t statement_cache_size = 1024;
    // Prepared statements each server connection keeps (LRU; evicting one
    // sends Close). PgBouncer's name for the same bound.
    std::size_t max_prepared_statements = 1024;

    // TLS (docs/tls.md). Files are loaded when the proxy starts and on reload.
    ClientTlsMode client_tls_sslmode = ClientTlsMode::kDisable;
    std::string client_tls_cert_file;
    std::string client_tls_key_file;
    std::string client_tls_ca_file;
    std::string client_tls_ciphers;  // TLS 1.2 cipher list; empty: OpenSSL's default
    ServerTlsMode server_tls_sslmode = ServerTlsMode::kDisable;
    std::string server_tls_ca_file;
    std::string server_tls_cert_file;
    std::string server_tls_key_file;
    std::string server_tls_ciphers;
    // The OpenSSL contexts built from the keys above when the configuration is
    // parsed or reloaded (nullptr: that leg has TLS disabled). A reload builds
    // new ones; connections keep the context they started with.
    std::shared_ptr<const net::TlsContext> client_tls;
    std::shared_ptr<const net::TlsContext> server_tls;

    std::optional<Endpoint> admin_listen;
    std::string admin_token;
    LogLevel log_level = LogLevel::kInfo;

    std::string config_path;  // remembered for SIGHUP reload

    // The database entry clients naming `dbname` are routed to, if any.
    [[nodiscard]] const DatabaseConfig* find_database(const std::string& dbname) const;
    [[nodiscard]] int pool_size_for(const DatabaseConfig& db) const {
        return db.pool_size.value_or(pool_size);
    }
    [[nodiscard]] int min_pool_size_for(const DatabaseConfig& db) const {
        return db.min_pool_size.value_or(min_pool_size);
    }
    [[nodiscard]] PoolMode pool_mode_for(const DatabaseConfig& db) const {
        return db.pool_mode.value_or(pool_mode);
    }
    [[nodiscard]] AuthType auth_type_for(const DatabaseConfig* db) const {
        return db != nullptr ? db->auth_type.value_or(auth_type) : auth_type;
    }
    // The user's own auth_type, else the database's, else the global one.
    [[nodiscard]] AuthType auth_type_for(const DatabaseConfig* db, const std::string& user) const {
        const UserConfig* u = find_user(user);
        return u != nullptr && u->auth_type ? *u->auth_type : auth_type_for(db);
    }
    [[nodiscard]] const UserConfig* find_user(const std::string& user) const;
    [[nodiscard]] const std::string& auth_user_for(const DatabaseConfig* db) const {
        return db != nullptr && db->auth_user ? *db->auth_user : auth_user;
    }
};

// Parses argv (flags override the file named by --config). Throws ConfigError.
// Returns nullopt when --help was printed.
[[nodiscard]] std::optional<Config> parse_command_line(int argc, char** argv);

// Loads only the file, layered under the flags that were given originally;
// used on SIGHUP. Throws ConfigError.
[[nodiscard]] Config reload(const Config& current, const std::vector<std::string>& original_args);

[[nodiscard]] Endpoint parse_endpoint(const std::string& text, const std::string& key);
[[nodiscard]] const char* to_string(PoolMode m) noexcept;
[[nodiscard]] const char* to_string(AuthType a) noexcept;
[[nodiscard]] const char* to_string(ClientTlsMode m) noexcept;
[[nodiscard]] const char* to_string(ServerTlsMode m) noexcept;

}  // namespace pgmux::config
