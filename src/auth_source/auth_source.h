// Where pgmux finds the secrets clients must prove and the credentials it
// logs in to servers with: the auth file (PgBouncer's userlist.txt, loaded at
// start and on SIGHUP) and, for users not in it, auth_query.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <mutex>
#include <string>

#include "auth_source/auth_query.h"
#include "backend/server_connection.h"
#include "config/config.h"
#include "pgmux/auth/mock_secret.hpp"
#include "pgmux/auth/userlist.hpp"
#include "pgmux/auth/verifier_cache.hpp"

namespace pgmux::auth_source {

class AuthSource {
  public:
    // Reads the auth file named by `config` (if any) and draws the process's
    // random secrets. Throws config::ConfigError naming the file and line.
    explicit AuthSource(const config::Config& config);

    // SIGHUP: re-reads the auth file and forgets auth_query answers. Throws
    // config::ConfigError and keeps the current file when the new one is bad.
    void reload(const config::Config& config);

    // The secret a client logging in as `user` to `database` must prove:
    // the auth file first, then auth_query when an auth user is configured.
    // Unknown users are kNotFound; callers must treat them exactly like a
    // wrong password (mock exchange, same error).
    boost::asio::awaitable<SecretLookup> find(boost::asio::any_io_executor executor,
                                              const config::Config& config,
                                              const config::DatabaseConfig* db,
                                              const std::string& database, const std::string& user);

    // Fills the password / MD5 hash pgmux logs in to a server with as
    // `target.user` from the auth file, unless the target already has a
    // configured password.
    void add_server_credentials(backend::ServerTarget& target) const;

    [[nodiscard]] std::shared_ptr<const auth::Userlist> userlist() const;
    [[nodiscard]] const auth::MockScramSecrets& mocks() const noexcept { return mocks_; }
    [[nodiscard]] auth::VerifierCache* verifier_cache() noexcept { return verifier_cache_.get(); }

  private:
    static std::shared_ptr<const auth::Userlist> load(const config::Config& config);

    mutable std::mutex mu_;
    std::shared_ptr<const auth::Userlist> userlist_;
    auth::MockScramSecrets mocks_;
    std::unique_ptr<auth::VerifierCache> verifier_cache_;
    AuthQuery auth_query_;
};

}  // namespace pgmux::auth_source
