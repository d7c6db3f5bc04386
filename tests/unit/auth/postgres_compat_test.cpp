// Known answers produced by a real PostgreSQL 15.x (Debian 12) and libpq:
// initdb, CREATE ROLE ... PASSWORD under password_encryption = scram-sha-256
// (and md5), rolpassword read back from pg_authid, and the authentication
// messages of one psql login per method recorded by a TCP relay.

#include <gtest/gtest.h>

#include "pgmux/auth/auth_messages.hpp"
#include "pgmux/auth/md5_auth.hpp"
#include "pgmux/auth/scram_client.hpp"
#include "pgmux/auth/scram_server.hpp"

namespace pgmux::auth {
namespace {

struct PgRole {
    std::string_view name;
    std::string_view password;  // as given to CREATE ROLE (UTF-8)
    std::string_view rolpassword;
};

// CREATE ROLE ascii_user LOGIN PASSWORD 'correct horse battery staple';
// CREATE ROLE unicode_user LOGIN PASSWORD E'\uFF50\u00E4ss\u00A0wo\u0308rd\u00AD\u2163';
//   (fullwidth p, NBSP, a combining diaeresis, a soft hyphen and ROMAN
//   NUMERAL FOUR: SASLprep maps and NFKC-normalises all of them)
// CREATE ROLE prohibited_user LOGIN PASSWORD E'caf\u00E9\u200E';
//   (U+200E is prohibited, so PostgreSQL hashes the raw bytes)
// CREATE ROLE bidi_user LOGIN PASSWORD E'\u05D0a\u05D1';
//   (RandALCat mixed with LCat: bidi rule fails, raw bytes)
const PgRole kRoles[] = {
    {"ascii_user", "correct horse battery staple",
     "SCRAM-SHA-256$4096:pwgvGLFl6qrxgt5G9VJiTA==$4cEaP1dbt7y/9W0naNa6CxX/tlsdHPe3mX2T35J+QJY=:"
     "t3nzXKuUMl7ZLEpDrA9oROAxOa6CjnPhCn2mOUxfVCg="},
    {"unicode_user", "\uFF50\u00E4ss\u00A0wo\u0308rd\u00AD\u2163",
     "SCRAM-SHA-256$4096:7Q2KGONs/CysAsiv1Odt3A==$FLc6Fc7AlY7yDxIGcSyqRrSjV/HeA7cdH4/tP38UyiE=:"
     "NZD7NI/x3pegHo+FfYWmOfz2gq3PpOg3S7Btp7D183U="},
    {"prohibited_user", "caf\u00E9\u200E",
     "SCRAM-SHA-256$4096:qfWqd7WpxXhHVDzyF1WDaQ==$uUrrrSKZnYN0qhJHnzukQ1Ot6XA1axuXe4DWncS3b/I=:"
     "9B/RBx+0AdaOyADTFGVdHRfwmnCr9Q4Z4EXkbid7o6o="},
    {"bidi_user", "\u05D0a\u05D1",
     "SCRAM-SHA-256$4096:ZiMUJglKLbfK5icrNOOEcw==$WDkFRDRMwgjZv1Ohlx4YiNk4fDIYiWvph7qEsZDEk40=:"
     "7sRtlj3nN1cyNLVgRELhAi1GgKWWyYlTTQtk7pfteoc="},
};

TEST(PostgresCompat, VerifiersDerivedFromPasswordsMatchPostgres) {
    for (const auto& role : kRoles) {
        SCOPED_TRACE(role.name);
        auto parsed = parse_scram_verifier(role.rolpassword);
        ASSERT_TRUE(parsed);
        auto derived = build_scram_verifier(role.password, parsed->salt, parsed->iterations);
        ASSERT_TRUE(derived);
        EXPECT_EQ(*derived, *parsed);
        EXPECT_EQ(format_scram_verifier(*derived), role.rolpassword);
    }
}

TEST(PostgresCompat, RoundTripAgainstPostgresVerifiers) {
    for (const auto& role : kRoles) {
        SCOPED_TRACE(role.name);
        auto secret = parse_secret(role.rolpassword);
        ASSERT_TRUE(secret);
        auto server = ScramServer::for_verifier(secret->verifier());
        auto client = ScramClient::with_password(std::string(role.password));
        const std::vector<std::string> mechanisms{"SCRAM-SHA-256"};
        auto first = client.start(mechanisms);
        ASSERT_TRUE(first);
        auto server_first = server.handle_client_first(first->mechanism, first->message);
        ASSERT_TRUE(server_first);
        auto client_final = client.handle_server_first(*server_first);
        ASSERT_TRUE(client_final);
        auto server_final = server.handle_client_final(*client_final);
        ASSERT_TRUE(server_final) << describe(server_final.error());
        EXPECT_TRUE(client.handle_server_final(*server_final));
    }
}

// psql (libpq 15) logging in as ascii_user to PostgreSQL 15 with scram-sha-256.
constexpr std::string_view kLibpqClientFirst = "n,,n=,r=BEG+HZFmfM2rhw53juxxZFSb";
constexpr std::string_view kPostgresServerNonce = "o+rsRTe5O87wRuvNVJUyDq39";
constexpr std::string_view kPostgresServerFirst =
    "r=BEG+HZFmfM2rhw53juxxZFSbo+rsRTe5O87wRuvNVJUyDq39,s=pwgvGLFl6qrxgt5G9VJiTA==,i=4096";
constexpr std::string_view kLibpqClientFinal =
    "c=biws,r=BEG+HZFmfM2rhw53juxxZFSbo+rsRTe5O87wRuvNVJUyDq39,"
    "p=HoqI7c5AmgSSszzf5kqnEWmjLFP0n+LpkTPTxAY48hc=";
constexpr std::string_view kPostgresServerFinal = "v=q/rloOU3Ky9vwgIZ6/9bi3Uzld3tCBSbyn/4o6H3cwM=";

TEST(PostgresCompat, ServerAcceptsARecordedLibpqLogin) {
    auto verifier = parse_scram_verifier(kRoles[0].rolpassword);
    ASSERT_TRUE(verifier);
    ScramServerOptions options;
    options.fixed_nonce = std::string(kPostgresServerNonce);
    auto server = ScramServer::for_verifier(*verifier, options);
    auto server_first = server.handle_client_first(kScramSha256, kLibpqClientFirst);
    ASSERT_TRUE(server_first);
    EXPECT_EQ(*server_first, kPostgresServerFirst);
    auto server_final = server.handle_client_final(kLibpqClientFinal);
    ASSERT_TRUE(server_final) << describe(server_final.error());
    EXPECT_EQ(*server_final, kPostgresServerFinal);
}

TEST(PostgresCompat, ClientReproducesTheRecordedLibpqLogin) {
    ScramClientOptions options;
    options.fixed_nonce = "BEG+HZFmfM2rhw53juxxZFSb";
    auto client = ScramClient::with_password(std::string(kRoles[0].password), options);
    const std::vector<std::string> mechanisms{"SCRAM-SHA-256"};
    auto first = client.start(mechanisms);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->message, kLibpqClientFirst);
    auto client_final = client.handle_server_first(kPostgresServerFirst);
    ASSERT_TRUE(client_final);
    EXPECT_EQ(*client_final, kLibpqClientFinal);
    EXPECT_TRUE(client.handle_server_final(kPostgresServerFinal));
}

TEST(PostgresCompat, PassThroughReproducesLibpqProofWithoutThePassword) {
    // pgmux authenticates the recorded client, then logs in elsewhere with
    // the recovered keys: given the same nonces, its proof equals libpq's.
    auto verifier = parse_scram_verifier(kRoles[0].rolpassword);
    ASSERT_TRUE(verifier);
    ScramServerOptions server_options;
    server_options.fixed_nonce = std::string(kPostgresServerNonce);
    auto server = ScramServer::for_verifier(*verifier, server_options);
    ASSERT_TRUE(server.handle_client_first(kScramSha256, kLibpqClientFirst));
    ASSERT_TRUE(server.handle_client_final(kLibpqClientFinal));
    auto keys = server.pass_through_keys();
    ASSERT_TRUE(keys);

    ScramClientOptions client_options;
    client_options.fixed_nonce = "BEG+HZFmfM2rhw53juxxZFSb";
    auto client = ScramClient::with_keys(*keys, client_options);
    const std::vector<std::string> mechanisms{"SCRAM-SHA-256"};
    ASSERT_TRUE(client.start(mechanisms));
    auto client_final = client.handle_server_first(kPostgresServerFirst);
    ASSERT_TRUE(client_final);
    EXPECT_EQ(*client_final, kLibpqClientFinal);
    EXPECT_TRUE(client.handle_server_final(kPostgresServerFinal));
}

// psql logging in as md5_user (CREATE ROLE md5_user PASSWORD 'pw' under
// password_encryption = md5): rolpassword, the server's salt and libpq's answer.
constexpr std::string_view kMd5RolPassword = "md5277a6b25477915df34bd74cd39325bbe";
constexpr Md5Salt kMd5Salt{0xa6, 0x90, 0xa2, 0xb8};
constexpr std::string_view kLibpqMd5Response = "md5cfb705020fba0777f2aa4be740d62515";

TEST(PostgresCompat, Md5MatchesPostgresAndLibpq) {
    auto hash = md5_password_hash("pw", "md5_user");
    ASSERT_TRUE(hash);
    EXPECT_EQ(*hash, kMd5RolPassword);

    auto from_password = md5_client_response(Secret::plaintext("pw"), "md5_user", kMd5Salt);
    ASSERT_TRUE(from_password);
    EXPECT_EQ(*from_password, kLibpqMd5Response);
    auto from_hash =
        md5_client_response(Secret::md5(std::string(kMd5RolPassword)), "md5_user", kMd5Salt);
    ASSERT_TRUE(from_hash);
    EXPECT_EQ(*from_hash, kLibpqMd5Response);

    auto stored = parse_secret(kMd5RolPassword);
    ASSERT_TRUE(stored);
    EXPECT_TRUE(verify_md5_response(&*stored, "md5_user", kMd5Salt, kLibpqMd5Response));
}

TEST(PostgresCompat, RecordedWireMessagesParse) {
    // AuthenticationSASL payload as PostgreSQL sent it (no TLS: no PLUS).
    const Bytes sasl{0,   0,   0,   10,  'S', 'C', 'R', 'A', 'M', '-',
                     'S', 'H', 'A', '-', '2', '5', '6', 0,   0};
    auto request = parse_authentication_request(sasl);
    ASSERT_TRUE(request);
    EXPECT_EQ(request->code, AuthRequestCode::sasl);
    ASSERT_EQ(request->mechanisms.size(), 1u);
    EXPECT_EQ(request->mechanisms[0], "SCRAM-SHA-256");

    // Our builder produces exactly PostgreSQL's bytes (type 'R', length 23).
    const std::vector<std::string_view> mechanisms{kScramSha256};
    auto built = build_authentication_sasl(mechanisms);
    Bytes expected{'R', 0, 0, 0, 23};
    expected.insert(expected.end(), sasl.begin(), sasl.end());
    EXPECT_EQ(built, expected);

    // libpq's SASLInitialResponse payload.
    std::string initial = "SCRAM-SHA-256";
    initial += '\0';
    initial += std::string("\0\0\0\x20", 4);
    initial += kLibpqClientFirst;
    auto parsed = parse_sasl_initial_response(as_bytes(initial));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->mechanism, "SCRAM-SHA-256");
    EXPECT_EQ(parsed->data, kLibpqClientFirst);
}

}  // namespace
}  // namespace pgmux::auth
