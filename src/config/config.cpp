#include "config/config.h"

#include <algorithm>

#include <charconv>
#include <cstdio>
#include <iostream>
#include <set>
#include <sstream>

#define TOML_EXCEPTIONS 1
#include <toml++/toml.h>

#include "net/tls.h"

namespace pgmux::config {
namespace {

// Flags and top-level file keys share one namespace: "--pool-size" is the
// file's "pool_size". Values stay strings until apply_setting() converts them,
// so both sources get the same validation and the same error messages.
using Settings = std::map<std::string, std::string>;

const std::set<std::string>& known_keys() {
    static const std::set<std::string> keys = {"listen",
                                               "upstream",
                                               "pool_size",
                                               "min_pool_size",
                                               "pool_mode",
                                               "workers",
                                               "auth_type",
                                               "auth_file",
                                               "auth_user",
                                               "auth_query",
                                               "auth_dbname",
                                               "auth_cache_ttl",
                                               "config",
                                               "admin_listen",
                                               "admin_token",
                                               "max_client_conn",
                                               "query_wait_timeout",
                                               "client_login_timeout",
                                               "server_connect_timeout",
                                               "server_idle_timeout",
                                               "server_lifetime",
                                               "shutdown_timeout",
                                               "server_password",
                                               "log_level",
                                               "on_pin",
                                               "max_message_bytes",
                                               "statement_cache_size",
                                               "max_prepared_statements",
                                               "client_tls_sslmode",
                                               "client_tls_cert_file",
                                               "client_tls_key_file",
                                               "client_tls_ca_file",
                                               "client_tls_ciphers",
                                               "server_tls_sslmode",
                                               "server_tls_ca_file",
                                               "server_tls_cert_file",
                                               "server_tls_key_file",
                                               "server_tls_ciphers",
                                               "tcp_keepalive",
                                               "tcp_keepidle",
                                               "tcp_keepintvl",
                                               "tcp_keepcnt",
                                               "tcp_user_timeout"};
    return keys;
}

constexpr const char* kUsage =
    "usage: pgmux --listen HOST:PORT --upstream HOST:PORT [options]\n"
    "  --pool-size N             server connections per (database, user) (20)\n"
    "  --min-pool-size N         connections kept open per pool (0)\n"
    "  --pool-mode MODE          transaction | session (transaction)\n"
    "  --workers N               worker threads (1)\n"
    "  --auth-type TYPE          trust | cleartext | md5 | scram-sha-256 (trust)\n"
    "  --auth-file PATH          PgBouncer-style userlist.txt\n"
    "  --auth-user USER          look up secrets of users missing from auth_file in the server\n"
    "  --auth-query SQL          lookup query, $1 = user name (SELECT usename, passwd FROM\n"
    "                            pg_catalog.pg_shadow WHERE usename = $1)\n"
    "  --auth-dbname DB          database the lookup runs in (the client's)\n"
    "  --auth-cache-ttl S        seconds a looked-up secret is reused (30)\n"
    "  --server-password PW      password pgmux uses to log in to servers\n"
    "  --max-client-conn N       client connections accepted in total (10000)\n"
    "  --query-wait-timeout S    seconds a client may wait for a server (120)\n"
    "  --client-login-timeout S  seconds a client may take to log in (60)\n"
    "  --server-connect-timeout S, --server-idle-timeout S, --server-lifetime S,\n"
    "  --shutdown-timeout S\n"
    "  --on-pin POLICY           allow | warn | reject (allow)\n"
    "  --max-prepared-statements N  statements kept per server connection (1024)\n"
    "  --admin-listen HOST:PORT  HTTP admin API (off unless given)\n"
    "  --admin-token TOKEN       bearer token required by the admin API\n"
    "  --log-level LEVEL         debug | info | warn | error (info)\n"
    "  --client-tls-sslmode MODE disable | allow | prefer | require (disable)\n"
    "  --client-tls-cert-file PATH, --client-tls-key-file PATH, --client-tls-ca-file PATH,\n"
    "  --client-tls-ciphers LIST certificate, key, CA and TLS 1.2 ciphers towards clients\n"
    "  --server-tls-sslmode MODE disable | prefer | require | verify-ca | verify-full (disable)\n"
    "  --server-tls-ca-file PATH, --server-tls-cert-file PATH, --server-tls-key-file PATH,\n"
    "  --server-tls-ciphers LIST CA, client certificate, key and ciphers towards servers\n"
    "  --tcp-keepalive BOOL      TCP keepalive on client and server sockets (true)\n"
    "  --tcp-keepidle S, --tcp-keepintvl S, --tcp-keepcnt N\n"
    "                            keepalive timings (0: the operating system's)\n"
    "  --tcp-user-timeout MS     TCP_USER_TIMEOUT on those sockets (0: off)\n"
    "  --config FILE             TOML file with everything above and [databases.NAME]\n";

int to_int(const std::string& key, const std::string& v, int min, int max) {
    int out = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc{} || p != v.data() + v.size() || out < min || out > max) {
        throw ConfigError("invalid value for '" + key + "': expected an integer between " +
                          std::to_string(min) + " and " + std::to_string(max) + ", got '" + v +
                          "'");
    }
    return out;
}

bool to_bool(const std::string& key, const std::string& v) {
    if (v == "true" || v == "1" || v == "on" || v == "yes") return true;
    if (v == "false" || v == "0" || v == "off" || v == "no") return false;
    throw ConfigError("invalid value for '" + key + "': expected true or false, got '" + v + "'");
}

Seconds to_seconds(const std::string& key, const std::string& v) {
    try {
        std::size_t used = 0;
        const double d = std::stod(v, &used);
        if (used == v.size() && d >= 0) return Seconds{d};
    } catch (const std::exception&) {
    }
    throw ConfigError("invalid value for '" + key + "': expected seconds (a number >= 0), got '" +
                      v + "'");
}

PoolMode to_pool_mode(const std::string& key, const std::string& v) {
    if (v == "transaction") return PoolMode::kTransaction;
    if (v == "session") return PoolMode::kSession;
    throw ConfigError("invalid value for '" + key + "': expected transaction or session, got '" +
                      v + "'");
}

PinPolicy to_pin_policy(const std::string& key, const std::string& v) {
    if (v == "allow") return PinPolicy::kAllow;
    if (v == "warn") return PinPolicy::kWarn;
    if (v == "reject") return PinPolicy::kReject;
    throw ConfigError("invalid value for '" + key + "': expected allow, warn or reject, got '" + v +
                      "'");
}

AuthType to_auth_type(const std::string& key, const std::string& v) {
    if (v == "trust") return AuthType::kTrust;
    if (v == "cleartext" || v == "plain" || v == "password") return AuthType::kCleartext;
    if (v == "md5") return AuthType::kMd5;
    if (v == "scram-sha-256") return AuthType::kScramSha256;
    throw ConfigError("invalid value for '" + key +
                      "': expected trust, cleartext, md5 or scram-sha-256, got '" + v + "'");
}

LogLevel to_log_level(const std::string& key, const std::string& v) {
    if (v == "debug") return LogLevel::kDebug;
    if (v == "info") return LogLevel::kInfo;
    if (v == "warn" || v == "warning") return LogLevel::kWarn;
    if (v == "error") return LogLevel::kError;
    throw ConfigError("invalid value for '" + key + "': expected debug, info, warn or error");
}

ClientTlsMode to_client_tls_mode(const std::string& key, const std::string& v) {
    if (v == "disable") return ClientTlsMode::kDisable;
    if (v == "allow") return ClientTlsMode::kAllow;
    if (v == "prefer") return ClientTlsMode::kPrefer;
    if (v == "require") return ClientTlsMode::kRequire;
    throw ConfigError("invalid value for '" + key +
                      "': expected disable, allow, prefer or require, got '" + v + "'");
}

ServerTlsMode to_server_tls_mode(const std::string& key, const std::string& v) {
    if (v == "disable") return ServerTlsMode::kDisable;
    if (v == "prefer") return ServerTlsMode::kPrefer;
    if (v == "require") return ServerTlsMode::kRequire;
    if (v == "verify-ca") return ServerTlsMode::kVerifyCa;
    if (v == "verify-full") return ServerTlsMode::kVerifyFull;
    throw ConfigError("invalid value for '" + key +
                      "': expected disable, prefer, require, verify-ca or verify-full, got '" + v +
                      "'");
}

std::string scalar_to_string(const std::string& key, const toml::node& node) {
    if (auto s = node.value<std::string>()) return *s;
    if (node.is_integer()) return std::to_string(*node.value<std::int64_t>());
    if (node.is_floating_point()) {
        std::ostringstream o;
        o << *node.value<double>();
        return o.str();
    }
    if (auto b = node.value<bool>()) return *b ? "true" : "false";
    throw ConfigError("invalid value for '" + key + "': expected a string or a number");
}

DatabaseConfig parse_database(const std::string& name, const toml::table& t) {
    DatabaseConfig db;
    db.name = name;
    const std::string prefix = "databases." + name + ".";
    std::string host = "127.0.0.1";
    int port = 5432;
    for (const auto& [k, node] : t) {
        const std::string key(k.str());
        const std::string full = prefix + key;
        const std::string v = scalar_to_string(full, node);
        if (key == "host")
            host = v;
        else if (key == "port")
            port = to_int(full, v, 1, 65535);
        else if (key == "dbname")
            db.server_dbname = v;
        else if (key == "user")
            db.server_user = v;
        else if (key == "password")
            db.server_password = v;
        else if (key == "pool_size")
            db.pool_size = to_int(full, v, 1, 100000);
        else if (key == "min_pool_size")
            db.min_pool_size = to_int(full, v, 0, 100000);
        else if (key == "pool_mode")
            db.pool_mode = to_pool_mode(full, v);
        else if (key == "on_pin")
            db.on_pin = to_pin_policy(full, v);
        else if (key == "auth_type")
            db.auth_type = to_auth_type(full, v);
        else if (key == "auth_user")
            db.auth_user = v;
        else if (key == "upstream") {
            auto e = parse_endpoint(v, full);
            host = e.host;
            port = e.port;
        } else
            throw ConfigError("unknown key '" + full + "'");
    }
    db.server = {host, static_cast<std::uint16_t>(port)};
    return db;
}

UserConfig parse_user(const std::string& name, const toml::table& t) {
    UserConfig user;
    user.name = name;
    for (const auto& [k, node] : t) {
        const std::string key(k.str());
        const std::string full = "users." + name + "." + key;
        const std::string v = scalar_to_string(full, node);
        if (key == "auth_type")
            user.auth_type = to_auth_type(full, v);
        else
            throw ConfigError("unknown key '" + full + "'");
    }
    return user;
}

// Reads the file into `settings` (top-level keys), `databases` and `users`.
void load_file(const std::string& path, Settings& settings, std::vector<DatabaseConfig>& dbs,
               std::vector<UserConfig>& users) {
    toml::table root;
    try {
        root = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
        std::ostringstream o;
        o << "cannot parse config file " << path << ": " << e.description() << " (line "
          << e.source().begin.line << ")";
        throw ConfigError(o.str());
    }
    for (const auto& [k, node] : root) {
        const std::string key(k.str());
        if (key == "databases") {
            const auto* table = node.as_table();
            if (table == nullptr)
                throw ConfigError("invalid value for 'databases': expected a table");
            for (const auto& [dbname, dbnode] : *table) {
                const auto* dbt = dbnode.as_table();
                const std::string name(dbname.str());
                if (dbt == nullptr) {
                    throw ConfigError("invalid value for 'databases." + name +
                                      "': expected a table");
                }
                dbs.push_back(parse_database(name, *dbt));
            }
            continue;
        }
        if (key == "users") {
            const auto* table = node.as_table();
            if (table == nullptr) throw ConfigError("invalid value for 'users': expected a table");
            for (const auto& [username, usernode] : *table) {
                const auto* ut = usernode.as_table();
                const std::string name(username.str());
                if (ut == nullptr) {
                    throw ConfigError("invalid value for 'users." + name + "': expected a table");
                }
                users.push_back(parse_user(name, *ut));
            }
            continue;
        }
        if (key == "admin" || key == "auth") {
            // Nested sections are sugar for prefixed top-level keys.
            const auto* table = node.as_table();
            if (table == nullptr)
                throw ConfigError("invalid value for '" + key + "': expected a table");
            for (const auto& [sub, subnode] : *table) {
                const std::string flat = key + "_" + std::string(sub.str());
                const std::string full = key + "." + std::string(sub.str());
                if (!known_keys().contains(flat)) throw ConfigError("unknown key '" + full + "'");
                settings[flat] = scalar_to_string(full, subnode);
            }
            continue;
        }
        if (!known_keys().contains(key) || key == "config") {
            throw ConfigError("unknown key '" + key + "' in " + path);
        }
        settings[key] = scalar_to_string(key, node);
    }
}

void apply_settings(Config& c, const Settings& s) {
    for (const auto& [key, v] : s) {
        if (key == "listen")
            c.listen = parse_endpoint(v, key);
        else if (key == "upstream") {
            DatabaseConfig any;
            any.name = "*";
            any.server = parse_endpoint(v, key);
            c.databases.push_back(any);
        } else if (key == "pool_size")
            c.pool_size = to_int(key, v, 1, 100000);
        else if (key == "min_pool_size")
            c.min_pool_size = to_int(key, v, 0, 100000);
        else if (key == "pool_mode")
            c.pool_mode = to_pool_mode(key, v);
        else if (key == "workers")
            c.workers = to_int(key, v, 1, 256);
        else if (key == "auth_type")
            c.auth_type = to_auth_type(key, v);
        else if (key == "auth_file")
            c.auth_file = v;
        else if (key == "auth_user")
            c.auth_user = v;
        else if (key == "auth_query")
            c.auth_query = v;
        else if (key == "auth_dbname")
            c.auth_dbname = v;
        else if (key == "auth_cache_ttl")
            c.auth_cache_ttl = to_seconds(key, v);
        else if (key == "admin_listen")
            c.admin_listen = parse_endpoint(v, key);
        else if (key == "admin_token")
            c.admin_token = v;
        else if (key == "max_client_conn")
            c.max_client_conn = to_int(key, v, 1, 1000000);
        else if (key == "query_wait_timeout")
            c.query_wait_timeout = to_seconds(key, v);
        else if (key == "client_login_timeout")
            c.client_login_timeout = to_seconds(key, v);
        else if (key == "server_connect_timeout")
            c.server_connect_timeout = to_seconds(key, v);
        else if (key == "server_idle_timeout")
            c.server_idle_timeout = to_seconds(key, v);
        else if (key == "server_lifetime")
            c.server_lifetime = to_seconds(key, v);
        else if (key == "shutdown_timeout")
            c.shutdown_timeout = to_seconds(key, v);
        else if (key == "server_password")
            c.server_password = v;
        else if (key == "log_level")
            c.log_level = to_log_level(key, v);
        else if (key == "on_pin")
            c.on_pin = to_pin_policy(key, v);
        else if (key == "max_message_bytes")
            c.max_message_bytes = static_cast<std::size_t>(to_int(key, v, 1024, 1 << 30));
        else if (key == "statement_cache_size")
            c.statement_cache_size = static_cast<std::size_t>(to_int(key, v, 1, 1000000));
        else if (key == "max_prepared_statements")
            c.max_prepared_statements = static_cast<std::size_t>(to_int(key, v, 1, 1000000));
        else if (key == "client_tls_sslmode")
            c.client_tls_sslmode = to_client_tls_mode(key, v);
        else if (key == "client_tls_cert_file")
            c.client_tls_cert_file = v;
        else if (key == "client_tls_key_file")
            c.client_tls_key_file = v;
        else if (key == "client_tls_ca_file")
            c.client_tls_ca_file = v;
        else if (key == "client_tls_ciphers")
            c.client_tls_ciphers = v;
        else if (key == "server_tls_sslmode")
            c.server_tls_sslmode = to_server_tls_mode(key, v);
        else if (key == "server_tls_ca_file")
            c.server_tls_ca_file = v;
        else if (key == "server_tls_cert_file")
            c.server_tls_cert_file = v;
        else if (key == "server_tls_key_file")
            c.server_tls_key_file = v;
        else if (key == "server_tls_ciphers")
            c.server_tls_ciphers = v;
        else if (key == "tcp_keepalive")
            c.tcp.keepalive = to_bool(key, v);
        else if (key == "tcp_keepidle")
            c.tcp.keepidle = to_int(key, v, 0, 32767);  // Linux's bound for these
        else if (key == "tcp_keepintvl")
            c.tcp.keepintvl = to_int(key, v, 0, 32767);
        else if (key == "tcp_keepcnt")
            c.tcp.keepcnt = to_int(key, v, 0, 127);
        else if (key == "tcp_user_timeout")
            c.tcp.user_timeout_ms = to_int(key, v, 0, 2147483647);
    }
}

// Flags as key/value pairs, in the order given; throws on unknown flags.
Settings parse_flags(const std::vector<std::string>& args, bool& help) {
    Settings out;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string a = args[i];
        if (a == "--help" || a == "-h") {
            help = true;
            continue;
        }
        if (a.rfind("--", 0) != 0) throw ConfigError("unexpected argument '" + a + "'");
        std::string value;
        bool has_value = false;
        if (auto eq = a.find('='); eq != std::string::npos) {
            value = a.substr(eq + 1);
            a = a.substr(0, eq);
            has_value = true;
        }
        std::string key = a.substr(2);
        for (auto& ch : key) {
            if (ch == '-') ch = '_';
        }
        if (!known_keys().contains(key)) throw ConfigError("unknown option '" + a + "'");
        if (!has_value) {
            if (i + 1 >= args.size()) throw ConfigError("option '" + a + "' needs a value");
            value = args[++i];
        }
        out[key] = value;
    }
    return out;
}

