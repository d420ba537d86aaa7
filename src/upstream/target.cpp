#include "edge/upstream/target.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <stdexcept>
#include <string_view>

namespace edge::upstream {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

/// Dotted digits (IPv4 or a malformed IPv4 such as 300.1.1.1) or anything with a
/// colon (IPv6) is an address literal: it is parsed, never looked up in DNS, so a
/// typo fails at once instead of after resolver timeouts.
bool is_address_literal(std::string_view host) {
  if (host.find(':') != std::string_view::npos) return true;
  return std::all_of(host.begin(), host.end(),
                     [](char c) { return c == '.' || (c >= '0' && c <= '9'); });
}

/// Letters, digits, '-', '_' and '.': anything else cannot be a host name, so it
/// is rejected without asking the resolver.
bool is_valid_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

[[noreturn]] void fail(const config::TargetGroupConfig& group, const std::string& target,
                       std::string_view reason) {
  std::string msg = "target group '";
  msg += group.name;
  msg += "': cannot resolve target '";
  msg += target;
  msg += "': ";
  msg += reason;
  throw std::runtime_error(msg);
}

}  // namespace

TargetGroup::TargetGroup(const config::TargetGroupConfig& cfg, std::uint32_t index,
                         std::atomic<std::uint32_t>* pool_slots)
    : index_(index), slots_(pool_slots != nullptr ? pool_slots : &own_slots_) {
  set_config(cfg);
  const auto& c = config();
  targets_.reserve(c.targets.size());
  std::vector<Target*> members;
  for (const auto& tc : c.targets) {
    const std::string id = id_of(tc);
    Target* t = create(id, resolve(c, tc, id), tc.weight);
    // ALB: a target registered with the group is `initial` until its first
    // check; with checks disabled it is `unavailable` and routed.
    t->status.store(c.health_check.enabled
                        ? TargetStatus::pack(TargetState::initial,
                                             TargetReason::initial_health_checking)
                        : TargetStatus::pack(TargetState::unavailable,
                                             TargetReason::health_check_disabled),
                    std::memory_order_relaxed);
    members.push_back(t);
  }
  publish(std::move(members));
}

void TargetGroup::set_config(const config::TargetGroupConfig& cfg) {
  cfgs_.push_back(std::make_unique<const config::TargetGroupConfig>(cfg));
  cfg_.store(cfgs_.back().get(), std::memory_order_release);
}

tcp::endpoint TargetGroup::resolve(const config::TargetGroupConfig& group,
                                  const config::TargetConfig& target, const std::string& id) {
  std::string_view host = target.address.host;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) fail(group, id, "empty host");
  if (target.address.port == 0) fail(group, id, "port 0");

  const bool literal = is_address_literal(host);
  if (!literal && !is_valid_host_name(host)) fail(group, id, "invalid host name");

  // No address_configured: on a host with only loopback configured, glibc would
  // otherwise refuse to return 127.0.0.1 for "localhost".
  auto flags = tcp::resolver::numeric_service;
  if (literal) flags |= tcp::resolver::numeric_host;

  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  boost::system::error_code ec;
  const auto results = resolver.resolve(host, std::to_string(target.address.port), flags, ec);
  if (ec) fail(group, id, ec.message());
  if (results.empty()) fail(group, id, "no address");

  // Prefer IPv4 when a name has both: app instances commonly listen on IPv4 only.
  for (const auto& entry : results) {
    if (entry.endpoint().address().is_v4()) return entry.endpoint();
  }
  return results.begin()->endpoint();
}

std::string TargetGroup::id_of(const config::TargetConfig& tc) {
  if (!tc.id.empty()) return tc.id;
  const bool v6 = tc.address.host.find(':') != std::string::npos && tc.address.host.front() != '[';
  std::string id = v6 ? "[" + tc.address.host + "]" : tc.address.host;
  id += ':';
  id += std::to_string(tc.address.port);
  return id;
}

Target* TargetGroup::find(std::string_view id) const {
  for (const auto& t : targets_)
    if (t->id == id) return t.get();
  return nullptr;
}

Target* TargetGroup::create(const std::string& id, const tcp::endpoint& endpoint,
                            std::uint32_t weight) {
  Target* t = find(id);
  if (t == nullptr) {
    auto owned = std::make_unique<Target>();
    owned->id = id;
    owned->index = static_cast<std::uint32_t>(targets_.size());
    owned->pool_slot = slots_->fetch_add(1, std::memory_order_relaxed);
    owned->endpoint = endpoint;  // never rewritten: in-flight requests may read it
    t = owned.get();
    targets_.push_back(std::move(owned));
  }
  // A zero weight would make the least-outstanding score undefined: raise it to 1.
  t->weight.store(std::max<std::uint32_t>(weight, 1), std::memory_order_relaxed);
  t->ramp.store(kWeightScale, std::memory_order_relaxed);
  t->consecutive_5xx.store(0, std::memory_order_relaxed);
  t->consecutive_gateway_errors.store(0, std::memory_order_relaxed);
  return t;
}

void TargetGroup::publish(std::vector<Target*> members) {
  auto set = std::make_unique<TargetSet>();
  set->targets = std::move(members);
  current_.store(set.get(), std::memory_order_release);
  sets_.push_back(std::move(set));
  refresh_health();
}

void TargetGroup::refresh_health() {
  std::uint32_t healthy = 0;
  for (const Target* t : members()) {
    const TargetState s = t->state();
    if (s == TargetState::healthy || s == TargetState::unavailable) ++healthy;
  }
  healthy_.store(healthy, std::memory_order_relaxed);
  const auto minimum = static_cast<std::uint32_t>(
      std::max(config().unhealthy_state_routing.minimum_healthy_targets, 1));
  fail_open_.store(healthy < minimum ? 1 : 0, std::memory_order_relaxed);
}

bool TargetGroup::try_claim_ejection() const {
  const auto n = static_cast<std::uint32_t>(members().size());
  const auto pct = static_cast<std::uint32_t>(
      std::clamp(config().outlier_detection.max_ejection_percent, 0, 100));
  // At most pct % of the targets, and never the last one that is routable.
  std::uint32_t limit = n * pct / 100;
  const std::uint32_t healthy = healthy_.load(std::memory_order_relaxed);
  if (healthy == 0) return false;
  limit = std::min(limit, healthy - 1);
  std::uint32_t cur = ejected_.load(std::memory_order_relaxed);
  while (cur < limit) {
    if (ejected_.compare_exchange_weak(cur, cur + 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

std::string_view state_name(TargetState s) {
  switch (s) {
    case TargetState::initial: return "initial";
    case TargetState::healthy: return "healthy";
    case TargetState::unhealthy: return "unhealthy";
    case TargetState::unused: return "unused";
    case TargetState::draining: return "draining";
    case TargetState::unavailable: return "unavailable";
  }
  return "unknown";
}

std::string_view reason_name(TargetReason r) {
  switch (r) {
    case TargetReason::none: return "";
    case TargetReason::registration_in_progress: return "Elb.RegistrationInProgress";
    case TargetReason::initial_health_checking: return "Elb.InitialHealthChecking";
    case TargetReason::response_code_mismatch: return "Target.ResponseCodeMismatch";
    case TargetReason::timeout: return "Target.Timeout";
    case TargetReason::failed_health_checks: return "Target.FailedHealthChecks";
    case TargetReason::deregistration_in_progress: return "Target.DeregistrationInProgress";
    case TargetReason::not_registered: return "Target.NotRegistered";
    case TargetReason::health_check_disabled: return "Target.HealthCheckDisabled";
  }
  return "";
}

}  // namespace edge::upstream
