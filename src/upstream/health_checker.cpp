#include "edge/upstream/health_checker.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <string_view>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

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
  bool timed_out = false;
};

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

HealthChecker::HealthChecker(const std::vector<TargetGroup*>& groups, HealthCheckerOptions options)
    : groups_(groups), options_(options), ioc_(std::make_unique<asio::io_context>(1)) {
  for (TargetGroup* g : groups_) {
    const auto& cfg = g->config();
    const auto& hc = cfg.health_check;
    for (const auto& t : g->targets()) {
      auto e = std::unique_ptr<Entry>(new Entry{
          g, t.get(), TargetHealth(hc.healthy_threshold, hc.unhealthy_threshold, hc.enabled),
          StatusMatcher{}, t->endpoint, std::string{}, hc.interval, hc.timeout});
      e->matcher.parse(hc.matcher);  // validated at load; default 200 otherwise
      if (hc.port) e->probe_endpoint.port(*hc.port);
      if (options_.interval_override) e->interval = *options_.interval_override;
      if (options_.timeout_override) e->timeout = *options_.timeout_override;
      if (hc.protocol == config::Protocol::http) {
        std::string& r = e->request;
        r = "GET ";
        r += hc.path;
        r += " HTTP/1.1\r\nHost: ";
        r += t->id;
        r += "\r\nUser-Agent: ELB-HealthChecker/2.0\r\nAccept: */*\r\nConnection: close\r\n\r\n";
      }
      entries_.push_back(std::move(e));
    }
  }
}

HealthChecker::~HealthChecker() { stop(); }

void HealthChecker::start() {
  if (started_) return;
  started_ = true;
  tick_timer_ = std::make_unique<Timer>(ioc_->get_executor());
  for (auto& e : entries_) {
    if (e->group->config().health_check.enabled)
      asio::co_spawn(*ioc_, probe_loop(this, e.get()), asio::detached);
  }
  asio::co_spawn(*ioc_, tick_loop(this), asio::detached);
  thread_ = std::thread([this] { ioc_->run(); });
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

std::chrono::milliseconds HealthChecker::jittered(std::chrono::milliseconds d) {
  // ± 10 %, so that targets probed together at start drift apart.
  const auto spread = d.count() / 5;
  if (spread <= 0) return d;
  const auto offset = static_cast<std::int64_t>(rng_() % static_cast<std::uint64_t>(spread + 1));
  return std::chrono::milliseconds(d.count() - spread / 2 + offset);
}

Task<void> HealthChecker::probe_loop(HealthChecker* self, Entry* e) {
  Timer wait(self->ioc_->get_executor());
  // First probe at once, spread over a few milliseconds so that a group's
  // targets are not all connected to in the same instant.
  wait.expires_after(std::chrono::milliseconds(self->rng_() % 20));
  if (auto [ec] = co_await wait.async_wait(kUseTuple); ec) co_return;
  for (;;) {
    const auto started = Clock::now();
    const ProbeResult r = co_await probe(self, e);
    self->apply(*e, r);
    const TargetState s = e->health.state();
    if (s == TargetState::unused) co_return;
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
  auto [wec, wn] = co_await asio::async_write(st->socket, asio::buffer(e->request), kUseTuple);
  (void)wn;
  if (wec) {
    finish(false, TargetReason::failed_health_checks);
    co_return r;
  }
  // The status line is all a probe needs: read until the first CRLF (bounded).
  std::array<char, 512> buf{};
  std::size_t have = 0;
  for (;;) {
    auto [rec, n] =
        co_await st->socket.async_read_some(asio::buffer(buf.data() + have, buf.size() - have),
                                            kUseTuple);
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
      e.health.begin_slow_start(Clock::now());
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
  t.ramp.store(e.health.ramp(Clock::now(), e.group->config().slow_start),
               std::memory_order_relaxed);
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
  const auto now = Clock::now();
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
    const std::uint32_t r = e.health.ramp(now, e.group->config().slow_start);
    if (r != t.ramp.load(std::memory_order_relaxed)) t.ramp.store(r, std::memory_order_relaxed);
  }
}

}  // namespace edge::upstream
