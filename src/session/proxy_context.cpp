#include "session/proxy_context.h"

namespace pgmux::session {

ProxyContext::ProxyContext(std::shared_ptr<const config::Config> config)
    : auth(*config), config_(std::move(config)) {}

std::shared_ptr<const config::Config> ProxyContext::config() const {
    std::lock_guard lock(mu_);
    return config_;
}

pool::PoolSettings ProxyContext::settings_for(const config::Config& c,
                                              const config::DatabaseConfig& db,
                                              const std::string& database,
                                              const std::string& user) const {
    pool::PoolSettings s;
    s.size = c.pool_size_for(db);
    s.min_size = c.min_pool_size_for(db);
    s.mode = c.pool_mode_for(db);
    s.on_pin = db.on_pin.value_or(c.on_pin);
    s.target.endpoint = db.server;
    s.target.user = db.server_user.value_or(user);
    s.target.database = db.server_dbname.empty() ? database : db.server_dbname;
    s.target.password = db.server_password ? db.server_password : c.server_password;
    auth.add_server_credentials(s.target);  // else the auth file's plaintext / MD5 secret
    s.target.tls = {c.server_tls_sslmode, c.server_tls};
    s.target.connect_timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(c.server_connect_timeout);
    s.target.max_message_bytes = c.max_message_bytes;
    s.target.tcp = c.tcp;
    s.idle_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(c.server_idle_timeout);
    s.lifetime = std::chrono::duration_cast<std::chrono::milliseconds>(c.server_lifetime);
    s.max_prepared_statements = c.max_prepared_statements;
    return s;
}

void ProxyContext::set_config(std::shared_ptr<const config::Config> config) {
    auth.reload(*config);  // throws before anything changes
    std::lock_guard lock(mu_);
    config_ = std::move(config);
    for (auto& [key, pool] : pools_) {
        if (const auto* db = config_->find_database(key.database)) {
            auto settings = settings_for(*config_, *db, key.database, key.user);
            settings.target.learned = pool->settings().target.learned;
            pool->update_settings(settings);
        }
    }
}

std::shared_ptr<pool::Pool> ProxyContext::pool_for(const std::string& database,
                                                   const std::string& user) {
    std::lock_guard lock(mu_);
    pool::PoolKey key{database, user};
    if (auto it = pools_.find(key); it != pools_.end()) return it->second;
    const auto* db = config_->find_database(database);
    if (db == nullptr) return nullptr;
    auto settings = settings_for(*config_, *db, database, user);
    settings.target.learned = std::make_shared<backend::LearnedCredentials>();
    auto pool = std::make_shared<pool::Pool>(key, std::move(settings));
    pools_.emplace(key, pool);
    return pool;
}

std::vector<std::shared_ptr<pool::Pool>> ProxyContext::pools() const {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<pool::Pool>> out;
    for (const auto& [k, p] : pools_) out.push_back(p);
    return out;
}

void ProxyContext::close_idle_servers_of(const config::Endpoint& endpoint,
                                         const std::string& database) {
    for (const auto& pool : pools()) {
        const auto settings = pool->settings();
        if (settings.target.database == database &&
            settings.target.endpoint.host == endpoint.host &&
            settings.target.endpoint.port == endpoint.port) {
            // PostgreSQL waits up to 5 s for the database's other sessions.
            pool->close_idle_for(std::chrono::seconds(5));
        }
    }
}

}  // namespace pgmux::session
