#include <gtest/gtest.h>

#include "pgmux/auth/secret.hpp"

namespace pgmux::auth {
namespace {

constexpr std::string_view kVerifier =
    "SCRAM-SHA-256$4096:pwgvGLFl6qrxgt5G9VJiTA==$4cEaP1dbt7y/9W0naNa6CxX/tlsdHPe3mX2T35J+QJY=:"
    "t3nzXKuUMl7ZLEpDrA9oROAxOa6CjnPhCn2mOUxfVCg=";

TEST(ParseSecret, ClassifiesLikePostgres) {
    auto scram = parse_secret(kVerifier);
    ASSERT_TRUE(scram);
    EXPECT_EQ(scram->kind(), SecretKind::scram_sha_256);
    EXPECT_EQ(scram->verifier().iterations, 4096);
    EXPECT_EQ(scram->verifier().salt.size(), 16u);
    EXPECT_EQ(format_scram_verifier(scram->verifier()), kVerifier);

    auto md5 = parse_secret("md5277a6b25477915df34bd74cd39325bbe");
    ASSERT_TRUE(md5);
    EXPECT_EQ(md5->kind(), SecretKind::md5);

    // Not quite md5 hashes: plaintext passwords, as in PostgreSQL.
    for (std::string_view text : {"md5277A6B25477915DF34BD74CD39325BBE",
                                  "md5277a6b25477915df34bd74cd39325bb", "md5", "hunter2", ""}) {
        auto plain = parse_secret(text);
        ASSERT_TRUE(plain);
        EXPECT_EQ(plain->kind(), SecretKind::plaintext);
        EXPECT_EQ(plain->text(), text);
    }
}

TEST(ParseSecret, RejectsBrokenVerifiers) {
    const std::string_view broken[] = {
        "SCRAM-SHA-256$",
        "SCRAM-SHA-256$4096:c2FsdA==",
        "SCRAM-SHA-256$x:c2FsdA==$AAAA:AAAA",
        "SCRAM-SHA-256$0:c2FsdA==$4cEaP1dbt7y/9W0naNa6CxX/tlsdHPe3mX2T35J+QJY=:"
        "t3nzXKuUMl7ZLEpDrA9oROAxOa6CjnPhCn2mOUxfVCg=",
        "SCRAM-SHA-256$4096:$4cEaP1dbt7y/9W0naNa6CxX/tlsdHPe3mX2T35J+QJY=:"
        "t3nzXKuUMl7ZLEpDrA9oROAxOa6CjnPhCn2mOUxfVCg=",
        "SCRAM-SHA-256$4096:c2FsdA==$AAAA:t3nzXKuUMl7ZLEpDrA9oROAxOa6CjnPhCn2mOUxfVCg=",
        "SCRAM-SHA-256$4096:c2Fsd===$4cEaP1dbt7y/9W0naNa6CxX/tlsdHPe3mX2T35J+QJY=:"
        "t3nzXKuUMl7ZLEpDrA9oROAxOa6CjnPhCn2mOUxfVCg=",
        "SCRAM-SHA-256$99999999999:c2FsdA==$4cEaP1dbt7y/9W0naNa6CxX/tlsdHPe3mX2T35J+QJY=:"
        "t3nzXKuUMl7ZLEpDrA9oROAxOa6CjnPhCn2mOUxfVCg=",
    };
    for (auto text : broken) {
        auto secret = parse_secret(text);
        ASSERT_FALSE(secret) << text;
        EXPECT_EQ(secret.error(), AuthError::invalid_secret);
    }
}

TEST(BuildVerifier, IsDeterministicForASaltAndRandomOtherwise) {
    const Bytes salt{1, 2, 3, 4, 5, 6, 7, 8};
    auto a = build_scram_verifier("pw", salt, 16);
    auto b = build_scram_verifier("pw", salt, 16);
    auto c = build_scram_verifier("pw", salt, 17);
    ASSERT_TRUE(a && b && c);
    EXPECT_EQ(*a, *b);
    EXPECT_NE(a->stored_key, c->stored_key);
    auto r1 = build_scram_verifier_random_salt("pw");
    auto r2 = build_scram_verifier_random_salt("pw");
    ASSERT_TRUE(r1 && r2);
    EXPECT_NE(r1->salt, r2->salt);
    EXPECT_EQ(r1->salt.size(), kDefaultSaltLength);
    EXPECT_FALSE(build_scram_verifier("pw", Bytes{}, 16));
}

}  // namespace
}  // namespace pgmux::auth
