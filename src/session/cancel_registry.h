// Maps the BackendKeyData pgmux hands each client to that client's session,
// so a CancelRequest arriving on a fresh connection can find it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <unordered_map>

namespace pgmux::session {

class ClientSession;

struct CancelKey {
    std::int32_t pid = 0;
    std::int32_t secret = 0;
};

class CancelRegistry {
  public:
    // Allocates a key unique among live sessions.
    [[nodiscard]] CancelKey add(const std::shared_ptr<ClientSession>& session);
    void remove(std::int32_t pid);
    // The session owning the key, if the secret matches.
    [[nodiscard]] std::shared_ptr<ClientSession> find(CancelKey key) const;

  private:
    mutable std::mutex mu_;
    std::mt19937 rng_{std::random_device{}()};
    // CSPRNG output fetched in batches: one RAND_bytes call per login cost
    // more than the rest of the login's bookkeeping (pgbench -C).
    std::array<unsigned char, 1024> random_{};
    std::size_t random_used_ = sizeof random_;
    struct Entry {
        std::int32_t secret;
        std::weak_ptr<ClientSession> session;
    };
    std::unordered_map<std::int32_t, Entry> entries_;
};

}  // namespace pgmux::session
