#include "edge/server/cache_api.hpp"

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <utility>
#include <vector>

#include "edge/cache/edge_cache.hpp"
#include "edge/cache/http_date.hpp"
#include "edge/server/admin_server.hpp"

namespace edge::server {
namespace {

namespace json = boost::json;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

json::object describe(const cache::Invalidation& inv) {
  json::object o;
  o["id"] = inv.id;
  o["status"] = inv.status;
  json::array paths;
  for (const auto& p : inv.paths) paths.emplace_back(p);
  o["paths"] = std::move(paths);
  o["objects"] = inv.objects;
  o["created"] = cache::format_http_date(inv.created);
  json::object wrapped;
  wrapped["invalidation"] = std::move(o);
  return wrapped;
}

AdminResponse post_invalidation(cache::EdgeCache& c, const AdminRequest& req) {
  if (req.body.empty()) return AdminResponse::error(400, "a JSON object body is required");
  boost::system::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec) return AdminResponse::error(400, "invalid JSON: " + ec.message());
  const json::object* o = v.if_object();
  if (!o) return AdminResponse::error(400, "the body must be a JSON object");
  for (const auto& kv : *o)
    if (kv.key() != "paths")
      return AdminResponse::error(400, "unknown field '" + std::string(kv.key()) + "'");
  const json::value* list = o->if_contains("paths");
  if (!list || !list->is_array())
    return AdminResponse::error(400, "\"paths\" must be a list of paths");
  std::vector<std::string> paths;
  for (const auto& item : list->get_array()) {
    if (!item.is_string()) return AdminResponse::error(400, "every path must be a string");
    paths.emplace_back(item.get_string());
  }
  if (auto bad = cache::EdgeCache::check_paths(paths)) return AdminResponse::error(400, *bad);
  auto inv = c.invalidate(std::move(paths));
  auto r = AdminResponse::json(201, json::serialize(describe(inv)));
  r.headers.emplace_back("Location", "/invalidations/" + inv.id);
  return r;
}

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

MetricFamily single(std::string name, std::string help, MetricType type, double v) {
  MetricFamily f = family(std::move(name), std::move(help), type);
  ClientMetric m;
  if (type == MetricType::Counter) {
    m.counter.value = v;
  } else {
    m.gauge.value = v;
  }
  f.metric.push_back(std::move(m));
  return f;
}

class CacheCollectable final : public prometheus::Collectable {
 public:
  explicit CacheCollectable(const cache::EdgeCache& c) : cache_(c) {}
  std::vector<MetricFamily> Collect() const override {
    const cache::CacheStats st = cache_.store().stats();
    std::vector<MetricFamily> out;
    out.push_back(single("edged_cache_objects", "Responses stored in the cache.",
                         MetricType::Gauge, static_cast<double>(st.objects)));
    out.push_back(single("edged_cache_bytes", "Bytes charged to the cache budget.",
                         MetricType::Gauge, static_cast<double>(st.bytes)));
    out.push_back(single("edged_cache_evictions_total",
                         "Stored responses evicted to stay within cache.memory.",
                         MetricType::Counter, static_cast<double>(st.evictions)));
    out.push_back(single("edged_cache_invalidated_objects_total",
                         "Stored responses removed by invalidations.", MetricType::Counter,
                         static_cast<double>(st.invalidated)));
    out.push_back(single("edged_cache_invalidations_total",
                         "Invalidations created through the admin API.", MetricType::Counter,
                         static_cast<double>(cache_.invalidation_count())));
    return out;
  }

 private:
  const cache::EdgeCache& cache_;
};

}  // namespace

void add_cache_routes(AdminServer& server, cache::EdgeCache& cache) {
  cache::EdgeCache* c = &cache;
  server.add_route("POST", "/invalidations",
                   [c](const AdminRequest& req) { return post_invalidation(*c, req); });
  server.add_prefix_route("GET", "/invalidations/", [c](const AdminRequest& req) {
    auto inv = c->find_invalidation(req.path_rest);
    if (!inv) return AdminResponse::error(404, "unknown invalidation '" + req.path_rest + "'");
    return AdminResponse::json(200, json::serialize(describe(*inv)));
  });
}

std::shared_ptr<prometheus::Collectable> make_cache_collectable(const cache::EdgeCache& cache) {
  return std::make_shared<CacheCollectable>(cache);
}

}  // namespace edge::server
