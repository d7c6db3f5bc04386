#pragma once

// SASLprep (RFC 4013) the way PostgreSQL 15's pg_saslprep applies it to SCRAM
// passwords: pure ASCII passes unchanged; otherwise map (non-ASCII spaces to
// U+0020, "commonly mapped to nothing" removed), NFKC-normalise, and reject
// prohibited, unassigned or badly mixed bidirectional characters. Like
// PostgreSQL, the prohibition and bidi checks look at the mapped input, not at
// the normalised output.

#include <string>
#include <string_view>

namespace pgmux::auth {

enum class SaslprepStatus { ok, invalid_utf8, prohibited };

struct SaslprepOutcome {
    SaslprepStatus status = SaslprepStatus::ok;
    std::string text;  // the prepared password when status is ok
};

[[nodiscard]] SaslprepOutcome saslprep(std::string_view input);

// What PostgreSQL does with a SCRAM password: the SASLprep'd form if
// SASLprep succeeds, the raw bytes if the input is not valid UTF-8 or holds
// prohibited characters.
[[nodiscard]] std::string saslprep_or_raw(std::string_view password);

// NFKC normalisation of a code point sequence (exposed for tests).
[[nodiscard]] std::u32string nfkc(std::u32string_view input);

}  // namespace pgmux::auth
