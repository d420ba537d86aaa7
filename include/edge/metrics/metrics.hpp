#pragma once
/// Per-worker metric shards, merged when /metrics is scraped.
///
/// Each worker writes only its own `WorkerShard` (plain relaxed load+store, no
/// read-modify-write atomics, no locks); the scraper reads all shards with relaxed
/// loads and sums them. Handles are created once at startup, never per request.
/// Thread: a shard is written by its worker; `serialize()`/`collectable()` by any.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "edge/core/error.hpp"
#include "edge/metrics/recent_errors.hpp"

namespace prometheus {
class Collectable;
}

namespace edge::metrics {

/// Cache line size used to keep one worker's counters off another worker's lines.
inline constexpr std::size_t kCacheLine = 64;

/// Allocator giving every block its own whole cache lines, so that the heap
/// arrays of two shards (allocated one after the other at startup) never share
/// a line and workers never write to the same line (no false sharing).
template <class T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) noexcept {}  // NOLINT: rebinding
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new (padded(n), std::align_val_t{kCacheLine}));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    ::operator delete (p, padded(n), std::align_val_t{kCacheLine});
  }
  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const noexcept {
    return true;
  }

 private:
  static std::size_t padded(std::size_t n) {
    return (n * sizeof(T) + kCacheLine - 1) / kCacheLine * kCacheLine;
  }
};

/// A per-shard array whose storage shares no cache line with anything else.
template <class T>
using ShardVector = std::vector<T, CacheLineAllocator<T>>;

