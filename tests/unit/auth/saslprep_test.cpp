// SASLprep as PostgreSQL 15 applies it. Expected values were computed with
// Python's stringprep and unicodedata (Unicode 14.0, PostgreSQL 15's version).

#include <gtest/gtest.h>

#include "pgmux/auth/saslprep.hpp"

namespace pgmux::auth {
namespace {

TEST(Nfkc, KnownAnswers) {
    struct Case {
        std::u32string input;
        std::u32string expected;
    };
    const Case cases[] = {
        {U"\uFB01", U"fi"},                               // compatibility ligature
        {U"\u1E9B\u0323", U"\u1E69"},                     // UAX #15 example
        {U"e\u0301", U"\u00E9"},                          // canonical composition
        {U"\u2163", U"IV"},                               // roman numeral
        {U"\uAC00\u11A8", U"\uAC01"},                     // Hangul LV + T
        {U"\u1100\u1161\u11A8", U"\uAC01"},               // Hangul L + V + T
        {U"a\u0328\u0301\u0323", U"\u0105\u0323\u0301"},  // reordering
        {U"\u00C5\u0327", U"\u00C5\u0327"},               // blocked recomposition order
        {U"\u0344", U"\u0308\u0301"},                     // composition exclusion
        {U"\u0F73", U"\u0F71\u0F72"},                     // non-starter decomposition
        {U"\u2460x", U"1x"},
        {U"\uFF21\uFF22", U"AB"},                  // fullwidth
        {U"\u3300", U"\u30A2\u30D1\u30FC\u30C8"},  // square katakana
        {U"", U""},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(nfkc(c.input), c.expected);
    }
}

TEST(Saslprep, AsciiPassesThroughUntouched) {
    // PostgreSQL's fast path: even control characters are left alone.
    auto out = saslprep("pass word\x07");
    EXPECT_EQ(out.status, SaslprepStatus::ok);
    EXPECT_EQ(out.text, "pass word\x07");
}

TEST(Saslprep, MapsAndNormalises) {
    auto ligature = saslprep("\uFB01x");
    EXPECT_EQ(ligature.status, SaslprepStatus::ok);
    EXPECT_EQ(ligature.text, "fix");

    auto mapped = saslprep("a\u00ADb\u00A0c\u200Bd");  // soft hyphen gone, spaces mapped
    EXPECT_EQ(mapped.status, SaslprepStatus::ok);
    EXPECT_EQ(mapped.text, "ab c d");

    auto composed = saslprep("wo\u0308rd");
    EXPECT_EQ(composed.status, SaslprepStatus::ok);
    EXPECT_EQ(composed.text, "w\u00F6rd");
}

TEST(Saslprep, RejectsInvalidUtf8) {
    for (std::string_view bad : {std::string_view("\xff"), std::string_view("\xc0\x80"),
                                 std::string_view("\xed\xa0\x80"), std::string_view("\xe2\x82"),
                                 std::string_view("\xf4\x90\x80\x80"), std::string_view("a\x80")}) {
        EXPECT_EQ(saslprep(bad).status, SaslprepStatus::invalid_utf8);
        EXPECT_EQ(saslprep_or_raw(bad), bad);  // PostgreSQL then hashes the raw bytes
    }
}

TEST(Saslprep, RejectsProhibitedUnassignedAndEmpty) {
    EXPECT_EQ(saslprep("caf\u00E9\u200E").status, SaslprepStatus::prohibited);  // C.8
    EXPECT_EQ(saslprep("\u0221\u00E9").status, SaslprepStatus::prohibited);     // A.1 in 3.2
    EXPECT_EQ(saslprep("\uE000x").status, SaslprepStatus::prohibited);          // private use
    EXPECT_EQ(saslprep("\u00AD").status, SaslprepStatus::prohibited);  // maps to nothing: empty
    EXPECT_EQ(saslprep_or_raw("caf\u00E9\u200E"), "caf\u00E9\u200E");
}

TEST(Saslprep, BidiRules) {
    EXPECT_EQ(saslprep("\u05D0\u05D1").status, SaslprepStatus::ok);
    EXPECT_EQ(saslprep("\u05D0a\u05D1").status, SaslprepStatus::prohibited);  // RandAL + L
    EXPECT_EQ(saslprep("\u05D01").status, SaslprepStatus::prohibited);        // does not end RandAL
    EXPECT_EQ(saslprep("1\u05D0").status, SaslprepStatus::prohibited);  // does not start RandAL
}

}  // namespace
}  // namespace pgmux::auth
