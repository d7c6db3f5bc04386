// A growable byte buffer for one connection's unparsed input: bytes arrive at
// the end, complete frames are consumed from the front.
#pragma once

#include <cstring>
#include <memory>
#include <string_view>

namespace pgmux::net {

class ReadBuffer {
  public:
    // Returns a writable region of at least `min_free` bytes at the end.
    [[nodiscard]] char* prepare(std::size_t min_free) {
        if (capacity_ - end_ < min_free) {
            const std::size_t used = end_ - begin_;
            if (begin_ > 0 && capacity_ - used >= min_free) {
                std::memmove(data_.get(), data_.get() + begin_, used);
            } else {
                // Small first: a client's leftover bytes are usually one
                // short message (and a small block is cheap to allocate).
                std::size_t cap = capacity_ == 0 ? 512 : capacity_;
                while (cap - used < min_free) cap *= 2;
                auto fresh = std::make_unique_for_overwrite<char[]>(cap);
                if (used > 0) std::memcpy(fresh.get(), data_.get() + begin_, used);
                data_ = std::move(fresh);
                capacity_ = cap;
            }
            begin_ = 0;
            end_ = used;
        }
        return data_.get() + end_;
    }
    [[nodiscard]] std::size_t free_space() const noexcept { return capacity_ - end_; }
    void commit(std::size_t n) noexcept { end_ += n; }
    void consume(std::size_t n) noexcept {
        begin_ += n;
        if (begin_ == end_) begin_ = end_ = 0;
    }
    void append(std::string_view bytes) {
        std::memcpy(prepare(bytes.size()), bytes.data(), bytes.size());
        commit(bytes.size());
    }
    [[nodiscard]] std::string_view view() const noexcept {
        return {data_.get() + begin_, end_ - begin_};
    }
    [[nodiscard]] bool empty() const noexcept { return begin_ == end_; }
    [[nodiscard]] std::size_t size() const noexcept { return end_ - begin_; }
    // Frees the storage when nothing is buffered (idle connections hold none).
    void release_if_empty() noexcept {
        if (empty()) {
            data_.reset();
            capacity_ = begin_ = end_ = 0;
        }
    }

  private:
    std::unique_ptr<char[]> data_;
    std::size_t capacity_ = 0;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
};

}  // namespace pgmux::net