/// Single-writer counter: the owning worker increments, anyone reads.
class Counter {
 public:
  void inc(std::uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

/// Single-writer gauge (may go negative per shard; the sum is what matters).
class Gauge {
 public:
  void add(std::int64_t n) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> v_{0};
};

/// Fixed-bucket latency histogram in seconds (100 µs … 60 s).
/// Single writer (the owning worker); any thread may read. The sample count is
/// the sum of the buckets, so a scrape racing a writer still renders a
/// consistent histogram (+Inf bucket == _count).
class Histogram {
 public:
  static constexpr std::array<double, 18> kBounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                  0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                                  1.0,    2.5,     5.0,    10.0,  30.0,   60.0};
  /// kBounds as integer nanoseconds: observe() compares integers only.
  static constexpr std::array<std::uint64_t, kBounds.size()> kBoundsNs = [] {
    std::array<std::uint64_t, kBounds.size()> ns{};
    for (std::size_t i = 0; i < kBounds.size(); ++i) {
      ns[i] = static_cast<std::uint64_t>(kBounds[i] * 1e9 + 0.5);
    }
    return ns;
  }();

  /// Hot path: 18 integer compares (no branch per bound), two relaxed stores.
  /// A sample equal to a bound lands in that bound's bucket (`le`); negative
  /// durations count as 0.
  void observe(std::chrono::nanoseconds d) {
    const auto ns = d.count() > 0 ? static_cast<std::uint64_t>(d.count()) : std::uint64_t{0};
    std::size_t i = 0;
    for (const std::uint64_t bound : kBoundsNs) i += static_cast<std::size_t>(ns > bound);
    buckets_[i].inc();
    sum_ns_.inc(ns);
  }
  /// Per-bucket (non-cumulative) counts; the last one is +Inf.
  std::array<std::uint64_t, kBounds.size() + 1> buckets() const;
  std::uint64_t count() const;
  double sum_seconds() const;
  std::uint64_t sum_nanoseconds() const { return sum_ns_.value(); }

 private:
  std::array<Counter, kBounds.size() + 1> buckets_{};
  Counter sum_ns_;
};

/// Histograms of several shards added up (the scrape side; plain integers).
struct HistogramSum {
  std::array<std::uint64_t, Histogram::kBounds.size() + 1> buckets{};
  std::uint64_t sum_ns = 0;
  void add(const Histogram& h) {
    const auto b = h.buckets();
    for (std::size_t i = 0; i < b.size(); ++i) buckets[i] += b[i];
    sum_ns += h.sum_nanoseconds();
  }
  std::uint64_t count() const {
    std::uint64_t n = 0;
    for (auto b : buckets) n += b;
    return n;
  }
};

/// Label values of `status_class`, index = status_class_index().
inline constexpr std::array<std::string_view, 5> kStatusClassNames{"1xx", "2xx", "3xx", "4xx",
                                                                   "5xx"};
/// Label values of `classification`, index = DesyncClass (ALB's order).
inline constexpr std::array<std::string_view, 4> kDesyncClassNames{"compliant", "acceptable",
                                                                   "ambiguous", "severe"};

/// Reasons a client's TLS negotiation failed (ALB ClientTLSNegotiationErrorCount).
enum class TlsError : std::uint8_t {
  timeout,           // no complete handshake within timeouts.tls_handshake
  protocol_version,  // no protocol version in common with the policy
  no_shared_cipher,  // no cipher in common with the policy
  plain_http,        // an HTTP request on the HTTPS port
  closed,            // the client closed or reset during the handshake
  client_certificate,  // mutual TLS: no client certificate, or not trusted
  other,
};
inline constexpr std::size_t kTlsErrorCount = 7;
inline constexpr std::array<std::string_view, kTlsErrorCount> kTlsErrorNames{
    "timeout", "protocol_version", "no_shared_cipher", "plain_http", "closed",
    "client_certificate", "other"};

/// A certificate a listener serves, for its expiry gauge.
struct CertificateExpiry {
  std::string listener;
  std::string certificate;  // the certificate file
  std::int64_t not_after = 0;
};
/// Label values of `protocol` on upgrade metrics: websocket, or any other
/// protocol allowed by `upgrade_protocols`.
inline constexpr std::array<std::string_view, 2> kUpgradeProtocolNames{"websocket", "other"};

/// Results of a cache lookup (label `result` of edged_cache_lookups_total):
/// hit (fresh, served from the store), miss (fetched from the target),
/// stale (served stale: stale-while-revalidate, stale-if-error, max-stale, or
/// an expired object on a target error), revalidated (a 304 from the target
/// refreshed the stored response), collapsed (answered from another request's
/// fetch), bypass (a request through a cached route that the cache does not
/// serve: another method, Authorization, ...).
enum class CacheResult : std::uint8_t { hit, miss, stale, revalidated, collapsed, bypass };
inline constexpr std::size_t kCacheResultCount = 6;
inline constexpr std::array<std::string_view, kCacheResultCount> kCacheResultNames{
    "hit", "miss", "stale", "revalidated", "collapsed", "bypass"};

/// HTTP status classes, index = status / 100 - 1 (1xx..5xx).
inline constexpr std::size_t kStatusClasses = 5;
inline std::size_t status_class_index(int status) {
  int c = status / 100 - 1;
  return c < 0 ? 0 : (c > 4 ? 4 : static_cast<std::size_t>(c));
}

/// One worker's counters. Written only by that worker (plain relaxed
/// load+store), read by the scraper. Aligned and with cache-line-padded arrays so
/// no two workers ever write to the same cache line. Sized once at construction:
/// the worker never allocates.
/// Per-listener counters of one worker.
struct ListenerCounters {
  /// Responses the edge generated itself (errors, fixed responses, redirects,
  /// hook answers), by status class: ALB's HTTPCode_ELB_{3,4,5}XX_Count.
  std::array<Counter, kStatusClasses> elb_responses{};
  Counter fixed_responses;
  Counter redirects;
  /// Listener rules evaluated (ALB RuleEvaluations).
  Counter rule_evaluations;
  /// Request head received → response complete.
  Histogram processing_time;
};

/// Per-target-group counters of one worker.
struct GroupCounters {
  Counter requests;           // requests routed to the group
  Counter connection_errors;  // connects to its targets that failed or timed out
};

struct alignas(kCacheLine) WorkerShard {
  /// `rule_slots`: one counter per listener rule and default action (see
  /// Metrics::rule_slot_base); at least one per listener.
  WorkerShard(std::size_t listeners, std::size_t target_groups, std::size_t rule_slots = 0);

