#include "pgmux/parser/sql_quote.hpp"

namespace pgmux::parser {

std::string quote_literal(std::string_view text) {
    const bool escape = text.find('\\') != std::string_view::npos;
    std::string out;
    out.reserve(text.size() + 3);
    if (escape) out.push_back('E');
    out.push_back('\'');
    for (char c : text) {
        if (c == '\'') out.push_back('\'');
        if (c == '\\' && escape) out.push_back('\\');
        out.push_back(c);
    }
    out.push_back('\'');
    return out;
}

std::string quote_identifier(std::string_view name) {
    std::string out;
    out.reserve(name.size() + 2);
    out.push_back('"');
    for (char c : name) {
        if (c == '"') out.push_back('"');
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

std::string quote_setting_name(std::string_view name) {
    std::string out;
    std::size_t start = 0;
    while (true) {
        std::size_t dot = name.find('.', start);
        out +=
            quote_identifier(name.substr(start, dot == std::string_view::npos ? dot : dot - start));
        if (dot == std::string_view::npos) break;
        out.push_back('.');
        start = dot + 1;
    }
    return out;
}

std::string set_config_sql(std::string_view name, std::string_view value) {
    std::string out = "SELECT pg_catalog.set_config(";
    out += quote_literal(name);
    out += ", ";
    out += quote_literal(value);
    out += ", false)";
    return out;
}

std::string reset_sql(std::string_view name) {
    if (name == "role") return "RESET ROLE";
    if (name == "session_authorization") return "SET SESSION AUTHORIZATION DEFAULT";
    return "RESET " + quote_setting_name(name);
}

std::string ascii_lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    }
    return out;
}

}  // namespace pgmux::parser
