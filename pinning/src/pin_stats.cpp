#include "pgmux/pinning/pin_stats.hpp"

#include <algorithm>

#include "pgmux/parser/pg_query.hpp"

namespace pgmux::pinning {

PinStats::PinStats(std::size_t top_capacity)
    : top_capacity_(top_capacity == 0 ? 1 : top_capacity) {}

void PinStats::count_statement(std::string_view normalized, PinReason reason, std::uint64_t n) {
    std::string key(to_string(reason));
    key += '\n';
    key += normalized;
    if (auto it = top_.find(key); it != top_.end()) {
        it->second.count += n;
        return;
    }
    std::uint64_t inherited = 0;
    if (top_.size() >= top_capacity_) {
        auto victim = std::min_element(top_.begin(), top_.end(), [](const auto& a, const auto& b) {
            return a.second.count < b.second.count;
        });
        inherited = victim->second.count;
        top_.erase(victim);
    }
    top_.emplace(std::move(key), StatementStat{std::string(normalized), reason, inherited + n});
}

void PinStats::pin_started(PinReason reason, std::string_view normalized_statement) {
    ReasonStats& s = at(reason);
    s.started++;
    s.pinned_now++;
    count_statement(normalized_statement, reason, 1);
}

void PinStats::pin_ended(PinReason reason, double seconds) {
    ReasonStats& s = at(reason);
    s.ended++;
    s.pinned_now--;
    s.seconds_pinned += seconds;
}

std::vector<StatementStat> PinStats::top_statements(std::size_t limit) const {
    std::vector<StatementStat> out;
    out.reserve(top_.size());
    for (const auto& [key, stat] : top_) out.push_back(stat);
    std::sort(out.begin(), out.end(), [](const StatementStat& a, const StatementStat& b) {
        return a.count != b.count ? a.count > b.count : a.normalized < b.normalized;
    });
    if (out.size() > limit) out.resize(limit);
    return out;
}

void PinStats::merge(const PinStats& other) {
    for (std::size_t i = 0; i < kPinReasonCount; ++i) {
        ReasonStats& mine = reasons_[i];
        const ReasonStats& theirs = other.reasons_[i];
        mine.started += theirs.started;
        mine.ended += theirs.ended;
        mine.seconds_pinned += theirs.seconds_pinned;
        mine.pinned_now += theirs.pinned_now;
        mine.warned += theirs.warned;
        mine.rejected += theirs.rejected;
    }
    clients_pinned_now_ += other.clients_pinned_now_;
    replay_.replays += other.replay_.replays;
    replay_.statements_replayed += other.replay_.statements_replayed;
    replay_.resets += other.replay_.resets;
    replay_.verifications += other.replay_.verifications;
    replay_.sequence_state_risk += other.replay_.sequence_state_risk;
    for (const auto& [key, stat] : other.top_)
        count_statement(stat.normalized, stat.reason, stat.count);
}

std::vector<PinEvent> ClientPins::update(const PinTransitions& t, Clock::time_point now,
                                         PinStats& stats) {
    std::vector<PinEvent> events;
    if (t.empty()) return events;
    const bool was_pinned = !held_.empty();
    t.ended.for_each([&](PinReason r) {
        if (held_.contains(r)) events.push_back(end(r, now, stats));
    });
    t.started.for_each([&](PinReason r) {
        if (held_.contains(r)) return;
        const std::size_t i = static_cast<std::size_t>(r);
        // Normalising costs a parse; it happens once per pin start, never per statement.
        causes_.set(r) = t.causes[i].empty() ? std::string{} : parser::normalize(t.causes[i]);
        since_[i] = now;
        held_.insert(r);
        stats.pin_started(r, causes_.get(r));
        events.push_back(PinEvent{true, r, causes_.get(r), 0});
    });
    if (was_pinned != !held_.empty()) stats.client_pinned(!held_.empty());
    return events;
}

PinEvent ClientPins::end(PinReason r, Clock::time_point now, PinStats& stats) {
    const std::size_t i = static_cast<std::size_t>(r);
    const double seconds = std::chrono::duration<double>(now - since_[i]).count();
    held_.erase(r);
    stats.pin_ended(r, seconds);
    return PinEvent{false, r, causes_.get(r), seconds};
}

std::vector<PinEvent> ClientPins::end_all(Clock::time_point now, PinStats& stats) {
    std::vector<PinEvent> events;
    if (held_.empty()) return events;
    const PinSet held = held_;  // end() erases from held_
    held.for_each([&](PinReason r) { events.push_back(end(r, now, stats)); });
    stats.client_pinned(false);
    return events;
}

std::optional<ClientPins::Clock::time_point> ClientPins::since(PinReason r) const noexcept {
    if (!held_.contains(r)) return std::nullopt;
    return since_[static_cast<std::size_t>(r)];
}

}  // namespace pgmux::pinning