  /// Responses sent to clients, by listener and status class.
  ShardVector<std::array<Counter, kStatusClasses>> listener_requests;
  /// Responses received from targets, by target group and status class.
  ShardVector<std::array<Counter, kStatusClasses>> target_group_responses;
  /// Target response time (request sent → response head), by target group.
  ShardVector<Histogram> target_response_time;
  /// Requests routed while the group failed open (too few healthy targets).
  ShardVector<Counter> target_group_fail_open;
  /// Edge-generated errors by reason (status derives from the reason).
  std::array<Counter, kEdgeErrorCount> edge_errors{};
  /// Requests classified by the desync mitigation (index = DesyncClass).
  std::array<Counter, 4> desync_classifications{};
  ShardVector<ListenerCounters> listeners;
  ShardVector<GroupCounters> groups;
  /// Requests matched per rule (index = ListenerRuntime::rule_slot_base + RouteResult::rule).
  ShardVector<Counter> rule_requests;

  Gauge active_client_connections;
  Counter client_connections_accepted;
  Counter client_connections_rejected;  // accept failed (e.g. out of file descriptors)
  Counter access_log_dropped;           // records dropped: the writer's queue was full
  Counter upstream_connections_opened;
  Counter upstream_connections_reused;
  Counter upstream_retries;
  Counter bytes_received;  // from clients
  Counter bytes_sent;      // to clients

  /// TLS handshakes completed, index tls_handshake_index(protocol, cipher, resumed).
  ShardVector<Counter> tls_handshakes;
  /// Client TLS negotiation failures by reason.
  std::array<Counter, kTlsErrorCount> tls_errors{};
  /// Latest edge errors for the status page (locked; touched on errors only).
  RecentErrors recent_errors;
  /// Upgraded connections (after a 101), index = kUpgradeProtocolNames.
  std::array<Gauge, 2> active_upgraded_connections{};
  std::array<Counter, 2> upgrades{};
  /// Upgrade requests forwarded as plain HTTP (protocol not allowed, not a GET, ...).
  Counter upgrades_declined;
  /// Cache lookups by result (index = CacheResult).
  std::array<Counter, kCacheResultCount> cache_lookups{};
  /// Body bytes written to clients from stored responses.
  Counter cache_hit_bytes;
  /// Target fetches a request did not make because another one's was shared.
  Counter cache_fetches_avoided;
  /// Background stale-while-revalidate refreshes started.
  Counter cache_background_refreshes;
  /// Collapsed responses cut short: the fill they streamed from failed.
  Counter cache_collapsed_aborted;
};

/// Slot of a completed handshake in WorkerShard::tls_handshakes.
std::size_t tls_handshake_index(std::size_t protocol, std::size_t cipher, bool resumed);

/// Slots a configuration reload may add beyond those of the startup
/// configuration (shards are sized once, so workers never see them move).
inline constexpr std::size_t kSpareListenerSlots = 16;
inline constexpr std::size_t kSpareGroupSlots = 64;
inline constexpr std::size_t kSpareRuleSlots = 512;

/// Names of the slots in use: the label values of the per-listener,
/// per-target-group and per-rule series (index = slot).
struct MetricsShape {
  std::vector<std::string> listener_names;
  std::vector<std::string> target_group_names;
  std::vector<std::string> rule_labels;        // `priority` label of each rule slot
  std::vector<std::size_t> rule_listener;      // listener slot of each rule slot
};

/// Slots of one configuration (Metrics::assign).
struct MetricsSlots {
  std::vector<std::size_t> listeners;                // by config listener
  std::vector<std::vector<std::size_t>> rules;       // by config listener: rules, then default
  std::vector<std::size_t> target_groups;            // by config target group
};

/// Owns the shards of all workers and renders them for Prometheus.
/// Per-listener, per-group and per-rule counters live in slots named by the
/// listener name, group name and (listener, priority): a reload keeps the slot
/// of a name it keeps (its series go on), adds slots for new names (up to the
/// kSpare* headroom), and leaves the slots of removed names in place (their
/// series stay, frozen). The shards are sized once, for the headroom too.
/// The collectable refers to this object: it must not be collected after the
/// Metrics is destroyed.
/// Thread: shard(i) is used by worker i; collectable()/serialize()/shape()/
/// assign() by any thread.
class Metrics {
 public:
  /// `rule_priorities[l]`: priorities of listener l's rules in evaluation order
  /// (each gets a `priority` label value; the default action is "default").
  /// Missing entries mean a listener with its default action only.
  Metrics(std::vector<std::string> listener_names, std::vector<std::string> target_group_names,
          std::size_t workers, std::vector<std::vector<int>> rule_priorities = {});
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  WorkerShard& shard(std::size_t worker) { return *shards_[worker]; }
  const WorkerShard& shard(std::size_t worker) const { return *shards_[worker]; }
  std::size_t workers() const { return shards_.size(); }
  /// The slots in use now (a copy of the pointer: stays valid and unchanged).
  std::shared_ptr<const MetricsShape> shape() const {
    std::lock_guard lock(shape_mu_);
    return shape_;
  }
  std::vector<std::string> listener_names() const { return shape()->listener_names; }
  std::vector<std::string> target_group_names() const { return shape()->target_group_names; }
  /// The slots of a configuration with these listeners (names, and the
  /// priorities of their rules in evaluation order) and target groups: the
  /// existing slot for a name seen before, a new one otherwise. All or
  /// nothing: throws std::length_error (nothing assigned) when the headroom
  /// is used up. `commit` false: only says what the slots would be.
  MetricsSlots assign(const std::vector<std::string>& listener_names,
                      const std::vector<std::vector<int>>& rule_priorities,
                      const std::vector<std::string>& target_group_names, bool commit = true);

