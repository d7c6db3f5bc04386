// auth_query (as PgBouncer's): looks a user's secret up in the server with a
// parameterised query, over connections of its own that carry no client
// startup parameters (so a client's search_path, role or options never reach
// the lookup), and caches answers for a short time. A lookup that misses the
// cache opens a connection as the auth user and closes it afterwards; at most
// kConnectionsPerPool run at once per (server, database, auth user).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "backend/server_connection.h"
#include "pgmux/auth/secret.hpp"
#include "pool/pool.h"

namespace pgmux::auth_source {

enum class LookupStatus {
    kFound,        // `secret` holds what the client must prove
    kNotFound,     // no such user, or one without a usable password
    kUnavailable,  // the lookup itself failed (server down, query error)
};

struct SecretLookup {
    LookupStatus status = LookupStatus::kNotFound;
    std::optional<auth::Secret> secret;
    bool from_auth_query = false;
};

struct AuthQueryRequest {
    backend::ServerTarget target;  // the auth connection: auth_user in its database
    std::string query;             // takes the user name as $1
    std::string user;              // whose secret is wanted
    std::chrono::milliseconds timeout{15000};
    std::chrono::milliseconds cache_ttl{30000};
};

class AuthQuery {
  public:
    // Bounds: cached answers, and pools (one per server, database and auth
    // user, each limiting concurrent lookups; least recently used dropped).
    static constexpr std::size_t kMaxCacheEntries = 10000;
    static constexpr std::size_t kMaxPools = 64;
    static constexpr int kConnectionsPerPool = 4;

    // Runs on the caller's executor. Never throws.
    boost::asio::awaitable<SecretLookup> lookup(boost::asio::any_io_executor executor,
                                                const AuthQueryRequest& request);

    // Forgets cached answers (SIGHUP: the auth user's password, the query or
    // the users' passwords may have changed).
    void reset();

  private:
    struct CacheEntry {
        std::string key;
        SecretLookup answer;
        std::chrono::steady_clock::time_point expires;
    };

    std::optional<SecretLookup> cached(const std::string& key);
    void remember(const std::string& key, const SecretLookup& answer,
                  std::chrono::milliseconds ttl);
    std::shared_ptr<pool::Pool> pool_for(const AuthQueryRequest& request,
                                         const std::string& pool_key);
    boost::asio::awaitable<SecretLookup> run_query(boost::asio::any_io_executor executor,
                                                   const AuthQueryRequest& request,
                                                   std::shared_ptr<pool::Pool> pool);

    std::mutex mu_;
    std::list<CacheEntry> lru_;  // most recently stored first
    std::unordered_map<std::string, std::list<CacheEntry>::iterator> index_;
    std::list<std::pair<std::string, std::shared_ptr<pool::Pool>>> pools_;  // most recent first
};

}  // namespace pgmux::auth_source
