#include "edge/upstream/target_metrics.hpp"

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

#include <string>
#include <utility>

#include "edge/upstream/target.hpp"

namespace edge::upstream {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

ClientMetric sample(MetricType type, double v, std::vector<ClientMetric::Label> labels) {
  ClientMetric m;
  m.label = std::move(labels);
  if (type == MetricType::Counter) {
    m.counter.value = v;
  } else {
    m.gauge.value = v;
  }
  return m;
}

class TargetCollectable final : public prometheus::Collectable {
 public:
  explicit TargetCollectable(std::function<std::vector<const TargetGroup*>()> groups)
      : groups_(std::move(groups)) {}

  std::vector<MetricFamily> Collect() const override {
    auto healthy = family("edged_target_group_healthy_targets",
                          "Targets counted healthy (ALB HealthyHostCount).", MetricType::Gauge);
    auto unhealthy = family("edged_target_group_unhealthy_targets",
                            "Registered targets not healthy (ALB UnHealthyHostCount).",
                            MetricType::Gauge);
    auto fail_open = family("edged_target_group_fail_open",
                            "1 while the group routes to all targets (fail open).",
                            MetricType::Gauge);
    auto state = family("edged_target_state", "Target state (1 for the current one).",
                        MetricType::Gauge);
    auto checks = family("edged_target_health_checks_total", "Health check results.",
                         MetricType::Counter);
    auto check_time = family("edged_target_health_check_seconds_total",
                             "Time spent in health checks (with _total checks: mean latency).",
                             MetricType::Counter);
    auto last_time = family("edged_target_health_check_last_seconds",
                            "Latency of the last health check.", MetricType::Gauge);
    auto ejections = family("edged_target_ejections_total",
                            "Passive health ejections (outlier detection).", MetricType::Counter);
    auto ejected = family("edged_target_ejected", "1 while the target is ejected.",
                          MetricType::Gauge);
    auto requests = family("edged_target_requests_total", "Requests sent to the target.",
                           MetricType::Counter);
    auto outstanding = family("edged_target_outstanding_requests",
                              "Requests picked for the target and not finished.",
                              MetricType::Gauge);
    auto conn_errors = family("edged_target_connection_errors_total",
                              "Gateway-side failures talking to the target "
                              "(ALB TargetConnectionErrorCount).",
                              MetricType::Counter);
    for (const TargetGroup* g : groups_()) {
      const std::string& gn = g->name();
      std::uint32_t registered = 0;
      for (const Target* tp : g->members()) {  // the published set: safe on any thread
        const Target& t = *tp;
        const std::uint32_t w = t.load_status();
        const TargetState s = TargetStatus::state(w);
        if (s != TargetState::unused && s != TargetState::draining) ++registered;
        const std::vector<ClientMetric::Label> tl{{"target_group", gn}, {"target", t.id}};
        for (std::size_t i = 0; i < kTargetStateCount; ++i) {
          auto labels = tl;
          labels.push_back({"state", std::string(state_name(static_cast<TargetState>(i)))});
          state.metric.push_back(sample(MetricType::Gauge, static_cast<std::size_t>(s) == i ? 1 : 0,
                                        std::move(labels)));
        }
        auto passed = tl;
        passed.push_back({"result", "pass"});
        checks.metric.push_back(sample(
            MetricType::Counter,
            static_cast<double>(t.checks_passed.load(std::memory_order_relaxed)), passed));
        auto failed = tl;
        failed.push_back({"result", "fail"});
        checks.metric.push_back(sample(
            MetricType::Counter,
            static_cast<double>(t.checks_failed.load(std::memory_order_relaxed)), failed));
        check_time.metric.push_back(sample(
            MetricType::Counter,
            static_cast<double>(t.check_latency_sum_us.load(std::memory_order_relaxed)) / 1e6, tl));
        last_time.metric.push_back(sample(
            MetricType::Gauge,
            static_cast<double>(t.last_check_latency_us.load(std::memory_order_relaxed)) / 1e6,
            tl));
        ejections.metric.push_back(sample(
            MetricType::Counter,
            static_cast<double>(t.ejections.load(std::memory_order_relaxed)), tl));
        ejected.metric.push_back(
            sample(MetricType::Gauge, TargetStatus::ejected(w) ? 1 : 0, tl));
        requests.metric.push_back(sample(
            MetricType::Counter, static_cast<double>(t.requests.load(std::memory_order_relaxed)),
            tl));
        outstanding.metric.push_back(sample(
            MetricType::Gauge,
            static_cast<double>(t.outstanding.load(std::memory_order_relaxed)), tl));
        conn_errors.metric.push_back(sample(
            MetricType::Counter,
            static_cast<double>(t.connection_errors.load(std::memory_order_relaxed)), tl));
      }
      const std::uint32_t h = g->healthy_count();
      const std::vector<ClientMetric::Label> gl{{"target_group", gn}};
      healthy.metric.push_back(sample(MetricType::Gauge, h, gl));
      unhealthy.metric.push_back(
          sample(MetricType::Gauge, registered > h ? registered - h : 0, gl));
      fail_open.metric.push_back(sample(MetricType::Gauge, g->fail_open() ? 1 : 0, gl));
    }
    std::vector<MetricFamily> out;
    for (auto* f : {&healthy, &unhealthy, &fail_open, &state, &checks, &check_time, &last_time,
                    &ejections, &ejected, &requests, &outstanding, &conn_errors})
      out.push_back(std::move(*f));
    return out;
  }

 private:
  std::function<std::vector<const TargetGroup*>()> groups_;
};

}  // namespace

std::shared_ptr<prometheus::Collectable> make_target_collectable(
    std::vector<const TargetGroup*> groups) {
  return std::make_shared<TargetCollectable>([g = std::move(groups)] { return g; });
}

std::shared_ptr<prometheus::Collectable> make_target_collectable(
    std::function<std::vector<const TargetGroup*>()> groups) {
  return std::make_shared<TargetCollectable>(std::move(groups));
}

}  // namespace edge::upstream
