// One coroutine per admin connection on the admin io_context. Every read and
// write runs under a beast::tcp_stream deadline: when it expires the socket
// is closed and the pending operation completes with an error, which is safe
// to cancel at any point because a connection has no state worth keeping.
#include "pgmux/admin/server.h"

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <set>
#include <stdexcept>

namespace pgmux::admin {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kUseAwaitable = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kHeaderLimit = 8 * 1024;
// A refused (503) connection gets at most this long to send its request.
constexpr std::chrono::milliseconds kBusyDeadline{1000};
// After a 413 the unread body is drained for a bounded while, so the client
// sees the answer instead of a reset.
constexpr std::chrono::milliseconds kDrainDeadline{1000};
constexpr std::size_t kDrainLimit = 1024 * 1024;

void validate(const AdminConfig& config, const tcp::endpoint& endpoint) {
    if (config.bearer_token) {
        const auto& token = *config.bearer_token;
        if (token.empty()) throw std::runtime_error("admin API: the bearer token is empty");
        for (unsigned char c : token) {
            if (c < 0x21 || c > 0x7e) {
                throw std::runtime_error(
                    "admin API: the bearer token must be printable ASCII without spaces");
            }
        }
    }
    if (!endpoint.address().is_loopback() && !config.bearer_token) {
        throw std::runtime_error("admin API: refusing to listen on " + config.listen +
                                 " without a bearer token; it is not a loopback address. "
                                 "Set --admin-token (or admin_token in the config), or listen "
                                 "on 127.0.0.1");
    }
    if (config.max_connections == 0) {
        throw std::runtime_error("admin API: max_connections must be at least 1");
    }
    if (config.request_timeout.count() <= 0) {
        throw std::runtime_error("admin API: request_timeout must be positive");
    }
}

HttpRequest to_request(const http::request<http::string_body>& message) {
    HttpRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    const auto optional_field = [&](http::field field) -> std::optional<std::string> {
        auto it = message.find(field);
        if (it == message.end()) return std::nullopt;
        return std::string(it->value());
    };
    request.authorization = optional_field(http::field::authorization);
    request.host = optional_field(http::field::host);
    request.origin = optional_field(http::field::origin);
    request.body = message.body();
    return request;
}

http::response<http::string_body> to_message(const HttpResponse& response, unsigned version,
                                             bool keep_alive, bool head) {
    http::response<http::string_body> message{static_cast<http::status>(response.status), version};
    message.set(http::field::server, "pgmux-admin");
    message.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) message.insert(name, value);
    message.keep_alive(keep_alive);
    message.body() = response.body;
    message.prepare_payload();
    if (head) message.body().clear();  // Content-Length still tells the GET size
    return message;
}

}  // namespace

struct AdminServer::State {
    State(asio::io_context& io_context, AdminConfig admin_config, ControlPlane& control)
        : io(io_context),
          config(std::move(admin_config)),
          router(control, RouterOptions{config.bearer_token, config.max_body_bytes}),
          acceptor(io_context) {}

    asio::io_context& io;
    AdminConfig config;
    Router router;
    tcp::acceptor acceptor;
    tcp::endpoint bound;  // set once before start(); read from any thread
    std::atomic<std::size_t> active{0};
    std::atomic<std::size_t> refusing{0};
    // Touched only on the io_context's thread.
    bool stopped = false;
    std::set<beast::tcp_stream*> streams;
};

namespace {

using State = AdminServer::State;

// Keeps a connection visible to stop() and counted while it lives.
class Registration {
  public:
    Registration(State& state, beast::tcp_stream& stream, std::atomic<std::size_t>& counter)
        : state_(state), stream_(stream), counter_(counter) {
        state_.streams.insert(&stream_);
    }
    ~Registration() {
        state_.streams.erase(&stream_);
        --counter_;
    }
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;

