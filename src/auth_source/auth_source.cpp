#include "auth_source/auth_source.h"

#include <stdexcept>

#include "runtime/log.h"

namespace pgmux::auth_source {

namespace {

// Verifiers derived for users whose auth-file secret is a plaintext password.
constexpr std::size_t kVerifierCacheCapacity = 10000;

auth::MockScramSecrets create_mocks() {
    auto mocks = auth::MockScramSecrets::create();
    if (!mocks) throw std::runtime_error("cannot initialise SCRAM: random number generator failed");
    return std::move(*mocks);
}

std::unique_ptr<auth::VerifierCache> create_verifier_cache() {
    auto cache = auth::VerifierCache::create(kVerifierCacheCapacity);
    if (!cache) throw std::runtime_error("cannot initialise SCRAM: random number generator failed");
    return std::move(*cache);
}

std::chrono::milliseconds to_ms(config::Seconds s) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(s);
}

}  // namespace

AuthSource::AuthSource(const config::Config& config)
    : userlist_(load(config)), mocks_(create_mocks()), verifier_cache_(create_verifier_cache()) {}

std::shared_ptr<const auth::Userlist> AuthSource::load(const config::Config& config) {
    if (config.auth_file.empty()) return std::make_shared<const auth::Userlist>();
    auto list = auth::load_userlist_file(config.auth_file);
    if (!list) {
        const auto& e = list.error();
        // The message names the problem, never the secret.
        throw config::ConfigError("cannot load auth_file " + config.auth_file +
                                  (e.line > 0 ? ": line " + std::to_string(e.line) : "") + ": " +
                                  e.message);
    }
    return std::make_shared<const auth::Userlist>(std::move(list).value());
}

void AuthSource::reload(const config::Config& config) {
    auto fresh = load(config);
    {
        std::lock_guard lock(mu_);
        userlist_ = std::move(fresh);
    }
    auth_query_.reset();
}

std::shared_ptr<const auth::Userlist> AuthSource::userlist() const {
    std::lock_guard lock(mu_);
    return userlist_;
}

void AuthSource::add_server_credentials(backend::ServerTarget& target) const {
    if (target.password) return;
    const auto list = userlist();
    const auth::Secret* secret = list->find(target.user);
    if (secret == nullptr) return;
    if (secret->kind() == auth::SecretKind::plaintext) target.password = secret->text();
    if (secret->kind() == auth::SecretKind::md5) target.md5_hash = secret->text();
    // A SCRAM verifier cannot log in by itself: pass-through keys come from
    // the first client that proves the password.
}

boost::asio::awaitable<SecretLookup> AuthSource::find(boost::asio::any_io_executor executor,
                                                      const config::Config& config,
                                                      const config::DatabaseConfig* db,
                                                      const std::string& database,
                                                      const std::string& user) {
    const auto list = userlist();
    if (const auth::Secret* secret = list->find(user)) {
        co_return SecretLookup{LookupStatus::kFound, *secret, false};
    }
    const std::string& auth_user = config.auth_user_for(db);
    if (auth_user.empty() || db == nullptr) {
        co_return SecretLookup{LookupStatus::kNotFound, std::nullopt, false};
    }
    AuthQueryRequest request;
    auto& t = request.target;
    t.endpoint = db->server;
    t.user = auth_user;
    // The lookup runs where the client's database lives unless told otherwise.
    t.database = !config.auth_dbname.empty() ? config.auth_dbname
                 : db->server_dbname.empty() ? database
                                             : db->server_dbname;
    // The auth user's own entry in the auth file wins over configured passwords.
    t.password = db->server_password ? db->server_password : config.server_password;
    if (const auth::Secret* own = list->find(auth_user)) {
        if (own->kind() == auth::SecretKind::plaintext) t.password = own->text();
        if (own->kind() == auth::SecretKind::md5) {
            t.password.reset();
            t.md5_hash = own->text();
        }
    }
    t.tls = {config.server_tls_sslmode, config.server_tls};
    t.connect_timeout = to_ms(config.server_connect_timeout);
    t.max_message_bytes = config.max_message_bytes;
    t.tcp = config.tcp;
    request.query = config.auth_query;
    request.user = user;
    request.timeout = to_ms(config.client_login_timeout);
    request.cache_ttl = to_ms(config.auth_cache_ttl);
    co_return co_await auth_query_.lookup(std::move(executor), request);
}

}  // namespace pgmux::auth_source
