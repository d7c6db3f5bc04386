// The reply tracker decides, for every server message, whether the client
// sees it. These tests replay the exact message sequences PostgreSQL sends.
#include "session/reply_tracker.h"

#include <gtest/gtest.h>

#include "pgmux/parser/classifier.hpp"
#include "statements/prepared_statement.h"

namespace pgmux::session {
namespace {

std::string error_bytes() {
    return std::string("E\0\0\0\x05X", 6);
}

struct Step {
    char type;
    std::string body;
};

// Feeds messages and returns the types the client would receive, with
// replacements and synthesized replies spliced in, as a string of type bytes.
std::string run(ReplyTracker& t, const std::vector<Step>& steps) {
    std::string seen;
    std::string synth;
    if (t.take_synthesized(synth)) seen += synth.substr(0, 1);
    for (const auto& s : steps) {
        auto v = t.on_server_message(s.type, s.body);
        if (!v.replacement.empty())
            seen += "!";
        else if (v.forward)
            seen.push_back(s.type);
        synth.clear();
        if (t.take_synthesized(synth)) seen += "(" + synth.substr(0, 1) + ")";
    }
    return seen;
}

TEST(ReplyTracker, ExtendedCycleForwardsEverything) {
    ReplyTracker t;
    t.expect({.expect = Expect::kParse});
    t.expect({.expect = Expect::kBind});
    t.expect({.expect = Expect::kDescribe});
    t.expect({.expect = Expect::kExecute});
    t.expect({.expect = Expect::kSync});
    EXPECT_EQ(run(t, {{'1', ""},
                      {'2', ""},
                      {'T', ""},
                      {'D', ""},
                      {'D', ""},
                      {'C', "SELECT 2\0"},
                      {'Z', "I"}}),
              "12TDDCZ");
    EXPECT_TRUE(t.empty());
}

TEST(ReplyTracker, InjectedParseIsHiddenButItsErrorIsNot) {
    ReplyTracker t;
    t.expect({.expect = Expect::kParse, .action = Action::kSwallow});
    t.expect({.expect = Expect::kBind});
    t.expect({.expect = Expect::kExecute});
    t.expect({.expect = Expect::kSync});
    EXPECT_EQ(run(t, {{'1', ""}, {'2', ""}, {'C', "SELECT 1"}, {'Z', "I"}}), "2CZ");

    t.expect({.expect = Expect::kParse, .action = Action::kSwallow});
    t.expect({.expect = Expect::kBind});
    t.expect({.expect = Expect::kExecute});
    t.expect({.expect = Expect::kSync});
    // The re-Parse fails (table dropped): the server skips to Sync.
    EXPECT_EQ(run(t, {{'E', ""}, {'Z', "I"}}), "EZ");
    EXPECT_TRUE(t.empty());
}

TEST(ReplyTracker, SynthesizedRepliesComeInOrder) {
    ReplyTracker t;
    t.expect({.expect = Expect::kBind});
    t.expect({.expect = Expect::kClose, .action = Action::kSynthesize, .synthesized = "3"});
    t.expect({.expect = Expect::kSync});
    EXPECT_EQ(run(t, {{'2', ""}, {'Z', "I"}}), "2(3)Z");
}

TEST(ReplyTracker, SynthesizedAtTheHeadIsReadyAtOnce) {
    ReplyTracker t;
    t.expect({.expect = Expect::kParse, .action = Action::kSynthesize, .synthesized = "1"});
    t.expect({.expect = Expect::kSync});
    EXPECT_EQ(run(t, {{'Z', "I"}}), "1Z");
}

TEST(ReplyTracker, ErrorSkipsSynthesizedRepliesUpToSync) {
    // Bind fails; the ParseComplete pgmux would have made up after it must
    // not appear, exactly as the server would skip that Parse.
    ReplyTracker t;
    t.expect({.expect = Expect::kBind});
    t.expect({.expect = Expect::kParse, .action = Action::kSynthesize, .synthesized = "1"});
    t.expect({.expect = Expect::kExecute});
    t.expect({.expect = Expect::kSync});
    EXPECT_EQ(run(t, {{'E', ""}, {'Z', "E"}}), "EZ");
    EXPECT_TRUE(t.empty());
}

TEST(ReplyTracker, ReplacedErrorAndPipelinedSyncs) {
    ReplyTracker t;
    // First batch: a duplicate statement name refused via a failing Parse.
    t.expect(
        {.expect = Expect::kParse, .action = Action::kReplaceError, .synthesized = error_bytes()});
    t.expect({.expect = Expect::kBind});
    t.expect({.expect = Expect::kSync});
    // Second batch in the same pipeline runs normally.
    t.expect({.expect = Expect::kBind});
    t.expect({.expect = Expect::kExecute});
    t.expect({.expect = Expect::kSync});
    EXPECT_EQ(run(t, {{'E', ""}, {'Z', "I"}, {'2', ""}, {'C', "SELECT 1"}, {'Z', "I"}}), "!Z2CZ");
}

TEST(ReplyTracker, ReplayQueryIsSwallowedEntirely) {
    ReplyTracker t;
    t.expect({.expect = Expect::kQuery, .action = Action::kSwallowAll});
    t.expect({.expect = Expect::kQuery});
    EXPECT_EQ(run(t, {{'C', "SET"},
                      {'S', "TimeZone\0UTC"},
                      {'Z', "I"},
                      {'T', ""},
                      {'D', ""},
                      {'C', "SELECT 1"},
                      {'Z', "I"}}),
              "TDCZ");
}

TEST(ReplyTracker, AsynchronousMessagesPassWhenIdle) {
    ReplyTracker t;
    EXPECT_EQ(run(t, {{'A', "notify"}, {'N', "notice"}, {'S', "x"}}), "ANS");
}

TEST(ReplyTracker, MultiStatementQueryMatchesStatementsInOrder) {
    parser::Classifier c(16);
    auto cls = c.classify("SET a.b = 1; SELECT 1; RESET a.b");
    ASSERT_EQ(cls->statements.size(), 3u);
    ReplyTracker t;
    t.expect({.expect = Expect::kQuery, .classification = cls});
    const std::string set_tag("SET\0", 4);  // the verdict's command_tag points into it
    auto v = t.on_server_message('C', set_tag);
    ASSERT_EQ(v.event.kind, ReplyEvent::Kind::kStatementDone);
    EXPECT_EQ(v.event.statement, &cls->statements[0]);
    EXPECT_EQ(v.event.command_tag, "SET");
    (void)t.on_server_message('T', "");
    v = t.on_server_message('C', std::string("SELECT 1\0", 9));
    EXPECT_EQ(v.event.statement, &cls->statements[1]);
    v = t.on_server_message('E', "");
    EXPECT_EQ(v.event.kind, ReplyEvent::Kind::kStatementFailed);
    EXPECT_EQ(v.event.statement, &cls->statements[2]);
    v = t.on_server_message('Z', "I");
    EXPECT_EQ(v.event.kind, ReplyEvent::Kind::kReadyForQuery);
    EXPECT_TRUE(t.empty());
}

TEST(ReplyTracker, ParseOutcomeReportsStatementNames) {
    ReplyTracker t;
    t.expect({.expect = Expect::kParse,
              .client_statement = "s1",
              .server_statement = "pgmux_x",
              .parsed_name = "pgmux_x"});
    t.expect({.expect = Expect::kSync});
    auto v = t.on_server_message('E', "");
    EXPECT_EQ(v.failed_client_statement(), "s1");
    EXPECT_EQ(v.failed_server_statement(), "pgmux_x");
    (void)t.on_server_message('Z', "I");

    t.expect({.expect = Expect::kParse, .parsed_name = "pgmux_y"});
    v = t.on_server_message('1', "");
    EXPECT_EQ(v.parsed_server_statement(), "pgmux_y");
}

TEST(ReplyTracker, ParsesSkippedAfterAnErrorAreReported) {
    // Execute fails; the server skips the two Parses after it, and the
    // session must learn which (it recorded their names when sending).
    ReplyTracker t;
    t.expect({.expect = Expect::kExecute});
    t.expect({.expect = Expect::kParse,
              .client_statement = "s1",
              .server_statement = "pgmux_x",
              .parsed_name = "pgmux_x"});
    t.expect({.expect = Expect::kBind});
    t.expect({.expect = Expect::kParse, .action = Action::kSwallow, .unnamed_token = 7});
    t.expect({.expect = Expect::kSync});
    t.expect({.expect = Expect::kParse, .client_statement = "s2", .parsed_name = "pgmux_z"});
    EXPECT_FALSE(t.has_skipped());
    (void)t.on_server_message('E', "");
    ASSERT_TRUE(t.has_skipped());
    const auto skipped = t.take_skipped();
    ASSERT_EQ(skipped.size(), 2u);  // not the Parse after the Sync
    EXPECT_EQ(skipped[0].client_statement(), "s1");
    EXPECT_EQ(skipped[0].server_statement(), "pgmux_x");
    EXPECT_EQ(skipped[1].unnamed_token, 7u);
    EXPECT_EQ(skipped[1].action, Action::kSwallow);
    EXPECT_FALSE(t.has_skipped());
    (void)t.on_server_message('Z', "I");
    EXPECT_EQ(run(t, {{'1', ""}}), "1");  // the next batch's Parse is answered normally
    EXPECT_FALSE(t.has_skipped());
}

TEST(ReplyTracker, RequestsSentWhileTheServerSkipsGetNoReplies) {
    // The error arrives before the client's Sync: what it sends until that
    // Sync is skipped by the server too, so nothing may be expected or made
    // up for it; the Sync ends the skipping.
    ReplyTracker t;
    t.expect({.expect = Expect::kExecute});
    (void)t.on_server_message('E', "");
    t.expect({.expect = Expect::kParse,
              .action = Action::kSynthesize,
              .synthesized = "1",
              .client_statement = "s1",
              .parsed_name = "pgmux_x"});
    t.expect(
        {.expect = Expect::kClose, .action = Action::kSwallow, .server_statement = "pgmux_old"});
    t.expect({.expect = Expect::kBind});
    std::string synth;
    EXPECT_FALSE(t.take_synthesized(synth));  // no ParseComplete the server would not send
    const auto skipped = t.take_skipped();
    ASSERT_EQ(skipped.size(), 2u);
    EXPECT_EQ(skipped[0].client_statement(), "s1");
    EXPECT_EQ(skipped[1].expect, Expect::kClose);
    EXPECT_EQ(skipped[1].server_statement(), "pgmux_old");
    t.expect({.expect = Expect::kSync});
    EXPECT_EQ(run(t, {{'Z', "I"}}), "Z");
    t.expect({.expect = Expect::kParse});
    EXPECT_EQ(run(t, {{'1', ""}}), "1");  // expected again after the Sync
    EXPECT_TRUE(t.empty());
}

TEST(ReplyTracker, PlainEntriesReuseSlotsWithoutWhatTheirPredecessorsCarried) {
    // expect(Expect) fills a ring slot in place: nothing of the richer entry
    // that used the slot before may stay behind, whether that entry was
    // answered (retired) or skipped after an error (dropped).
    parser::Classifier c(16);
    const auto cls = c.classify("SET x = 1");
    const auto values = std::make_shared<const std::vector<std::optional<std::string>>>(
        std::vector<std::optional<std::string>>{"1"});
    const auto previous = std::make_shared<const statements::PreparedStatement>();
    const auto rich = [&](Expect e) {
        return PendingReply{.expect = e,
                            .classification = cls,
                            .parsed_name = "pgmux_x",
                            .bind_values = values,
                            .previous = previous};
    };
    ReplyTracker t;
    for (int round = 0; round < 6; ++round) {  // goes round the ring's four slots
        t.expect(Expect::kExecute);
        t.expect(rich(Expect::kParse));  // dropped: the Execute fails
        t.expect(rich(Expect::kBind));   // dropped as well
        t.expect(Expect::kSync);
        EXPECT_EQ(run(t, {{'E', ""}, {'Z', "I"}}), "EZ");
        (void)t.take_skipped();
        t.expect(rich(Expect::kParse));  // answered
        t.expect(Expect::kSync);
        EXPECT_EQ(run(t, {{'1', ""}, {'Z', "I"}}), "1Z");

        for (const Expect e : {Expect::kParse, Expect::kBind, Expect::kExecute}) t.expect(e);
        t.expect(Expect::kSync);
        for (const char reply : {'1', '2', 'C'}) {
            const auto v = t.on_server_message(reply, std::string("SELECT 1\0", 9));
            EXPECT_TRUE(v.forward);
            EXPECT_FALSE(v.parse_completed);  // no server-side name left over
            ASSERT_NE(v.entry, nullptr);
            EXPECT_EQ(v.entry->classification, nullptr);
            EXPECT_EQ(v.entry->bind_values, nullptr);
            EXPECT_EQ(v.entry->previous, nullptr);
            EXPECT_EQ(v.entry->detail, nullptr);
        }
        EXPECT_EQ(run(t, {{'Z', "I"}}), "Z");
        EXPECT_TRUE(t.empty());
    }
}

TEST(ReplyTracker, PlainParseSentWhileTheServerSkipsIsReported) {
    ReplyTracker t;
    t.expect(Expect::kExecute);
    (void)t.on_server_message('E', "");
    t.expect(Expect::kParse);  // skipped by the server: its bookkeeping is undone
    t.expect(Expect::kBind);
    const auto skipped = t.take_skipped();
    ASSERT_EQ(skipped.size(), 1u);
    EXPECT_EQ(skipped[0].expect, Expect::kParse);
    t.expect(Expect::kSync);
    EXPECT_EQ(run(t, {{'Z', "I"}}), "Z");
    EXPECT_TRUE(t.empty());
}

TEST(ReplyTracker, PortalSuspendedEndsAnExecute) {
    ReplyTracker t;
    t.expect({.expect = Expect::kExecute});
    t.expect({.expect = Expect::kExecute});
    t.expect({.expect = Expect::kSync});
    EXPECT_EQ(run(t, {{'D', ""}, {'s', ""}, {'D', ""}, {'C', "SELECT 2"}, {'Z', "T"}}), "DsDCZ");
    EXPECT_TRUE(t.empty());
}

TEST(ReplyTracker, DeepPipelinesKeepOrderAcrossRingGrowth) {
    ReplyTracker t;
    // 3 cycles of Parse/Bind/Execute/Sync queued at once: the ring grows twice.
    for (int i = 0; i < 3; ++i) {
        t.expect({.expect = Expect::kParse, .action = Action::kSwallow});
        t.expect({.expect = Expect::kBind});
        t.expect({.expect = Expect::kExecute});
        t.expect({.expect = Expect::kSync});
    }
    EXPECT_EQ(t.size(), 12u);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(
            run(t,
                {{'1', ""}, {'2', ""}, {'D', ""}, {'C', std::string("SELECT 1\0", 9)}, {'Z', "I"}}),
            "2DCZ");
    }
    EXPECT_TRUE(t.empty());
}

TEST(ReplyTracker, VerdictStaysReadableWhileNewRequestsGrowTheRing) {
    ReplyTracker t;
    t.expect({.expect = Expect::kParse, .client_statement = "s1", .server_statement = "pgmux_a"});
    t.expect({.expect = Expect::kSync});
    t.expect({.expect = Expect::kQuery,
              .text_shifts = std::make_shared<const std::vector<std::pair<std::size_t, long>>>(
                  std::vector<std::pair<std::size_t, long>>{{3, 7}})});
    auto v = t.on_server_message('E', "");
    // The session queues more requests while it still handles this verdict.
    for (int i = 0; i < 9; ++i) t.expect({.expect = Expect::kQuery});
    EXPECT_EQ(v.failed_client_statement(), "s1");
    EXPECT_EQ(v.failed_server_statement(), "pgmux_a");
    (void)t.on_server_message('Z', "I");
    v = t.on_server_message('E', "");  // the Query's error: its text shifts come along
    for (int i = 0; i < 9; ++i) t.expect({.expect = Expect::kQuery});
    ASSERT_NE(v.text_shifts(), nullptr);
    EXPECT_EQ(v.text_shifts()->at(0).second, 7);
    EXPECT_EQ(v.failed_client_statement(), "");  // not a Parse
}

}  // namespace
}  // namespace pgmux::session
