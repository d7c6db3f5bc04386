#include "session/plan_invalidation.h"

#include <gtest/gtest.h>

#include <string>

#include "protocol/messages.h"
#include "protocol/wire.h"

namespace pgmux::session {
namespace {

namespace msg = protocol::msg;
using protocol::append_message;

const std::string kZ(1, '\0');

std::string error_body(std::string_view sqlstate, std::string_view routine) {
    std::string b;
    b += 'S';
    b += "ERROR" + kZ;
    b += 'C';
    b += std::string(sqlstate) + kZ;
    b += 'M';
    b += "cached plan must not change result type" + kZ;
    if (!routine.empty()) {
        b += 'R';
        b += std::string(routine) + kZ;
    }
    b += kZ;
    return b;
}

std::string i16(int v) {
    std::string s;
    s.push_back(static_cast<char>((v >> 8) & 0xff));
    s.push_back(static_cast<char>(v & 0xff));
    return s;
}

std::string i32(int v) {
    std::string s;
    protocol::put_u32(s, static_cast<std::uint32_t>(v));
    return s;
}

// Bind of statement "s" into `portal`: `param_formats` codes, parameters
// of 4 bytes each, `result_formats` codes (all text).
std::string bind(std::string_view portal, int param_formats, int format, int params,
                 int result_formats) {
    std::string body = std::string(portal) + kZ + "s" + kZ + i16(param_formats);
    for (int i = 0; i < param_formats; ++i) body += i16(format);
    body += i16(params);
    for (int i = 0; i < params; ++i) body += i32(4) + "abcd";
    body += i16(result_formats);
    for (int i = 0; i < result_formats; ++i) body += i16(0);
    std::string m;
    append_message(m, msg::kBind, {body});
    return m;
}

std::string describe_portal(std::string_view portal) {
    std::string m;
    append_message(m, msg::kDescribe, {"P", portal, kZ});
    return m;
}

std::string execute(std::string_view portal) {
    std::string m;
    append_message(m, msg::kExecute, {portal, kZ, i32(0)});
    return m;
}

std::string simple(char type) {
    std::string m;
    protocol::append_simple(m, type);
    return m;
}

const std::string kNoTypes = i16(0);
const std::string kSync = simple(msg::kSync);

TEST(PlanInvalidation, RecognisedBySqlstateAndRoutine) {
    EXPECT_TRUE(is_plan_invalidation(error_body("0A000", "RevalidateCachedQuery")));
    EXPECT_FALSE(is_plan_invalidation(error_body("0A000", "")));
    EXPECT_FALSE(is_plan_invalidation(error_body("0A000", "transformLockingClause")));
    EXPECT_FALSE(is_plan_invalidation(error_body("42P01", "RevalidateCachedQuery")));
    EXPECT_FALSE(is_plan_invalidation(std::string("C0A0")));  // truncated
}

TEST(PlanInvalidation, LibpqBatchCanRunAgain) {
    // PQsendQueryPrepared: Bind, Describe portal, Execute, Sync.
    EXPECT_TRUE(batch_can_rerun(bind("", 0, 0, 0, 1) + describe_portal("") + execute("") + kSync,
                                kNoTypes));
    EXPECT_TRUE(batch_can_rerun(
        bind("p", 0, 0, 0, 0) + describe_portal("p") + simple(msg::kFlush) + execute("p") + kSync,
        kNoTypes));
}

TEST(PlanInvalidation, RowsDecodedWithAnOldDescriptionAreNotRetried) {
    // asyncpg: the statement was described when prepared; Bind, Execute, Sync.
    EXPECT_FALSE(batch_can_rerun(bind("", 0, 0, 0, 1) + execute("") + kSync, kNoTypes));
    // Described only after it ran.
    EXPECT_FALSE(batch_can_rerun(bind("", 0, 0, 0, 1) + execute("") + describe_portal("") + kSync,
                                 kNoTypes));
    // Another portal described.
    EXPECT_FALSE(batch_can_rerun(
        bind("a", 0, 0, 0, 1) + describe_portal("b") + execute("a") + kSync, kNoTypes));
    // Result formats chosen per column of the old shape.
    EXPECT_FALSE(batch_can_rerun(bind("", 0, 0, 0, 2) + describe_portal("") + execute("") + kSync,
                                 kNoTypes));
}

TEST(PlanInvalidation, BinaryParametersNeedADeclaredType) {
    const std::string batch_text = bind("", 1, 0, 2, 1) + describe_portal("") + execute("") + kSync;
    const std::string batch_binary =
        bind("", 1, 1, 2, 1) + describe_portal("") + execute("") + kSync;
    const std::string untyped = i16(2) + i32(0) + i32(0);
    const std::string typed = i16(2) + i32(23) + i32(23);
    const std::string half = i16(1) + i32(23);
    EXPECT_TRUE(batch_can_rerun(batch_text, untyped));  // text is parsed by the new type
    EXPECT_TRUE(batch_can_rerun(batch_binary, typed));
    EXPECT_FALSE(batch_can_rerun(batch_binary, untyped));  // inferred again: could change
    EXPECT_FALSE(batch_can_rerun(batch_binary, half));
}

TEST(PlanInvalidation, OnlyACompleteBatchOfBindDescribeExecute) {
    const std::string head = bind("", 0, 0, 0, 1) + describe_portal("");
    EXPECT_FALSE(batch_can_rerun(head + execute(""), kNoTypes));  // no Sync yet
    EXPECT_FALSE(batch_can_rerun(head + execute("") + kSync + kSync, kNoTypes));
    std::string parse;
    append_message(parse, msg::kParse, {"x", kZ, "SELECT 1", kZ, i16(0)});
    EXPECT_FALSE(batch_can_rerun(head + execute("") + parse + kSync, kNoTypes));
    std::string unnamed_parse;
    append_message(unnamed_parse, msg::kParse, {kZ, "INSERT INTO log VALUES (1)", kZ, i16(0)});
    EXPECT_TRUE(batch_can_rerun(head + execute("") + unnamed_parse + bind("", 0, 0, 0, 1) +
                                    describe_portal("") + execute("") + kSync,
                                kNoTypes));
    std::string close;
    append_message(close, msg::kClose, {"S", "s", kZ});
    EXPECT_FALSE(batch_can_rerun(head + execute("") + close + kSync, kNoTypes));
    EXPECT_FALSE(batch_can_rerun(execute("") + kSync, kNoTypes));  // must begin with the Bind
    // Later Binds and Executes of other statements run again too.
    EXPECT_TRUE(
        batch_can_rerun(head + execute("") + bind("", 0, 0, 0, 1) + execute("") + kSync, kNoTypes));
}

}  // namespace
}  // namespace pgmux::session
