#include "edge/server/status_page.hpp"

#include <algorithm>
#include <array>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <vector>

#include "edge/cache/edge_cache.hpp"
#include "edge/log/access_log.hpp"
#include "edge/metrics/metrics.hpp"
#include "edge/proxy/router.hpp"
#include "edge/server/admin_server.hpp"
#include "edge/server/worker.hpp"
#include "edge/upstream/target.hpp"

namespace edge::server {

namespace json = boost::json;

namespace {

using metrics::Histogram;
using metrics::kStatusClasses;
using metrics::kStatusClassNames;


struct HistogramView : metrics::HistogramSum {
  /// Estimated quantile: linear inside the bucket (as Prometheus'
  /// histogram_quantile); the +Inf bucket reports the last bound.
  double quantile(double q) const {
    const double total = static_cast<double>(count());
    const double rank = q * total;
    double cumulative = 0;
    for (std::size_t i = 0; i < buckets.size(); ++i) {
      const double b = static_cast<double>(buckets[i]);
      if (b > 0 && cumulative + b >= rank) {
        if (i >= Histogram::kBounds.size()) return Histogram::kBounds.back();
        const double lower = i == 0 ? 0.0 : Histogram::kBounds[i - 1];
        const double upper = Histogram::kBounds[i];
        return lower + (upper - lower) * ((rank - cumulative) / b);
      }
      cumulative += b;
    }
    return 0;
  }
  json::object to_json() const {
    json::object o;
    const std::uint64_t n = count();
    o["count"] = n;
    if (n > 0) {
      o["mean_seconds"] = static_cast<double>(sum_ns) / 1e9 / static_cast<double>(n);
      o["p50_seconds"] = quantile(0.5);
      o["p99_seconds"] = quantile(0.99);
    }
    return o;
  }
};

std::string iso_time(std::int64_t unix_us) {
  std::time_t secs = static_cast<std::time_t>(unix_us / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>((unix_us / 1000) % 1000));
  return buf;
}

json::object by_class(const std::array<std::uint64_t, kStatusClasses>& v) {
  json::object o;
  for (std::size_t c = 0; c < kStatusClasses; ++c) o[kStatusClassNames[c]] = v[c];
  return o;
}

std::string join(const std::vector<std::string>& v, std::string_view sep = ", ") {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out.append(sep);
    out.append(s);
  }
  return out;
}

std::string describe_conditions(const config::Conditions& c) {
  std::vector<std::string> parts;
  if (!c.path_pattern.empty()) parts.push_back("path " + join(c.path_pattern));
  if (!c.host_header.empty()) parts.push_back("host " + join(c.host_header));
  if (!c.http_request_method.empty()) parts.push_back("method " + join(c.http_request_method));
  if (c.http_header)
    parts.push_back("header " + c.http_header->name + ": " + join(c.http_header->values));
  if (!c.query_string.empty()) {
    std::vector<std::string> q;
    for (const auto& kv : c.query_string)
      q.push_back((kv.key.empty() ? "*" : kv.key) + "=" + kv.value);
    parts.push_back("query " + join(q));
  }
  if (!c.source_ip.empty()) parts.push_back("source " + join(c.source_ip));
  return parts.empty() ? "any request" : join(parts, "; ");
}

std::string describe_action(const config::Action& a) {
  switch (a.kind) {
    case config::Action::Kind::forward: {
      std::vector<std::string> g;
      for (const auto& t : a.forward.target_groups)
        g.push_back(a.forward.target_groups.size() > 1
                        ? t.name + " (weight " + std::to_string(t.weight) + ")"
                        : t.name);
      return "forward " + join(g);
    }
    case config::Action::Kind::fixed_response:
      return "fixed-response " + std::to_string(a.fixed_response.status);
    case config::Action::Kind::redirect: {
      const auto& r = a.redirect;
      return "redirect " + std::to_string(r.status) + " to " + r.protocol + "://" + r.host + ":" +
             r.port + r.path + "?" + r.query;
    }
  }
  return "?";
}

}  // namespace

void describe_target_basic(const upstream::Target& target, boost::json::object& out) {
  const std::uint32_t status = target.load_status();
  const auto state = upstream::TargetStatus::state(status);
  out["state"] = upstream::state_name(state);
  out["reason"] = upstream::reason_name(upstream::TargetStatus::reason(status));
  out["healthy"] = state == upstream::TargetState::healthy;
  out["outstanding"] = target.outstanding.load(std::memory_order_relaxed);
  out["requests"] = target.requests.load(std::memory_order_relaxed);
  if (const auto us = target.latency_ewma_us.load(std::memory_order_relaxed); us != 0)
    out["latency_ms"] = static_cast<double>(us) / 1000.0;
}

