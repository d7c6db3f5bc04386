// A ControlPlane with canned snapshots that records the actions it gets.
#pragma once

#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "pgmux/admin/control_plane.h"

namespace pgmux::admin::testing {

inline WallTime at_seconds(long long seconds) {
    return WallTime{} + std::chrono::seconds(seconds);
}

class FakeControlPlane : public ControlPlane {
  public:
    std::vector<PoolSnapshot> pool_list;
    std::vector<ClientSnapshot> client_list;
    std::vector<ServerSnapshot> server_list;
    PinningSnapshot pinning_snapshot;
    MetricsSnapshot metrics_snapshot;
    Readiness readiness_value{true, ""};
    ReloadResult reload_result{true, "configuration reloaded"};
    bool throw_on_pools = false;

    // Actions received, e.g. "disconnect 7", "pause db/user".
    std::vector<std::string> actions;

    std::vector<PoolSnapshot> pools() override {
        if (throw_on_pools) throw std::runtime_error("pools unavailable");
        return pool_list;
    }
    std::vector<ClientSnapshot> clients() override { return client_list; }
    std::optional<ClientSnapshot> client(ClientId id) override {
        for (const auto& c : client_list) {
            if (c.id == id) return c;
        }
        return std::nullopt;
    }
    std::vector<ServerSnapshot> servers() override { return server_list; }
    PinningSnapshot pinning() override { return pinning_snapshot; }
    MetricsSnapshot metrics() override { return metrics_snapshot; }
    Readiness readiness() override { return readiness_value; }

    ActionResult disconnect_client(ClientId id) override {
        record("disconnect " + std::to_string(id));
        return client(id) ? ActionResult::kDone : ActionResult::kNotFound;
    }
    ActionResult pause_pool(std::string_view database, std::string_view user) override {
        return pool_action("pause", database, user);
    }
    ActionResult resume_pool(std::string_view database, std::string_view user) override {
        return pool_action("resume", database, user);
    }
    ReloadResult reload() override {
        record("reload");
        return reload_result;
    }

    std::vector<std::string> recorded() {
        std::lock_guard lock(mutex_);
        return actions;
    }

  private:
    void record(std::string action) {
        std::lock_guard lock(mutex_);
        actions.push_back(std::move(action));
    }
    ActionResult pool_action(std::string_view verb, std::string_view database,
                             std::string_view user) {
        record(std::string(verb) + " " + std::string(database) + "/" + std::string(user));
        for (auto& pool : pool_list) {
            if (pool.database == database && pool.user == user) {
                pool.paused = verb == "pause";
                return ActionResult::kDone;
            }
        }
        return ActionResult::kNotFound;
    }
    std::mutex mutex_;
};

// A small, realistic state: one pool, two clients (one pinned twice), two
// servers, pinning statistics and metrics.
inline void populate(FakeControlPlane& control) {
    PoolSnapshot pool;
    pool.database = "app";
    pool.user = "alice";
    pool.pool_mode = PoolMode::kTransaction;
    pool.pool_size = 2;
    pool.clients_active = 1;
    pool.clients_waiting = 0;
    pool.clients_idle = 1;
    pool.servers_active = 0;
    pool.servers_idle = 1;
    pool.servers_pinned = 1;
    pool.servers_connecting = 0;
    pool.longest_wait_seconds = 0.25;
    pool.waits_total = 4;
    pool.wait_seconds_total = 1.0;
    control.pool_list.push_back(pool);

    PoolSnapshot odd = pool;
    odd.database = "we/ird db";
    odd.user = "b\"ob";
    control.pool_list.push_back(odd);

    ClientSnapshot pinned;
    pinned.id = 7;
    pinned.address = "127.0.0.1:50000";
    pinned.database = "app";
    pinned.user = "alice";
    pinned.application_name = "psql";
    pinned.state = ClientState::kActive;
    pinned.server = 3;
    pinned.pins = {{"temp_object", at_seconds(1000), "CREATE TEMP TABLE t (a int)"},
                   {"listen", at_seconds(1010), "LISTEN jobs"}};
    pinned.tracked_settings = 2;
    pinned.prepared_statements = 5;
    pinned.connected_since = at_seconds(900);
    control.client_list.push_back(pinned);

    ClientSnapshot idle;
    idle.id = 8;
    idle.address = "127.0.0.1:50001";
    idle.database = "app";
    idle.user = "alice";
    idle.state = ClientState::kIdle;
    idle.connected_since = at_seconds(950);
    control.client_list.push_back(idle);

    ServerSnapshot s3;
    s3.id = 3;
    s3.database = "app";
    s3.user = "alice";
    s3.state = ServerState::kPinned;
    s3.address = "127.0.0.1:5432";
    s3.client = 7;
    s3.pinned_to = 7;
    s3.prepared_statements = 5;
    s3.connected_since = at_seconds(800);
    control.server_list.push_back(s3);
    ServerSnapshot s4 = s3;
    s4.id = 4;
    s4.state = ServerState::kIdle;
    s4.client.reset();
    s4.pinned_to.reset();
    control.server_list.push_back(s4);

    control.pinning_snapshot.reasons = {{"temp_object", 3, 2, 12.5, 1}, {"listen", 1, 0, 2.0, 1}};
    control.pinning_snapshot.top_statements = {{"CREATE TEMP TABLE t (a int)", "temp_object", 3},
                                               {"LISTEN jobs", "listen", 1}};
    control.pinning_snapshot.replay = {10, 4, 2, 30, 31, 2, 1};

    auto& m = control.metrics_snapshot;
    m.client_connections.set({"active"}, 1);
    m.client_connections.set({"idle"}, 1);
    m.server_connections.set({"pinned"}, 1);
    m.server_connections.set({"idle"}, 1);
    m.pins_total.set({"temp_object"}, 3);
    m.pins_total.set({"listen"}, 1);
    m.transactions_total = 42;
    m.queries_total = 99;
    m.borrow_wait_seconds.observe(0.0002);
    m.borrow_wait_seconds.observe(0.3);
}

}  // namespace pgmux::admin::testing
