// Listener rule matching with 100 rules when no rule matches, so every rule is
// tried and the default action is returned (the worst case per request).

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "edge/proxy/router.hpp"

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

}  // namespace
