#include "auth_source/auth_query.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "auth_source/lookup_protocol.h"
#include "runtime/log.h"

namespace pgmux::auth_source {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

namespace {

std::string endpoint_text(const backend::ServerTarget& t) {
    return t.endpoint.host + ":" + std::to_string(t.endpoint.port) + "/" + t.database;
}

// Sends the lookup and reads the reply up to ReadyForQuery. Returns false
// when the connection must not be reused (I/O error, unexpected message).
asio::awaitable<bool> exchange(backend::ServerConnection& conn, const std::string& request,
                               LookupReply& reply, std::size_t max_bytes) {
    conn.out().send(request);
    if (conn.out().queued() > 0) co_await conn.out().drain();
    if (conn.out().failed()) co_return false;
    for (;;) {
        auto r = protocol::decode_frame(conn.in().view(), max_bytes);
        if (r.status == protocol::DecodeStatus::kNeedMore) {
            char* p = conn.in().prepare(4096);
            auto [ec, n] =
                co_await net::async_read_some(conn.socket(), conn.tls(), p, conn.in().free_space());
            if (ec) co_return false;
            conn.in().commit(n);
            continue;
        }
        if (r.status != protocol::DecodeStatus::kFrame) co_return false;
        const auto progress = reply.feed(r.frame);
        conn.in().consume(r.consumed);
        if (progress == LookupReply::Progress::kBroken) co_return false;
        if (progress == LookupReply::Progress::kDone) co_return true;
    }
}

}  // namespace

asio::awaitable<SecretLookup> AuthQuery::lookup(asio::any_io_executor executor,
                                                const AuthQueryRequest& request) {
    const std::string pool_key = endpoint_text(request.target) + '\0' + request.target.user;
    const std::string key = pool_key + '\0' + request.user;
    if (auto hit = cached(key)) co_return std::move(*hit);
    auto pool = pool_for(request, pool_key);
    auto answer = co_await run_query(executor, request, std::move(pool));
    if (answer.status != LookupStatus::kUnavailable) remember(key, answer, request.cache_ttl);
    co_return answer;
}

asio::awaitable<SecretLookup> AuthQuery::run_query(asio::any_io_executor executor,
                                                   const AuthQueryRequest& request,
                                                   std::shared_ptr<pool::Pool> pool) {
    const auto started = Clock::now();
    SecretLookup unavailable{LookupStatus::kUnavailable, std::nullopt, true};
    auto acquired = co_await pool->acquire(executor, {}, request.timeout);
    if (auto* err = std::get_if<pool::AcquireError>(&acquired)) {
        LOG_WARN << "auth_query: cannot get a connection as " << request.target.user << " to "
                 << endpoint_text(request.target) << ": "
                 << (err->kind == pool::AcquireFailure::kTimeout ? "timed out"
                                                                 : err->connect_error.description);
        co_return unavailable;
    }
    auto conn = std::move(std::get<std::unique_ptr<backend::ServerConnection>>(acquired));

    const std::string wire = build_lookup_request(request.query, request.user);
    LookupReply reply;
    const auto left = request.timeout -
                      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    asio::steady_timer deadline(executor, std::max(left, std::chrono::milliseconds(1)));
    // Safe to cancel: on timeout the connection is dropped, never reused.
    auto raced = co_await (exchange(*conn, wire, reply, request.target.max_message_bytes) ||
                           deadline.async_wait(use_nothrow));
    if (raced.index() == 1 || !std::get<0>(raced)) {
        LOG_WARN << "auth_query: " << (raced.index() == 1 ? "timed out" : "connection failed")
                 << " on " << endpoint_text(request.target);
        co_return unavailable;  // `conn` is closed as it goes out of scope
    }
    // Not kept idle: a pooled socket would outlive the worker it is bound to
    // at shutdown, and with the answer cached, lookups are rare. The pool
    // still bounds how many lookups run at once per server and database.
    conn.reset();

    if (const auto& e = reply.error()) {
        LOG_WARN << "auth_query failed on " << endpoint_text(request.target) << ": " << e->sqlstate
                 << " " << e->message;
        co_return unavailable;
    }
    if (reply.rows() > 1 || reply.malformed_row()) {
        LOG_WARN << "auth_query on " << endpoint_text(request.target)
                 << (reply.rows() > 1 ? " returned more than one row"
                                      : " must return two columns (user name, secret)")
                 << " for user " << request.user;
        co_return unavailable;
    }
    if (reply.rows() == 0 || !reply.secret()) {
        co_return SecretLookup{LookupStatus::kNotFound, std::nullopt, true};
    }
    auto secret = auth::parse_secret(*reply.secret());
    if (!secret) {
        LOG_WARN << "auth_query on " << endpoint_text(request.target)
                 << " returned a secret that does not parse for user " << request.user;
        co_return SecretLookup{LookupStatus::kNotFound, std::nullopt, true};
    }
    co_return SecretLookup{LookupStatus::kFound, std::move(*secret), true};
}

std::optional<SecretLookup> AuthQuery::cached(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    if (Clock::now() >= it->second->expires) {
        lru_.erase(it->second);
        index_.erase(it);
        return std::nullopt;
    }
    return it->second->answer;
}

void AuthQuery::remember(const std::string& key, const SecretLookup& answer,
                         std::chrono::milliseconds ttl) {
    if (ttl <= std::chrono::milliseconds::zero()) return;
    std::lock_guard lock(mu_);
    if (auto it = index_.find(key); it != index_.end()) {
        lru_.erase(it->second);
        index_.erase(it);
    }
    while (lru_.size() >= kMaxCacheEntries) {
        index_.erase(lru_.back().key);
        lru_.pop_back();
    }
    lru_.push_front(CacheEntry{key, answer, Clock::now() + ttl});
    index_[key] = lru_.begin();
}

std::shared_ptr<pool::Pool> AuthQuery::pool_for(const AuthQueryRequest& request,
                                                const std::string& pool_key) {
    std::shared_ptr<pool::Pool> pool;
    pool::PoolSettings settings;
    settings.size = kConnectionsPerPool;
    settings.min_size = 0;
    settings.target = request.target;
    {
        std::lock_guard lock(mu_);
        for (auto it = pools_.begin(); it != pools_.end(); ++it) {
            if (it->first == pool_key) {
                pool = it->second;
                pools_.splice(pools_.begin(), pools_, it);
                break;
            }
        }
        if (!pool) {
            pool = std::make_shared<pool::Pool>(
                pool::PoolKey{request.target.database, request.target.user}, settings);
            pools_.emplace_front(pool_key, pool);
            // A dropped pool lives on while a lookup still holds it.
            while (pools_.size() > kMaxPools) pools_.pop_back();
        }
    }
    // The target may have changed (password in the auth file, timeouts).
    pool->update_settings(settings);
    return pool;
}

void AuthQuery::reset() {
    std::lock_guard lock(mu_);
    lru_.clear();
    index_.clear();
}

}  // namespace pgmux::auth_source
