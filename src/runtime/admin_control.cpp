#include "runtime/admin_control.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <future>
#include <stdexcept>
#include <type_traits>
#include <unordered_map>

#include "runtime/log.h"
#include "runtime/worker.h"
#include "session/client_session.h"

namespace pgmux::runtime {

namespace asio = boost::asio;
using session::DescribeDetail;
using session::SessionInfo;

namespace {

// Waits for `future` until `deadline`, in short slices so that stop() ends
// the wait at once. Throws (a 500 for the request) when no answer came.
template <typename T>
T wait_for_answer(std::future<T>& future, std::chrono::steady_clock::time_point deadline,
                  const std::atomic<bool>& stopping, const std::string& who) {
    constexpr auto kSlice = std::chrono::milliseconds(50);
    while (future.wait_for(kSlice) != std::future_status::ready) {
        if (stopping.load()) throw std::runtime_error("pgmux is stopping");
        if (std::chrono::steady_clock::now() >= deadline) {
            throw std::runtime_error(who + " did not answer in time");
        }
    }
    return future.get();
}

// Runs `job(WorkerContext&)` on each worker's own thread and returns the
// answers in worker order. The job is copied into each posted handler and the
// promise is shared, so a handler that runs after the admin thread gave up
// touches nothing on the admin thread's stack.
template <typename Job>
auto run_on_workers(const std::vector<Worker*>& workers, const Job& job,
                    std::chrono::milliseconds timeout, const std::atomic<bool>& stopping) {
    using Result = std::invoke_result_t<Job, session::WorkerContext&>;
    std::vector<std::future<Result>> futures;
    futures.reserve(workers.size());
    for (Worker* worker : workers) {
        auto promise = std::make_shared<std::promise<Result>>();
        futures.push_back(promise->get_future());
        asio::post(worker->io(), [promise, job, context = &worker->context()] {
            try {
                promise->set_value(job(*context));
            } catch (...) {
                promise->set_exception(std::current_exception());
            }
        });
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<Result> answers;
    answers.reserve(futures.size());
    for (std::size_t i = 0; i < futures.size(); ++i) {
        answers.push_back(
            wait_for_answer(futures[i], deadline, stopping, "worker " + std::to_string(i)));
    }
    return answers;
}

}  // namespace

std::string format_listen_address(const config::Endpoint& endpoint) {
    const bool v6 = endpoint.host.find(':') != std::string::npos;
    return (v6 ? "[" + endpoint.host + "]" : endpoint.host) + ":" + std::to_string(endpoint.port);
}

AdminControl::AdminControl(session::ProxyContext& proxy, std::vector<Worker*> workers,
                           asio::any_io_executor control, ReloadFunction reload,
                           AdminControlOptions options)
    : proxy_(proxy),
      workers_(std::move(workers)),
      control_(std::move(control)),
      reload_(std::move(reload)),
      options_(options) {}

std::vector<WorkerReport> AdminControl::collect(DescribeDetail detail, bool with_stats) {
    auto job = [detail, with_stats](session::WorkerContext& w) {
        WorkerReport report;
        report.sessions.reserve(w.sessions.size());
        for (const auto& [id, weak] : w.sessions) {
            if (auto s = weak.lock()) report.sessions.push_back(s->describe(detail));
        }
        if (with_stats) {
            report.pin_stats = w.pin_stats;
            report.borrows = w.borrows;
            report.session_stats = w.session_stats;
        }
        return report;
    };
    return run_on_workers(workers_, job, options_.worker_timeout, stopping_);
}

std::vector<SessionInfo> AdminControl::collect_sessions(DescribeDetail detail) {
    std::vector<SessionInfo> all;
    for (auto& report : collect(detail, false)) {
        std::move(report.sessions.begin(), report.sessions.end(), std::back_inserter(all));
    }
    std::sort(all.begin(), all.end(),
              [](const SessionInfo& a, const SessionInfo& b) { return a.id < b.id; });
    return all;
}

std::vector<admin::PoolSnapshot> AdminControl::pools() {
    const auto reports = collect(DescribeDetail::kCounts, true);
    return pool_snapshots(proxy_.pools(), reports, Now::take());
}

std::vector<admin::ClientSnapshot> AdminControl::clients() {
    const auto now = Now::take();
    std::vector<admin::ClientSnapshot> out;
    for (const auto& info : collect_sessions(DescribeDetail::kFull)) {
        out.push_back(client_snapshot(info, now));
    }
    return out;
}

std::optional<admin::ClientSnapshot> AdminControl::client(admin::ClientId id) {
    auto job = [id](session::WorkerContext& w) -> std::optional<SessionInfo> {
        auto it = w.sessions.find(id);
        if (it == w.sessions.end()) return std::nullopt;
        auto s = it->second.lock();
        if (!s) return std::nullopt;
        return s->describe(DescribeDetail::kFull);
    };
    const auto now = Now::take();
    for (auto& found : run_on_workers(workers_, job, options_.worker_timeout, stopping_)) {
        if (found) return client_snapshot(*found, now);
    }
    return std::nullopt;
}

std::vector<admin::ServerSnapshot> AdminControl::servers() {
    const auto sessions = collect_sessions(DescribeDetail::kCounts);
    return server_snapshots(proxy_.pools(), sessions, Now::take());
}

admin::PinningSnapshot AdminControl::pinning() {
    const auto reports = collect(DescribeDetail::kCounts, true);
    return pinning_snapshot(proxy_, reports, Now::take(), options_.top_statements);
}

admin::MetricsSnapshot AdminControl::metrics() {
    const auto reports = collect(DescribeDetail::kCounts, true);
    return metrics_snapshot(proxy_, proxy_.pools(), reports, Now::take());
}

admin::Readiness AdminControl::readiness() {
    if (stopping_.load() || proxy_.shutting_down.load()) return {false, "shutting down"};
    if (workers_.empty()) return {false, "starting"};
    return {true, {}};
}

admin::ActionResult AdminControl::disconnect_client(admin::ClientId id) {
    auto job = [id](session::WorkerContext& w) {
        auto it = w.sessions.find(id);
        if (it == w.sessions.end()) return false;
        auto s = it->second.lock();
        if (!s) return false;
        s->request_close(session::CloseReason::kAdminDisconnect);
        return true;
    };
    const auto found = run_on_workers(workers_, job, options_.worker_timeout, stopping_);
    if (std::find(found.begin(), found.end(), true) == found.end()) {
        return admin::ActionResult::kNotFound;
    }
    LOG_INFO << "admin API: disconnecting client C" << id;
    return admin::ActionResult::kDone;
}

std::shared_ptr<pool::Pool> AdminControl::find_pool(std::string_view database,
                                                    std::string_view user) const {
    for (auto& pool : proxy_.pools()) {
        if (pool->key().database == database && pool->key().user == user) return pool;
    }
    return nullptr;
}

// Pools are created when their first client logs in; an unused (database,
// user) pair is "not found" rather than created, so the API cannot make the
// proxy allocate pools for arbitrary names.
admin::ActionResult AdminControl::pause_pool(std::string_view database, std::string_view user) {
    auto pool = find_pool(database, user);
    if (!pool) return admin::ActionResult::kNotFound;
    pool->pause();
    LOG_INFO << "admin API: paused pool " << user << "@" << database;
    return admin::ActionResult::kDone;
}

admin::ActionResult AdminControl::resume_pool(std::string_view database, std::string_view user) {
    auto pool = find_pool(database, user);
    if (!pool) return admin::ActionResult::kNotFound;
    pool->resume();
    LOG_INFO << "admin API: resumed pool " << user << "@" << database;
    return admin::ActionResult::kDone;
}

// The reload runs on the control thread, exactly like SIGHUP's, so the two
// can never run at the same time.
admin::ReloadResult AdminControl::reload() {
    using Outcome = std::optional<std::string>;
    auto promise = std::make_shared<std::promise<Outcome>>();
    auto future = promise->get_future();
    asio::post(control_, [promise, fn = reload_] {
        try {
            promise->set_value(fn());
        } catch (...) {
            promise->set_exception(std::current_exception());
        }
    });
    const auto deadline = std::chrono::steady_clock::now() + options_.reload_timeout;
    const auto error = wait_for_answer(future, deadline, stopping_, "the control thread");
    if (error) return {false, *error};
    return {true, "configuration reloaded"};
}

AdminService::AdminService(const config::Config& config, session::ProxyContext& proxy,
                           std::vector<Worker*> workers, asio::any_io_executor control,
                           ReloadFunction reload)
    : control_(proxy, std::move(workers), std::move(control), std::move(reload)) {
    admin::AdminConfig admin_config;
    admin_config.listen = format_listen_address(config.admin_listen.value());
    if (!config.admin_token.empty()) admin_config.bearer_token = config.admin_token;
    server_ = std::make_unique<admin::AdminServer>(io_, std::move(admin_config), control_);
}

AdminService::~AdminService() {
    stop();
}

void AdminService::start() {
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
    LOG_INFO << "admin API listening on " << listen_address();
}

void AdminService::stop() {
    control_.stop();
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
}

std::string AdminService::listen_address() const {
    const auto ep = server_->local_endpoint();
    return format_listen_address({ep.address().to_string(), ep.port()});
}

}  // namespace pgmux::runtime
