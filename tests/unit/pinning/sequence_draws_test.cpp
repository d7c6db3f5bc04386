// SequenceDraws: when a client's implicit sequence draws keep its server, and
// when they stop doing so (PDO::lastInsertId reads them; INSERT ... RETURNING
// clients never do).
#include "pgmux/pinning/sequence_draws.hpp"

#include <gtest/gtest.h>

namespace pgmux::pinning {
namespace {

TEST(SequenceDraws, ANewClientHoldsNothing) {
    SequenceDraws d;
    EXPECT_FALSE(d.may_hold_values());
    EXPECT_FALSE(d.watching());
    EXPECT_FALSE(d.keeps_server());
    EXPECT_FALSE(d.linger_after_transaction());
}

TEST(SequenceDraws, APreparedInsertHoldsNothingUntilItRuns) {
    SequenceDraws d;
    d.on_possible_draw(/*runs=*/false);  // Parse
    EXPECT_TRUE(d.may_hold_values());
    EXPECT_TRUE(d.watching());
    EXPECT_FALSE(d.keeps_server());
    EXPECT_FALSE(d.linger_after_transaction());
}

TEST(SequenceDraws, TheFirstDrawLingersOnceAsAProbe) {
    SequenceDraws d;
    d.on_possible_draw(true);
    EXPECT_TRUE(d.keeps_server());  // not known yet whether it reads
    EXPECT_TRUE(d.probing());
    EXPECT_TRUE(d.linger_after_transaction());
    EXPECT_FALSE(d.linger_after_transaction());  // once per transaction that drew
}

TEST(SequenceDraws, AClientThatNeverReadsIsNotHeldBackAfterTheProbe) {
    SequenceDraws d;
    d.on_possible_draw(true);
    ASSERT_TRUE(d.linger_after_transaction());
    d.on_probe_answer(/*reads=*/false);  // INSERT ... RETURNING: the next request is no read
    EXPECT_FALSE(d.probing());
    EXPECT_FALSE(d.watching());
    EXPECT_FALSE(d.keeps_server());
    d.on_possible_draw(true);
    EXPECT_FALSE(d.keeps_server());
    EXPECT_FALSE(d.linger_after_transaction());
}

TEST(SequenceDraws, AReadingClientKeepsItsServerUntilItHasRead) {
    SequenceDraws d;
    d.on_possible_draw(true);
    ASSERT_TRUE(d.linger_after_transaction());
    d.on_read();  // SELECT lastval()
    d.on_probe_answer(/*reads=*/true);
    EXPECT_FALSE(d.probing());
    EXPECT_FALSE(d.keeps_server());  // read: nothing left to keep
    d.on_possible_draw(true);        // the next INSERT
    EXPECT_TRUE(d.watching());
    EXPECT_TRUE(d.keeps_server());
    EXPECT_TRUE(d.linger_after_transaction());
    d.on_read();
    EXPECT_FALSE(d.keeps_server());
}

}  // namespace
}  // namespace pgmux::pinning
