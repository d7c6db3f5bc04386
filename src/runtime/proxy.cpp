#include "runtime/proxy.h"

#include <csignal>

#include "net/tls.h"
#include "runtime/admin_control.h"
#include "runtime/log.h"

namespace pgmux::runtime {

namespace asio = boost::asio;

namespace {
void log_tls(const config::Config& c) {
    if (c.client_tls) {
        LOG_INFO << "TLS towards clients (" << config::to_string(c.client_tls_sslmode)
                 << "), certificate " << c.client_tls->certificate_name();
    }
    if (c.server_tls) {
        LOG_INFO << "TLS towards servers (" << config::to_string(c.server_tls_sslmode) << ")";
    }
}
}  // namespace

Proxy::Proxy(config::Config config, std::vector<std::string> args)
    : args_(std::move(args)),
      context_(std::make_shared<const config::Config>(std::move(config))),
      signals_(control_, SIGTERM, SIGINT, SIGHUP),
      maintenance_(control_),
      shutdown_deadline_(control_) {}

Proxy::~Proxy() {
    admin_.reset();
    stop_everything();
}

int Proxy::run() {
    const auto cfg = context_.config();
    // With port 0 the kernel picks one for the first worker; the others join it.
    config::Endpoint listen = cfg->listen;
    for (int i = 0; i < cfg->workers; ++i) {
        workers_.push_back(std::make_unique<Worker>(i, context_, cfg->workers == 1));
        using enum Worker::PortSharing;
        listen.port = workers_.back()->listen(listen, cfg->workers == 1 ? kSole
                                                      : i == 0          ? kFirstOfSeveral
                                                                        : kJoin);
    }
    if (cfg->admin_listen) {
        std::vector<Worker*> workers;
        for (auto& w : workers_) workers.push_back(w.get());
        admin_ =
            std::make_unique<AdminService>(*cfg, context_, std::move(workers),
                                           control_.get_executor(), [this] { return reload(); });
    }
    for (auto& w : workers_) w->start();
    if (admin_) admin_->start();
    LOG_INFO << "pgmux listening on " << listen.host << ":" << listen.port << " (" << cfg->workers
             << " worker" << (cfg->workers == 1 ? "" : "s") << ", "
             << config::to_string(cfg->pool_mode) << " pooling, pool size " << cfg->pool_size
             << ")";
    log_tls(*cfg);

    signals_.async_wait([this](boost::system::error_code ec, int signo) {
        if (!ec) on_signal(signo);
    });
    schedule_maintenance();
    control_.run();
    admin_.reset();
    stop_everything();
    LOG_INFO << "pgmux stopped";
    return 0;
}

void Proxy::on_signal(int signo) {
    if (signo == SIGHUP) {
        (void)reload();
    } else if (signo == SIGTERM && !shutting_down_) {
        begin_graceful_shutdown();
    } else {
        LOG_INFO << "stopping now (signal " << signo << ")";
        control_.stop();
        return;
    }
    signals_.async_wait([this](boost::system::error_code ec, int s) {
        if (!ec) on_signal(s);
    });
}

std::optional<std::string> Proxy::reload() {
    try {
        auto fresh = config::reload(*context_.config(), args_);
        const auto old = context_.config();
        if (fresh.listen.host != old->listen.host || fresh.listen.port != old->listen.port ||
            fresh.workers != old->workers) {
            LOG_WARN << "reload: listen address and workers change only on restart";
            fresh.listen = old->listen;
            fresh.workers = old->workers;
        }
        log::set_level(static_cast<log::Level>(fresh.log_level));
        context_.set_config(std::make_shared<const config::Config>(std::move(fresh)));
        LOG_INFO << "configuration reloaded";
        log_tls(*context_.config());
        return std::nullopt;
    } catch (const std::exception& e) {
        LOG_ERROR << "reload failed, keeping the running configuration: " << e.what();
        return e.what();
    }
}

void Proxy::begin_graceful_shutdown() {
    shutting_down_ = true;
    shutdown_started_ = std::chrono::steady_clock::now();
    context_.shutting_down.store(true);
    LOG_INFO << "shutting down: no new clients; waiting for running transactions";
    for (auto& w : workers_) {
        w->stop_accepting();
        w->close_idle_sessions();
    }
    check_shutdown_progress();
}

void Proxy::check_shutdown_progress() {
    const auto limit = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        context_.config()->shutdown_timeout);
    if (context_.clients.load() == 0 ||
        std::chrono::steady_clock::now() - shutdown_started_ > limit) {
        if (context_.clients.load() > 0) {
            LOG_WARN << "shutdown timeout: closing " << context_.clients.load() << " clients";
        }
        control_.stop();
        return;
    }
    shutdown_deadline_.expires_after(std::chrono::milliseconds(50));
    shutdown_deadline_.async_wait([this](boost::system::error_code ec) {
        if (!ec) check_shutdown_progress();
    });
}

void Proxy::schedule_maintenance() {
    maintenance_.expires_after(std::chrono::seconds(1));
    maintenance_.async_wait([this](boost::system::error_code ec) {
        if (ec) return;
        if (!shutting_down_ && !workers_.empty()) {
            for (auto& pool : context_.pools())
                pool->maintain(workers_.front()->io().get_executor());
        }
        schedule_maintenance();
    });
}

void Proxy::stop_everything() {
    for (auto& pool : context_.pools()) pool->close_idle();
    for (auto& w : workers_) w->stop();
    for (auto& w : workers_) w->join();
    workers_.clear();
}

}  // namespace pgmux::runtime
