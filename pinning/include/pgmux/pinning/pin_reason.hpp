#pragma once
// Why a client is pinned to its server connection. Names are stable (metrics labels, API).

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace pgmux::pinning {

enum class PinReason : std::uint8_t {
    temp_object,           // temp table/view/sequence/function (not ON COMMIT DROP)
    hold_cursor,           // DECLARE ... WITH HOLD
    listen,                // LISTEN channel
    advisory_lock,         // session-level advisory lock held
    load,                  // LOAD: for the rest of the session
    unknown_state_change,  // an effect pgmux cannot replay (set_config(non-constant), DO ...)
    unparsed,              // text the grammar rejected succeeded and may have changed state
    session_mode,          // the pool runs in session mode
};
inline constexpr std::size_t kPinReasonCount = 8;

inline constexpr std::array<PinReason, kPinReasonCount> kAllPinReasons{
    PinReason::temp_object,   PinReason::hold_cursor, PinReason::listen,
    PinReason::advisory_lock, PinReason::load,        PinReason::unknown_state_change,
    PinReason::unparsed,      PinReason::session_mode};

[[nodiscard]] std::string_view to_string(PinReason reason) noexcept;
[[nodiscard]] std::optional<PinReason> pin_reason_from_string(std::string_view name) noexcept;
// One sentence telling an application developer how to avoid this pin (for the pin log).
[[nodiscard]] std::string_view advice(PinReason reason) noexcept;

// A small set of reasons (a bitmask).
class PinSet {
  public:
    constexpr PinSet() noexcept = default;
    constexpr void insert(PinReason r) noexcept { bits_ |= bit(r); }
    constexpr void erase(PinReason r) noexcept { bits_ &= static_cast<std::uint8_t>(~bit(r)); }
    [[nodiscard]] constexpr bool contains(PinReason r) const noexcept {
        return (bits_ & bit(r)) != 0;
    }
    [[nodiscard]] constexpr bool empty() const noexcept { return bits_ == 0; }
    [[nodiscard]] constexpr std::uint8_t bits() const noexcept { return bits_; }
    [[nodiscard]] constexpr PinSet minus(PinSet other) const noexcept {
        return PinSet(static_cast<std::uint8_t>(bits_ & ~other.bits_));
    }
    [[nodiscard]] std::size_t size() const noexcept;
    constexpr bool operator==(const PinSet&) const noexcept = default;

    // Iteration over the reasons held, in enum order.
    template <typename F>
    void for_each(F&& f) const {
        for (PinReason r : kAllPinReasons) {
            if (contains(r)) f(r);
        }
    }

  private:
    constexpr explicit PinSet(std::uint8_t bits) noexcept : bits_(bits) {}
    static constexpr std::uint8_t bit(PinReason r) noexcept {
        return static_cast<std::uint8_t>(1u << static_cast<unsigned>(r));
    }
    std::uint8_t bits_ = 0;
};

// The statement that started each pin, per reason. Most clients never pin,
// so the table is allocated on the first cause written: an idle client pays
// one pointer instead of a string per reason.
class PinCauses {
  public:
    [[nodiscard]] const std::string& get(PinReason r) const noexcept {
        static const std::string kNone;
        return table_ ? (*table_)[static_cast<std::size_t>(r)] : kNone;
    }
    std::string& set(PinReason r) {
        if (!table_) table_ = std::make_unique<std::array<std::string, kPinReasonCount>>();
        return (*table_)[static_cast<std::size_t>(r)];
    }

  private:
    std::unique_ptr<std::array<std::string, kPinReasonCount>> table_;
};

}  // namespace pgmux::pinning
