#include <string>

#include "classify_detail.hpp"

namespace pgmux::parser::detail {
namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// The integer literal at `location` in the source, with a preceding unary minus.
std::string integer_at(std::string_view sql, long location) {
    if (location < 0 || static_cast<std::size_t>(location) >= sql.size()) return "0";
    std::size_t begin = static_cast<std::size_t>(location);
    // The location is either the minus sign or the first digit.
    bool negative = false;
    if (sql[begin] == '-') {
        negative = true;
        ++begin;
        while (begin < sql.size() && (sql[begin] == ' ' || sql[begin] == '\t' ||
                                      sql[begin] == '\n' || sql[begin] == '\r')) {
            ++begin;
        }
    }
    std::size_t end = begin;
    while (end < sql.size() && is_digit(sql[end])) ++end;
    if (end == begin) return "0";
    std::string digits(sql.substr(begin, end - begin));
    if (negative) return "-" + digits;
    std::size_t i = begin;
    while (i > 0 &&
           (sql[i - 1] == ' ' || sql[i - 1] == '\t' || sql[i - 1] == '\n' || sql[i - 1] == '\r')) {
        --i;
    }
    if (i > 0 && sql[i - 1] == '-') return "-" + digits;
    return digits;
}

}  // namespace

std::string string_value(const Json& node) {
    auto it = node.find("String");
    if (it == node.end()) return {};
    return it->value("sval", std::string{});
}

std::optional<Constant> constant_value(const Json& node, std::string_view sql) {
    auto it = node.find("A_Const");
    if (it == node.end()) return std::nullopt;
    const Json& c = *it;
    if (auto s = c.find("sval"); s != c.end())
        return Constant{s->value("sval", std::string{}), true};
    if (auto v = c.find("ival"); v != c.end()) {
        if (auto inner = v->find("ival"); inner != v->end()) {
            return Constant{std::to_string(inner->get<long long>()), false};
        }
        return Constant{integer_at(sql, c.value("location", -1L)), false};
    }
    if (auto f = c.find("fval"); f != c.end())
        return Constant{f->value("fval", std::string{}), false};
    if (auto b = c.find("boolval"); b != c.end()) {
        return Constant{b->value("boolval", false) ? "true" : "false", false};
    }
    if (auto b = c.find("bsval"); b != c.end())
        return Constant{b->value("bsval", std::string{}), true};
    return std::nullopt;  // NULL
}

std::optional<std::string> constant_string(const Json& node, std::string_view sql) {
    if (auto cast = node.find("TypeCast"); cast != node.end()) {
        const Json& names = (*cast)["typeName"]["names"];
        if (!names.is_array() || names.empty()) return std::nullopt;
        std::string type = string_value(names.back());
        if (type != "text" && type != "varchar" && type != "name" && type != "bpchar") {
            return std::nullopt;
        }
        auto arg = cast->find("arg");
        if (arg == cast->end()) return std::nullopt;
        auto c = constant_value(*arg, sql);
        if (!c || !c->is_string) return std::nullopt;
        return c->text;
    }
    auto c = constant_value(node, sql);
    if (!c || !c->is_string) return std::nullopt;
    return c->text;
}

}  // namespace pgmux::parser::detail