// Combinations that cannot work; the files themselves are loaded (and their
// errors reported with the key) when the TLS contexts are built.
void check_tls(const Config& c) {
    if (c.client_tls_sslmode != ClientTlsMode::kDisable) {
        if (c.client_tls_cert_file.empty() || c.client_tls_key_file.empty()) {
            throw ConfigError(std::string("invalid value for 'client_tls_sslmode': ") +
                              to_string(c.client_tls_sslmode) +
                              " needs 'client_tls_cert_file' and 'client_tls_key_file'");
        }
    }
    const bool verifies = c.server_tls_sslmode == ServerTlsMode::kVerifyCa ||
                          c.server_tls_sslmode == ServerTlsMode::kVerifyFull;
    if (verifies && c.server_tls_ca_file.empty()) {
        throw ConfigError(std::string("invalid value for 'server_tls_sslmode': ") +
                          to_string(c.server_tls_sslmode) + " needs 'server_tls_ca_file'");
    }
    if (c.server_tls_cert_file.empty() != c.server_tls_key_file.empty()) {
        throw ConfigError(
            "invalid value for 'server_tls_cert_file': 'server_tls_cert_file' and "
            "'server_tls_key_file' go together");
    }
}

Config build(const std::vector<std::string>& args, bool& help) {
    const Settings flags = parse_flags(args, help);
    Config c;
    Settings merged;
    std::vector<DatabaseConfig> file_dbs;
    if (auto it = flags.find("config"); it != flags.end()) {
        c.config_path = it->second;
        load_file(it->second, merged, file_dbs, c.users);
    }
    // Flags override the file; an --upstream flag replaces a file's upstream.
    for (const auto& [k, v] : flags) {
        if (k != "config") merged[k] = v;
    }
    apply_settings(c, merged);
    c.databases.insert(c.databases.begin(), file_dbs.begin(), file_dbs.end());
    if (c.databases.empty() && !help) {
        throw ConfigError("no upstream: give --upstream HOST:PORT or [databases.NAME] in --config");
    }
    if (c.min_pool_size > c.pool_size) {
        throw ConfigError("invalid value for 'min_pool_size': larger than pool_size");
    }
    // A password method needs somewhere to find secrets: the file or auth_query.
    auto check_auth = [&](const DatabaseConfig* db, const std::string& key) {
        const AuthType type = c.auth_type_for(db);
        if (type != AuthType::kTrust && c.auth_file.empty() && c.auth_user_for(db).empty()) {
            throw ConfigError("invalid value for '" + key + "': " + to_string(type) +
                              " needs 'auth_file' or 'auth_user'");
        }
    };
    check_auth(nullptr, "auth_type");
    for (const auto& db : c.databases) check_auth(&db, "databases." + db.name + ".auth_type");
    for (const auto& u : c.users) {
        const bool any_auth_user =
            !c.auth_user.empty() ||
            std::any_of(c.databases.begin(), c.databases.end(),
                        [](const DatabaseConfig& db) { return db.auth_user.has_value(); });
        if (u.auth_type && *u.auth_type != AuthType::kTrust && c.auth_file.empty() &&
            !any_auth_user) {
            throw ConfigError("invalid value for 'users." + u.name + ".auth_type': " +
                              to_string(*u.auth_type) + " needs 'auth_file' or 'auth_user'");
        }
    }
    check_tls(c);
    if (!help) {
        c.client_tls = net::TlsContext::for_clients(c);
        c.server_tls = net::TlsContext::for_servers(c);
    }
    if (c.auth_query.find("$1") == std::string::npos) {
        throw ConfigError("invalid value for 'auth_query': it must use $1 (the user name)");
    }
    return c;
}

}  // namespace