json::object status_json(const Snapshot& state, const metrics::Metrics& m,
                         const TargetDescriber& describe) {
  const auto shape = m.shape();
  const std::size_t nl = shape->listener_names.size();
  const std::size_t ng = shape->target_group_names.size();
  const std::size_t nr = shape->rule_labels.size();

  // Sums over the worker shards (relaxed loads; each value exact on its own).
  std::vector<std::array<std::uint64_t, kStatusClasses>> requests(nl), group_resp(ng);
  std::vector<HistogramView> processing(nl), response_time(ng);
  std::vector<std::uint64_t> rule_requests(nr), group_requests(ng), conn_errors(ng);
  std::array<std::uint64_t, kEdgeErrorCount> errors{};
  std::int64_t active = 0;
  std::uint64_t accepted = 0, rejected = 0, received = 0, sent = 0, log_dropped = 0;
  std::array<std::uint64_t, metrics::kCacheResultCount> cache_lookups{};
  std::uint64_t cache_hit_bytes = 0;
  std::vector<metrics::RecentError> recent;
  for (std::size_t w = 0; w < m.workers(); ++w) {
    const metrics::WorkerShard& s = m.shard(w);
    for (std::size_t l = 0; l < nl; ++l) {
      for (std::size_t c = 0; c < kStatusClasses; ++c)
        requests[l][c] += s.listener_requests[l][c].value();
      processing[l].add(s.listeners[l].processing_time);
    }
    for (std::size_t g = 0; g < ng; ++g) {
      for (std::size_t c = 0; c < kStatusClasses; ++c)
        group_resp[g][c] += s.target_group_responses[g][c].value();
      response_time[g].add(s.target_response_time[g]);
      group_requests[g] += s.groups[g].requests.value();
      conn_errors[g] += s.groups[g].connection_errors.value();
    }
    for (std::size_t r = 0; r < nr; ++r) rule_requests[r] += s.rule_requests[r].value();
    for (std::size_t e = 0; e < kEdgeErrorCount; ++e) errors[e] += s.edge_errors[e].value();
    active += s.active_client_connections.value();
    accepted += s.client_connections_accepted.value();
    rejected += s.client_connections_rejected.value();
    received += s.bytes_received.value();
    sent += s.bytes_sent.value();
    log_dropped += s.access_log_dropped.value();
    for (std::size_t i = 0; i < metrics::kCacheResultCount; ++i)
      cache_lookups[i] += s.cache_lookups[i].value();
    cache_hit_bytes += s.cache_hit_bytes.value();
    auto snap = s.recent_errors.snapshot();
    recent.insert(recent.end(), snap.begin(), snap.end());
  }

  json::object doc;
  doc["version"] = EDGE_VERSION;
  doc["time"] = iso_time(std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count());
  doc["workers"] = m.workers();
  doc["config_generation"] = state.generation;

  json::array listeners;
  for (const ListenerRuntime& lr : state.listeners) {
    const std::size_t l = lr.index;  // metrics slot
    if (l >= nl) continue;
    const config::ListenerConfig& lc = *lr.config;
    json::object o;
    o["name"] = lc.name;
    o["port"] = lr.port;
    o["protocol"] = lc.protocol == config::Protocol::https ? "HTTPS" : "HTTP";
    std::uint64_t total = 0;
    for (auto v : requests[l]) total += v;
    o["requests"] = total;
    o["responses"] = by_class(requests[l]);
    o["processing_time"] = processing[l].to_json();
    // Rules in evaluation order (as the Router sorts them: stable by priority).
    std::vector<const config::Rule*> rules;
    for (const auto& r : lc.rules) rules.push_back(&r);
    std::stable_sort(rules.begin(), rules.end(),
                     [](const auto* a, const auto* b) { return a->priority < b->priority; });
    json::array ra;
    for (std::size_t i = 0; i <= rules.size() && i < lr.rule_slots.size(); ++i) {
      json::object ro;
      const bool is_default = i == rules.size();
      if (is_default)
        ro["priority"] = "default";
      else
        ro["priority"] = rules[i]->priority;
      ro["conditions"] =
          is_default ? std::string("otherwise") : describe_conditions(rules[i]->conditions);
      ro["action"] = describe_action(is_default ? lc.default_action : rules[i]->action);
      ro["requests"] = lr.rule_slots[i] < nr ? rule_requests[lr.rule_slots[i]] : 0;
      ra.push_back(std::move(ro));
    }
    o["rules"] = std::move(ra);
    listeners.push_back(std::move(o));
  }
  doc["listeners"] = std::move(listeners);

  json::array groups;
  for (const GroupRuntime& gr : state.groups) {
    const std::size_t g = gr.group->index();  // metrics slot
    if (g >= ng) continue;
    const auto& cfg = gr.group->config();
    json::object o;
    o["name"] = gr.group->name();
    o["algorithm"] = cfg.algorithm == config::Algorithm::round_robin ? "round_robin"
                                                                     : "least_outstanding_requests";
    o["requests"] = group_requests[g];
    o["responses"] = by_class(group_resp[g]);
    o["connection_errors"] = conn_errors[g];
    o["response_time"] = response_time[g].to_json();
    json::array targets;
    std::uint64_t outstanding = 0;
    for (const upstream::Target* t : gr.group->members()) {
      json::object to;
      to["id"] = t->id;
      to["weight"] = t->weight;
      describe(*t, to);
      outstanding += t->outstanding.load(std::memory_order_relaxed);
      targets.push_back(std::move(to));
    }
    o["outstanding"] = outstanding;
    o["targets"] = std::move(targets);
    groups.push_back(std::move(o));
  }
  doc["target_groups"] = std::move(groups);

  json::object conns;
  conns["active"] = active;
  conns["accepted"] = accepted;
  conns["rejected"] = rejected;
  doc["connections"] = std::move(conns);
  json::object bytes;
  bytes["received"] = received;
  bytes["sent"] = sent;
  doc["bytes"] = std::move(bytes);

  json::object err;
  json::array by_reason;
  for (std::size_t e = 1; e < kEdgeErrorCount; ++e) {
    if (errors[e] == 0) continue;
    const auto ee = static_cast<EdgeError>(e);
    json::object x;
    x["code"] = status_of(ee);
    x["reason"] = reason_of(ee);
    x["count"] = errors[e];
    by_reason.push_back(std::move(x));
  }
  err["by_reason"] = std::move(by_reason);
  std::sort(recent.begin(), recent.end(),
            [](const auto& a, const auto& b) { return a.time_us > b.time_us; });
  if (recent.size() > 50) recent.resize(50);
  json::array ra;
  for (const auto& r : recent) {
    json::object x;
    x["time"] = iso_time(r.time_us);
    x["code"] = status_of(r.error);
    x["reason"] = reason_of(r.error);
    x["listener"] = r.listener < nl ? shape->listener_names[r.listener] : std::string("?");
    x["target"] = r.target_view();
    x["request"] = r.request_view();
    ra.push_back(std::move(x));
  }
  err["recent"] = std::move(ra);
  doc["errors"] = std::move(err);

  if (state.cache) {
    const cache::CacheStats st = state.cache->store().stats();
    json::object co;
    co["memory"] = state.config.cache.memory;
    co["max_object_size"] = state.config.cache.max_object_size;
    co["objects"] = st.objects;
    co["bytes"] = st.bytes;
    co["evictions"] = st.evictions;
    co["invalidations"] = state.cache->invalidation_count();
    json::object lk;
    for (std::size_t i = 0; i < metrics::kCacheResultCount; ++i)
      lk[metrics::kCacheResultNames[i]] = cache_lookups[i];
    co["lookups"] = std::move(lk);
    co["hit_bytes"] = cache_hit_bytes;
    doc["cache"] = std::move(co);
  }
  if (state.access_log) {
    json::object al;
    al["path"] = state.config.access_log.path;
    al["format"] = state.config.access_log.format == config::AccessLogFormat::json ? "json" : "alb";
    al["written"] = state.access_log->written();
    al["dropped"] = log_dropped;
    doc["access_log"] = std::move(al);
  }
  return doc;
}

