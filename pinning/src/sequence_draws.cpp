#include "pgmux/pinning/sequence_draws.hpp"

#include <utility>

namespace pgmux::pinning {

void SequenceDraws::on_possible_draw(bool runs) noexcept {
    may_hold_values_ = true;
    if (!runs) return;  // a Parse: it runs at Bind
    drew_in_transaction_ = true;
    unread_ = true;
}

void SequenceDraws::on_read() noexcept {
    reads_ = true;
    unread_ = false;  // read now (where it runs is the session's business)
}

bool SequenceDraws::linger_after_transaction() noexcept {
    const bool drew = std::exchange(drew_in_transaction_, false);
    return drew && (reads_ || !probe_done_);
}

void SequenceDraws::on_probe_answer(bool reads) noexcept {
    if (!reads) probe_done_ = true;
}

}  // namespace pgmux::pinning
