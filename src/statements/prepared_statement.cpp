#include "statements/prepared_statement.h"

#include <openssl/evp.h>

#include "protocol/messages.h"
#include "protocol/wire.h"

namespace pgmux::statements {

namespace {
std::string content_name(std::string_view query, std::string_view param_types,
                         std::string_view search_path) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    const std::uint32_t qlen = static_cast<std::uint32_t>(query.size());
    EVP_DigestUpdate(ctx, &qlen, sizeof qlen);  // keeps query/types boundaries unambiguous
    EVP_DigestUpdate(ctx, query.data(), query.size());
    EVP_DigestUpdate(ctx, param_types.data(), param_types.size());
    if (!search_path.empty()) {
        // The names in the text resolve through the search_path, and
        // PostgreSQL re-parses a statement whose search_path changed: clients
        // with different paths must not share one (docs/prepared-statements.md).
        EVP_DigestUpdate(ctx, "\0search_path=", 13);
        EVP_DigestUpdate(ctx, search_path.data(), search_path.size());
    }
    EVP_DigestFinal_ex(ctx, digest, &len);
    EVP_MD_CTX_free(ctx);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string name = "pgmux_";
    for (unsigned i = 0; i < 12; ++i) {  // 96 bits: collisions are out of reach
        name.push_back(kHex[digest[i] >> 4]);
        name.push_back(kHex[digest[i] & 15]);
    }
    return name;
}
}  // namespace

std::shared_ptr<const PreparedStatement> make_prepared_statement(
    std::string_view query, std::string_view param_types,
    std::shared_ptr<const parser::Classification> classification, std::string_view search_path) {
    auto ps = std::make_shared<PreparedStatement>();
    ps->server_name = content_name(query, param_types, search_path);
    ps->key = statement_key(ps->server_name);
    ps->query.assign(query);
    ps->param_types.assign(param_types);
    ps->classification = std::move(classification);
    std::string& m = ps->parse_message;
    m.push_back(protocol::msg::kParse);
    m.append(4, '\0');
    protocol::put_cstr(m, ps->server_name);
    protocol::put_cstr(m, query);
    m.append(param_types);
    const auto n = static_cast<std::uint32_t>(m.size() - 1);
    m[1] = static_cast<char>(n >> 24);
    m[2] = static_cast<char>(n >> 16);
    m[3] = static_cast<char>(n >> 8);
    m[4] = static_cast<char>(n);
    return ps;
}

std::shared_ptr<PreparedStatement> make_unnamed_statement(
    std::string_view query, std::string_view param_types,
    std::shared_ptr<const parser::Classification> classification) {
    auto ps = std::make_shared<PreparedStatement>();
    ps->query.assign(query);
    ps->param_types.assign(param_types);
    ps->classification = std::move(classification);
    return ps;
}

std::shared_ptr<const PreparedStatement> make_sql_prepared_statement(
    std::string_view types, std::string_view body,
    std::shared_ptr<const parser::Statement> sql_body, std::string_view search_path) {
    auto ps = std::make_shared<PreparedStatement>();
    // "SQL" keeps these apart from protocol-level statements of the same text,
    // whose parameter types are OIDs rather than type names.
    ps->server_name = content_name(body, std::string("SQL ") + std::string(types), search_path);
    ps->key = statement_key(ps->server_name);
    ps->query.assign(body);
    ps->prepare_sql = "PREPARE " + ps->server_name;
    if (!types.empty()) ps->prepare_sql += " " + std::string(types);
    ps->prepare_sql += " AS " + std::string(body);
    ps->sql_body = std::move(sql_body);
    return ps;
}

std::uint64_t statement_key(std::string_view server_name) noexcept {
    static constexpr std::string_view kPrefix = "pgmux_";
    if (server_name.size() < kPrefix.size() + 16 || !server_name.starts_with(kPrefix)) return 0;
    std::uint64_t key = 0;
    for (std::size_t i = kPrefix.size(); i < kPrefix.size() + 16; ++i) {
        const char c = server_name[i];
        std::uint64_t digit = 0;
        if (c >= '0' && c <= '9') {
            digit = static_cast<std::uint64_t>(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            digit = static_cast<std::uint64_t>(c - 'a' + 10);
        } else {
            return 0;
        }
        key = (key << 4) | digit;
    }
    return key;
}

void ServerStatementCache::touch(const std::string& name) {
    auto it = index_.find(name);
    if (it == index_.end()) return;
    order_.splice(order_.begin(), order_, it->second.at);
}

std::optional<std::string> ServerStatementCache::insert(const std::string& name) {
    if (auto it = index_.find(name); it != index_.end()) {
        order_.splice(order_.begin(), order_, it->second.at);
        return std::nullopt;
    }
    std::optional<std::string> evicted;
    if (capacity_ > 0 && index_.size() >= capacity_) {
        evicted = order_.back();
        drop(index_.find(order_.back()));
    }
    order_.push_front(name);
    index_.emplace(name, Entry{order_.begin()});
    return evicted;
}

void ServerStatementCache::drop(std::unordered_map<std::string, Entry>::iterator it) {
    if (it->second.doubtful()) --doubtful_count_;
    order_.erase(it->second.at);
    index_.erase(it);
}

void ServerStatementCache::erase(const std::string& name) {
    auto it = index_.find(name);
    if (it == index_.end()) return;
    drop(it);
}

void ServerStatementCache::clear() {
    order_.clear();
    index_.clear();
    doubtful_count_ = 0;
}

void ServerStatementCache::set_doubt(Entry& entry, bool Entry::*flag, bool value) {
    const bool before = entry.doubtful();
    entry.*flag = value;
    if (before != entry.doubtful()) before ? --doubtful_count_ : ++doubtful_count_;
}

bool ServerStatementCache::mark_stale(const std::string& name) {
    auto it = index_.find(name);
    if (it == index_.end()) return false;
    set_doubt(it->second, &Entry::stale, true);
    return true;
}

void ServerStatementCache::mark_all_stale() {
    for (auto& [name, entry] : index_) entry.stale = true;
    doubtful_count_ = index_.size();
}

void ServerStatementCache::mark_unconfirmed(const std::string& name) {
    if (auto it = index_.find(name); it != index_.end()) {
        set_doubt(it->second, &Entry::unconfirmed, true);
    }
}

void ServerStatementCache::confirm(const std::string& name) {
    if (doubtful_count_ == 0) return;
    if (auto it = index_.find(name); it != index_.end()) {
        set_doubt(it->second, &Entry::unconfirmed, false);
    }
}

bool ServerStatementCache::take_stale(const std::string& name) {
    if (doubtful_count_ == 0) return false;
    auto it = index_.find(name);
    if (it == index_.end() || !it->second.doubtful()) return false;
    drop(it);
    return true;
}

std::optional<std::string> ServerStatementCache::find_by_key(std::uint64_t key) const {
    if (key == 0) return std::nullopt;
    for (const auto& name : order_) {
        if (statement_key(name) == key) return name;
    }
    return std::nullopt;
}

}  // namespace pgmux::statements
