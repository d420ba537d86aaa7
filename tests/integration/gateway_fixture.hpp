#pragma once
// In-process gateway on port 0 in front of real origin servers, over real sockets.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "edge/config/config.hpp"
#include "edge/metrics/metrics.hpp"
#include "edge/origin/origin_server.hpp"
#include "edge/server/gateway.hpp"
#include "support/test_client.hpp"

namespace edge::test {

/// A config with one listener on 127.0.0.1:0 forwarding to group "app".
inline config::Config base_config(unsigned workers = 2) {
  config::Config c;
  c.workers = workers;
  c.admin.enabled = true;
  c.admin.listen = {"127.0.0.1", 0};
  c.access_log.path = "off";
  config::ListenerConfig l;
  l.name = "web";
  l.listen = {"127.0.0.1", 0};
  l.default_action.kind = config::Action::Kind::forward;
  l.default_action.forward.target_groups.push_back({"app", 1});
  c.listeners.push_back(l);
  config::TargetGroupConfig g;
  g.name = "app";
  g.health_check.enabled = false;
  c.target_groups.push_back(g);
  return c;
}

inline void add_target(config::Config& c, std::uint16_t port, std::size_t group = 0,
                       std::uint32_t weight = 1) {
  config::TargetConfig t;
  t.id = "127.0.0.1:" + std::to_string(port);
  t.address = {"127.0.0.1", port};
  t.weight = weight;
  c.target_groups[group].targets.push_back(t);
}

/// A port nothing listens on (bound then closed: connect gets ECONNREFUSED).
std::uint16_t refused_port();

/// Sum of a counter over all workers.
template <class F>
std::uint64_t sum_shards(metrics::Metrics& m, F&& f) {
  std::uint64_t s = 0;
  for (std::size_t i = 0; i < m.workers(); ++i) s += f(m.shard(i));
  return s;
}

inline std::uint64_t edge_errors(metrics::Metrics& m, EdgeError e) {
  return sum_shards(m, [e](metrics::WorkerShard& s) {
    return s.edge_errors[static_cast<std::size_t>(e)].value();
  });
}

class GatewayTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (gateway_) {
      gateway_->stop();
      gateway_->wait();
    }
    gateway_.reset();
    origins_.clear();
  }

  origin::OriginServer& add_origin(origin::OriginOptions o = {}) {
    o.host = "127.0.0.1";
    o.port = 0;
    origins_.push_back(std::make_unique<origin::OriginServer>(o));
    origins_.back()->start();
    return *origins_.back();
  }

  /// Starts the gateway with `c` (targets: every origin added so far, unless
  /// the config already lists targets).
  void start(config::Config c) {
    if (c.target_groups.size() == 1 && c.target_groups[0].targets.empty())
      for (auto& o : origins_) add_target(c, o->port());
    gateway_ = std::make_unique<server::Gateway>(std::move(c));
    gateway_->start();
    port_ = gateway_->listener_port(0);
  }

  std::uint64_t origin_requests() const {
    std::uint64_t n = 0;
    for (const auto& o : origins_) n += o->total_requests();
    return n;
  }

  std::vector<std::unique_ptr<origin::OriginServer>> origins_;
  std::unique_ptr<server::Gateway> gateway_;
  std::uint16_t port_ = 0;
};

}  // namespace edge::test
