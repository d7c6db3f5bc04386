#include "pgmux/parser/pg_query.hpp"

#include <pg_query.h>

#include <memory>

namespace pgmux::parser {
namespace {

// libpg_query takes NUL-terminated strings; std::string_view need not be.
std::string terminated(std::string_view sql) {
    return std::string(sql);
}

template <typename Result, void (*Free)(Result)>
class Owned {
  public:
    explicit Owned(Result r) noexcept : r_(r) {}
    Owned(const Owned&) = delete;
    Owned& operator=(const Owned&) = delete;
    ~Owned() { Free(r_); }
    const Result& operator*() const noexcept { return r_; }
    const Result* operator->() const noexcept { return &r_; }

  private:
    Result r_;
};

using OwnedParse = Owned<PgQueryParseResult, pg_query_free_parse_result>;
using OwnedNormalize = Owned<PgQueryNormalizeResult, pg_query_free_normalize_result>;
using OwnedFingerprint = Owned<PgQueryFingerprintResult, pg_query_free_fingerprint_result>;

}  // namespace

JsonParseResult parse_to_json(std::string_view sql) {
    std::string input = terminated(sql);
    OwnedParse result(pg_query_parse(input.c_str()));
    JsonParseResult out;
    if (result->error != nullptr) {
        out.error = ParseError{result->error->message ? result->error->message : "syntax error",
                               result->error->cursorpos};
        return out;
    }
    out.json = result->parse_tree ? result->parse_tree : "";
    return out;
}

std::string normalize(std::string_view sql) {
    std::string input = terminated(sql);
    OwnedNormalize result(pg_query_normalize(input.c_str()));
    if (result->error != nullptr || result->normalized_query == nullptr) return input;
    return result->normalized_query;
}

std::optional<std::uint64_t> fingerprint(std::string_view sql) {
    std::string input = terminated(sql);
    OwnedFingerprint result(pg_query_fingerprint(input.c_str()));
    if (result->error != nullptr) return std::nullopt;
    return result->fingerprint;
}

}  // namespace pgmux::parser