namespace {

// The page: renders the embedded document at once, then polls status.json.
// Every value goes into the DOM through textContent (request paths and target
// ids are data, never markup).
constexpr std::string_view kPageHead = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edged status</title>
<style>
:root{--bg:#f6f7f9;--fg:#1d2430;--muted:#667085;--card:#fff;--line:#e4e7ec;--ok:#067647;--okbg:#dcfae6;--bad:#b42318;--badbg:#fee4e2;--warnbg:#fef0c7;--warn:#93370d}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;align-items:baseline;gap:16px;padding:14px 24px;background:#101828;color:#fff}
header h1{font-size:18px;margin:0}header .meta{color:#98a2b3;font-size:12px}
#stale{margin-left:auto;font-size:12px;padding:2px 8px;border-radius:10px;background:var(--okbg);color:var(--ok)}
#stale.stale{background:var(--badbg);color:var(--bad)}
main{padding:16px 24px;display:grid;gap:16px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 16px}
h2{font-size:15px;margin:0 0 8px}h3{font-size:14px;margin:12px 0 6px}
.tiles{display:flex;flex-wrap:wrap;gap:12px}.tile{border:1px solid var(--line);border-radius:6px;padding:8px 12px;min-width:120px}
.tile .v{font-size:20px;font-weight:600}.tile .k{color:var(--muted);font-size:12px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:500;font-size:12px}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.state{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;background:var(--warnbg);color:var(--warn)}
.state.healthy{background:var(--okbg);color:var(--ok)}.state.unhealthy{background:var(--badbg);color:var(--bad)}
.empty{color:var(--muted)}code{font-size:12px}
</style></head><body>
<header><h1>edged</h1><span class="meta" id="meta"></span><span id="stale">live</span></header>
<main>
<section><h2>Overview</h2><div class="tiles" id="overview"></div></section>
<section><h2>Listeners</h2><div id="listeners"></div></section>
<section><h2>Target groups</h2><div id="groups"></div></section>
<section><h2>Recent errors</h2><div id="errors"></div></section>
<section id="cachesec" hidden><h2>Cache</h2><div id="cache"></div></section>
<section id="logsec" hidden><h2>Access log</h2><div id="accesslog"></div></section>
</main>
<script id="initial" type="application/json">)html";

constexpr std::string_view kPageTail = R"html(</script>
<script>
"use strict";
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of kids) e.append(c instanceof Node ? c : document.createTextNode(c === undefined || c === null ? "" : String(c)));
  return e;
}
function ms(s) { return s === undefined ? "-" : (s * 1000).toFixed(s < 0.01 ? 3 : 1) + " ms"; }
function table(headers, rows, cls) {
  const t = el("table", cls ? {class: cls} : {});
  const numeric = ["requests", "2xx", "3xx", "4xx", "5xx", "p50", "p99", "mean", "conn. errors", "count"];
  t.append(el("tr", {}, ...headers.map(h => el("th", numeric.includes(h) ? {class: "num"} : {}, h))));
  for (const r of rows) t.append(r);
  return t;
}
function tile(k, v, key) { return el("div", {class: "tile", "data-key": key}, el("div", {class: "v"}, v), el("div", {class: "k"}, k)); }
function classes(r) { return ["2xx", "3xx", "4xx", "5xx"].map(c => el("td", {class: "num", "data-class": c}, r[c])); }
function render(d) {
  document.getElementById("meta").textContent = "v" + d.version + " \u00b7 " + d.workers + " workers \u00b7 " + d.time;
  const ov = document.getElementById("overview");
  let reqs = 0; for (const l of d.listeners) reqs += l.requests;
  ov.replaceChildren(tile("requests", reqs, "requests"), tile("active connections", d.connections.active, "active"),
    tile("connections accepted", d.connections.accepted, "accepted"), tile("connections rejected", d.connections.rejected, "rejected"),
    tile("bytes in", d.bytes.received, "bytes_in"), tile("bytes out", d.bytes.sent, "bytes_out"));
  const ls = document.getElementById("listeners");
  ls.replaceChildren();
  for (const l of d.listeners) {
    ls.append(el("h3", {}, l.name + " \u2014 " + l.protocol + " :" + l.port));
    ls.append(table(["requests", "2xx", "3xx", "4xx", "5xx", "p50", "p99", "mean"],
      [el("tr", {"data-listener": l.name}, el("td", {class: "num requests"}, l.requests), ...classes(l.responses),
        el("td", {class: "num"}, ms(l.processing_time.p50_seconds)), el("td", {class: "num"}, ms(l.processing_time.p99_seconds)),
        el("td", {class: "num"}, ms(l.processing_time.mean_seconds)))]));
    ls.append(table(["priority", "conditions", "action", "requests"], l.rules.map(r =>
      el("tr", {"data-rule": l.name + "/" + r.priority}, el("td", {}, r.priority), el("td", {}, r.conditions),
        el("td", {}, r.action), el("td", {class: "num requests"}, r.requests))), "rules"));
  }
  const gs = document.getElementById("groups");
  gs.replaceChildren();
  for (const g of d.target_groups) {
    gs.append(el("h3", {}, g.name + " \u2014 " + g.algorithm));
    gs.append(table(["requests", "2xx", "3xx", "4xx", "5xx", "conn. errors", "outstanding", "p50", "p99", "mean"],
      [el("tr", {"data-group": g.name}, el("td", {class: "num requests"}, g.requests), ...classes(g.responses),
        el("td", {class: "num conn-errors"}, g.connection_errors), el("td", {class: "num outstanding"}, g.outstanding),
        el("td", {class: "num"}, ms(g.response_time.p50_seconds)), el("td", {class: "num"}, ms(g.response_time.p99_seconds)),
        el("td", {class: "num"}, ms(g.response_time.mean_seconds)))]));
    // Every key a target describer reports gets a column.
    const keys = [];
    for (const t of g.targets) for (const k of Object.keys(t)) if (!["id", "healthy"].includes(k) && !keys.includes(k)) keys.push(k);
    gs.append(g.targets.length === 0 ? el("p", {class: "empty"}, "no registered target") :
      table(["target", ...keys], g.targets.map(t => el("tr", {"data-target": t.id},
        el("td", {class: "target-id"}, el("code", {}, t.id)),
        ...keys.map(k => k === "state" ? el("td", {class: "target-state"}, el("span", {class: "state " + t.state}, t.state))
                                       : el("td", {class: "target-" + k}, typeof t[k] === "object" ? JSON.stringify(t[k]) : t[k])))), "targets"));
  }
  const es = document.getElementById("errors");
  es.replaceChildren();
  if (d.errors.by_reason.length) {
    es.append(table(["code", "reason", "count"], d.errors.by_reason.map(e =>
      el("tr", {"data-reason": e.reason}, el("td", {}, e.code), el("td", {}, e.reason), el("td", {class: "num count"}, e.count))), "by-reason"));
  }
  es.append(d.errors.recent.length === 0 ? el("p", {class: "empty"}, "no error since start") :
    table(["time", "code", "reason", "listener", "target", "request"], d.errors.recent.map(e =>
      el("tr", {class: "recent-error"}, el("td", {}, e.time), el("td", {}, e.code), el("td", {class: "reason"}, e.reason),
        el("td", {}, e.listener), el("td", {}, e.target || "-"), el("td", {}, el("code", {}, e.request || "-")))), "recent"));
  const cachesec = document.getElementById("cachesec");
  cachesec.hidden = !d.cache;
  if (d.cache) {
    const c = d.cache, l = c.lookups;
    document.getElementById("cache").replaceChildren(
      el("div", {class: "tiles"}, tile("objects", c.objects, "cache_objects"), tile("bytes", c.bytes, "cache_bytes"),
        tile("hits", l.hit + l.collapsed, "cache_hits"), tile("misses", l.miss, "cache_misses"),
        tile("stale served", l.stale, "cache_stale"), tile("revalidated", l.revalidated, "cache_revalidated"),
        tile("bypass", l.bypass, "cache_bypass"), tile("evictions", c.evictions, "cache_evictions"),
        tile("invalidations", c.invalidations, "cache_invalidations")));
  }
  const logsec = document.getElementById("logsec");
  logsec.hidden = !d.access_log;
  if (d.access_log) {
    document.getElementById("accesslog").replaceChildren(
      el("div", {class: "tiles"}, tile("path", d.access_log.path, "log_path"), tile("format", d.access_log.format, "log_format"),
        tile("lines written", d.access_log.written, "log_written"), tile("lines dropped", d.access_log.dropped, "log_dropped")));
  }
}
render(JSON.parse(document.getElementById("initial").textContent));
async function refresh() {
  const s = document.getElementById("stale");
  try {
    const r = await fetch("status.json", {cache: "no-store"});
    if (!r.ok) throw new Error(r.status);
    render(await r.json());
    s.textContent = "live"; s.className = "";
  } catch (e) {
    s.textContent = "stale"; s.className = "stale";
  }
}
setInterval(refresh, 2000);
</script></body></html>
)html";

}  // namespace

std::string status_html(std::string_view initial_json) {
  std::string out;
  out.reserve(kPageHead.size() + initial_json.size() + kPageTail.size() + 64);
  out.append(kPageHead);
  // Inside <script>: "<" escaped so that no "</script>" can end the block early.
  for (char c : initial_json) {
    if (c == '<')
      out.append("\\u003c");
    else
      out.push_back(c);
  }
  out.append(kPageTail);
  return out;
}

void add_status_routes(AdminServer& server, SnapshotSource current,
                       const metrics::Metrics& metrics, TargetDescriber describe) {
  server.add_route("GET", "/status.json", [current, &metrics, describe](const AdminRequest&) {
    return AdminResponse::json(200,
                               json::serialize(status_json(*current(), metrics, describe)) + "\n");
  });
  server.add_route("GET", "/", [current, &metrics, describe](const AdminRequest&) {
    AdminResponse r;
    r.status = 200;
    r.content_type = "text/html; charset=utf-8";
    r.body = status_html(json::serialize(status_json(*current(), metrics, describe)));
    return r;
  });
}

}  // namespace edge::server
