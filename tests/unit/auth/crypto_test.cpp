#include <gtest/gtest.h>

#include "pgmux/auth/crypto.hpp"

namespace pgmux::auth {
namespace {

TEST(Base64, EncodesWithPadding) {
    EXPECT_EQ(base64_encode(as_bytes("")), "");
    EXPECT_EQ(base64_encode(as_bytes("f")), "Zg==");
    EXPECT_EQ(base64_encode(as_bytes("fo")), "Zm8=");
    EXPECT_EQ(base64_encode(as_bytes("foo")), "Zm9v");
    EXPECT_EQ(base64_encode(as_bytes("n,,")), "biws");
}

TEST(Base64, DecodesCanonicalInputAndStripsPadding) {
    auto one = base64_decode("Zg==");
    ASSERT_TRUE(one);
    EXPECT_EQ(as_text(*one), "f");
    auto two = base64_decode("Zm8=");
    ASSERT_TRUE(two);
    EXPECT_EQ(as_text(*two), "fo");
    auto three = base64_decode("Zm9v");
    ASSERT_TRUE(three);
    EXPECT_EQ(as_text(*three), "foo");
}

TEST(Base64, RejectsNonCanonicalInput) {
    EXPECT_FALSE(base64_decode("Zm9"));    // length not a multiple of 4
    EXPECT_FALSE(base64_decode("Zm 9v"));  // whitespace EVP_DecodeBlock would skip
    EXPECT_FALSE(base64_decode("Zm=v"));   // padding in the middle
    EXPECT_FALSE(base64_decode("Z==="));   // too much padding
    EXPECT_FALSE(base64_decode("Zm9*"));   // outside the alphabet
    EXPECT_FALSE(base64_decode("Zm9v\n"));
}

TEST(Crypto, Sha256KnownAnswer) {
    auto digest = crypto::sha256(as_bytes("abc"));
    ASSERT_TRUE(digest);
    EXPECT_EQ(base64_encode(*digest), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
}

TEST(Crypto, HmacSha256Rfc4231Case2) {
    auto mac = crypto::hmac_sha256(as_bytes("Jefe"), as_bytes("what do ya want for nothing?"));
    ASSERT_TRUE(mac);
    // 5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843
    EXPECT_EQ(base64_encode(*mac), "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
}

TEST(Crypto, Md5HexMatchesPostgresMd5) {
    // SELECT md5('pwuser') in PostgreSQL.
    auto hex = crypto::md5_hex(as_bytes("pwuser"));
    ASSERT_TRUE(hex);
    EXPECT_EQ(*hex, "871c429757b7a0bf1654fad112b77bd4");
}

TEST(Crypto, ConstantTimeEqualityHandlesLengths) {
    EXPECT_TRUE(crypto::equal_constant_time(as_bytes("abc"), as_bytes("abc")));
    EXPECT_FALSE(crypto::equal_constant_time(as_bytes("abc"), as_bytes("abd")));
    EXPECT_FALSE(crypto::equal_constant_time(as_bytes("abc"), as_bytes("abcd")));
    EXPECT_TRUE(crypto::equal_constant_time(as_bytes(""), as_bytes("")));
}

TEST(Crypto, RandomBytesDiffer) {
    std::array<std::uint8_t, 32> a{}, b{};
    ASSERT_TRUE(crypto::random_bytes(a));
    ASSERT_TRUE(crypto::random_bytes(b));
    EXPECT_NE(a, b);
}

}  // namespace
}  // namespace pgmux::auth
