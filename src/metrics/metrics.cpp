#include "edge/metrics/metrics.hpp"

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>
#include <prometheus/text_serializer.h>

#include <limits>
#include <sstream>
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

WorkerShard::WorkerShard(std::size_t listeners, std::size_t target_groups)
    : listener_requests(listeners),
      target_group_responses(target_groups),
      target_response_time(target_groups),
      target_group_fail_open(target_groups) {}

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

/// Sums of every shard, taken with relaxed loads (each value on its own is
/// exact; values are not a snapshot of one instant, which Prometheus tolerates).
struct Totals {
  explicit Totals(std::size_t listeners, std::size_t groups)
      : listener_requests(listeners),
        target_group_responses(groups),
        response_time(groups),
        fail_open(groups) {}

  struct HistogramTotals {
    std::array<std::uint64_t, Histogram::kBounds.size() + 1> buckets{};
    std::uint64_t sum_ns = 0;
  };

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

  void add(const WorkerShard& s) {
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

/// The Collectable handed to Prometheus: sums the shards on each Collect().
/// Allocation happens only here, on the scraping thread.
class ShardCollector final : public prometheus::Collectable {
 public:
  explicit ShardCollector(const Metrics& m) : metrics_(m) {}

  std::vector<MetricFamily> Collect() const override {
    const auto& listeners = metrics_.listener_names();
    const auto& groups = metrics_.target_group_names();
    Totals t(listeners.size(), groups.size());
    for (std::size_t w = 0; w < metrics_.workers(); ++w) t.add(metrics_.shard(w));

    std::vector<MetricFamily> out;
    out.reserve(13);

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
      for (std::size_t g = 0; g < groups.size(); ++g) {
        ClientMetric m;
        m.label = {label("target_group", groups[g])};
        const auto& h = t.response_time[g];
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
        f.metric.push_back(std::move(m));
      }
      out.push_back(std::move(f));
    }
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
      MetricFamily f = family("edged_target_group_fail_open_requests_total",
                              "Requests routed to all registered targets because fewer than "
                              "minimum_healthy_targets were healthy (fail open).",
                              MetricType::Counter);
      for (std::size_t g = 0; g < groups.size(); ++g)
        f.metric.push_back(counter(t.fail_open[g], {label("target_group", groups[g])}));
      out.push_back(std::move(f));
    }
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
                 std::vector<std::string> target_group_names, std::size_t workers)
    : listener_names_(std::move(listener_names)),
      target_group_names_(std::move(target_group_names)) {
  shards_.reserve(workers);
  for (std::size_t w = 0; w < workers; ++w) {
    shards_.push_back(
        std::make_unique<WorkerShard>(listener_names_.size(), target_group_names_.size()));
  }
  collectable_ = std::make_shared<ShardCollector>(*this);
}

Metrics::~Metrics() = default;

std::shared_ptr<prometheus::Collectable> Metrics::collectable() { return collectable_; }

std::string Metrics::serialize() {
  std::ostringstream out;
  prometheus::TextSerializer{}.Serialize(out, collectable_->Collect());
  return out.str();
}

}  // namespace edge::metrics
