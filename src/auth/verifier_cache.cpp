#include "pgmux/auth/verifier_cache.hpp"

#include <memory>

namespace pgmux::auth {

Result<std::unique_ptr<VerifierCache>> VerifierCache::create(std::size_t capacity, int iterations) {
    if (capacity == 0 || iterations < 1) return AuthError::wrong_state;
    std::unique_ptr<VerifierCache> cache(new VerifierCache(capacity, iterations));
    if (auto rc = crypto::random_bytes(cache->fingerprint_key_); !rc) return rc.error();
    return cache;
}

Result<ScramVerifier> VerifierCache::get_or_build(std::string_view user,
                                                  std::string_view password) {
    auto fingerprint = crypto::hmac_sha256(fingerprint_key_, as_bytes(password));
    if (!fingerprint) return fingerprint.error();
    {
        std::lock_guard lock(mutex_);
        if (auto it = index_.find(std::string(user)); it != index_.end()) {
            if (crypto::equal_constant_time(it->second->fingerprint, *fingerprint)) {
                lru_.splice(lru_.begin(), lru_, it->second);
                return it->second->verifier;
            }
        }
    }
    // Derive outside the lock: PBKDF2 is the slow part.
    auto verifier = build_scram_verifier_random_salt(password, iterations_);
    if (!verifier) return verifier.error();

    std::lock_guard lock(mutex_);
    const std::string key(user);
    if (auto it = index_.find(key); it != index_.end()) {
        lru_.erase(it->second);
        index_.erase(it);
    }
    lru_.push_front(Entry{key, *fingerprint, *verifier});
    index_.emplace(key, lru_.begin());
    while (lru_.size() > capacity_) {
        index_.erase(lru_.back().user);
        lru_.pop_back();
    }
    return verifier;
}

std::size_t VerifierCache::size() const {
    std::lock_guard lock(mutex_);
    return lru_.size();
}

}  // namespace pgmux::auth
