#include "edge/metrics/metrics.hpp"

#include "support/exposition.hpp"

#include <gtest/gtest.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

#include <cmath>
#include <cstdlib>
#include <latch>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace edge::metrics {
namespace {

using test::Exposition;
using test::Labels;
using test::parse;

std::string le(double bound) {
  std::ostringstream o;
  o.precision(17);
  o << bound;
  return o.str();
}

/// The `le` label values as the serializer prints them, mapped back to bounds.
std::map<double, double> buckets_of(const Exposition& e, const std::string& group) {
  std::map<double, double> out;
  for (const auto& s : e.samples) {
    if (s.name != "edged_target_response_time_seconds_bucket") continue;
    if (s.labels.at("target_group") != group) continue;
    EXPECT_EQ(s.labels.size(), 2u);
    out[std::strtod(s.labels.at("le").c_str(), nullptr)] = s.value;
  }
  return out;
}

TEST(HistogramTest, NanosecondBoundsMatchSecondBounds) {
  for (std::size_t i = 0; i < Histogram::kBounds.size(); ++i) {
    EXPECT_EQ(static_cast<double>(Histogram::kBoundsNs[i]), std::round(Histogram::kBounds[i] * 1e9))
        << i;
  }
}

TEST(HistogramTest, SampleOnABoundLandsInThatBucket) {
  for (std::size_t i = 0; i < Histogram::kBoundsNs.size(); ++i) {
    Histogram h;
    const auto bound = static_cast<std::int64_t>(Histogram::kBoundsNs[i]);
    h.observe(std::chrono::nanoseconds(bound));
    h.observe(std::chrono::nanoseconds(bound + 1));
    const auto b = h.buckets();
    EXPECT_EQ(b[i], 1u) << "bound " << i;
    EXPECT_EQ(b[i + 1], 1u) << "bound " << i;
    EXPECT_EQ(h.count(), 2u);
  }
}

TEST(HistogramTest, ExtremesAndSum) {
  Histogram h;
  h.observe(std::chrono::nanoseconds(0));
  h.observe(std::chrono::nanoseconds(-5));  // clock went backwards: counts as 0
  h.observe(std::chrono::nanoseconds(1));
  h.observe(std::chrono::seconds(61));
  h.observe(std::chrono::hours(1));
  const auto b = h.buckets();
  EXPECT_EQ(b.front(), 3u);
  EXPECT_EQ(b.back(), 2u);
  EXPECT_EQ(h.count(), 5u);
  EXPECT_EQ(h.sum_nanoseconds(), 1u + 61'000'000'000u + 3'600'000'000'000u);
  EXPECT_DOUBLE_EQ(h.sum_seconds(), 3661.000000001);
}

TEST(StatusClassTest, IndexAndNames) {
  EXPECT_EQ(kStatusClassNames[status_class_index(200)], "2xx");
  EXPECT_EQ(kStatusClassNames[status_class_index(101)], "1xx");
  EXPECT_EQ(kStatusClassNames[status_class_index(404)], "4xx");
  EXPECT_EQ(kStatusClassNames[status_class_index(599)], "5xx");
  EXPECT_EQ(status_class_index(0), 0u);
  EXPECT_EQ(status_class_index(999), 4u);
}

TEST(MetricsTest, ShardsOfTwoWorkersSumInSerialize) {
  Metrics m({"http", "https"}, {"web", "api"}, 2);
  ASSERT_EQ(m.workers(), 2u);
  constexpr std::uint64_t kN = 100'000;
  std::latch go(2);
  auto work = [&m, &go](std::size_t w) {
    WorkerShard& s = m.shard(w);
    go.arrive_and_wait();  // both workers write at the same time
    for (std::uint64_t i = 0; i < kN; ++i) {
      s.listener_requests[0][status_class_index(200)].inc();
      s.target_group_responses[w][status_class_index(w == 0 ? 200 : 503)].inc();
      s.target_response_time[0].observe(w == 0 ? std::chrono::microseconds(50)
                                               : std::chrono::microseconds(2000));
      s.bytes_received.inc(10);
      s.bytes_sent.inc(w + 1);
      if (i % 2 == 0) {
        s.listener_requests[1][status_class_index(404)].inc();
        s.edge_errors[static_cast<std::size_t>(EdgeError::target_connect_failed)].inc();
        s.upstream_connections_reused.inc();
      }
    }
    s.active_client_connections.add(w == 0 ? 3 : -1);  // per shard may go negative
    s.client_connections_accepted.inc(5);
    s.upstream_connections_opened.inc(w + 1);
    s.upstream_retries.inc(2);
    s.desync_classifications[w].inc(7);
  };
  std::thread t0(work, 0);
  std::thread t1(work, 1);
  t0.join();
  t1.join();

  const Exposition e = parse(m.serialize());
  const double n = static_cast<double>(kN);
  EXPECT_EQ(e.get("edged_requests_total", {{"listener", "http"}, {"status_class", "2xx"}}), 2 * n);
  EXPECT_EQ(e.get("edged_requests_total", {{"listener", "https"}, {"status_class", "4xx"}}), n);
  EXPECT_EQ(e.get("edged_requests_total", {{"listener", "https"}, {"status_class", "2xx"}}), 0.0);
  EXPECT_EQ(e.series("edged_requests_total"), 2u * kStatusClasses);

  EXPECT_EQ(
      e.get("edged_target_responses_total", {{"target_group", "web"}, {"status_class", "2xx"}}), n);
  EXPECT_EQ(
      e.get("edged_target_responses_total", {{"target_group", "api"}, {"status_class", "5xx"}}), n);
  EXPECT_EQ(
      e.get("edged_target_responses_total", {{"target_group", "api"}, {"status_class", "2xx"}}),
      0.0);

  // Histogram of group "web": kN samples of 50 µs and kN of 2 ms.
  const auto web = buckets_of(e, "web");
  ASSERT_EQ(web.size(), Histogram::kBounds.size() + 1);
  for (double bound : Histogram::kBounds) {
    ASSERT_TRUE(web.count(bound)) << "missing le=" << le(bound);
    const double expected = bound < 0.0001 ? 0 : (bound < 0.0025 ? n : 2 * n);
    EXPECT_EQ(web.at(bound), expected) << "le=" << le(bound);
  }
  EXPECT_EQ(web.at(std::numeric_limits<double>::infinity()), 2 * n);
  EXPECT_EQ(e.get("edged_target_response_time_seconds_count", {{"target_group", "web"}}), 2 * n);
  const auto sum = e.get("edged_target_response_time_seconds_sum", {{"target_group", "web"}});
  ASSERT_TRUE(sum);
  EXPECT_DOUBLE_EQ(*sum, n * 50e-6 + n * 2e-3);
  // The other group is present with zeros.
  const auto api = buckets_of(e, "api");
  ASSERT_EQ(api.size(), Histogram::kBounds.size() + 1);
  for (const auto& [bound, count] : api) EXPECT_EQ(count, 0.0) << bound;
  EXPECT_EQ(e.get("edged_target_response_time_seconds_count", {{"target_group", "api"}}), 0.0);

  EXPECT_EQ(
      e.get("edged_edge_errors_total", {{"code", "502"}, {"reason", "target_connect_failed"}}), n);
  EXPECT_EQ(e.get("edged_desync_classifications_total", {{"classification", "compliant"}}), 7.0);
  EXPECT_EQ(e.get("edged_desync_classifications_total", {{"classification", "acceptable"}}), 7.0);
  EXPECT_EQ(e.get("edged_desync_classifications_total", {{"classification", "ambiguous"}}), 0.0);
  EXPECT_EQ(e.get("edged_desync_classifications_total", {{"classification", "severe"}}), 0.0);
  EXPECT_EQ(e.get("edged_active_client_connections"), 2.0);
  EXPECT_EQ(e.get("edged_client_connections_total"), 10.0);
  EXPECT_EQ(e.get("edged_upstream_connections_total", {{"kind", "opened"}}), 3.0);
  EXPECT_EQ(e.get("edged_upstream_connections_total", {{"kind", "reused"}}), n);
  EXPECT_EQ(e.get("edged_upstream_retries_total"), 4.0);
  EXPECT_EQ(e.get("edged_received_bytes_total"), 20 * n);
  EXPECT_EQ(e.get("edged_sent_bytes_total"), 3 * n);
}

TEST(MetricsTest, EveryEdgeErrorSeriesIsPresentAtZero) {
  Metrics m({"http"}, {"web"}, 3);
  const Exposition e = parse(m.serialize());
  EXPECT_EQ(e.series("edged_edge_errors_total"), kEdgeErrorCount - 1);
  for (std::size_t i = 1; i < kEdgeErrorCount; ++i) {
    const auto err = static_cast<EdgeError>(i);
    EXPECT_EQ(e.get("edged_edge_errors_total", {{"code", std::to_string(status_of(err))},
                                                {"reason", std::string(reason_of(err))}}),
              0.0)
        << reason_of(err);
  }
  for (const auto& s : e.samples) {
    if (s.name == "edged_edge_errors_total") {
      EXPECT_NE(s.labels.at("reason"), "none");
    }
  }
  // Spot-check the code labels against the documented mapping.
  EXPECT_TRUE(e.get("edged_edge_errors_total", {{"code", "503"}, {"reason", "no_target"}}));
  EXPECT_TRUE(e.get("edged_edge_errors_total", {{"code", "504"}, {"reason", "target_timeout"}}));
  EXPECT_TRUE(e.get("edged_edge_errors_total", {{"code", "431"}, {"reason", "header_too_large"}}));

  m.shard(2).edge_errors[static_cast<std::size_t>(EdgeError::no_target)].inc(4);
  m.shard(0).edge_errors[static_cast<std::size_t>(EdgeError::no_target)].inc();
  const Exposition after = parse(m.serialize());
  EXPECT_EQ(after.get("edged_edge_errors_total", {{"code", "503"}, {"reason", "no_target"}}), 5.0);
  EXPECT_EQ(after.get("edged_edge_errors_total", {{"code", "504"}, {"reason", "target_timeout"}}),
            0.0);
}

TEST(MetricsTest, ReloadKeepsSlotsByNameAndAddsNewOnes) {
  Metrics m({"http", "admin-web"}, {"web"}, 1, {{10, 20}, {}});
  m.shard(0).listener_requests[0][1].inc(3);  // http, 2xx
  m.shard(0).rule_requests[1].inc(2);          // http, priority 20
  // A reload: admin-web removed, api added, http's rule 10 gone, 30 added.
  const MetricsSlots s = m.assign({"api", "http"}, {{}, {20, 30}}, {"other", "web"});
  EXPECT_EQ(s.listeners, (std::vector<std::size_t>{2, 0}));
  EXPECT_EQ(s.target_groups, (std::vector<std::size_t>{1, 0}));
  ASSERT_EQ(s.rules.size(), 2U);
  EXPECT_EQ(s.rules[1][0], 1U);  // (http, 20) keeps its slot
  EXPECT_EQ(s.rules[1][2], 2U);  // (http, default)
  m.shard(0).listener_requests[2][1].inc();
  m.record_reload(true, 2, 1700000000);
  m.record_reload(false, 2, 1700000100);

  const Exposition e = parse(m.serialize());
  EXPECT_EQ(e.get("edged_requests_total", {{"listener", "http"}, {"status_class", "2xx"}}), 3.0);
  EXPECT_EQ(e.get("edged_requests_total", {{"listener", "api"}, {"status_class", "2xx"}}), 1.0);
  EXPECT_EQ(e.get("edged_rule_requests_total", {{"listener", "http"}, {"priority", "20"}}), 2.0);
  EXPECT_EQ(e.get("edged_config_reloads_total", {{"result", "success"}}), 1.0);
  EXPECT_EQ(e.get("edged_config_reloads_total", {{"result", "failure"}}), 1.0);
  EXPECT_EQ(e.get("edged_config_generation", {}), 2.0);
  EXPECT_EQ(e.get("edged_config_last_reload_failure_timestamp_seconds", {}), 1700000100.0);

  // A dry run changes nothing; beyond the headroom nothing is assigned.
  m.assign({"dry"}, {}, {}, /*commit=*/false);
  EXPECT_EQ(m.listener_names().size(), 3U);
  std::vector<std::string> many;
  for (std::size_t i = 0; i <= kSpareListenerSlots; ++i) many.push_back(std::to_string(i));
  EXPECT_THROW(m.assign(many, {}, {}), std::length_error);
  EXPECT_EQ(m.listener_names().size(), 3U);
}

TEST(MetricsTest, EveryFamilyHasHelpAndType) {
  Metrics m({"http"}, {"web"}, 1);
  const Exposition e = parse(m.serialize());
  const std::map<std::string, std::string> expected{
      {"edged_requests_total", "counter"},
      {"edged_target_responses_total", "counter"},
      {"edged_target_response_time_seconds", "histogram"},
      {"edged_edge_errors_total", "counter"},
      {"edged_desync_classifications_total", "counter"},
      {"edged_active_client_connections", "gauge"},
      {"edged_client_connections_total", "counter"},
      {"edged_upstream_connections_total", "counter"},
      {"edged_upstream_retries_total", "counter"},
      {"edged_received_bytes_total", "counter"},
      {"edged_sent_bytes_total", "counter"},
      {"edged_tls_handshakes_total", "counter"},
      {"edged_tls_negotiation_errors_total", "counter"},
      {"edged_access_log_lines_total", "counter"},
      {"edged_elb_responses_total", "counter"},
      {"edged_fixed_responses_total", "counter"},
      {"edged_redirects_total", "counter"},
      {"edged_rejected_client_connections_total", "counter"},
      {"edged_request_processing_time_seconds", "histogram"},
      {"edged_rule_evaluations_total", "counter"},
      {"edged_rule_requests_total", "counter"},
      {"edged_target_connection_errors_total", "counter"},
      {"edged_target_group_requests_total", "counter"},
      {"edged_active_upgraded_connections", "gauge"},
      {"edged_upgrades_total", "counter"},
      {"edged_upgrades_declined_total", "counter"},
      {"edged_target_group_fail_open_requests_total", "counter"},
      {"edged_config_reloads_total", "counter"},
      {"edged_config_generation", "gauge"},
      {"edged_config_last_reload_success_timestamp_seconds", "gauge"},
      {"edged_config_last_reload_failure_timestamp_seconds", "gauge"},
      {"edged_cache_lookups_total", "counter"},
      {"edged_cache_hit_bytes_total", "counter"},
      {"edged_cache_origin_fetches_avoided_total", "counter"},
      {"edged_cache_background_refreshes_total", "counter"},
      {"edged_cache_collapsed_aborted_total", "counter"},
  };
  EXPECT_EQ(e.type, expected);
  for (const auto& [name, type] : expected) {
    ASSERT_TRUE(e.help.count(name)) << name;
    EXPECT_GT(e.help.at(name).size(), 10u) << name;
  }
  // Every sample belongs to a declared family.
  for (const auto& s : e.samples) {
    std::string family = s.name;
    for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
      if (family.size() > suffix.size() &&
          family.compare(family.size() - suffix.size(), suffix.size(), suffix) == 0 &&
          !e.type.count(family)) {
        family.resize(family.size() - suffix.size());
      }
    }
    EXPECT_TRUE(e.type.count(family)) << s.name;
  }
}

TEST(MetricsTest, CollectableIsStableAndTyped) {
  Metrics m({"a"}, {"g"}, 2);
  const auto c = m.collectable();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c, m.collectable());
  m.shard(1).client_connections_accepted.inc(9);
  const auto families = c->Collect();
  bool seen = false;
  for (const auto& f : families) {
    EXPECT_FALSE(f.help.empty()) << f.name;
    if (f.name == "edged_client_connections_total") {
      seen = true;
      EXPECT_EQ(f.type, prometheus::MetricType::Counter);
      ASSERT_EQ(f.metric.size(), 1u);
      EXPECT_EQ(f.metric[0].counter.value, 9.0);
    }
    if (f.name == "edged_target_response_time_seconds") {
      EXPECT_EQ(f.type, prometheus::MetricType::Histogram);
      ASSERT_EQ(f.metric.size(), 1u);
      ASSERT_EQ(f.metric[0].histogram.bucket.size(), Histogram::kBounds.size() + 1);
      EXPECT_TRUE(std::isinf(f.metric[0].histogram.bucket.back().upper_bound));
    }
  }
  EXPECT_TRUE(seen);
}

