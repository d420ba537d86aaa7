#pragma once
/// The operator's status page on the admin listener:
///   GET /            a self-contained HTML page (inline CSS and JS, no external
///                    asset) showing listeners, rules, target groups and their
///                    targets, latency, connections and recent errors; it renders
///                    the document below at load and refreshes itself from
///                    /status.json every few seconds.
///   GET /status.json that document, built by status_json().
/// Thread: the handlers run on the admin thread; they read the shared state
/// (immutable while serving, target atomics) and sum the metric shards.

#include <boost/json/object.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace edge::upstream {
struct Target;
}
namespace edge::metrics {
class Metrics;
}

namespace edge::server {

class AdminServer;
struct Snapshot;

/// The configuration snapshot current now (thread-safe; e.g. Gateway's).
using SnapshotSource = std::function<std::shared_ptr<const Snapshot>()>;

/// Writes one target's state into `out` (keys `state`, `healthy`, `outstanding`
/// and anything else worth showing). The page shows every key it finds, so a
/// richer health model plugs in here without touching the page.
using TargetDescriber = std::function<void(const upstream::Target&, boost::json::object& out)>;

/// Today's target state: `healthy` flag (state "healthy" / "unhealthy") and the
/// outstanding requests across all workers.
void describe_target_basic(const upstream::Target& target, boost::json::object& out);

/// The document behind the page. Cache statistics are absent (there is no
/// cache yet); the access-log block is present only when logs are on.
boost::json::object status_json(const Snapshot& state, const metrics::Metrics& metrics,
                                const TargetDescriber& describe = describe_target_basic);

/// The HTML page with `initial_json` (a status_json document) embedded, so it
/// shows data without a second request.
std::string status_html(std::string_view initial_json);

/// Registers `GET /` and `GET /status.json` (showing the snapshot `current`
/// returns at each request). `metrics` must outlive the server's thread.
void add_status_routes(AdminServer& server, SnapshotSource current,
                       const metrics::Metrics& metrics,
                       TargetDescriber describe = describe_target_basic);

}  // namespace edge::server
