#include "edge/upstream/health_checker.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "edge/config/loader.hpp"
#include "edge/tls/client_context.hpp"
#include "edge/upstream/routing.hpp"

namespace edge::upstream {
namespace {

using Clock = std::chrono::steady_clock;

/// What a probe needs to outlive its timeout handler: shared by the frame and
/// the handler, so whichever finishes last frees it.
struct ProbeState {
  explicit ProbeState(const Executor& ex) : socket(ex), timer(ex) {}
  Socket socket;
  Timer timer;
  std::shared_ptr<tls::ClientContext> tls_context;  // HTTPS checks (a reload may replace the entry's)
  std::optional<asio::ssl::stream<Socket&>> tls;    // HTTPS checks: over `socket`
  bool timed_out = false;
};

/// Reads and writes of a probe: through TLS for HTTPS checks. Not coroutines:
/// the caller awaits the operation itself.
Task<std::tuple<boost::system::error_code, std::size_t>> probe_write(ProbeState& st,
                                                                     asio::const_buffer b) {
  if (st.tls) return asio::async_write(*st.tls, b, kUseTuple);
  return asio::async_write(st.socket, b, kUseTuple);
}
Task<std::tuple<boost::system::error_code, std::size_t>> probe_read(ProbeState& st,
                                                                    asio::mutable_buffer b) {
  if (st.tls) return st.tls->async_read_some(b, kUseTuple);
  return st.socket.async_read_some(b, kUseTuple);
}

/// "HTTP/1.1 200 OK" → 200; 0 when the line is not a status line.
int parse_status_line(std::string_view line) {
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1.") return 0;
  int v = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    const char c = line[i];
    if (c < '0' || c > '9') return 0;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

HealthChecker::HealthChecker(const std::vector<TargetGroup*>& groups, HealthCheckerOptions options,
                             std::string state_file)
    : groups_(groups),
      options_(options),
      ioc_(std::make_unique<asio::io_context>(1)),
      state_file_(std::move(state_file)) {
  // HTTPS checks get a client context of their own (this thread's, never a
  // worker's), verifying as the group's tls settings say (off by default, as ALB).
  for (TargetGroup* g : groups_) {
    if (g->config().health_check.enabled &&
        config::effective_health_check_protocol(g->config()) == config::HealthCheckProtocol::https) {
      try {
        tls_[g] = std::make_shared<tls::ClientContext>(g->config().tls);
      } catch (const std::exception& e) {
        throw std::runtime_error("target group '" + g->name() + "': health checks: " + e.what());
      }
    }
  }
  if (!state_file_.empty()) load_state();
  for (TargetGroup* g : groups_) {
    for (Target* t : g->members()) entry_for(*g, *t);
  }
}

HealthChecker::Entry& HealthChecker::entry_for(TargetGroup& g, Target& t) {
  for (auto& e : entries_) {
    if (e->target == &t) return *e;
  }
  const auto& hc = g.config().health_check;
  auto e = std::unique_ptr<Entry>(new Entry{
      &g, &t, TargetHealth(hc.healthy_threshold, hc.unhealthy_threshold, hc.enabled),
      StatusMatcher{}, t.endpoint, std::string{}, hc.interval, hc.timeout, 0, false, nullptr, {}});
  configure_entry(*e);
  entries_.push_back(std::move(e));
  return *entries_.back();
}

std::shared_ptr<tls::ClientContext> HealthChecker::tls_for(const TargetGroup& g) {
  auto& ctx = tls_[&g];
  if (!ctx) {
    try {
      ctx = std::make_shared<tls::ClientContext>(g.config().tls);
    } catch (const std::exception& e) {
      // Checked when the configuration was loaded; a file gone since then makes
      // every check of the group fail instead of stopping the checker.
      std::fprintf(stderr, "edged: error: target group '%s': health checks: %s\n",
                   g.name().c_str(), e.what());
      tls_.erase(&g);
      return nullptr;
    }
  }
  return ctx;
}

void HealthChecker::configure_entry(Entry& e) {
  const auto& hc = e.group->config().health_check;
  e.matcher = StatusMatcher{};
  e.matcher.parse(hc.matcher);  // validated at load; default 200 otherwise
  e.probe_endpoint = e.target->endpoint;
  if (hc.port) e.probe_endpoint.port(*hc.port);
  e.interval = hc.interval;
  e.timeout = hc.timeout;
  if (options_.interval_override) e.interval = *options_.interval_override;
  if (options_.timeout_override) e.timeout = *options_.timeout_override;
  e.request.clear();
  e.tls.reset();
  e.tls_host.clear();
  const auto protocol = config::effective_health_check_protocol(e.group->config());
  if (protocol == config::HealthCheckProtocol::https) {
    e.tls = tls_for(*e.group);
    e.https = true;
    config::Address a;
    if (config::parse_address(e.target->id, a)) e.tls_host = a.host;
  } else {
    e.https = false;
  }
  if (protocol != config::HealthCheckProtocol::tcp) {
    std::string& r = e.request;
    r = "GET ";
    r += hc.path;
    r += " HTTP/1.1\r\nHost: ";
    r += e.target->id;
    r += "\r\nUser-Agent: ELB-HealthChecker/2.0\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  }
}

HealthChecker::~HealthChecker() { stop(); }

void HealthChecker::start() {
  if (started_) return;
  started_ = true;
  tick_timer_ = std::make_unique<Timer>(ioc_->get_executor());
  for (auto& e : entries_) {
    if (e->health.state() != TargetState::unused) start_probing(*e);
  }
  asio::co_spawn(*ioc_, tick_loop(this), asio::detached);
  thread_ = std::thread([this] { ioc_->run(); });
}

void HealthChecker::start_probing(Entry& e) {
  ++e.generation;  // an older loop for this entry stops at its next step
  if (e.group->config().health_check.enabled)
    asio::co_spawn(*ioc_, probe_loop(this, &e, e.generation), asio::detached);
}

void HealthChecker::stop() {
  if (!started_) return;
  started_ = false;
  ioc_->stop();
  if (thread_.joinable()) thread_.join();
  tick_timer_.reset();
  ioc_.reset();  // destroys the pending probe frames
  ioc_ = std::make_unique<asio::io_context>(1);
}

std::chrono::steady_clock::time_point HealthChecker::now() const {
  return options_.now != nullptr ? options_.now() : Clock::now();
}

std::chrono::milliseconds HealthChecker::jittered(std::chrono::milliseconds d) {
  // ± 10 %, so that targets probed together at start drift apart.
  const auto spread = d.count() / 5;
  if (spread <= 0) return d;
  const auto offset = static_cast<std::int64_t>(rng_() % static_cast<std::uint64_t>(spread + 1));
  return std::chrono::milliseconds(d.count() - spread / 2 + offset);
}

Task<void> HealthChecker::probe_loop(HealthChecker* self, Entry* e, std::uint64_t generation) {
  Timer wait(self->ioc_->get_executor());
  // First probe at once, spread over a few milliseconds so that a group's
  // targets are not all connected to in the same instant.
  wait.expires_after(std::chrono::milliseconds(self->rng_() % 20));
  if (auto [ec] = co_await wait.async_wait(kUseTuple); ec) co_return;
  for (;;) {
    if (e->generation != generation || e->health.state() == TargetState::unused) co_return;
    const auto started = Clock::now();
    const ProbeResult r = co_await probe(self, e);
    if (e->generation != generation) co_return;  // deregistered and registered again
    self->apply(*e, r);
    wait.expires_at(started + self->jittered(e->interval));
    if (auto [ec] = co_await wait.async_wait(kUseTuple); ec) co_return;
  }
}

Task<HealthChecker::ProbeResult> HealthChecker::probe(HealthChecker* self, Entry* e) {
  ProbeResult r;
  auto st = std::make_shared<ProbeState>(self->ioc_->get_executor());
  st->timer.expires_after(e->timeout);
  st->timer.async_wait([st](const boost::system::error_code& ec) {
    if (ec) return;
    st->timed_out = true;
    boost::system::error_code ignored;
    st->socket.close(ignored);
  });
  const auto started = Clock::now();
  auto finish = [&](bool ok, TargetReason why) {
    st->timer.cancel();
    boost::system::error_code ignored;
    st->socket.close(ignored);
    r.ok = ok;
    r.failure = st->timed_out ? TargetReason::timeout : why;
    r.latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
  };

  auto [cec] = co_await st->socket.async_connect(e->probe_endpoint, kUseTuple);
  if (cec) {
    finish(false, TargetReason::failed_health_checks);
    co_return r;
  }
  if (e->request.empty()) {  // TCP: connected is healthy
    finish(true, TargetReason::none);
    co_return r;
  }
  if (e->https) {
    // Held by the probe's state, not a local: no object with a destructor lives
    // across an await in a branch (GCC 12 -O1 mismatched-new-delete).
    st->tls_context = e->tls;
    if (st->tls_context == nullptr) {
      finish(false, TargetReason::failed_health_checks);
      co_return r;
    }
    // HTTPS: a full handshake (SNI = the target's host name) on every check; a
    // failed one is a failed check, as ALB (Target.FailedHealthChecks).
    st->tls.emplace(st->socket, st->tls_context->asio());
    if (!tls::prepare_client(st->tls->native_handle(), *st->tls_context, e->tls_host)) {
      finish(false, TargetReason::failed_health_checks);
      co_return r;
    }
    auto [hec] = co_await st->tls->async_handshake(asio::ssl::stream_base::client, kUseTuple);
    if (hec) {
      finish(false, TargetReason::failed_health_checks);
      co_return r;
    }
  }
  auto [wec, wn] = co_await probe_write(*st, asio::buffer(e->request));
  (void)wn;
  if (wec) {
    finish(false, TargetReason::failed_health_checks);
    co_return r;
  }
  // The status line is all a probe needs: read until the first CRLF (bounded).
  std::array<char, 512> buf{};
  std::size_t have = 0;
  for (;;) {
    auto [rec, n] = co_await probe_read(*st, asio::buffer(buf.data() + have, buf.size() - have));
    if (rec) {
      finish(false, TargetReason::failed_health_checks);
      co_return r;
    }
    have += n;
    const std::string_view got(buf.data(), have);
    const std::size_t eol = got.find("\r\n");
    if (eol != std::string_view::npos || have == buf.size()) {
      r.status = parse_status_line(got.substr(0, eol));
      if (r.status == 0) {
        finish(false, TargetReason::failed_health_checks);
      } else {
        const bool ok = e->matcher.matches(r.status);
        finish(ok, TargetReason::response_code_mismatch);
      }
      co_return r;
    }
  }
}

void HealthChecker::apply(Entry& e, const ProbeResult& r) {
  Target& t = *e.target;
  checks_done_.fetch_add(1, std::memory_order_relaxed);
  const auto us = static_cast<std::uint64_t>(r.latency.count());
  t.last_check_latency_us.store(us, std::memory_order_relaxed);
  t.check_latency_sum_us.fetch_add(us, std::memory_order_relaxed);
  t.last_check_status.store(r.status, std::memory_order_relaxed);
  t.last_check_ok.store(r.ok ? 1 : 0, std::memory_order_relaxed);
  t.checked.store(1, std::memory_order_relaxed);
  (r.ok ? t.checks_passed : t.checks_failed).fetch_add(1, std::memory_order_relaxed);

  const bool was_routable = e.health.routable();
  const std::uint32_t healthy_before = e.group->healthy_count();
  if (e.health.on_check(r.ok, r.failure)) {
    if (!was_routable && e.health.routable() && healthy_before > 0 &&
        e.group->config().slow_start.count() > 0) {
      e.health.begin_slow_start(now());
    }
    publish(e);
  }
  // An ejected target returns once its ejection is over and a check passed.
  if (r.ok && TargetStatus::ejected(t.load_status()) &&
      steady_ms() >= t.ejected_until_ms.load(std::memory_order_relaxed)) {
    t.status.fetch_and(~TargetStatus::kEjected, std::memory_order_relaxed);
    e.group->release_ejection();
  }
}

void HealthChecker::publish(Entry& e) {
  Target& t = *e.target;
  // Keep the ejected bit the workers may set concurrently.
  std::uint32_t cur = t.load_status();
  std::uint32_t next;
  do {
    next = TargetStatus::pack(e.health.state(), e.health.reason(), TargetStatus::ejected(cur));
  } while (!t.status.compare_exchange_weak(cur, next, std::memory_order_relaxed));
  t.ramp.store(e.health.ramp(now(), e.group->config().slow_start), std::memory_order_relaxed);
  e.group->refresh_health();
}

Task<void> HealthChecker::tick_loop(HealthChecker* self) {
  for (;;) {
    self->tick_timer_->expires_after(self->options_.tick);
    if (auto [ec] = co_await self->tick_timer_->async_wait(kUseTuple); ec) co_return;
    self->tick();
  }
}

void HealthChecker::tick() {
  const auto now = this->now();
  const std::int64_t now_ms = steady_ms();
  for (auto& ep : entries_) {
    Entry& e = *ep;
    Target& t = *e.target;
    // Without active checks, the ejection ends with its time.
    if (!e.group->config().health_check.enabled && TargetStatus::ejected(t.load_status()) &&
        now_ms >= t.ejected_until_ms.load(std::memory_order_relaxed)) {
      t.status.fetch_and(~TargetStatus::kEjected, std::memory_order_relaxed);
      e.group->release_ejection();
    }
    if (e.health.state() == TargetState::draining &&
        e.health.drain_done(now, t.outstanding.load(std::memory_order_relaxed))) {
      finish_drain(e);
      continue;
    }
    const std::uint32_t r = e.health.ramp(now, e.group->config().slow_start);
    if (r != t.ramp.load(std::memory_order_relaxed)) t.ramp.store(r, std::memory_order_relaxed);
  }
}

void HealthChecker::finish_drain(Entry& e) {
  Target& t = *e.target;
  e.health.finish_draining();
  ++e.generation;  // its probe loop ends
  if (TargetStatus::ejected(t.load_status())) {
    t.status.fetch_and(~TargetStatus::kEjected, std::memory_order_relaxed);
    e.group->release_ejection();
  }
  std::vector<Target*> members;
  for (Target* m : e.group->members())
    if (m != &t) members.push_back(m);
  publish(e);  // status word: unused
  e.group->publish(std::move(members));
  save_state();
}

TargetGroup* HealthChecker::find_group(std::string_view name) const {
  std::lock_guard lock(groups_mu_);
  for (TargetGroup* g : groups_)
    if (g->name() == name) return g;
  return nullptr;
}

RegistryResult HealthChecker::run_sync(const std::function<RegistryResult()>& fn) {
  if (!started_ || !thread_.joinable()) return fn();
  std::promise<RegistryResult> done;
  auto result = done.get_future();
  asio::post(*ioc_, [&fn, &done] {
    try {
      done.set_value(fn());
    } catch (const std::exception& e) {
      done.set_value(RegistryResult{500, e.what()});
    }
  });
  return result.get();
}

namespace {

std::string quoted(std::string_view s) {
  std::string out = "'";
  out += s;
  out += "'";
  return out;
}

RegistryResult fail(int status, std::string message) { return RegistryResult{status, std::move(message)}; }

bool is_member(const TargetGroup& g, const Target* t) {
  for (const Target* m : g.members())
    if (m == t) return true;
  return false;
}

}  // namespace

RegistryResult HealthChecker::register_targets(std::string_view group,
                                               const std::vector<TargetSpec>& targets) {
  return run_sync([&]() -> RegistryResult {
    TargetGroup* g = find_group(group);
    if (g == nullptr) return fail(404, "unknown target group " + quoted(group));
    if (targets.empty()) return fail(400, "no target to register");
    // Validate everything first: nothing is applied on an error.
    struct Resolved {
      std::string id;
      asio::ip::tcp::endpoint endpoint;
      std::uint32_t weight;
    };
    std::vector<Resolved> resolved;
    std::set<std::string> seen;
    for (const auto& spec : targets) {
      config::TargetConfig tc;
      if (!config::parse_address(spec.id, tc.address) || tc.address.host.empty() ||
          tc.address.port == 0)
        return fail(400, "invalid target id " + quoted(spec.id) + " (host:port or [v6]:port)");
      if (spec.weight < 1 || spec.weight > 999)
        return fail(400, "target " + quoted(spec.id) + ": weight must be between 1 and 999");
      tc.id = spec.id;
      if (!seen.insert(spec.id).second)
        return fail(409, "target " + quoted(spec.id) + " is listed twice");
      const Target* existing = g->find(spec.id);
      if (existing != nullptr && is_member(*g, existing)) {
        return fail(409, "target " + quoted(spec.id) + " is already registered (" +
                             std::string(state_name(existing->state())) + ")");
      }
      asio::ip::tcp::endpoint ep;
      try {
        ep = TargetGroup::resolve(g->config(), tc, spec.id);
      } catch (const std::exception& e) {
        return fail(400, e.what());
      }
      resolved.push_back({spec.id, ep, spec.weight});
    }
    // Apply.
    const bool checks = g->config().health_check.enabled;
    std::vector<Target*> members(g->members().begin(), g->members().end());
    for (const auto& r : resolved) {
      Target* t = g->create(r.id, r.endpoint, r.weight);
      Entry& e = entry_for(*g, *t);
      e.health = TargetHealth(g->config().health_check.healthy_threshold,
                              g->config().health_check.unhealthy_threshold, checks);
      t->status.store(TargetStatus::pack(e.health.state(), e.health.reason()),
                      std::memory_order_relaxed);
      members.push_back(t);
      if (started_) start_probing(e);
    }
    g->publish(std::move(members));
    save_state();
    return {};
  });
}

RegistryResult HealthChecker::deregister_target(std::string_view group, std::string_view id) {
  return run_sync([&]() -> RegistryResult {
    TargetGroup* g = find_group(group);
    if (g == nullptr) return fail(404, "unknown target group " + quoted(group));
    Target* t = g->find(id);
    if (t == nullptr || !is_member(*g, t))
      return fail(404, "target " + quoted(id) + " is not registered in " + quoted(group));
    Entry& e = entry_for(*g, *t);
    if (e.health.state() == TargetState::draining) return {};  // already deregistering
    e.health.start_draining(now(), g->config().deregistration_delay);
    publish(e);  // no new request from now on
    save_state();  // a restart forgets it (deregistered), even mid-drain
    return {};
  });
}

RegistryResult HealthChecker::set_weight(std::string_view group, std::string_view id,
                                         std::uint32_t weight) {
  return run_sync([&]() -> RegistryResult {
    TargetGroup* g = find_group(group);
    if (g == nullptr) return fail(404, "unknown target group " + quoted(group));
    Target* t = g->find(id);
    if (t == nullptr || !is_member(*g, t))
      return fail(404, "target " + quoted(id) + " is not registered in " + quoted(group));
    if (weight < 1 || weight > 999) return fail(400, "weight must be between 1 and 999");
    t->weight.store(weight, std::memory_order_relaxed);
    save_state();
    return {};
  });
}

namespace {

bool same_checks(const config::HealthCheckConfig& a, const config::HealthCheckConfig& b) {
  return a.enabled == b.enabled && a.protocol == b.protocol && a.port == b.port &&
         a.path == b.path && a.interval == b.interval && a.timeout == b.timeout &&
         a.healthy_threshold == b.healthy_threshold &&
         a.unhealthy_threshold == b.unhealthy_threshold && a.matcher == b.matcher;
}

}  // namespace

void HealthChecker::reconfigure(std::vector<GroupReload> groups,
                                std::vector<TargetGroup*> removed) {
  run_sync([&]() -> RegistryResult {
    const auto now = Clock::now();
    std::vector<TargetGroup*> registry;
    for (auto& r : groups) {
      TargetGroup* g = r.group;
      registry.push_back(g);
      if (r.created) {
        for (Target* t : g->members()) {
          Entry& e = entry_for(*g, *t);
          if (started_) start_probing(e);
        }
        continue;
      }
      const config::HealthCheckConfig before = g->config().health_check;
      g->set_config(r.config);
      const auto& hc = g->config().health_check;
      const bool checks_changed = !same_checks(before, hc);
      // The group's tls settings (CA file, verification, name) may have
      // changed, and the CA file may have been replaced: a new client context.
      const bool https =
          config::effective_health_check_protocol(g->config()) == config::HealthCheckProtocol::https;
      tls_.erase(g);
      for (auto& ep : entries_) {
        Entry& e = *ep;
        if (e.group != g) continue;
        if (!checks_changed) {
          if (https) configure_entry(e);  // the new context from the next probe
          continue;
        }
        configure_entry(e);
        const TargetState st = e.health.state();
        if (st == TargetState::draining || st == TargetState::unused) continue;
        if (before.enabled != hc.enabled) {
          e.health = TargetHealth(hc.healthy_threshold, hc.unhealthy_threshold, hc.enabled);
          publish(e);
        } else {
          e.health.set_thresholds(hc.healthy_threshold, hc.unhealthy_threshold);
        }
        if (started_) start_probing(e);  // the new interval, path, ... from now
      }
      std::vector<Target*> members(g->members().begin(), g->members().end());
      bool changed = false;
      for (const auto& [spec, endpoint] : r.added) {
        if (Target* t = g->find(spec.id); t != nullptr && is_member(*g, t)) {
          if (t->state() != TargetState::draining) continue;  // registered meanwhile
          // Configured again while it drains: back in service, state restarted.
          Entry& e = entry_for(*g, *t);
          e.health = TargetHealth(hc.healthy_threshold, hc.unhealthy_threshold, hc.enabled);
          t->weight.store(spec.weight, std::memory_order_relaxed);
          publish(e);
          if (started_) start_probing(e);
          continue;
        }
        Target* t = g->create(spec.id, endpoint, spec.weight);
        Entry& e = entry_for(*g, *t);
        configure_entry(e);  // the endpoint of a reused Target may have changed
        e.health = TargetHealth(hc.healthy_threshold, hc.unhealthy_threshold, hc.enabled);
        t->status.store(TargetStatus::pack(e.health.state(), e.health.reason()),
                        std::memory_order_relaxed);
        members.push_back(t);
        changed = true;
        if (started_) start_probing(e);
      }
      if (changed) g->publish(std::move(members));
      for (const auto& id : r.removed) {
        Target* t = g->find(id);
        if (t == nullptr || !is_member(*g, t)) continue;
        Entry& e = entry_for(*g, *t);
        if (e.health.state() == TargetState::draining) continue;
        e.health.start_draining(now, g->config().deregistration_delay);
        publish(e);
      }
      for (const auto& spec : r.reweighted) {
        if (Target* t = g->find(spec.id); t != nullptr && is_member(*g, t))
          t->weight.store(spec.weight, std::memory_order_relaxed);
      }
      g->refresh_health();
    }
    for (TargetGroup* g : removed) {
      for (Target* t : g->members()) {
        Entry& e = entry_for(*g, *t);
        if (e.health.state() == TargetState::draining) continue;
        e.health.start_draining(now, g->config().deregistration_delay);
        publish(e);
      }
    }
    {
      std::lock_guard lock(groups_mu_);
      groups_ = std::move(registry);
    }
    save_state();
    return {};
  });
}

void HealthChecker::save_state() {
  if (state_file_.empty()) return;
  boost::json::object groups;
  for (const TargetGroup* g : this->groups()) {
    boost::json::array members;
    for (const Target* t : g->members()) {
      if (t->state() == TargetState::draining || t->state() == TargetState::unused) continue;
      boost::json::object o;
      o["id"] = t->id;
      o["weight"] = t->weight.load(std::memory_order_relaxed);
      members.push_back(std::move(o));
    }
    groups[g->name()] = std::move(members);
  }
  boost::json::object root;
  root["version"] = 1;
  root["target_groups"] = std::move(groups);
  // Write-then-rename: a crash leaves the old file or the new one, never half.
  const std::string tmp = state_file_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << boost::json::serialize(root) << '\n';
    out.flush();
    if (!out) {
      std::fprintf(stderr, "edged: error: cannot write state file %s\n", tmp.c_str());
      return;
    }
  }
  if (std::rename(tmp.c_str(), state_file_.c_str()) != 0)
    std::fprintf(stderr, "edged: error: cannot rename %s to %s\n", tmp.c_str(),
                 state_file_.c_str());
}

void HealthChecker::load_state() {
  std::ifstream in(state_file_);
  if (!in) return;  // first start: nothing saved yet
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  const boost::json::value root = boost::json::parse(text.str(), ec);
  const std::string where = "state file " + state_file_ + ": ";
  if (ec) throw std::runtime_error(where + ec.message());
  const auto* obj = root.if_object();
  const auto* groups = obj ? obj->if_contains("target_groups") : nullptr;
  if (groups == nullptr || !groups->is_object())
    throw std::runtime_error(where + "expected {\"target_groups\": {...}}");
  for (const auto& [name, list] : groups->get_object()) {
    TargetGroup* g = find_group(name);
    if (g == nullptr) continue;  // the group was removed from the configuration
    if (!list.is_array()) throw std::runtime_error(where + "group '" + std::string(name) + "'");
    std::vector<Target*> members;
    for (const auto& item : list.get_array()) {
      const auto* o = item.if_object();
      const auto* id = o ? o->if_contains("id") : nullptr;
      const auto* w = o ? o->if_contains("weight") : nullptr;
      if (id == nullptr || !id->is_string() || w == nullptr || !w->is_int64())
        throw std::runtime_error(where + "each target needs an id and a weight");
      config::TargetConfig tc;
      tc.id = std::string(id->get_string());
      if (!config::parse_address(tc.id, tc.address))
        throw std::runtime_error(where + "invalid target id '" + tc.id + "'");
      const auto weight = static_cast<std::uint32_t>(std::clamp<std::int64_t>(w->get_int64(), 1, 999));
      Target* t = g->find(tc.id);
      if (t == nullptr) t = g->create(tc.id, TargetGroup::resolve(g->config(), tc, tc.id), weight);
      t->weight.store(weight, std::memory_order_relaxed);
      t->status.store(g->config().health_check.enabled
                          ? TargetStatus::pack(TargetState::initial,
                                               TargetReason::initial_health_checking)
                          : TargetStatus::pack(TargetState::unavailable,
                                               TargetReason::health_check_disabled),
                      std::memory_order_relaxed);
      members.push_back(t);
    }
    // Configured targets the file does not list were deregistered before the restart.
    for (const auto& t : g->targets()) {
      bool listed = false;
      for (Target* m : members) listed = listed || m == t.get();
      if (!listed)
        t->status.store(TargetStatus::pack(TargetState::unused, TargetReason::not_registered),
                        std::memory_order_relaxed);
    }
    g->publish(std::move(members));
  }
}

}  // namespace edge::upstream