  private:
    State& state_;
    beast::tcp_stream& stream_;
    std::atomic<std::size_t>& counter_;
};

asio::awaitable<void> write_and_close(beast::tcp_stream& stream, const HttpResponse& response,
                                      std::chrono::milliseconds deadline, bool drain) {
    auto message = to_message(response, 11, false, false);
    stream.expires_after(deadline);
    auto [write_error, written] = co_await http::async_write(stream, message, kUseAwaitable);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (!write_error && drain) {
        // Read and discard what the client is still sending, bounded in
        // time and size, so closing does not turn into a reset.
        std::array<char, 8192> sink;
        std::size_t drained = 0;
        stream.expires_after(kDrainDeadline);
        while (drained < kDrainLimit) {
            auto [error, n] = co_await stream.async_read_some(asio::buffer(sink), kUseAwaitable);
            if (error) break;
            drained += n;
        }
    }
    stream.close();
}

// Over the connection cap: read the request briefly, answer 503, close.
asio::awaitable<void> refuse(std::shared_ptr<State> state, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    Registration registration(*state, stream, state->refusing);
    beast::flat_buffer buffer(kHeaderLimit + 1024);
    http::request_parser<http::empty_body> parser;
    parser.header_limit(kHeaderLimit);
    stream.expires_after(kBusyDeadline);
    auto [error, n] = co_await http::async_read_header(stream, buffer, parser, kUseAwaitable);
    if (error || state->stopped) co_return;
    auto response = make_error(503, "service_unavailable", "too many admin connections");
    response.headers.emplace_back("Retry-After", "1");
    co_await write_and_close(stream, response, kBusyDeadline, true);
}

asio::awaitable<void> serve(std::shared_ptr<State> state, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    Registration registration(*state, stream, state->active);
    const auto timeout = state->config.request_timeout;
    // Room for one header plus one maximal body; the parser limits do the
    // real bounding.
    beast::flat_buffer buffer(kHeaderLimit + state->config.max_body_bytes + 4096);
    while (!state->stopped) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(kHeaderLimit);
        parser.body_limit(state->config.max_body_bytes);
        // One deadline for the whole request, header and body: a client
        // trickling bytes cannot extend it.
        stream.expires_after(timeout);
        auto [error, n] = co_await http::async_read_header(stream, buffer, parser, kUseAwaitable);
        if (!error && !parser.is_done()) {
            if (parser.get()[http::field::expect] == "100-continue") {
                http::response<http::empty_body> go_on{http::status::continue_, 11};
                auto [continue_error, written] =
                    co_await http::async_write(stream, go_on, kUseAwaitable);
                if (continue_error) break;
            }
            std::tie(error, n) = co_await http::async_read(stream, buffer, parser, kUseAwaitable);
        }
        if (state->stopped) break;
        if (error == http::error::body_limit) {
            co_await write_and_close(
                stream,
                make_error(413, "payload_too_large",
                           "request body exceeds " + std::to_string(state->config.max_body_bytes) +
                               " bytes"),
                timeout, true);
            co_return;
        }
        if (error == http::error::header_limit) {
            co_await write_and_close(
                stream, make_error(431, "header_too_large", "request header exceeds 8 KiB"),
                timeout, true);
            co_return;
        }
        if (error &&
            error.category() == http::make_error_code(http::error::bad_method).category() &&
            error != http::error::end_of_stream && error != http::error::partial_message) {
            co_await write_and_close(
                stream, make_error(400, "bad_request", "malformed HTTP request"), timeout, false);
            co_return;
        }
        if (error) break;  // closed, reset or timed out: nothing to answer

        const auto& message = parser.get();
        const bool keep_alive = message.keep_alive();
        const bool head = message.method() == http::verb::head;
        const HttpResponse response = state->router.handle(to_request(message));
        auto reply = to_message(response, message.version(), keep_alive, head);
        stream.expires_after(timeout);
        auto [write_error, written] = co_await http::async_write(stream, reply, kUseAwaitable);
        if (write_error || !keep_alive) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.close();
}

asio::awaitable<void> accept_loop(std::shared_ptr<State> state) {
    while (!state->stopped) {
        auto [error, socket] = co_await state->acceptor.async_accept(kUseAwaitable);
        if (state->stopped || error == asio::error::operation_aborted) co_return;
        if (error) {
            // Out of file descriptors and the like: back off instead of
            // spinning, then try again.
            asio::steady_timer pause(state->io, std::chrono::milliseconds(100));
            co_await pause.async_wait(kUseAwaitable);
            continue;
        }
        if (state->active.load() >= state->config.max_connections) {
            if (state->refusing.load() >= state->config.max_connections) continue;  // dropped
            ++state->refusing;
            asio::co_spawn(state->io, refuse(state, std::move(socket)), asio::detached);
            continue;
        }
        ++state->active;
        asio::co_spawn(state->io, serve(state, std::move(socket)), asio::detached);
    }
}

}  // namespace

AdminServer::AdminServer(asio::io_context& io, AdminConfig config, ControlPlane& control) {
    const tcp::endpoint endpoint = parse_listen_address(config.listen);
    validate(config, endpoint);
    state_ = std::make_shared<State>(io, std::move(config), control);
    auto& acceptor = state_->acceptor;
    beast::error_code error;
    acceptor.open(endpoint.protocol(), error);
    if (!error) acceptor.set_option(asio::socket_base::reuse_address(true), error);
    if (!error) acceptor.bind(endpoint, error);
    if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
    if (!error) state_->bound = acceptor.local_endpoint(error);
    if (error) {
        throw std::runtime_error("admin API: cannot listen on " + state_->config.listen + ": " +
                                 error.message());
    }
}

AdminServer::~AdminServer() {
    stop();
}

void AdminServer::start() {
    asio::co_spawn(state_->io, accept_loop(state_), asio::detached);
}

void AdminServer::stop() {
    asio::post(state_->io, [state = state_] {
        if (state->stopped) return;
        state->stopped = true;
        beast::error_code ignored;
        state->acceptor.close(ignored);
        // Closing completes every pending read/write with an error; each
        // connection coroutine then unwinds and unregisters itself.
        for (beast::tcp_stream* stream : state->streams) stream->socket().close(ignored);
    });
}

tcp::endpoint AdminServer::local_endpoint() const {
    return state_->bound;
}

std::size_t AdminServer::active_connections() const {
    return state_->active.load();
}

}  // namespace pgmux::admin