Endpoint parse_endpoint(const std::string& text, const std::string& key) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) {
        throw ConfigError("invalid value for '" + key + "': expected HOST:PORT, got '" + text +
                          "'");
    }
    std::string host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    const int port = to_int(key, text.substr(colon + 1), 0, 65535);
    return {host, static_cast<std::uint16_t>(port)};
}

const UserConfig* Config::find_user(const std::string& user) const {
    for (const auto& u : users) {
        if (u.name == user) return &u;
    }
    return nullptr;
}

const DatabaseConfig* Config::find_database(const std::string& dbname) const {
    const DatabaseConfig* wildcard = nullptr;
    for (const auto& db : databases) {
        if (db.name == dbname) return &db;
        if (db.name == "*" && wildcard == nullptr) wildcard = &db;
    }
    return wildcard;
}

std::optional<Config> parse_command_line(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    bool help = false;
    Config c = build(args, help);
    if (help) {
        std::fputs(kUsage, stdout);
        return std::nullopt;
    }
    return c;
}

Config reload(const Config& current, const std::vector<std::string>& original_args) {
    bool help = false;
    return build(original_args, help);
}

const char* to_string(PoolMode m) noexcept {
    return m == PoolMode::kSession ? "session" : "transaction";
}

const char* to_string(AuthType a) noexcept {
    switch (a) {
        case AuthType::kTrust:
            return "trust";
        case AuthType::kCleartext:
            return "cleartext";
        case AuthType::kMd5:
            return "md5";
        case AuthType::kScramSha256:
            return "scram-sha-256";
    }
    return "?";
}

const char* to_string(ClientTlsMode m) noexcept {
    switch (m) {
        case ClientTlsMode::kDisable:
            return "disable";
        case ClientTlsMode::kAllow:
            return "allow";
        case ClientTlsMode::kPrefer:
            return "prefer";
        case ClientTlsMode::kRequire:
            return "require";
    }
    return "?";
}

const char* to_string(ServerTlsMode m) noexcept {
    switch (m) {
        case ServerTlsMode::kDisable:
            return "disable";
        case ServerTlsMode::kPrefer:
            return "prefer";
        case ServerTlsMode::kRequire:
            return "require";
        case ServerTlsMode::kVerifyCa:
            return "verify-ca";
        case ServerTlsMode::kVerifyFull:
            return "verify-full";
    }
    return "?";
}

}  // namespace pgmux::config
