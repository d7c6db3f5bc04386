// Runs statement corpora through both the prefilter and the full classifier: the prefilter
// must never call a statement harmless that the classifier says touches session state.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "pgmux/parser/classifier.hpp"
#include "pgmux/parser/lexer.hpp"
#include "pgmux/parser/prefilter.hpp"

namespace pgmux::parser {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// psql input -> SQL: meta-command lines are dropped, "\;" joins statements into one Query,
// and a trailing meta-command (" \gset") ends the statement.
std::string strip_psql_meta_commands(const std::string& script) {
    std::istringstream in(script);
    std::string line;
    std::string out;
    while (std::getline(in, line)) {
        std::size_t first = line.find_first_not_of(" \t");
        if (first != std::string::npos && line[first] == '\\') continue;
        std::size_t pos = 0;
        while ((pos = line.find("\\;", pos)) != std::string::npos) line.replace(pos, 2, ";");
        std::size_t meta = line.find(" \\g");
        if (meta == std::string::npos) meta = line.find(" \\crosstabview");
        if (meta != std::string::npos) line = line.substr(0, meta) + ";";
        out += line;
        out += '\n';
    }
    return out;
}

struct Tally {
    std::size_t statements = 0;
    std::size_t relevant = 0;
    std::size_t unparsed = 0;
    std::size_t prefilter_true = 0;
};

// Checks one Query text; returns a failure description or empty.
std::string check_query(std::string_view query, Tally& tally) {
    const bool fast_path = !may_affect_session_state(query);
    Classification c = classify_uncached(query);
    if (!c.parsed) ++tally.unparsed;
    if (!fast_path) ++tally.prefilter_true;
    for (const Statement& st : c.statements) {
        ++tally.statements;
        if (!st.is_session_relevant()) continue;
        ++tally.relevant;
        if (fast_path) {
            return "prefilter said harmless, classifier says " + std::string(to_string(st.kind)) +
                   ": " + std::string(query);
        }
        if (!may_affect_session_state(query.substr(st.location, st.length))) {
            return "prefilter missed statement " + std::string(to_string(st.kind)) + ": " +
                   std::string(query.substr(st.location, st.length));
        }
    }
    return {};
}

TEST(RegressCorpus, PrefilterNeverMissesAStateChangeInPg15RegressionSql) {
    const fs::path dir = PGMUX_REGRESS_SQL_DIR;
    if (!fs::is_directory(dir)) {
        // Only where ../shared/conformance is absent (it exists in CI and the dev tree).
        std::cout << "[ note ] " << dir << " does not exist; regression corpus not checked\n";
        return;
    }
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() == ".sql") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    ASSERT_FALSE(files.empty()) << "no .sql files in " << dir;

    Tally tally;
    std::size_t failures = 0;
    for (const fs::path& file : files) {
        const std::string sql = strip_psql_meta_commands(read_file(file));
        for (const StatementSpan& span : split_statements(sql)) {
            std::string failure =
                check_query(std::string_view(sql).substr(span.location, span.length), tally);
            if (!failure.empty() && ++failures <= 20) {
                ADD_FAILURE() << file.filename().string() << ": " << failure;
            }
        }
    }
    EXPECT_EQ(failures, 0u);
    std::cout << "[ note ] " << files.size() << " files, " << tally.statements << " statements, "
              << tally.relevant << " session-relevant, " << tally.unparsed
              << " unparsed queries, prefilter sent " << tally.prefilter_true
              << " queries to the classifier\n";
    EXPECT_GT(tally.statements, 10000u);
    EXPECT_GT(tally.relevant, 500u);
}

// The project's own corpus (tests/unit/parser/corpus/*.sql) with expected kinds.
TEST(OwnCorpus, EveryEntryClassifiesAsExpected) {
    const fs::path dir = PGMUX_PARSER_CORPUS_DIR;
    std::size_t entries = 0;
    for (const auto& file : fs::directory_iterator(dir)) {
        if (file.path().extension() != ".sql") continue;
        std::istringstream in(read_file(file.path()));
        std::string line;
        std::vector<std::pair<std::string, std::string>> cases;  // expectation, sql
        while (std::getline(in, line)) {
            if (line.rfind("-- expect:", 0) == 0) {
                cases.emplace_back(line.substr(10), std::string{});
            } else if (!cases.empty() && line.rfind("-- ", 0) != 0) {
                cases.back().second += line + "\n";
            }
        }
        for (const auto& [expectation, sql] : cases) {
            ++entries;
            std::string kinds_part = expectation.substr(0, expectation.find('|'));
            const bool must_be_fast = expectation.find("| fast") != std::string::npos;
            std::istringstream ks(kinds_part);
            std::vector<std::string> expected;
            for (std::string k; ks >> k;) expected.push_back(k);
            Classification c = classify_uncached(sql);
            std::vector<std::string> actual;
            for (const Statement& st : c.statements) actual.emplace_back(to_string(st.kind));
            EXPECT_EQ(actual, expected) << sql;
            Tally tally;
            EXPECT_EQ(check_query(sql, tally), "") << sql;
            if (must_be_fast) {
                EXPECT_FALSE(may_affect_session_state(sql)) << sql;
            }
        }
    }
    EXPECT_GT(entries, 50u);
}

}  // namespace
}  // namespace pgmux::parser
