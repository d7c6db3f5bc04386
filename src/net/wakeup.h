// A one-waiter wake-up signal for coroutines on one executor.
//
// The relay parks on it between transactions. A timer would do the same, but
// each park then costs a timer-heap insertion and, when the parked timer is
// the only one, a timerfd_settime syscall; this costs one small allocation.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <memory>
#include <utility>

namespace pgmux::net {

class Wakeup {
  public:
    // Completes (through the waiter's executor, never inline) at the next
    // notify(). One waiter at a time.
    template <typename CompletionToken>
    auto async_wait(CompletionToken&& token) {
        return boost::asio::async_initiate<CompletionToken, void()>(
            [this](auto handler) {
                waiter_ = std::make_unique<Waiter<decltype(handler)>>(std::move(handler));
            },
            token);
    }

    // Wakes the waiter, if any.
    void notify() {
        if (auto w = std::move(waiter_)) w->post();
    }

    [[nodiscard]] bool has_waiter() const noexcept { return waiter_ != nullptr; }

  private:
    struct WaiterBase {
        virtual ~WaiterBase() = default;
        virtual void post() = 0;
    };
    template <typename Handler>
    struct Waiter final : WaiterBase {
        explicit Waiter(Handler h) : handler(std::move(h)) {}
        void post() override {
            auto executor = boost::asio::get_associated_executor(handler);
            boost::asio::post(executor, std::move(handler));
        }
        Handler handler;
    };

    std::unique_ptr<WaiterBase> waiter_;
};

}  // namespace pgmux::net