  /// Configuration reloads (edged_config_reloads_total{result}), the
  /// generation in use and the time of the last reload attempt.
  void record_reload(bool success, std::uint64_t generation, std::int64_t unix_seconds) {
    (success ? reloads_succeeded_ : reloads_failed_).fetch_add(1, std::memory_order_relaxed);
    generation_.store(generation, std::memory_order_relaxed);
    (success ? last_reload_success_ : last_reload_failure_)
        .store(unix_seconds, std::memory_order_relaxed);
  }
  std::uint64_t reloads(bool success) const {
    return (success ? reloads_succeeded_ : reloads_failed_).load(std::memory_order_relaxed);
  }
  std::uint64_t generation() const { return generation_.load(std::memory_order_relaxed); }
  std::int64_t last_reload(bool success) const {
    return (success ? last_reload_success_ : last_reload_failure_)
        .load(std::memory_order_relaxed);
  }
  /// Access-log lines written (by the writer thread).
  Counter& access_log_written() { return access_log_written_; }
  const Counter& access_log_written() const { return access_log_written_; }

  /// Certificates served, for edged_tls_certificate_expiry_timestamp_seconds
  /// (replaced on a certificate reload, while scrapes may run).
  void set_certificates(std::vector<CertificateExpiry> certs) {
    std::lock_guard lock(certificates_mu_);
    certificates_ = std::move(certs);
  }
  std::vector<CertificateExpiry> certificates() const {
    std::lock_guard lock(certificates_mu_);
    return certificates_;
  }

  /// A prometheus-cpp Collectable summing all shards at collection time.
  std::shared_ptr<prometheus::Collectable> collectable();
  /// Prometheus text exposition format (0.0.4) of the summed shards.
  std::string serialize();
  /// Adds a source of metrics rendered with the shards (e.g. per-target state
  /// read from the targets' atomics at scrape time). Call before serving.
  void add_collectable(std::shared_ptr<prometheus::Collectable> c) {
    extra_.push_back(std::move(c));
  }
  const std::vector<std::shared_ptr<prometheus::Collectable>>& extra() const { return extra_; }

 private:
  mutable std::mutex shape_mu_;
  std::shared_ptr<const MetricsShape> shape_;  // replaced (not changed) by assign()
  std::size_t listener_capacity_ = 0;
  std::size_t group_capacity_ = 0;
  std::size_t rule_capacity_ = 0;
  std::atomic<std::uint64_t> reloads_succeeded_{0};
  std::atomic<std::uint64_t> reloads_failed_{0};
  std::atomic<std::uint64_t> generation_{1};
  std::atomic<std::int64_t> last_reload_success_{0};
  std::atomic<std::int64_t> last_reload_failure_{0};
  Counter access_log_written_;
  std::vector<std::unique_ptr<WorkerShard>> shards_;
  mutable std::mutex certificates_mu_;
  std::vector<CertificateExpiry> certificates_;
  std::shared_ptr<prometheus::Collectable> collectable_;
  std::vector<std::shared_ptr<prometheus::Collectable>> extra_;
};

}  // namespace edge::metrics
