// The auth_query round trip byte by byte: the request carries the user name
// only as a bound parameter, and the reply reader copes with every shape a
// lookup can produce.
#include "auth_source/lookup_protocol.h"

#include <gtest/gtest.h>

#include "protocol/wire.h"

namespace pgmux::auth_source {
namespace {

constexpr std::string_view kQuery =
    "SELECT usename, passwd FROM pg_catalog.pg_shadow WHERE usename = $1";

std::string message(char type, std::string_view body) {
    std::string out(1, type);
    protocol::put_i32(out, static_cast<std::int32_t>(body.size() + 4));
    out.append(body);
    return out;
}

protocol::Frame frame_of(const std::string& bytes) {
    auto r = protocol::decode_frame(bytes, 1 << 20);
    EXPECT_EQ(r.status, protocol::DecodeStatus::kFrame);
    return r.frame;
}

std::string data_row(std::initializer_list<std::optional<std::string_view>> columns) {
    std::string body;
    protocol::put_i16(body, static_cast<std::int16_t>(columns.size()));
    for (const auto& c : columns) {
        if (!c) {
            protocol::put_i32(body, -1);
            continue;
        }
        protocol::put_i32(body, static_cast<std::int32_t>(c->size()));
        body.append(*c);
    }
    return message('D', body);
}

std::string error_response(std::string_view sqlstate, std::string_view text) {
    std::string body;
    body += 'S';
    protocol::put_cstr(body, "ERROR");
    body += 'C';
    protocol::put_cstr(body, sqlstate);
    body += 'M';
    protocol::put_cstr(body, text);
    body += '\0';
    return message('E', body);
}

LookupReply::Progress feed_all(LookupReply& reply, const std::vector<std::string>& messages) {
    auto progress = LookupReply::Progress::kMore;
    for (const auto& m : messages) {
        progress = reply.feed(frame_of(m));
        if (progress != LookupReply::Progress::kMore) break;
    }
    return progress;
}

TEST(LookupRequest, ParseBindExecuteSyncWithTheUserAsAParameter) {
    const std::string user = "x' OR usename = 'postgres";
    const std::string wire = build_lookup_request(kQuery, user);
    std::vector<char> types;
    std::vector<std::string_view> bodies;
    std::string_view rest = wire;
    while (!rest.empty()) {
        auto r = protocol::decode_frame(rest, 1 << 20);
        ASSERT_EQ(r.status, protocol::DecodeStatus::kFrame);
        types.push_back(r.frame.type);
        bodies.push_back(r.frame.body);
        rest.remove_prefix(r.consumed);
    }
    ASSERT_EQ(types, (std::vector<char>{'P', 'B', 'E', 'S'}));
    // Parse: unnamed statement, the query text untouched, no parameter types.
    protocol::BodyReader parse(bodies[0]);
    EXPECT_EQ(parse.cstr(), "");
    EXPECT_EQ(parse.cstr(), kQuery);
    EXPECT_EQ(parse.i16(), 0);
    EXPECT_EQ(parse.remaining(), 0u);
    // Bind: the user name travels only here, length-prefixed, in text format.
    protocol::BodyReader bind(bodies[1]);
    EXPECT_EQ(bind.cstr(), "");
    EXPECT_EQ(bind.cstr(), "");
    EXPECT_EQ(bind.i16(), 0);
    EXPECT_EQ(bind.i16(), 1);
    EXPECT_EQ(bind.i32(), static_cast<std::int32_t>(user.size()));
    EXPECT_EQ(bind.bytes(user.size()), user);
    EXPECT_EQ(bind.i16(), 0);
    EXPECT_EQ(bind.remaining(), 0u);
    EXPECT_EQ(bodies[0].find(user), std::string_view::npos);
    protocol::BodyReader execute(bodies[2]);
    EXPECT_EQ(execute.cstr(), "");
    EXPECT_EQ(execute.i32(), 0);
    EXPECT_TRUE(bodies[3].empty());
}

TEST(LookupReply, OneRow) {
    LookupReply reply;
    EXPECT_EQ(feed_all(reply, {message('1', ""), message('2', ""),
                               data_row({"alice", "md5" + std::string(32, 'f')}),
                               message('C', std::string("SELECT 1") + '\0'), message('Z', "I")}),
              LookupReply::Progress::kDone);
    EXPECT_FALSE(reply.error());
    EXPECT_EQ(reply.rows(), 1);
    EXPECT_EQ(reply.secret(), "md5" + std::string(32, 'f'));
    EXPECT_FALSE(reply.malformed_row());
}

TEST(LookupReply, NoRowAndNullPassword) {
    LookupReply none;
    EXPECT_EQ(feed_all(none, {message('1', ""), message('2', ""),
                              message('C', std::string("SELECT 0") + '\0'), message('Z', "I")}),
              LookupReply::Progress::kDone);
    EXPECT_EQ(none.rows(), 0);
    EXPECT_FALSE(none.secret());

    LookupReply null_password;
    EXPECT_EQ(feed_all(null_password, {data_row({"bob", std::nullopt}), message('Z', "I")}),
              LookupReply::Progress::kDone);
    EXPECT_EQ(null_password.rows(), 1);
    EXPECT_FALSE(null_password.secret());
}

TEST(LookupReply, ServerErrorIsReported) {
    LookupReply reply;
    EXPECT_EQ(feed_all(reply, {error_response("42501", "permission denied for view pg_shadow"),
                               message('Z', "I")}),
              LookupReply::Progress::kDone);
    ASSERT_TRUE(reply.error());
    EXPECT_EQ(reply.error()->sqlstate, "42501");
}

TEST(LookupReply, ShapesALookupNeverHas) {
    LookupReply one_column;
    EXPECT_EQ(feed_all(one_column, {data_row({"alice"}), message('Z', "I")}),
              LookupReply::Progress::kDone);
    EXPECT_TRUE(one_column.malformed_row());

    LookupReply truncated;
    std::string body;
    protocol::put_i16(body, 2);
    protocol::put_i32(body, 100);  // claims 100 bytes, has 3
    body += "abc";
    EXPECT_EQ(feed_all(truncated, {message('D', body), message('Z', "I")}),
              LookupReply::Progress::kDone);
    EXPECT_TRUE(truncated.malformed_row());

    LookupReply two_rows;
    EXPECT_EQ(feed_all(two_rows, {data_row({"a", "x"}), data_row({"b", "y"}), message('Z', "I")}),
              LookupReply::Progress::kDone);
    EXPECT_EQ(two_rows.rows(), 2);
    EXPECT_EQ(two_rows.secret(), "x");

    LookupReply copy;
    EXPECT_EQ(feed_all(copy, {message('H', std::string(3, '\0'))}), LookupReply::Progress::kBroken);
}

}  // namespace
}  // namespace pgmux::auth_source
