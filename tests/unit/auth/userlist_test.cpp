#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "pgmux/auth/userlist.hpp"

namespace pgmux::auth {
namespace {

constexpr std::string_view kVerifier =
    "SCRAM-SHA-256$4096:pwgvGLFl6qrxgt5G9VJiTA==$4cEaP1dbt7y/9W0naNa6CxX/tlsdHPe3mX2T35J+QJY=:"
    "t3nzXKuUMl7ZLEpDrA9oROAxOa6CjnPhCn2mOUxfVCg=";

TEST(Userlist, ParsesPgBouncerFormat) {
    const std::string text =
        std::string(
            "; PgBouncer comment\n"
            "# also a comment\n"
            "\n"
            "   \t\n"
            "\"alice\" \"plain secret\"\n"
            "\"bob\"\t\"md5277a6b25477915df34bd74cd39325bbe\"  trailing junk ignored\n"
            "  \"carol\" \"") +
        std::string(kVerifier) +
        "\"\r\n"
        "\"quote\"\"d user\" \"pa\"\"ss\"\"\"\n"
        "\"empty\" \"\"";
    auto users = parse_userlist(text);
    ASSERT_TRUE(users) << users.error().line << ": " << users.error().message;
    EXPECT_EQ(users->size(), 5u);

    const Secret* alice = users->find("alice");
    ASSERT_NE(alice, nullptr);
    EXPECT_EQ(alice->kind(), SecretKind::plaintext);
    EXPECT_EQ(alice->text(), "plain secret");

    const Secret* bob = users->find("bob");
    ASSERT_NE(bob, nullptr);
    EXPECT_EQ(bob->kind(), SecretKind::md5);

    const Secret* carol = users->find("carol");
    ASSERT_NE(carol, nullptr);
    EXPECT_EQ(carol->kind(), SecretKind::scram_sha_256);
    EXPECT_EQ(format_scram_verifier(carol->verifier()), kVerifier);

    const Secret* quoted = users->find("quote\"d user");
    ASSERT_NE(quoted, nullptr);
    EXPECT_EQ(quoted->text(), "pa\"ss\"");

    const Secret* empty = users->find("empty");
    ASSERT_NE(empty, nullptr);
    EXPECT_EQ(empty->text(), "");

    EXPECT_EQ(users->find("dave"), nullptr);
    EXPECT_EQ(users->find("Alice"), nullptr);  // names are case-sensitive
}

TEST(Userlist, LaterLinesWin) {
    auto users = parse_userlist("\"u\" \"one\"\n\"u\" \"two\"\n");
    ASSERT_TRUE(users);
    EXPECT_EQ(users->size(), 1u);
    EXPECT_EQ(users->find("u")->text(), "two");
}

TEST(Userlist, ErrorsNameTheLineAndNeverTheSecret) {
    struct Case {
        std::string text;
        std::size_t line;
    };
    const std::string long_name(kMaxUserNameLength + 1, 'u');
    const std::string long_secret(kMaxSecretLength + 1, 's');
    const Case cases[] = {
        {"\"ok\" \"fine\"\nalice \"topsecret1\"\n", 2},
        {"\"alice\" \"topsecret1\n", 1},
        {"\"alice\n", 1},
        {"\"ok\" \"x\"\n\n\"alice\"\n", 3},
        {"\"alice\" topsecret1\n", 1},
        {"\"\" \"topsecret1\"\n", 1},
        {"\"" + long_name + "\" \"topsecret1\"\n", 1},
        {"\"alice\" \"" + long_secret + "topsecret1\"\n", 1},
        {"\"alice\" \"SCRAM-SHA-256$4096:topsecret1\"\n", 1},
    };
    for (const auto& c : cases) {
        auto users = parse_userlist(c.text);
        ASSERT_FALSE(users) << c.text;
        EXPECT_EQ(users.error().line, c.line) << c.text;
        EXPECT_FALSE(users.error().message.empty());
        EXPECT_EQ(users.error().message.find("topsecret1"), std::string::npos);
        EXPECT_EQ(users.error().message.find("sss"), std::string::npos);
    }
}

TEST(Userlist, LoadsFromFile) {
    const auto path = std::filesystem::temp_directory_path() /
                      ("pgmux_userlist_test_" + std::to_string(::getpid()) + ".txt");
    {
        std::ofstream out(path);
        out << "\"alice\" \"pw\"\n";
    }
    auto users = load_userlist_file(path);
    std::filesystem::remove(path);
    ASSERT_TRUE(users);
    ASSERT_NE(users->find("alice"), nullptr);

    auto missing = load_userlist_file(path);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().line, 0u);
}

}  // namespace
}  // namespace pgmux::auth
