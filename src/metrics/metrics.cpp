#include "edge/metrics/metrics.hpp"

#include "edge/tls/security_policy.hpp"

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace edge::metrics {

static_assert(Histogram::kBoundsNs.front() == 100'000, "100 µs");
static_assert(Histogram::kBoundsNs.back() == 60'000'000'000ULL, "60 s");
static_assert(
    [] {
      for (std::size_t i = 1; i < Histogram::kBoundsNs.size(); ++i) {
        if (Histogram::kBoundsNs[i - 1] >= Histogram::kBoundsNs[i]) return false;
      }
      return true;
    }(),
    "histogram bounds must be strictly increasing");
static_assert(kStatusClassNames.size() == kStatusClasses);

std::array<std::uint64_t, Histogram::kBounds.size() + 1> Histogram::buckets() const {
  std::array<std::uint64_t, kBounds.size() + 1> out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = buckets_[i].value();
  return out;
}

std::uint64_t Histogram::count() const {
  std::uint64_t n = 0;
  for (const Counter& b : buckets_) n += b.value();
  return n;
}

double Histogram::sum_seconds() const { return static_cast<double>(sum_ns_.value()) / 1e9; }

WorkerShard::WorkerShard(std::size_t listeners_n, std::size_t target_groups,
                         std::size_t rule_slots)
    : listener_requests(listeners_n),
      target_group_responses(target_groups),
      target_response_time(target_groups),
      target_group_fail_open(target_groups),
      listeners(listeners_n),
      groups(target_groups),
      rule_requests(std::max(rule_slots, listeners_n)),
      tls_handshakes(tls::kProtocolCount * tls::cipher_count() * 2) {}

std::size_t tls_handshake_index(std::size_t protocol, std::size_t cipher, bool resumed) {
  return (protocol * tls::cipher_count() + cipher) * 2 + (resumed ? 1 : 0);
}

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

/// Sums of every shard, taken with relaxed loads (each value on its own is
/// exact; values are not a snapshot of one instant, which Prometheus tolerates).
struct Totals {
  explicit Totals(std::size_t listeners, std::size_t groups, std::size_t rules)
      : elb_responses(listeners),
        fixed_responses(listeners),
        redirects(listeners),
        rule_evaluations(listeners),
        processing_time(listeners),
        group_requests(groups),
        group_connection_errors(groups),
        rule_requests(rules),
        listener_requests(listeners),
        target_group_responses(groups),
        response_time(groups),
        fail_open(groups) {}

  using HistogramTotals = HistogramSum;
  std::vector<std::array<std::uint64_t, kStatusClasses>> elb_responses;
  std::vector<std::uint64_t> fixed_responses;
  std::vector<std::uint64_t> redirects;
  std::vector<std::uint64_t> rule_evaluations;
  std::vector<HistogramTotals> processing_time;
  std::vector<std::uint64_t> group_requests;
  std::vector<std::uint64_t> group_connection_errors;
  std::vector<std::uint64_t> rule_requests;
  std::uint64_t rejected_connections = 0;
  std::uint64_t access_log_dropped = 0;

  std::vector<std::array<std::uint64_t, kStatusClasses>> listener_requests;
  std::vector<std::array<std::uint64_t, kStatusClasses>> target_group_responses;
  std::vector<HistogramTotals> response_time;
  std::vector<std::uint64_t> fail_open;
  std::array<std::uint64_t, kEdgeErrorCount> edge_errors{};
  std::array<std::uint64_t, kDesyncClassNames.size()> desync{};
  std::int64_t active_client_connections = 0;
  std::uint64_t client_connections = 0;
  std::uint64_t upstream_opened = 0;
  std::uint64_t upstream_reused = 0;
  std::uint64_t upstream_retries = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t bytes_sent = 0;
  std::vector<std::uint64_t> tls_handshakes =
      std::vector<std::uint64_t>(tls::kProtocolCount * tls::cipher_count() * 2);
  std::array<std::uint64_t, kTlsErrorCount> tls_errors{};
  std::array<std::int64_t, kUpgradeProtocolNames.size()> active_upgraded{};
  std::array<std::uint64_t, kUpgradeProtocolNames.size()> upgrades{};
  std::uint64_t upgrades_declined = 0;
  std::array<std::uint64_t, kCacheResultCount> cache_lookups{};
  std::uint64_t cache_hit_bytes = 0;
  std::uint64_t cache_fetches_avoided = 0;
  std::uint64_t cache_background_refreshes = 0;
  std::uint64_t cache_collapsed_aborted = 0;

  void add(const WorkerShard& s) {
    for (std::size_t i = 0; i < tls_handshakes.size(); ++i) tls_handshakes[i] += s.tls_handshakes[i].value();
    for (std::size_t i = 0; i < kTlsErrorCount; ++i) tls_errors[i] += s.tls_errors[i].value();
    for (std::size_t l = 0; l < listener_requests.size(); ++l) {
      for (std::size_t c = 0; c < kStatusClasses; ++c) {
        listener_requests[l][c] += s.listener_requests[l][c].value();
      }
    }
    for (std::size_t g = 0; g < target_group_responses.size(); ++g) {
      for (std::size_t c = 0; c < kStatusClasses; ++c) {
        target_group_responses[g][c] += s.target_group_responses[g][c].value();
      }
      const auto b = s.target_response_time[g].buckets();
      for (std::size_t i = 0; i < b.size(); ++i) response_time[g].buckets[i] += b[i];
      response_time[g].sum_ns += s.target_response_time[g].sum_nanoseconds();
      fail_open[g] += s.target_group_fail_open[g].value();
    }
    for (std::size_t l = 0; l < elb_responses.size(); ++l) {
      const ListenerCounters& lc = s.listeners[l];
      for (std::size_t c = 0; c < kStatusClasses; ++c)
        elb_responses[l][c] += lc.elb_responses[c].value();
      fixed_responses[l] += lc.fixed_responses.value();
      redirects[l] += lc.redirects.value();
      rule_evaluations[l] += lc.rule_evaluations.value();
      processing_time[l].add(lc.processing_time);
    }
    for (std::size_t g = 0; g < group_requests.size(); ++g) {
      group_requests[g] += s.groups[g].requests.value();
      group_connection_errors[g] += s.groups[g].connection_errors.value();
    }
    for (std::size_t r = 0; r < rule_requests.size() && r < s.rule_requests.size(); ++r)
      rule_requests[r] += s.rule_requests[r].value();
    rejected_connections += s.client_connections_rejected.value();
    access_log_dropped += s.access_log_dropped.value();
    for (std::size_t e = 0; e < kEdgeErrorCount; ++e) edge_errors[e] += s.edge_errors[e].value();
    for (std::size_t d = 0; d < desync.size(); ++d)
      desync[d] += s.desync_classifications[d].value();
    active_client_connections += s.active_client_connections.value();
    client_connections += s.client_connections_accepted.value();
    upstream_opened += s.upstream_connections_opened.value();
    upstream_reused += s.upstream_connections_reused.value();
    upstream_retries += s.upstream_retries.value();
    bytes_received += s.bytes_received.value();
    bytes_sent += s.bytes_sent.value();
    for (std::size_t i = 0; i < upgrades.size(); ++i) {
      active_upgraded[i] += s.active_upgraded_connections[i].value();
      upgrades[i] += s.upgrades[i].value();
    }
    upgrades_declined += s.upgrades_declined.value();
    for (std::size_t i = 0; i < kCacheResultCount; ++i) cache_lookups[i] += s.cache_lookups[i].value();
    cache_hit_bytes += s.cache_hit_bytes.value();
    cache_fetches_avoided += s.cache_fetches_avoided.value();
    cache_background_refreshes += s.cache_background_refreshes.value();
    cache_collapsed_aborted += s.cache_collapsed_aborted.value();
  }
};

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

ClientMetric counter(std::uint64_t v, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = static_cast<double>(v);
  return m;
}

ClientMetric::Label label(std::string_view name, std::string_view value) {
  return ClientMetric::Label{std::string(name), std::string(value)};
}

MetricFamily single_counter(std::string name, std::string help, std::uint64_t v) {
  MetricFamily f = family(std::move(name), std::move(help), MetricType::Counter);
  f.metric.push_back(counter(v));
  return f;
}

/// A counter family with one label over `names`.
MetricFamily labelled_counter(std::string name, std::string help, std::string_view label_name,
                              const std::vector<std::string>& names,
                              const std::vector<std::uint64_t>& values) {
  MetricFamily f = family(std::move(name), std::move(help), MetricType::Counter);
  for (std::size_t i = 0; i < names.size(); ++i)
    f.metric.push_back(counter(values[i], {label(label_name, names[i])}));
  return f;
}

ClientMetric histogram(const Totals::HistogramTotals& h, std::vector<ClientMetric::Label> labels) {
  ClientMetric m;
  m.label = std::move(labels);
  std::uint64_t cumulative = 0;
  m.histogram.bucket.reserve(h.buckets.size());
  for (std::size_t i = 0; i < h.buckets.size(); ++i) {
    cumulative += h.buckets[i];
    ClientMetric::Bucket b;
    b.cumulative_count = cumulative;
    b.upper_bound = i < Histogram::kBounds.size() ? Histogram::kBounds[i]
                                                  : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back(b);
  }
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = static_cast<double>(h.sum_ns) / 1e9;
  return m;
}

/// The Collectable handed to Prometheus: sums the shards on each Collect().
/// Allocation happens only here, on the scraping thread.
class ShardCollector final : public prometheus::Collectable {
 public:
  explicit ShardCollector(const Metrics& m) : metrics_(m) {}

  std::vector<MetricFamily> Collect() const override {
    const auto shape = metrics_.shape();
    const auto& listeners = shape->listener_names;
    const auto& groups = shape->target_group_names;
    Totals t(listeners.size(), groups.size(), shape->rule_labels.size());
    for (std::size_t w = 0; w < metrics_.workers(); ++w) t.add(metrics_.shard(w));

    std::vector<MetricFamily> out;
    out.reserve(24);

    {
      MetricFamily f =
          family("edged_requests_total", "Responses sent to clients, by listener and status class.",
                 MetricType::Counter);
      for (std::size_t l = 0; l < listeners.size(); ++l) {
        for (std::size_t c = 0; c < kStatusClasses; ++c) {
          f.metric.push_back(counter(
              t.listener_requests[l][c],
              {label("listener", listeners[l]), label("status_class", kStatusClassNames[c])}));
        }
      }
      out.push_back(std::move(f));
    }
    {
      MetricFamily f = family("edged_target_responses_total",
                              "Responses received from targets, by target group and status class.",
                              MetricType::Counter);
      for (std::size_t g = 0; g < groups.size(); ++g) {
        for (std::size_t c = 0; c < kStatusClasses; ++c) {
          f.metric.push_back(counter(
              t.target_group_responses[g][c],
              {label("target_group", groups[g]), label("status_class", kStatusClassNames[c])}));
        }
      }
      out.push_back(std::move(f));
    }
    {
      MetricFamily f =
          family("edged_target_response_time_seconds",
                 "Time from the request sent to a target to its response head, in seconds.",
                 MetricType::Histogram);
      for (std::size_t g = 0; g < groups.size(); ++g)
        f.metric.push_back(histogram(t.response_time[g], {label("target_group", groups[g])}));
      out.push_back(std::move(f));
    }
    {
      MetricFamily f = family("edged_request_processing_time_seconds",
                              "Time at the edge from a request head received to its response "
                              "sent, in seconds.",
                              MetricType::Histogram);
      for (std::size_t l = 0; l < listeners.size(); ++l)
        f.metric.push_back(histogram(t.processing_time[l], {label("listener", listeners[l])}));
      out.push_back(std::move(f));
    }
    {
      MetricFamily f = family("edged_elb_responses_total",
                              "Responses generated by the edge itself (errors, fixed responses, "
                              "redirects), by listener and status class.",
                              MetricType::Counter);
      for (std::size_t l = 0; l < listeners.size(); ++l) {
        for (std::size_t c = 0; c < kStatusClasses; ++c) {
          f.metric.push_back(counter(
              t.elb_responses[l][c],
              {label("listener", listeners[l]), label("status_class", kStatusClassNames[c])}));
        }
      }
      out.push_back(std::move(f));
    }
    {
      MetricFamily f = family("edged_rule_requests_total",
                              "Requests matched by each listener rule (priority label; "
                              "\"default\" for the default action).",
                              MetricType::Counter);
      const auto& labels = shape->rule_labels;
      const auto& owner = shape->rule_listener;
      for (std::size_t r = 0; r < labels.size(); ++r) {
        f.metric.push_back(counter(t.rule_requests[r], {label("listener", listeners[owner[r]]),
                                                        label("priority", labels[r])}));
      }
      out.push_back(std::move(f));
    }
    out.push_back(labelled_counter("edged_rule_evaluations_total",
                                   "Listener rules evaluated to route requests.", "listener",
                                   listeners, t.rule_evaluations));
    out.push_back(labelled_counter("edged_fixed_responses_total",
                                   "Requests answered by a fixed-response action.", "listener",
                                   listeners, t.fixed_responses));
    out.push_back(labelled_counter("edged_redirects_total",
                                   "Requests answered by a redirect action.", "listener",
                                   listeners, t.redirects));
    out.push_back(labelled_counter("edged_target_group_requests_total",
                                   "Requests routed to a target group.", "target_group", groups,
                                   t.group_requests));
    out.push_back(labelled_counter("edged_target_connection_errors_total",
                                   "Connections to targets that could not be established "
                                   "(refused, unreachable or timed out).",
                                   "target_group", groups, t.group_connection_errors));
    {
      MetricFamily f = family("edged_edge_errors_total",
                              "Responses generated by the edge itself, by HTTP status and reason.",
                              MetricType::Counter);
      for (std::size_t e = 1; e < kEdgeErrorCount; ++e) {
        const auto err = static_cast<EdgeError>(e);
        f.metric.push_back(counter(t.edge_errors[e], {label("code", std::to_string(status_of(err))),
                                                      label("reason", reason_of(err))}));
      }
      out.push_back(std::move(f));
    }
    {
      MetricFamily f =
          family("edged_desync_classifications_total",
                 "Requests classified by the HTTP desync mitigation.", MetricType::Counter);
      for (std::size_t d = 0; d < kDesyncClassNames.size(); ++d) {
        f.metric.push_back(counter(t.desync[d], {label("classification", kDesyncClassNames[d])}));
      }
      out.push_back(std::move(f));
    }
    {
      MetricFamily f = family("edged_active_client_connections",
                              "Client connections currently open.", MetricType::Gauge);
      ClientMetric m;
      m.gauge.value = static_cast<double>(t.active_client_connections);
      f.metric.push_back(std::move(m));
      out.push_back(std::move(f));
    }
    out.push_back(single_counter("edged_client_connections_total", "Client connections accepted.",
                                 t.client_connections));
    out.push_back(single_counter("edged_rejected_client_connections_total",
                                 "Client connections that could not be accepted.",
                                 t.rejected_connections));
    {
      MetricFamily f = family("edged_access_log_lines_total",
                              "Access-log lines written, or dropped because the writer's queue "
                              "was full.",
                              MetricType::Counter);
      f.metric.push_back(counter(metrics_.access_log_written().value(),
                                 {label("result", "written")}));
      f.metric.push_back(counter(t.access_log_dropped, {label("result", "dropped")}));
      out.push_back(std::move(f));
    }
    {
      MetricFamily f = family("edged_upstream_connections_total",
                              "Connections to targets: opened anew or reused from the pool.",
                              MetricType::Counter);
      f.metric.push_back(counter(t.upstream_opened, {label("kind", "opened")}));
      f.metric.push_back(counter(t.upstream_reused, {label("kind", "reused")}));
      out.push_back(std::move(f));
    }
    out.push_back(single_counter("edged_upstream_retries_total",
                                 "Requests retried on another target.", t.upstream_retries));
    out.push_back(single_counter("edged_received_bytes_total", "Bytes received from clients.",
                                 t.bytes_received));
    out.push_back(single_counter("edged_sent_bytes_total", "Bytes sent to clients.", t.bytes_sent));
    {
      MetricFamily f = family("edged_tls_handshakes_total",
                              "Client TLS handshakes completed, by protocol, cipher and resumption.",
                              MetricType::Counter);
      for (std::size_t p = 0; p < tls::kProtocolCount; ++p)
        for (std::size_t ci = 0; ci < tls::cipher_count(); ++ci)
          for (int r = 0; r < 2; ++r) {
            const std::uint64_t v = t.tls_handshakes[tls_handshake_index(p, ci, r == 1)];
            if (v == 0) continue;  // hundreds of combinations: only those seen
            f.metric.push_back(counter(v, {label("protocol", tls::protocol_label(p)),
                                           label("cipher", tls::cipher_label(ci)),
                                           label("resumed", r ? "true" : "false")}));
          }
      out.push_back(std::move(f));
    }
    {
      MetricFamily f = family("edged_tls_negotiation_errors_total",
                              "Client TLS negotiations that failed, by reason.", MetricType::Counter);
      for (std::size_t i = 0; i < kTlsErrorCount; ++i)
        f.metric.push_back(counter(t.tls_errors[i], {label("reason", kTlsErrorNames[i])}));
      out.push_back(std::move(f));
    }
    if (const auto certs = metrics_.certificates(); !certs.empty()) {
      MetricFamily f = family("edged_tls_certificate_expiry_timestamp_seconds",
                              "When each served certificate expires (Unix time).", MetricType::Gauge);
      for (const auto& c : certs) {
        ClientMetric m;
        m.label = {label("listener", c.listener), label("certificate", c.certificate)};
        m.gauge.value = static_cast<double>(c.not_after);
        f.metric.push_back(std::move(m));
      }
      out.push_back(std::move(f));
    }
    {
      MetricFamily f = family("edged_active_upgraded_connections",
                              "Upgraded connections (WebSocket or other) currently relayed.",
                              MetricType::Gauge);
      for (std::size_t i = 0; i < kUpgradeProtocolNames.size(); ++i) {
        ClientMetric m;
        m.label = {label("protocol", kUpgradeProtocolNames[i])};
        m.gauge.value = static_cast<double>(t.active_upgraded[i]);
        f.metric.push_back(std::move(m));
      }
      out.push_back(std::move(f));
    }
    {
      MetricFamily f = family("edged_upgrades_total",
                              "Connections upgraded after a target's 101 Switching Protocols.",
                              MetricType::Counter);
      for (std::size_t i = 0; i < kUpgradeProtocolNames.size(); ++i)
        f.metric.push_back(counter(t.upgrades[i], {label("protocol", kUpgradeProtocolNames[i])}));
      out.push_back(std::move(f));
    }
    out.push_back(single_counter(
        "edged_upgrades_declined_total",
        "Upgrade requests forwarded as plain HTTP (protocol not allowed, not a bodiless GET).",
        t.upgrades_declined));
    {
      MetricFamily f = family("edged_cache_lookups_total",
                              "Requests through a route with a cache policy, by cache result.",
                              MetricType::Counter);
      for (std::size_t i = 0; i < kCacheResultCount; ++i)
        f.metric.push_back(counter(t.cache_lookups[i], {label("result", kCacheResultNames[i])}));
      out.push_back(std::move(f));
    }
    out.push_back(single_counter("edged_cache_hit_bytes_total",
                                 "Body bytes sent to clients from stored responses.",
                                 t.cache_hit_bytes));
    out.push_back(single_counter("edged_cache_origin_fetches_avoided_total",
                                 "Target fetches saved by collapsing concurrent misses.",
                                 t.cache_fetches_avoided));
    out.push_back(single_counter("edged_cache_background_refreshes_total",
                                 "stale-while-revalidate refreshes sent to targets.",
                                 t.cache_background_refreshes));
    out.push_back(single_counter("edged_cache_collapsed_aborted_total",
                                 "Collapsed responses cut short because the target fetch they "
                                 "streamed from failed mid-body (the connection is closed).",
                                 t.cache_collapsed_aborted));
    {
      MetricFamily f = family("edged_target_group_fail_open_requests_total",
                              "Requests routed to all registered targets because fewer than "
                              "minimum_healthy_targets were healthy (fail open).",
                              MetricType::Counter);
      for (std::size_t g = 0; g < groups.size(); ++g)
        f.metric.push_back(counter(t.fail_open[g], {label("target_group", groups[g])}));
      out.push_back(std::move(f));
    }
    {
      MetricFamily f = family("edged_config_reloads_total",
                              "Configuration reloads (SIGHUP, POST /reload), by result.",
                              MetricType::Counter);
      f.metric.push_back(counter(metrics_.reloads(true), {label("result", "success")}));
      f.metric.push_back(counter(metrics_.reloads(false), {label("result", "failure")}));
      out.push_back(std::move(f));
    }
    auto gauge = [&](std::string name, std::string help, double v) {
      MetricFamily f = family(std::move(name), std::move(help), MetricType::Gauge);
      ClientMetric m;
      m.gauge.value = v;
      f.metric.push_back(std::move(m));
      out.push_back(std::move(f));
    };
    gauge("edged_config_generation",
          "Configuration generation in use: 1 at start, +1 per successful reload.",
          static_cast<double>(metrics_.generation()));
    gauge("edged_config_last_reload_success_timestamp_seconds",
          "When the configuration was last reloaded successfully (Unix time; 0: never).",
          static_cast<double>(metrics_.last_reload(true)));
    gauge("edged_config_last_reload_failure_timestamp_seconds",
          "When a configuration reload was last refused (Unix time; 0: never).",
          static_cast<double>(metrics_.last_reload(false)));
    for (const auto& extra : metrics_.extra()) {
      auto more = extra->Collect();
      for (auto& f : more) out.push_back(std::move(f));
    }
    return out;
  }

 private:
  const Metrics& metrics_;
};

}  // namespace

Metrics::Metrics(std::vector<std::string> listener_names,
                 std::vector<std::string> target_group_names, std::size_t workers,
                 std::vector<std::vector<int>> rule_priorities)
{
  auto shape = std::make_shared<MetricsShape>();
  shape->listener_names = std::move(listener_names);
  shape->target_group_names = std::move(target_group_names);
  for (std::size_t l = 0; l < shape->listener_names.size(); ++l) {
    if (l < rule_priorities.size()) {
      for (int p : rule_priorities[l]) {
        shape->rule_labels.push_back(std::to_string(p));
        shape->rule_listener.push_back(l);
      }
    }
    shape->rule_labels.push_back("default");
    shape->rule_listener.push_back(l);
  }
  listener_capacity_ = shape->listener_names.size() + kSpareListenerSlots;
  group_capacity_ = shape->target_group_names.size() + kSpareGroupSlots;
  rule_capacity_ = shape->rule_labels.size() + kSpareRuleSlots;
  shape_ = std::move(shape);
  shards_.reserve(workers);
  for (std::size_t w = 0; w < workers; ++w) {
    shards_.push_back(
        std::make_unique<WorkerShard>(listener_capacity_, group_capacity_, rule_capacity_));
  }
  collectable_ = std::make_shared<ShardCollector>(*this);
}

MetricsSlots Metrics::assign(const std::vector<std::string>& listener_names,
                             const std::vector<std::vector<int>>& rule_priorities,
                             const std::vector<std::string>& target_group_names, bool commit) {
  std::lock_guard lock(shape_mu_);
  auto next = std::make_shared<MetricsShape>(*shape_);
  MetricsSlots out;
  auto slot_of = [](std::vector<std::string>& names, const std::string& name) {
    for (std::size_t i = 0; i < names.size(); ++i)
      if (names[i] == name) return i;
    names.push_back(name);
    return names.size() - 1;
  };
  for (std::size_t l = 0; l < listener_names.size(); ++l) {
    const std::size_t ls = slot_of(next->listener_names, listener_names[l]);
    out.listeners.push_back(ls);
    auto& rules = out.rules.emplace_back();
    std::vector<std::string> labels;
    if (l < rule_priorities.size())
      for (int p : rule_priorities[l]) labels.push_back(std::to_string(p));
    labels.push_back("default");
    for (const auto& label : labels) {
      std::size_t r = 0;
      while (r < next->rule_labels.size() &&
             !(next->rule_listener[r] == ls && next->rule_labels[r] == label))
        ++r;
      if (r == next->rule_labels.size()) {
        next->rule_labels.push_back(label);
        next->rule_listener.push_back(ls);
      }
      rules.push_back(r);
    }
  }
  for (const auto& g : target_group_names)
    out.target_groups.push_back(slot_of(next->target_group_names, g));
  if (next->listener_names.size() > listener_capacity_ ||
      next->target_group_names.size() > group_capacity_ ||
      next->rule_labels.size() > rule_capacity_)
    throw std::length_error(
        "metrics: no room left for the new listeners, target groups or rules since the start "
        "(names kept across reloads: up to " + std::to_string(listener_capacity_) +
        " listeners, " + std::to_string(group_capacity_) + " target groups, " +
        std::to_string(rule_capacity_) + " rules); restart to apply this configuration");
  if (commit) shape_ = std::move(next);
  return out;
}

Metrics::~Metrics() = default;

std::shared_ptr<prometheus::Collectable> Metrics::collectable() { return collectable_; }

std::string Metrics::serialize() {
  std::ostringstream out;
  prometheus::TextSerializer{}.Serialize(out, collectable_->Collect());
  return out.str();
}

}  // namespace edge::metrics
