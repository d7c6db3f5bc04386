// The login's authentication step: finds the user's secret (auth file or
// auth_query), runs the exchange with the client, logs and counts failures
// (never with a secret), and hands what the client proved (SCRAM
// pass-through keys, an MD5 hash from auth_query) to the pool, which logs in
// to servers with it.
#include "runtime/log.h"
#include "session/client_auth.h"
#include "session/client_session.h"

namespace pgmux::session {

namespace asio = boost::asio;

asio::awaitable<bool> ClientSession::authenticate() {
    const config::DatabaseConfig* db = config_->find_database(database_);
    const config::AuthType method = config_->auth_type_for(db, user_);
    if (method == config::AuthType::kTrust) co_return true;

    auto lookup = co_await proxy_.auth.find(socket_.get_executor(), *config_, db, database_, user_);
    if (lookup.status == auth_source::LookupStatus::kUnavailable) {
        LOG_WARN << "client C" << id_ << " " << peer() << ": cannot look up the secret of user "
                 << user_ << " (auth_query failed)";
        send_error("FATAL", "08006",
                   "pgmux: cannot look up the password of this user (auth_query failed)");
        co_return false;
    }
    const auth::Secret* secret = lookup.secret ? &*lookup.secret : nullptr;

    ClientAuthRequest request;
    request.method = method;
    request.user = user_;
    request.secret = secret;
    request.mocks = &proxy_.auth.mocks();
    request.verifier_cache = proxy_.auth.verifier_cache();
    auto outcome =
        co_await authenticate_client(ClientAuthIo{socket_, tls_.get(), out_, in_}, request);

    const char* method_name = config::to_string(outcome.method_used);
    if (outcome.result != ClientAuthResult::kOk) {
        if (close_reason_ == CloseReason::kLoginTimeout) {
            LOG_INFO << "client C" << id_ << " " << peer() << ": login timed out during "
                     << method_name << " authentication as " << user_;
        } else if (outcome.result == ClientAuthResult::kClientGone) {
            // libpq hangs up when asked for a password it does not have, and
            // psql then prompts and reconnects: not worth a warning.
            LOG_DEBUG << "client C" << id_ << " " << peer() << " left during " << method_name
                      << " authentication as " << user_;
        } else {
            // Wrong password and unknown user differ only here, in the log.
            std::string why = std::string(auth::describe(*outcome.error));
            if (outcome.result == ClientAuthResult::kRejected) {
                why = secret == nullptr ? "no such user"
                      : secret->kind() == auth::SecretKind::md5 &&
                              outcome.method_used == config::AuthType::kScramSha256
                          ? "the stored secret is an MD5 hash, which cannot verify SCRAM"
                          : "wrong password";
            }
            LOG_WARN << "client C" << id_ << " " << peer() << ": " << method_name
                     << " authentication failed for user \"" << user_ << "\" database \""
                     << database_ << "\": " << why;
        }
        co_return false;
    }
    const bool md5_from_query =
        secret != nullptr && lookup.from_auth_query && secret->kind() == auth::SecretKind::md5;
    if (outcome.pass_through_keys || md5_from_query) {
        learned_credentials_ = std::make_unique<backend::ServerCredentials>();
        if (outcome.pass_through_keys) learned_credentials_->scram_keys = outcome.pass_through_keys;
        if (md5_from_query) learned_credentials_->md5_hash = secret->text();
    }
    LOG_DEBUG << "client C" << id_ << " " << peer() << " authenticated as " << user_ << " ("
              << method_name << (outcome.channel_binding ? ", channel binding" : "")
              << (outcome.pass_through_keys ? ", SCRAM pass-through keys" : "") << ")";
    co_return true;
}

void ClientSession::share_server_credentials() {
    if (!learned_credentials_) return;
    // Only for a pool that logs in to the server as the same user: the keys
    // and hashes prove this user's password, nobody else's.
    if (!learned_credentials_->empty() && pool_) {
        const auto target = pool_->settings().target;
        if (target.user == user_ && target.learned) {
            if (learned_credentials_->scram_keys) {
                target.learned->set_scram_keys(*learned_credentials_->scram_keys);
            }
            if (learned_credentials_->md5_hash) {
                target.learned->set_md5_hash(*learned_credentials_->md5_hash);
            }
        }
    }
    if (learned_credentials_->md5_hash) auth::crypto::cleanse(*learned_credentials_->md5_hash);
    learned_credentials_.reset();  // the keys wipe themselves
}

}  // namespace pgmux::session
