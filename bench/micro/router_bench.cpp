// Listener rule matching with 100 rules when no rule matches, so every rule is
// tried and the default action is returned (the worst case per request).

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "edge/proxy/router.hpp"
#include "edge/proxy/stickiness.hpp"

namespace {

namespace asio = boost::asio;
using edge::proxy::RequestHead;
using edge::proxy::RequestView;
using edge::proxy::Router;

constexpr int kRules = 100;

class BenchHead final : public RequestHead {
 public:
  std::string_view method() const override { return "GET"; }
  std::string_view target() const override { return "/catalog/items/12345?page=2&sort=price"; }
  unsigned version() const override { return 11; }
  std::string_view header(std::string_view name) const override {
    if (name.size() == 4) return "shop.example.com";
    return "mobile-app";
  }
};

edge::config::Action forward(const std::string& group) {
  edge::config::Action a;
  a.forward.target_groups.push_back({group, 1});
  return a;
}

const std::vector<std::string> kGroups{"app", "api"};

/// Rules whose path patterns differ from the request early (a literal prefix).
edge::config::ListenerConfig path_rules() {
  edge::config::ListenerConfig l;
  l.name = "bench";
  for (int i = 0; i < kRules; ++i) {
    edge::config::Rule r;
    r.priority = i + 1;
    r.conditions.path_pattern = {"/svc" + std::to_string(i) + "/*",
                                 "/v" + std::to_string(i) + "/*"};
    r.action = forward("api");
    l.rules.push_back(r);
  }
  l.default_action = forward("app");
  return l;
}

/// Rules that pass method and host conditions and then fail on a wildcard-heavy
/// path, a header and a query condition: every condition kind is evaluated.
edge::config::ListenerConfig mixed_rules() {
  edge::config::ListenerConfig l;
  l.name = "bench";
  for (int i = 0; i < kRules; ++i) {
    edge::config::Rule r;
    r.priority = i + 1;
    const std::string n = std::to_string(i);
    r.conditions.http_request_method = {"POST", "GET"};
    r.conditions.host_header = {"*.example.com"};
    r.conditions.path_pattern = {"*/items/*", "/catalog/*"};
    r.conditions.source_ip = {"192.0.2.0/24", "2001:db8::/32"};
    r.conditions.http_header = edge::config::HttpHeaderCondition{"User-Agent", {"*app*"}};
    r.conditions.query_string = {{"sort", "name" + n}, {"", "*filter" + n}};
    r.action = forward("api");
    l.rules.push_back(r);
  }
  l.default_action = forward("app");
  return l;
}

void run(benchmark::State& state, const edge::config::ListenerConfig& cfg) {
  const Router router(cfg, kGroups);
  const BenchHead head;
  const RequestView view =
      edge::proxy::make_request_view(head, asio::ip::make_address("192.0.2.10"));
  for (auto _ : state) {
    auto result = router.route(view);
    benchmark::DoNotOptimize(result);
    if (result.priority != 0) state.SkipWithError("a rule matched");
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_RouterDefaultActionPathRules(benchmark::State& state) { run(state, path_rules()); }
BENCHMARK(BM_RouterDefaultActionPathRules);

void BM_RouterDefaultActionAllConditions(benchmark::State& state) { run(state, mixed_rules()); }
BENCHMARK(BM_RouterDefaultActionAllConditions);

/// Weighted forward with target-group stickiness: a valid AWSALBTG cookie is
/// parsed and its group found among the action's (the per-request cost of a
/// sticky client), and a weighted pick for a client without one.
void BM_StickyForwardWithCookie(benchmark::State& state) {
  edge::config::ListenerConfig l;
  l.name = "bench";
  l.default_action.forward.target_groups = {{"app", 9}, {"api", 1}};
  l.default_action.forward.stickiness.enabled = true;
  const Router router(l, kGroups);
  const auto& action = router.default_action();
  const std::string cookie = edge::proxy::format_sticky_value(
      {edge::proxy::group_name_hash("api"), 4'000'000'000});
  std::uint64_t r = 0;
  for (auto _ : state) {
    bool fresh = false;
    const auto* g = edge::proxy::pick_sticky_forward(action, cookie, 1'800'000'000, ++r, fresh);
    benchmark::DoNotOptimize(g);
    if (fresh) state.SkipWithError("cookie ignored");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StickyForwardWithCookie);

}  // namespace
