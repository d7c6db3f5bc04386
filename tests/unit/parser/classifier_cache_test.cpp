#include <gtest/gtest.h>

#include <string>

#include "pgmux/parser/classifier.hpp"
#include "pgmux/parser/pg_query.hpp"

namespace pgmux::parser {
namespace {

TEST(ClassifierCache, HitReturnsTheSameResult) {
    Classifier c(4);
    auto first = c.classify("SET search_path TO a");
    auto second = c.classify(std::string("SET search_path TO a"));
    EXPECT_EQ(first.get(), second.get());
    EXPECT_EQ(c.stats().misses, 1u);
    EXPECT_EQ(c.stats().hits, 1u);
    EXPECT_EQ(c.size(), 1u);
}

TEST(ClassifierCache, EvictsLeastRecentlyUsed) {
    Classifier c(2);
    auto a = c.classify("SET a.x = 1");
    (void)c.classify("SET b.x = 1");
    (void)c.classify("SET a.x = 1");  // a is now most recent
    (void)c.classify("SET c.x = 1");  // evicts b
    EXPECT_EQ(c.size(), 2u);
    EXPECT_EQ(c.stats().evictions, 1u);
    (void)c.classify("SET a.x = 1");
    EXPECT_EQ(c.stats().hits, 2u);
    (void)c.classify("SET b.x = 1");
    EXPECT_EQ(c.stats().misses, 4u);
    // An evicted result stays valid for whoever holds it.
    EXPECT_EQ(a->statements.at(0).settings.at(0).name, "a.x");
}

TEST(ClassifierCache, RespectsTheByteBudget) {
    Classifier c(1000, 64 * 1024);
    for (int i = 0; i < 200; ++i) {
        (void)c.classify("SET a.x = '" + std::string(100, 'v') + std::to_string(i) + "'");
    }
    EXPECT_LE(c.bytes(), 64u * 1024u);
    EXPECT_GT(c.stats().evictions, 0u);
    // A text larger than budget/16 is classified but never cached.
    auto big = c.classify("SELECT '" + std::string(8000, 'x') + "'");
    EXPECT_TRUE(big->parsed);
    EXPECT_EQ(c.stats().uncacheable, 1u);
}

TEST(ClassifierCache, CountsUnparsedTexts) {
    Classifier c(8);
    (void)c.classify("SELEC 1");
    (void)c.classify("SELEC 1");
    EXPECT_EQ(c.stats().unparsed, 2u);
    EXPECT_EQ(c.stats().misses, 1u);
}

TEST(PgQuery, NormalizeAndFingerprint) {
    EXPECT_EQ(normalize("SELECT * FROM t WHERE a = 5 AND b = 'x'"),
              "SELECT * FROM t WHERE a = $1 AND b = $2");
    EXPECT_EQ(normalize("not sql at all"), "not sql at all");
    auto f1 = fingerprint("SELECT * FROM t WHERE a = 5");
    auto f2 = fingerprint("select * from t where a = 7");
    ASSERT_TRUE(f1.has_value());
    EXPECT_EQ(f1, f2);
    EXPECT_FALSE(fingerprint("SELEC").has_value());
    auto parsed = parse_to_json("SELEC");
    ASSERT_TRUE(parsed.error.has_value());
    EXPECT_FALSE(parsed.error->message.empty());
}

}  // namespace
}  // namespace pgmux::parser
