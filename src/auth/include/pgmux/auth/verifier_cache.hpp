#pragma once

// Deriving a SCRAM verifier from a plaintext password costs a PBKDF2 run
// (4096 HMACs). For users whose stored secret is plaintext, the verifier is
// derived once with a random salt and cached per user, so repeated logins pay
// only the proof check and see a stable salt. The cache is bounded (LRU) and
// keyed by user; an entry is reused only while the password is unchanged
// (checked with an HMAC fingerprint under a per-process random key, so the
// cache never holds a plain hash of the password).

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "pgmux/auth/secret.hpp"

namespace pgmux::auth {

class VerifierCache {
  public:
    [[nodiscard]] static Result<std::unique_ptr<VerifierCache>> create(
        std::size_t capacity, int iterations = kDefaultScramIterations);

    // Thread-safe. Returns the cached verifier for (user, password) or derives,
    // caches and returns a new one.
    [[nodiscard]] Result<ScramVerifier> get_or_build(std::string_view user,
                                                     std::string_view password);

    [[nodiscard]] std::size_t size() const;
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

  private:
    VerifierCache(std::size_t capacity, int iterations)
        : capacity_(capacity), iterations_(iterations) {}

    struct Entry {
        std::string user;
        Sha256Digest fingerprint{};
        ScramVerifier verifier;
    };

    std::size_t capacity_;
    int iterations_;
    Sha256Digest fingerprint_key_{};
    mutable std::mutex mutex_;
    std::list<Entry> lru_;  // most recently used first
    std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace pgmux::auth
