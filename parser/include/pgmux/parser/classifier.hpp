#pragma once
// SQL text -> Classification (every raw statement, in order), with a bounded LRU cache.
//
// Typical data-path use:
//     if (parser::may_affect_session_state(sql)) {
//         auto c = classifier.classify(sql);   // cached by text
//         ... c->statements[i] matches the i-th CommandComplete/ErrorResponse ...
//     }

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "pgmux/parser/statement.hpp"

namespace pgmux::parser {

// Uncached classification (parses with libpg_query). Never throws for bad SQL: text the
// grammar rejects yields parsed == false with scanner-split statements of kind unparsed.
[[nodiscard]] Classification classify_uncached(std::string_view sql);

struct ClassifierStats {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::uint64_t evictions = 0;
    std::uint64_t unparsed = 0;     // classify() calls whose text the grammar rejected
    std::uint64_t uncacheable = 0;  // texts too large to cache (classified every time)
};

// One Classifier per worker thread: it is NOT thread-safe (no locks on the hot path).
// Results are shared_ptr<const>, so a caller may keep one after it was evicted.
class Classifier {
  public:
    // capacity: maximum number of cached texts; max_bytes: approximate memory budget of the
    // cache (texts larger than max_bytes / 16 are not cached).
    explicit Classifier(std::size_t capacity, std::size_t max_bytes = 16u << 20);
    Classifier(const Classifier&) = delete;
    Classifier& operator=(const Classifier&) = delete;

    [[nodiscard]] std::shared_ptr<const Classification> classify(std::string_view sql);

    [[nodiscard]] const ClassifierStats& stats() const noexcept { return stats_; }
    [[nodiscard]] std::size_t size() const noexcept { return index_.size(); }
    [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

  private:
    struct Entry {
        std::string text;
        std::shared_ptr<const Classification> result;
        std::size_t bytes = 0;
    };
    void evict_one();

    std::size_t capacity_;
    std::size_t max_bytes_;
    std::size_t bytes_ = 0;
    std::list<Entry> lru_;  // front = most recently used
    // Keys view the text owned by the list node (list nodes never move).
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;
    ClassifierStats stats_;
};

}  // namespace pgmux::parser
