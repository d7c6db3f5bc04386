#include "session/cancel_registry.h"

#include <openssl/rand.h>

#include <cstring>

namespace pgmux::session {

CancelKey CancelRegistry::add(const std::shared_ptr<ClientSession>& session) {
    std::lock_guard lock(mu_);
    std::uniform_int_distribution<std::int32_t> pid_dist(1, 0x7fffffff);
    std::uniform_int_distribution<std::int32_t> secret_dist;
    CancelKey key;
    do {
        key.pid = pid_dist(rng_);
    } while (entries_.contains(key.pid));
    // The secret is what stops other users from cancelling this client's
    // queries, so it comes from the CSPRNG, not from the pid generator.
    if (random_used_ + sizeof key.secret > random_.size()) {
        if (RAND_bytes(random_.data(), static_cast<int>(random_.size())) == 1) {
            random_used_ = 0;
        }
    }
    if (random_used_ + sizeof key.secret <= random_.size()) {
        std::memcpy(&key.secret, random_.data() + random_used_, sizeof key.secret);
        std::memset(random_.data() + random_used_, 0, sizeof key.secret);  // used once
        random_used_ += sizeof key.secret;
    } else {
        key.secret = secret_dist(rng_);  // the CSPRNG failed
    }
    entries_.emplace(key.pid, Entry{key.secret, session});
    return key;
}

void CancelRegistry::remove(std::int32_t pid) {
    std::lock_guard lock(mu_);
    entries_.erase(pid);
}

std::shared_ptr<ClientSession> CancelRegistry::find(CancelKey key) const {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key.pid);
    if (it == entries_.end() || it->second.secret != key.secret) return nullptr;
    return it->second.session.lock();
}

}  // namespace pgmux::session
