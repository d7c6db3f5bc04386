#include "pgmux/parser/classifier.hpp"

namespace pgmux::parser {
namespace {

std::size_t approximate_bytes(std::string_view text, const Classification& c) {
    std::size_t bytes = 2 * text.size() + sizeof(Classification) + 64;
    for (const Statement& st : c.statements) {
        bytes += sizeof(Statement) + st.text.size() + st.name.size();
        for (const SettingChange& s : st.settings) {
            bytes += sizeof(SettingChange) + s.name.size() + s.value.size() + s.replay_sql.size();
        }
        if (st.prepared_body) bytes += sizeof(Statement) + st.prepared_body->text.size();
    }
    return bytes;
}

}  // namespace

Classifier::Classifier(std::size_t capacity, std::size_t max_bytes)
    : capacity_(capacity == 0 ? 1 : capacity), max_bytes_(max_bytes) {
    index_.reserve(capacity_);
}

void Classifier::evict_one() {
    Entry& victim = lru_.back();
    index_.erase(victim.text);
    bytes_ -= victim.bytes;
    lru_.pop_back();
    ++stats_.evictions;
}

std::shared_ptr<const Classification> Classifier::classify(std::string_view sql) {
    if (auto it = index_.find(sql); it != index_.end()) {
        ++stats_.hits;
        lru_.splice(lru_.begin(), lru_, it->second);
        const auto& result = it->second->result;
        if (!result->parsed) ++stats_.unparsed;
        return result;
    }
    ++stats_.misses;
    auto result = std::make_shared<const Classification>(classify_uncached(sql));
    if (!result->parsed) ++stats_.unparsed;
    const std::size_t bytes = approximate_bytes(sql, *result);
    if (bytes > max_bytes_ / 16) {
        ++stats_.uncacheable;
        return result;
    }
    while (!lru_.empty() && (index_.size() >= capacity_ || bytes_ + bytes > max_bytes_)) {
        evict_one();
    }
    lru_.push_front(Entry{std::string(sql), result, bytes});
    index_.emplace(std::string_view(lru_.front().text), lru_.begin());
    bytes_ += bytes;
    return result;
}

}  // namespace pgmux::parser
