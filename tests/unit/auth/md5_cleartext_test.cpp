#include <gtest/gtest.h>

#include "pgmux/auth/cleartext_auth.hpp"
#include "pgmux/auth/md5_auth.hpp"

namespace pgmux::auth {
namespace {

// Values computed independently with Python's hashlib:
//   'md5' + md5(b'pw' + b'user').hexdigest()
constexpr std::string_view kPwUserHash = "md5871c429757b7a0bf1654fad112b77bd4";
//   'md5' + md5(b'871c429757b7a0bf1654fad112b77bd4' + bytes([1, 2, 3, 4])).hexdigest()
constexpr std::string_view kPwUserResponse = "md546eacb7412409e1444bde22e56e70744";
constexpr Md5Salt kSalt{1, 2, 3, 4};

TEST(Md5, StoredHashIsMd5OfPasswordThenUser) {
    auto hash = md5_password_hash("pw", "user");
    ASSERT_TRUE(hash);
    EXPECT_EQ(*hash, kPwUserHash);
}

TEST(Md5, ClientResponseFromPasswordOrHash) {
    auto from_password = md5_client_response(Secret::plaintext("pw"), "user", kSalt);
    ASSERT_TRUE(from_password);
    EXPECT_EQ(*from_password, kPwUserResponse);
    auto from_hash = md5_client_response(Secret::md5(std::string(kPwUserHash)), "user", kSalt);
    ASSERT_TRUE(from_hash);
    EXPECT_EQ(*from_hash, kPwUserResponse);
}

TEST(Md5, ClientCannotAnswerFromAScramVerifier) {
    auto verifier = build_scram_verifier_random_salt("pw");
    ASSERT_TRUE(verifier);
    auto response = md5_client_response(Secret::scram(*verifier), "user", kSalt);
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error(), AuthError::secret_unusable);
}

TEST(Md5, ServerVerifiesAgainstPlaintextAndMd5Secrets) {
    const Secret plain = Secret::plaintext("pw");
    const Secret hashed = Secret::md5(std::string(kPwUserHash));
    EXPECT_TRUE(verify_md5_response(&plain, "user", kSalt, kPwUserResponse));
    EXPECT_TRUE(verify_md5_response(&hashed, "user", kSalt, kPwUserResponse));
}

TEST(Md5, FailuresAreIndistinguishable) {
    const Secret plain = Secret::plaintext("pw");
    auto verifier = build_scram_verifier_random_salt("pw");
    ASSERT_TRUE(verifier);
    const Secret scram = Secret::scram(*verifier);
    const Md5Salt other_salt{4, 3, 2, 1};

    const auto wrong_password =
        verify_md5_response(&plain, "user", kSalt, "md5" + std::string(32, '0'));
    const auto unknown_user = verify_md5_response(nullptr, "user", kSalt, kPwUserResponse);
    const auto replayed = verify_md5_response(&plain, "user", other_salt, kPwUserResponse);
    const auto other_user = verify_md5_response(&plain, "someone", kSalt, kPwUserResponse);
    const auto scram_secret = verify_md5_response(&scram, "user", kSalt, kPwUserResponse);
    const auto empty = verify_md5_response(&plain, "user", kSalt, "");
    for (const auto* result :
         {&wrong_password, &unknown_user, &replayed, &other_user, &scram_secret, &empty}) {
        ASSERT_FALSE(*result);
        EXPECT_EQ(result->error(), AuthError::authentication_failed);
    }
}

TEST(Md5, SaltsAreRandom) {
    auto a = generate_md5_salt();
    auto b = generate_md5_salt();
    auto c = generate_md5_salt();
    ASSERT_TRUE(a && b && c);
    EXPECT_FALSE(*a == *b && *b == *c);
}

TEST(Cleartext, VerifiesAgainstEverySecretKind) {
    auto verifier = build_scram_verifier_random_salt("pw");
    ASSERT_TRUE(verifier);
    const Secret plain = Secret::plaintext("pw");
    const Secret hashed = Secret::md5(std::string(kPwUserHash));
    const Secret scram = Secret::scram(*verifier);
    for (const Secret* secret : {&plain, &hashed, &scram}) {
        SCOPED_TRACE(to_string(secret->kind()));
        EXPECT_TRUE(verify_cleartext(secret, "user", "pw"));
        auto wrong = verify_cleartext(secret, "user", "pW");
        ASSERT_FALSE(wrong);
        EXPECT_EQ(wrong.error(), AuthError::authentication_failed);
        auto prefix = verify_cleartext(secret, "user", "p");
        ASSERT_FALSE(prefix);
        EXPECT_EQ(prefix.error(), AuthError::authentication_failed);
    }
    // An md5 hash binds the user name.
    EXPECT_FALSE(verify_cleartext(&hashed, "someone", "pw"));
}

TEST(Cleartext, UnknownUserAndEmptyPasswordFailTheSameWay) {
    const Secret empty_secret = Secret::plaintext("");
    auto unknown = verify_cleartext(nullptr, "user", "pw");
    auto empty = verify_cleartext(&empty_secret, "user", "");
    ASSERT_FALSE(unknown);
    ASSERT_FALSE(empty);
    EXPECT_EQ(unknown.error(), AuthError::authentication_failed);
    EXPECT_EQ(empty.error(), AuthError::authentication_failed);
}

}  // namespace
}  // namespace pgmux::auth
