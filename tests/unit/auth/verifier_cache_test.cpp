#include <gtest/gtest.h>

#include "pgmux/auth/verifier_cache.hpp"

namespace pgmux::auth {
namespace {

TEST(VerifierCache, ReusesTheSaltWhileThePasswordIsUnchanged) {
    auto cache = VerifierCache::create(2, 16);
    ASSERT_TRUE(cache);
    auto first = (*cache)->get_or_build("alice", "pw");
    auto second = (*cache)->get_or_build("alice", "pw");
    ASSERT_TRUE(first && second);
    EXPECT_EQ(*first, *second);
    EXPECT_EQ(first->iterations, 16);

    auto changed = (*cache)->get_or_build("alice", "new pw");
    ASSERT_TRUE(changed);
    EXPECT_NE(changed->stored_key, first->stored_key);
    EXPECT_EQ((*cache)->size(), 1u);
}

TEST(VerifierCache, IsBoundedLru) {
    auto cache = VerifierCache::create(2, 16);
    ASSERT_TRUE(cache);
    auto a = (*cache)->get_or_build("a", "pw");
    ASSERT_TRUE((*cache)->get_or_build("b", "pw"));
    ASSERT_TRUE((*cache)->get_or_build("a", "pw"));  // a is now most recent
    ASSERT_TRUE((*cache)->get_or_build("c", "pw"));  // evicts b
    EXPECT_EQ((*cache)->size(), 2u);
    auto a_again = (*cache)->get_or_build("a", "pw");
    ASSERT_TRUE(a && a_again);
    EXPECT_EQ(a->salt, a_again->salt);
}

TEST(VerifierCache, RejectsZeroCapacity) {
    EXPECT_FALSE(VerifierCache::create(0));
}

}  // namespace
}  // namespace pgmux::auth
