#include "net/outbox.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/tls.h"

namespace pgmux::net {

namespace asio = boost::asio;
using boost::system::error_code;

// Shared with the pending write-readiness handler, so that a handler running
// after the owner died touches only this state and never the socket.
struct Outbox::State : std::enable_shared_from_this<Outbox::State> {
    asio::ip::tcp::socket* socket;
    TlsStream* tls = nullptr;  // TLS: queued bytes are plaintext, written through it
    std::string buffer;
    std::size_t offset = 0;  // bytes of `buffer` already sent
    bool waiting_writable = false;
    error_code error;
    asio::steady_timer progress;  // cancelled whenever the queue shrinks

    explicit State(asio::ip::tcp::socket& s)
        : socket(&s), progress(s.get_executor(), asio::steady_timer::time_point::max()) {}

    std::size_t queued() const noexcept { return buffer.size() - offset; }

    void write_now() {
        if (socket == nullptr || error) return;
        while (queued() > 0) {
            error_code ec;
            const auto n = write_some(*socket, tls, buffer.data() + offset, queued(), ec);
            if (ec == asio::error::would_block || ec == asio::error::try_again) break;
            if (ec) {
                error = ec;
                buffer.clear();
                offset = 0;
                progress.cancel();
                return;
            }
            offset += n;
        }
        if (queued() == 0) {
            // Idle connections should not keep a large buffer around.
            if (buffer.capacity() > 64 * 1024) {
                std::string().swap(buffer);
            } else {
                buffer.clear();
            }
            offset = 0;
        } else if (offset > 64 * 1024 && offset * 2 > buffer.size()) {
            buffer.erase(0, offset);
            offset = 0;
        }
        progress.cancel();
        if (queued() > 0 && !waiting_writable) arm();
    }

    void arm() {
        waiting_writable = true;
        socket->async_wait(asio::socket_base::wait_write,
                           [self = shared_from_this()](error_code ec) {
                               self->waiting_writable = false;
                               if (self->socket == nullptr) return;
                               if (ec && ec != asio::error::operation_aborted) {
                                   self->error = ec;
                                   self->progress.cancel();
                                   return;
                               }
                               if (ec) return;  // the socket was closed by its owner
                               self->write_now();
                           });
    }
};

Outbox::Outbox(asio::ip::tcp::socket& socket) : state_(std::make_shared<State>(socket)) {}

Outbox::~Outbox() {
    state_->socket = nullptr;
    state_->progress.cancel();
}

void Outbox::append(std::string_view bytes) {
    if (state_->error) return;
    state_->buffer.append(bytes);
}

void Outbox::send(std::string_view bytes) {
    auto& s = *state_;
    if (s.queued() == 0 && !s.waiting_writable && !s.error && s.socket != nullptr) {
        // The common case: nothing queued, so write straight from the
        // caller's bytes and copy only what the kernel did not take.
        error_code ec;
        std::size_t n = 0;
        while (n < bytes.size()) {
            n += write_some(*s.socket, s.tls, bytes.data() + n, bytes.size() - n, ec);
            if (ec) break;
        }
        if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
            s.error = ec;
            s.progress.cancel();
            return;
        }
        if (n == bytes.size()) return;
        bytes.remove_prefix(n);
    }
    append(bytes);
    flush();
}

void Outbox::flush() {
    if (!state_->waiting_writable) state_->write_now();
}

std::size_t Outbox::queued() const noexcept {
    return state_->queued();
}
bool Outbox::failed() const noexcept {
    return static_cast<bool>(state_->error);
}
error_code Outbox::error() const noexcept {
    return state_->error;
}

asio::awaitable<void> Outbox::wait_below(std::size_t limit) {
    auto state = state_;
    while (!state->error && state->socket != nullptr && state->queued() >= limit) {
        state->progress.expires_at(asio::steady_timer::time_point::max());
        co_await state->progress.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

void Outbox::rebind(asio::ip::tcp::socket& socket) {
    auto fresh = std::make_shared<State>(socket);
    fresh->error = state_->error;
    fresh->tls = state_->tls;
    state_->socket = nullptr;
    state_ = std::move(fresh);
}

void Outbox::use_tls(TlsStream* tls) {
    state_->tls = tls;
}

}  // namespace pgmux::net
