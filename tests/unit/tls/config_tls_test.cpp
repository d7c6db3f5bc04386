// The TLS keys: parsing, the checks that make a configuration unusable, and
// the OpenSSL contexts built from the files (errors name the key).
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "net/tls.h"
#include "test_certs.h"

namespace pgmux {
namespace {

using config::ClientTlsMode;
using config::ConfigError;
using config::ServerTlsMode;

config::Config parse(std::vector<std::string> args) {
    args.insert(args.begin(), "pgmux");
    args.push_back("--upstream=127.0.0.1:5432");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    auto c = config::parse_command_line(static_cast<int>(argv.size()), argv.data());
    if (!c) throw std::logic_error("help printed");
    return std::move(*c);
}

// The ConfigError's message, or "" when parsing succeeded.
std::string error_of(const std::vector<std::string>& args) {
    try {
        (void)parse(args);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

class ConfigTls : public ::testing::Test {
  protected:
    testing::TestPki pki;
    testing::CertFiles leaf =
        pki.issue("pgmux", {"DNS:localhost", "IP:127.0.0.1"}, 7, EVP_sha256());
};

TEST_F(ConfigTls, DefaultsAreDisabledWithoutContexts) {
    auto c = parse({});
    EXPECT_EQ(c.client_tls_sslmode, ClientTlsMode::kDisable);
    EXPECT_EQ(c.server_tls_sslmode, ServerTlsMode::kDisable);
    EXPECT_EQ(c.client_tls, nullptr);
    EXPECT_EQ(c.server_tls, nullptr);
}

TEST_F(ConfigTls, FlagsSetEveryMode) {
    for (auto [text, mode] :
         {std::pair{"disable", ClientTlsMode::kDisable}, std::pair{"allow", ClientTlsMode::kAllow},
          std::pair{"prefer", ClientTlsMode::kPrefer},
          std::pair{"require", ClientTlsMode::kRequire}}) {
        auto c = parse({std::string("--client-tls-sslmode=") + text,
                        "--client-tls-cert-file=" + leaf.cert, "--client-tls-key-file", leaf.key});
        EXPECT_EQ(c.client_tls_sslmode, mode) << text;
        EXPECT_EQ(c.client_tls != nullptr, mode != ClientTlsMode::kDisable) << text;
    }
    for (auto [text, mode] : {std::pair{"disable", ServerTlsMode::kDisable},
                              std::pair{"prefer", ServerTlsMode::kPrefer},
                              std::pair{"require", ServerTlsMode::kRequire},
                              std::pair{"verify-ca", ServerTlsMode::kVerifyCa},
                              std::pair{"verify-full", ServerTlsMode::kVerifyFull}}) {
        auto c = parse(
            {std::string("--server-tls-sslmode=") + text, "--server-tls-ca-file=" + pki.ca_file()});
        EXPECT_EQ(c.server_tls_sslmode, mode) << text;
        EXPECT_STREQ(config::to_string(mode), text);
        EXPECT_EQ(c.server_tls != nullptr, mode != ServerTlsMode::kDisable) << text;
    }
}

TEST_F(ConfigTls, InvalidModesNameTheKey) {
    EXPECT_NE(error_of({"--client-tls-sslmode=verify-full"}).find("'client_tls_sslmode'"),
              std::string::npos);
    EXPECT_NE(error_of({"--server-tls-sslmode=allow"}).find("'server_tls_sslmode'"),
              std::string::npos);
}

TEST_F(ConfigTls, ClientTlsNeedsCertificateAndKey) {
    const auto e = error_of({"--client-tls-sslmode=require"});
    EXPECT_NE(e.find("'client_tls_sslmode'"), std::string::npos) << e;
    EXPECT_NE(e.find("client_tls_cert_file"), std::string::npos) << e;
    EXPECT_NE(error_of({"--client-tls-sslmode=prefer", "--client-tls-cert-file=" + leaf.cert})
                  .find("client_tls_key_file"),
              std::string::npos);
}

TEST_F(ConfigTls, VerifyModesNeedACa) {
    EXPECT_NE(error_of({"--server-tls-sslmode=verify-full"}).find("server_tls_ca_file"),
              std::string::npos);
    EXPECT_NE(error_of({"--server-tls-sslmode=verify-ca"}).find("server_tls_ca_file"),
              std::string::npos);
    EXPECT_EQ(error_of({"--server-tls-sslmode=require"}), "");
}

TEST_F(ConfigTls, UnreadableOrBadFilesNameTheKey) {
    auto e = error_of({"--client-tls-sslmode=require", "--client-tls-cert-file=/nonexistent.crt",
                       "--client-tls-key-file=" + leaf.key});
    EXPECT_NE(e.find("'client_tls_cert_file'"), std::string::npos) << e;
    const auto junk = pki.write("junk.pem", "not a certificate\n");
    e = error_of({"--client-tls-sslmode=require", "--client-tls-cert-file=" + junk,
                  "--client-tls-key-file=" + leaf.key});
    EXPECT_NE(e.find("'client_tls_cert_file'"), std::string::npos) << e;
    // A key of another certificate.
    auto other = pki.issue("other", {"DNS:other"}, 8, EVP_sha256());
    e = error_of({"--client-tls-sslmode=require", "--client-tls-cert-file=" + leaf.cert,
                  "--client-tls-key-file=" + other.key});
    EXPECT_NE(e.find("'client_tls_key_file'"), std::string::npos) << e;
    e = error_of({"--server-tls-sslmode=verify-ca", "--server-tls-ca-file=" + junk});
    EXPECT_NE(e.find("'server_tls_ca_file'"), std::string::npos) << e;
    e = error_of({"--server-tls-sslmode=require", "--server-tls-cert-file=" + leaf.cert});
    EXPECT_NE(e.find("server_tls_key_file"), std::string::npos) << e;
}

TEST_F(ConfigTls, CiphersAreChecked) {
    auto e = error_of({"--client-tls-sslmode=require", "--client-tls-cert-file=" + leaf.cert,
                       "--client-tls-key-file=" + leaf.key, "--client-tls-ciphers=NO-SUCH-CIPHER"});
    EXPECT_NE(e.find("'client_tls_ciphers'"), std::string::npos) << e;
    e = error_of({"--server-tls-sslmode=require", "--server-tls-ciphers=NOPE"});
    EXPECT_NE(e.find("'server_tls_ciphers'"), std::string::npos) << e;
    EXPECT_EQ(error_of({"--client-tls-sslmode=require", "--client-tls-cert-file=" + leaf.cert,
                        "--client-tls-key-file=" + leaf.key,
                        "--client-tls-ciphers=ECDHE-ECDSA-AES256-GCM-SHA384"}),
              "");
}

TEST_F(ConfigTls, FileKeysAndReload) {
    const auto path = pki.write("pgmux.toml",
                                "client_tls_sslmode = \"prefer\"\n"
                                "client_tls_cert_file = \"" +
                                    leaf.cert + "\"\nclient_tls_key_file = \"" + leaf.key +
                                    "\"\nserver_tls_sslmode = \"verify-full\"\n"
                                    "server_tls_ca_file = \"" +
                                    pki.ca_file() + "\"\n");
    const std::vector<std::string> args{"--config=" + path, "--upstream=127.0.0.1:5432"};
    auto c = parse({"--config=" + path});
    EXPECT_EQ(c.client_tls_sslmode, ClientTlsMode::kPrefer);
    EXPECT_EQ(c.server_tls_sslmode, ServerTlsMode::kVerifyFull);
    ASSERT_NE(c.client_tls, nullptr);
    EXPECT_NE(c.client_tls->certificate_name().find("CN=pgmux"), std::string::npos);
    EXPECT_NE(c.client_tls->certificate_name().find("serial 07"), std::string::npos)
        << c.client_tls->certificate_name();

    // A reload builds a new context from the files as they are now.
    auto fresh = pki.issue("pgmux", {"DNS:localhost"}, 9, EVP_sha256());
    auto reloaded = config::reload(c, args);
    ASSERT_NE(reloaded.client_tls, nullptr);
    EXPECT_NE(reloaded.client_tls, c.client_tls);
    EXPECT_NE(reloaded.client_tls->certificate_name().find("serial 09"), std::string::npos);

    // A broken file makes the reload fail (the caller keeps the running one).
    pki.write("pgmux.key", "garbage\n");
    EXPECT_THROW((void)config::reload(c, args), ConfigError);
}

}  // namespace
}  // namespace pgmux
