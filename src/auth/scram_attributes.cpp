#include "scram_attributes.hpp"

namespace pgmux::auth::scram {

std::optional<std::string_view> AttributeReader::read(char name) {
    if (at_end() || peek() != name) return std::nullopt;
    if (position_ + 1 >= message_.size() || message_[position_ + 1] != '=') return std::nullopt;
    const std::size_t start = position_ + 2;
    std::size_t end = message_.find(',', start);
    if (end == std::string_view::npos) end = message_.size();
    position_ = end == message_.size() ? end : end + 1;
    return message_.substr(start, end - start);
}

std::optional<std::pair<char, std::string_view>> AttributeReader::read_any() {
    const char name = peek();
    if (!((name >= 'a' && name <= 'z') || (name >= 'A' && name <= 'Z'))) return std::nullopt;
    auto value = read(name);
    if (!value) return std::nullopt;
    return std::pair{name, *value};
}

bool is_printable(std::string_view text) noexcept {
    for (char c : text) {
        if (c < 0x21 || c > 0x7E || c == ',') return false;
    }
    return true;
}

bool has_nul(std::string_view text) noexcept {
    return text.find('\0') != std::string_view::npos;
}

}  // namespace pgmux::auth::scram
