// Helpers for the socket tests: an AdminServer on its own thread, curl, and
// raw TCP clients that misbehave on purpose.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "fake_control_plane.h"
#include "pgmux/admin/server.h"

namespace pgmux::admin::testing {

// Runs a shell command and returns its stdout and exit status.
inline std::pair<std::string, int> run_command(const std::string& command) {
    std::string output;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return {"", -1};
    std::array<char, 4096> buffer;
    std::size_t n = 0;
    while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), n);
    const int status = pclose(pipe);
    return {output, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

struct CurlResult {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names, last response
    std::string body;
    int exit_code = 0;

    [[nodiscard]] std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

// `curl -i` output parsed; 1xx interim responses are skipped.
inline CurlResult curl(const std::string& args) {
    auto [out, code] = run_command("curl -s -i --max-time 10 " + args + " 2>&1");
    CurlResult result;
    result.exit_code = code;
    std::size_t pos = 0;
    while (true) {
        const auto end = out.find("\r\n\r\n", pos);
        if (end == std::string::npos) {
            result.body = out.substr(pos);
            return result;
        }
        std::istringstream head(out.substr(pos, end - pos));
        std::string line;
        std::getline(head, line);
        std::istringstream status_line(line);
        std::string version;
        status_line >> version >> result.status;
        result.headers.clear();
        while (std::getline(head, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            const auto colon = line.find(':');
            if (colon == std::string::npos) continue;
            std::string name = line.substr(0, colon);
            for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            auto value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.erase(0, 1);
            result.headers[name] = value;
        }
        pos = end + 4;
        if (result.status >= 200) {
            result.body = out.substr(pos);
            return result;
        }
    }
}

class RunningServer {
  public:
    RunningServer(AdminConfig config, ControlPlane& control)
        : server_(std::make_unique<AdminServer>(io_, std::move(config), control)) {
        server_->start();
        thread_ = std::thread([this] { io_.run(); });
    }
    ~RunningServer() { stop(); }

    void stop() {
        if (!thread_.joinable()) return;
        server_->stop();
        thread_.join();
    }

    [[nodiscard]] unsigned short port() const { return server_->local_endpoint().port(); }
    [[nodiscard]] std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(port()) + path;
    }
    AdminServer& server() { return *server_; }

  private:
    boost::asio::io_context io_;
    std::unique_ptr<AdminServer> server_;
    std::thread thread_;
};

// A blocking TCP client with a receive timeout, for slow and idle clients.
class RawClient {
  public:
    explicit RawClient(unsigned short port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
        timeval timeout{5, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    }
    ~RawClient() { close(); }
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;

    [[nodiscard]] bool connected() const { return connected_; }
    bool send(std::string_view data) {
        return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) ==
               static_cast<ssize_t>(data.size());
    }
    // Reads until the peer closes (or resets, or 5 s pass). Returns what came.
    std::string read_until_closed(bool* closed = nullptr) {
        std::string data;
        std::array<char, 4096> buffer;
        while (true) {
            const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
            if (n > 0) {
                data.append(buffer.data(), static_cast<std::size_t>(n));
                continue;
            }
            if (closed) *closed = n == 0 || errno == ECONNRESET;
            return data;
        }
    }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

  private:
    int fd_ = -1;
    bool connected_ = false;
};

// Polls `predicate` for up to `limit`.
template <typename Predicate>
bool eventually(Predicate predicate,
                std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (predicate()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return predicate();
}

}  // namespace pgmux::admin::testing