TEST(MetricsTest, NoListenersNoGroupsStillRendersGlobalFamilies) {
  Metrics m({}, {}, 1);
  m.shard(0).bytes_sent.inc(42);
  const Exposition e = parse(m.serialize());
  EXPECT_EQ(e.series("edged_requests_total"), 0u);
  EXPECT_EQ(e.series("edged_target_response_time_seconds_bucket"), 0u);
  EXPECT_EQ(e.get("edged_sent_bytes_total"), 42.0);
  EXPECT_EQ(e.series("edged_edge_errors_total"), kEdgeErrorCount - 1);
}

TEST(MetricsTest, ShardsDoNotShareCacheLines) {
  Metrics m({"l"}, {"g"}, 2);
  auto line = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) / kCacheLine; };
  for (std::size_t w = 0; w < 2; ++w) {
    const WorkerShard& s = m.shard(w);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(&s) % kCacheLine, 0u);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(s.listener_requests.data()) % kCacheLine, 0u);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(s.target_group_responses.data()) % kCacheLine, 0u);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(s.target_response_time.data()) % kCacheLine, 0u);
  }
  // The last line touched by shard 0's arrays is never the first of shard 1's.
  std::set<std::uintptr_t> lines0;
  const WorkerShard& s0 = m.shard(0);
  const WorkerShard& s1 = m.shard(1);
  lines0.insert(line(&s0.listener_requests[0][kStatusClasses - 1]));
  lines0.insert(line(&s0.target_group_responses[0][kStatusClasses - 1]));
  lines0.insert(line(&s0.target_response_time.back()));
  EXPECT_FALSE(lines0.count(line(&s1.listener_requests[0][0])));
  EXPECT_FALSE(lines0.count(line(&s1.target_group_responses[0][0])));
  EXPECT_FALSE(lines0.count(line(&s1.target_response_time[0])));
}

}  // namespace
}  // namespace edge::metrics
