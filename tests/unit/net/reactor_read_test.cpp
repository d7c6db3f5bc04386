// net::start_reactor_read over a real loopback TCP connection: what it reads,
// when it skips the recv() Asio would try first, that it still sees the end
// of the stream and a closed socket, and what quiet_since_drained reports.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "net/reactor_read.h"

namespace pgmux::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// One read's observations: how often it tried recv() (each try asks for
// the buffer), what it got and how it ended.
struct Probe {
    int tries = 0;
    std::string bytes;
    std::optional<boost::system::error_code> result;
};

struct TestReader {
    Probe* probe;
    char* data;
    std::size_t size;

    std::span<char> buffer() const {
        ++probe->tries;
        return {data, size};
    }
    void received(std::size_t n) const { probe->bytes.assign(data, n); }
    void operator()(boost::system::error_code ec, std::size_t) const { probe->result = ec; }
};

class ReactorRead : public ::testing::Test {
  protected:
    void SetUp() override {
        tcp::acceptor acceptor(io_, {asio::ip::make_address("127.0.0.1"), 0});
        peer_.connect(acceptor.local_endpoint());
        acceptor.accept(socket_);
        socket_.non_blocking(true);
        enable_read_drained_hint(socket_);
    }

    // Starts a read into buf_ and runs the handlers that are ready.
    Probe& start(std::size_t size = sizeof(buf_)) {
        probes_.emplace_back();
        Probe& probe = probes_.back();
        start_reactor_read(reactor_of(socket_), socket_, TestReader{&probe, buf_, size});
        settle();
        return probe;
    }
    // Runs the event loop for a while (the loopback delivers at once). The
    // timer keeps it polling epoll even with no read queued, so that edges
    // are consumed as they would be in pgmux.
    void settle() {
        asio::steady_timer timer(io_, std::chrono::milliseconds(20));
        timer.async_wait([](boost::system::error_code) {});
        io_.restart();
        io_.run_until(std::chrono::steady_clock::now() + std::chrono::milliseconds(40));
    }
    void send(const std::string& bytes) { asio::write(peer_, asio::buffer(bytes)); }

    asio::io_context io_{1};
    tcp::socket socket_{io_};
    tcp::socket peer_{io_};
    char buf_[64];
    std::deque<Probe> probes_;
};

TEST_F(ReactorRead, ReadsWhatThePeerSent) {
    send("hello");
    Probe& p = start();
    ASSERT_TRUE(p.result.has_value());
    EXPECT_FALSE(*p.result);
    EXPECT_EQ(p.bytes, "hello");
}

TEST_F(ReactorRead, WaitsForBytesThatHaveNotArrived) {
    send("first");
    ASSERT_EQ(start().bytes, "first");
    Probe& p = start();
    EXPECT_FALSE(p.result.has_value());
    send("second");
    settle();
    ASSERT_TRUE(p.result.has_value());
    EXPECT_EQ(p.bytes, "second");
}

TEST_F(ReactorRead, AfterADrainedReadTheNextOneDoesNotTryAtOnce) {
    send("first");
    ASSERT_EQ(start().bytes, "first");  // the kernel reported nothing left
    Probe& p = start();
    EXPECT_EQ(p.tries, 0) << "a recv() was tried although the socket was drained";
    send("second");
    settle();
    EXPECT_EQ(p.tries, 1);
    EXPECT_EQ(p.bytes, "second");
}

TEST_F(ReactorRead, BytesLeftMeanTheNextReadTriesAtOnce) {
    send("0123456789");
    Probe& first = start(4);
    EXPECT_EQ(first.bytes, "0123");
    Probe& second = start(4);
    EXPECT_EQ(second.tries, 1);
    EXPECT_EQ(second.bytes, "4567");
}

TEST_F(ReactorRead, BytesThatArriveBetweenReadsAreNotMissed) {
    send("first");
    ASSERT_EQ(start().bytes, "first");
    // Arrives while no read is queued: the reactor records the edge and the
    // next read must try at once instead of waiting for another.
    send("second");
    settle();
    Probe& p = start();
    ASSERT_TRUE(p.result.has_value());
    EXPECT_EQ(p.bytes, "second");
}

TEST_F(ReactorRead, AFinThatCameWithTheLastBytesIsSeen) {
    Probe& first = start();
    // Both arrive before epoll reports them: one edge for the two.
    send("last");
    peer_.shutdown(tcp::socket::shutdown_send);
    settle();
    EXPECT_EQ(first.bytes, "last");
    Probe& second = start();
    ASSERT_TRUE(second.result.has_value()) << "the end of the stream was missed";
    EXPECT_EQ(*second.result, asio::error::eof);
}

// quiet_since_drained: what the pool asks before it lends an idle server.

TEST_F(ReactorRead, ASocketNeverReadIsNotKnownToBeQuiet) {
    settle();
    EXPECT_FALSE(quiet_since_drained(socket_));
}

TEST_F(ReactorRead, ADrainedSocketWithNothingSinceIsQuiet) {
    send("reply");
    ASSERT_EQ(start().bytes, "reply");
    settle();
    EXPECT_TRUE(quiet_since_drained(socket_));
}

TEST_F(ReactorRead, BytesLeftAfterTheLastReadAreNotQuiet) {
    send("0123456789");
    ASSERT_EQ(start(4).bytes, "0123");
    EXPECT_FALSE(quiet_since_drained(socket_));
}

TEST_F(ReactorRead, BytesThatArriveWhileIdleEndTheQuiet) {
    send("reply");
    ASSERT_EQ(start().bytes, "reply");
    send("FATAL");  // no read queued, as for an idle server
    settle();
    EXPECT_FALSE(quiet_since_drained(socket_));
}

TEST_F(ReactorRead, AFinThatArrivesWhileIdleEndsTheQuiet) {
    send("reply");
    ASSERT_EQ(start().bytes, "reply");
    peer_.shutdown(tcp::socket::shutdown_send);
    settle();
    EXPECT_FALSE(quiet_since_drained(socket_));
}

TEST_F(ReactorRead, ClosingTheSocketAbortsAQueuedRead) {
    Probe& p = start();
    EXPECT_FALSE(p.result.has_value());
    socket_.close();
    settle();
    ASSERT_TRUE(p.result.has_value());
    EXPECT_EQ(*p.result, asio::error::operation_aborted);
}

TEST_F(ReactorRead, AReadNeverCompletedIsFreedWithItsIoContext) {
    auto io = std::make_unique<asio::io_context>(1);
    Probe probe;
    {
        tcp::acceptor acceptor(*io, {asio::ip::make_address("127.0.0.1"), 0});
        tcp::socket peer(*io);
        tcp::socket socket(*io);
        peer.connect(acceptor.local_endpoint());
        acceptor.accept(socket);
        start_reactor_read(reactor_of(socket), socket, TestReader{&probe, buf_, sizeof(buf_)});
    }            // closing the socket posts the aborted read, which never runs
    io.reset();  // destroys it (ASan would report a leak)
    EXPECT_FALSE(probe.result.has_value());
}

}  // namespace
}  // namespace pgmux::net
