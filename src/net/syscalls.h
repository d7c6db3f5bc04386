// send and recvmsg as plain system calls, for the data path.
//
// glibc's send() and recvmsg() are thread cancellation points: in a process
// with more than one thread each call updates the thread's cancellation state
// atomically before and after the system call. pgmux never cancels a thread,
// and under pgbench those two updates took 7 % of its user time (perf,
// cpu-clock:u), so the data path calls the kernel directly. Errors come back
// in errno's system category, as Asio reports them (EAGAIN compares equal to
// asio::error::would_block).
#pragma once

#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/system/error_code.hpp>
#include <cerrno>
#include <cstddef>

namespace pgmux::net {

// One non-blocking send of up to `size` bytes; never raises SIGPIPE.
inline std::size_t send_no_cancel(int fd, const char* data, std::size_t size,
                                  boost::system::error_code& ec) noexcept {
    for (;;) {
        const long n =
            ::syscall(SYS_sendto, fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT, nullptr, 0);
        if (n >= 0) {
            ec.clear();
            return static_cast<std::size_t>(n);
        }
        if (errno == EINTR) continue;
        ec.assign(errno, boost::system::system_category());
        return 0;
    }
}

// One non-blocking recvmsg; returns what recvmsg returns (errno set on -1).
inline long recvmsg_no_cancel(int fd, msghdr* msg) noexcept {
    return ::syscall(SYS_recvmsg, fd, msg, MSG_DONTWAIT);
}

}  // namespace pgmux::net
