#include "runtime/worker.h"

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

#include "runtime/log.h"
#include "session/client_session.h"

namespace pgmux::runtime {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
std::uint64_t next_client_id() {
    static std::atomic<std::uint64_t> next{1};
    return next.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

Worker::Worker(int index, session::ProxyContext& proxy, bool sole)
    : proxy_(proxy), io_(sole ? BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO : 1), acceptor_(io_) {
    context_.executor = io_.get_executor();
    context_.index = index;
}

Worker::~Worker() {
    stop();
    join();
}

namespace {
tcp::endpoint resolve_listen_address(asio::io_context& io, const config::Endpoint& endpoint) {
    tcp::resolver resolver(io);
    boost::system::error_code ec;
    auto results = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
    if (ec || results.empty()) {
        throw std::runtime_error("cannot resolve listen address " + endpoint.host + ": " +
                                 ec.message());
    }
    return *results.begin();
}

[[noreturn]] void throw_cannot_listen(const config::Endpoint& endpoint,
                                      const boost::system::error_code& ec) {
    throw std::runtime_error("cannot listen on " + endpoint.host + ":" +
                             std::to_string(endpoint.port) + ": " + ec.message());
}
}  // namespace

std::uint16_t Worker::listen(const config::Endpoint& endpoint, PortSharing sharing) {
    const tcp::endpoint ep = resolve_listen_address(io_, endpoint);
    boost::system::error_code ec;
    if (sharing == PortSharing::kFirstOfSeveral) {
        // SO_REUSEPORT lets any process of the same user bind the port too,
        // and the kernel would then hand it some of our clients. Bind once
        // without it first (and let go again) so that a port already taken, say
        // by another pgmux, fails as it does for a sole worker.
        tcp::acceptor probe(io_);
        probe.open(ep.protocol());
        probe.set_option(tcp::acceptor::reuse_address(true));
        probe.bind(ep, ec);
        if (ec) throw_cannot_listen(endpoint, ec);
    }
    acceptor_.open(ep.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    if (sharing != PortSharing::kSole) {
        acceptor_.set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
    }
    acceptor_.bind(ep, ec);
    if (ec) throw_cannot_listen(endpoint, ec);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    return acceptor_.local_endpoint().port();
}

void Worker::start() {
    guard_.emplace(io_.get_executor());
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
}

asio::awaitable<void> Worker::accept_loop() {
    for (;;) {
        // accept() reports the client's address: no getpeername() later.
        tcp::endpoint peer;
        auto [ec, socket] =
            co_await acceptor_.async_accept(peer, asio::as_tuple(asio::use_awaitable));
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
        if (ec) {
            // Out of descriptors or similar: back off instead of spinning.
            LOG_WARN << "accept failed: " << ec.message();
            asio::steady_timer pause(io_, std::chrono::milliseconds(50));
            co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
            continue;
        }
        auto session = std::make_shared<session::ClientSession>(std::move(socket), peer, proxy_,
                                                                context_, next_client_id());
        asio::co_spawn(io_, session->run(), asio::detached);
    }
}

void Worker::stop_accepting() {
    asio::post(io_, [this] {
        boost::system::error_code ec;
        acceptor_.close(ec);
    });
}

void Worker::close_idle_sessions() {
    asio::post(io_, [this] {
        for (auto& [id, weak] : context_.sessions) {
            if (auto s = weak.lock()) s->request_close(session::CloseReason::kShutdown);
        }
    });
}

void Worker::stop() {
    guard_.reset();
    io_.stop();
}

void Worker::join() {
    if (thread_.joinable()) thread_.join();
}

}  // namespace pgmux::runtime
