// Implicit sequence draws: what pgmux knows about a client whose INSERT,
// COPY FROM or MERGE may have drawn from a sequence through a column DEFAULT
// (serial, identity), leaving the values in that backend's lastval() and
// currval(). Explicit nextval() is SessionState's business
// (sequence_state_used); this is the case no statement names.
//
// PHP's PDO::lastInsertId() (Doctrine, Laravel) reads lastval() or
// currval() in its own statement right after the INSERT's transaction: on
// another backend, or after another client's INSERT there, it reads another
// id. So the backend is kept for such a client until it has read, and after
// a transaction that drew, it stays with the client a moment (the session's
// linger, see docs/pinning.md) for that read. Clients that take their ids
// from INSERT ... RETURNING never read: the first linger is a probe, and a
// client whose next request does not read is not held back again.
//
// Pure bookkeeping: the session decides what a statement is (parser) and
// runs the timer.
#pragma once

namespace pgmux::pinning {

class SequenceDraws {
  public:
    // A statement that may draw from a sequence (parser::may_draw_from_sequences).
    // `runs`: it runs now (Query, Bind); a Parse only prepares it.
    void on_possible_draw(bool runs) noexcept;
    // The client reads lastval()/currval() now.
    void on_read() noexcept;

    // Whether statements are worth looking at for draws: by a client that may
    // read what it drew (or has not shown yet that it does not).
    [[nodiscard]] bool watching() const noexcept {
        return may_hold_values_ && (reads_ || !probe_done_);
    }
    // A statement of this client may have drawn at some point: its Parse and
    // Bind are looked at for reads of lastval()/currval().
    [[nodiscard]] bool may_hold_values() const noexcept { return may_hold_values_; }

    // The transaction ended: whether its server should stay with the client
    // a moment for the read that follows. Once per transaction that drew.
    [[nodiscard]] bool linger_after_transaction() noexcept;
    // The client has not shown yet whether it reads what it drew: its first
    // request after a linger tells (on_probe_answer).
    [[nodiscard]] bool probing() const noexcept { return !reads_ && !probe_done_; }
    // `reads`: that request reads lastval()/currval() (on_read() was called).
    // Without a read, the client is not held back after its draws again.
    void on_probe_answer(bool reads) noexcept;

    // Whether the server given back now keeps values this client drew and
    // may still read (other clients leave it alone meanwhile).
    [[nodiscard]] bool keeps_server() const noexcept { return unread_ && (reads_ || !probe_done_); }

  private:
    bool may_hold_values_ = false;
    bool reads_ = false;       // seen to read lastval()/currval()
    bool probe_done_ = false;  // the first linger was answered without a read
    bool unread_ = false;      // drew since its last read
    bool drew_in_transaction_ = false;
};

}  // namespace pgmux::pinning
