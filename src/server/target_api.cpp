#include "edge/server/target_api.hpp"

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "edge/server/admin_server.hpp"
#include "edge/upstream/health_checker.hpp"
#include "edge/upstream/target.hpp"

namespace edge::server {
namespace {

namespace json = boost::json;
using upstream::HealthChecker;
using upstream::Target;
using upstream::TargetGroup;
using upstream::TargetStatus;

std::string_view algorithm_name(config::Algorithm a) {
  switch (a) {
    case config::Algorithm::least_outstanding_requests: return "least_outstanding_requests";
    case config::Algorithm::round_robin: return "round_robin";
    case config::Algorithm::weighted_random: return "weighted_random";
    case config::Algorithm::least_latency: return "least_latency";
  }
  return "";
}

json::string_view sv(std::string_view s) { return {s.data(), s.size()}; }

json::object describe_target(const Target& t) {
  const std::uint32_t w = t.load_status();
  json::object o;
  o["id"] = t.id;
  o["state"] = sv(upstream::state_name(TargetStatus::state(w)));
  const auto reason = upstream::reason_name(TargetStatus::reason(w));
  if (!reason.empty()) {
    o["reason"] = sv(reason);
  } else {
    o["reason"] = nullptr;
  }
  o["weight"] = t.weight.load(std::memory_order_relaxed);
  o["ejected"] = TargetStatus::ejected(w);
  o["outstanding_requests"] = t.outstanding.load(std::memory_order_relaxed);
  o["requests"] = t.requests.load(std::memory_order_relaxed);
  o["connection_errors"] = t.connection_errors.load(std::memory_order_relaxed);
  json::object check;
  if (t.checked.load(std::memory_order_relaxed) != 0) {
    check["result"] = t.last_check_ok.load(std::memory_order_relaxed) != 0 ? "pass" : "fail";
    const int status = t.last_check_status.load(std::memory_order_relaxed);
    if (status != 0) {
      check["status"] = status;
    } else {
      check["status"] = nullptr;
    }
    check["latency_ms"] =
        static_cast<double>(t.last_check_latency_us.load(std::memory_order_relaxed)) / 1000.0;
  } else {
    check["result"] = "none";
  }
  o["last_health_check"] = std::move(check);
  return o;
}

json::object describe_group(const TargetGroup& g) {
  json::object o;
  o["name"] = g.name();
  o["algorithm"] = sv(algorithm_name(g.config().algorithm));
  o["healthy_targets"] = g.healthy_count();
  o["fail_open"] = g.fail_open();
  json::array targets;
  for (const Target* t : g.members()) targets.push_back(describe_target(*t));
  o["targets"] = std::move(targets);
  return o;
}

/// %XX decoding for ids in paths ("[::1]:80" may arrive as "%5B%3A%3A1%5D%3A80").
std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

/// "name", "name/targets" or "name/targets/id" (path_rest of the prefix route).
struct Path {
  std::string group;
  bool targets = false;
  std::string id;
  bool valid = false;
};

Path split(std::string_view rest) {
  Path p;
  const std::size_t slash = rest.find('/');
  p.group = percent_decode(rest.substr(0, slash));
  if (p.group.empty()) return p;
  if (slash == std::string_view::npos) {
    p.valid = true;
    return p;
  }
  std::string_view tail = rest.substr(slash + 1);
  if (tail == "targets" || tail == "targets/") {
    p.targets = true;
    p.valid = true;
    return p;
  }
  if (tail.substr(0, 8) != "targets/") return p;
  p.targets = true;
  p.id = percent_decode(tail.substr(8));
  p.valid = !p.id.empty() && p.id.find('/') == std::string::npos;
  return p;
}

AdminResponse result_response(const upstream::RegistryResult& r, json::object ok_body) {
  if (!r.ok()) return AdminResponse::error(r.status, r.message);
  return AdminResponse::json(200, json::serialize(ok_body));
}

/// The JSON object in a request body, or an error message.
bool parse_object(const AdminRequest& req, json::object& out, std::string& error) {
  if (req.body.empty()) {
    error = "a JSON object body is required";
    return false;
  }
  boost::system::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec) {
    error = "invalid JSON: " + ec.message();
    return false;
  }
  if (!v.is_object()) {
    error = "the body must be a JSON object";
    return false;
  }
  out = std::move(v.get_object());
  return true;
}

/// A weight value: an integer 1..999.
bool parse_weight(const json::value& v, std::uint32_t& out) {
  if (!v.is_int64() && !v.is_uint64()) return false;
  const auto n = v.is_int64() ? v.get_int64() : static_cast<std::int64_t>(v.get_uint64());
  if (n < 1 || n > 999) return false;
  out = static_cast<std::uint32_t>(n);
  return true;
}

AdminResponse post_targets(HealthChecker& checker, const Path& p, const AdminRequest& req) {
  if (checker.find_group(p.group) == nullptr)
    return AdminResponse::error(404, "unknown target group '" + p.group + "'");
  json::object body;
  std::string error;
  if (!parse_object(req, body, error)) return AdminResponse::error(400, error);
  const json::value* list = body.if_contains("targets");
  if (list == nullptr || !list->is_array() || list->get_array().empty())
    return AdminResponse::error(400, "\"targets\" must be a non-empty array");
  for (const auto& [key, value] : body) {
    (void)value;
    if (key != "targets") return AdminResponse::error(400, "unknown key \"" + std::string(key) + "\"");
  }
  std::vector<upstream::TargetSpec> specs;
  json::array ids;
  for (const auto& item : list->get_array()) {
    const json::object* o = item.if_object();
    if (o == nullptr) return AdminResponse::error(400, "each target must be an object");
    upstream::TargetSpec spec;
    for (const auto& [key, value] : *o) {
      if (key == "id") {
        if (!value.is_string()) return AdminResponse::error(400, "\"id\" must be a string");
        spec.id = std::string(value.get_string());
      } else if (key == "weight") {
        if (!parse_weight(value, spec.weight))
          return AdminResponse::error(400, "\"weight\" must be an integer between 1 and 999");
      } else {
        return AdminResponse::error(400, "unknown key \"" + std::string(key) + "\" in a target");
      }
    }
    if (spec.id.empty()) return AdminResponse::error(400, "each target needs an \"id\"");
    ids.push_back(json::value(spec.id));
    specs.push_back(std::move(spec));
  }
  json::object ok;
  ok["registered"] = std::move(ids);
  return result_response(checker.register_targets(p.group, specs), std::move(ok));
}

AdminResponse patch_target(HealthChecker& checker, const Path& p, const AdminRequest& req) {
  json::object body;
  std::string error;
  if (!parse_object(req, body, error)) return AdminResponse::error(400, error);
  std::uint32_t weight = 0;
  const json::value* w = body.if_contains("weight");
  if (w == nullptr || body.size() != 1 || !parse_weight(*w, weight))
    return AdminResponse::error(400, "expected {\"weight\": N} with N between 1 and 999");
  const auto r = checker.set_weight(p.group, p.id, weight);
  if (!r.ok()) return AdminResponse::error(r.status, r.message);
  const TargetGroup* g = checker.find_group(p.group);
  for (const Target* t : g->members())
    if (t->id == p.id) return AdminResponse::json(200, json::serialize(describe_target(*t)));
  return AdminResponse::error(404, "target '" + p.id + "' is not registered");
}

}  // namespace

void add_target_group_routes(AdminServer& server, HealthChecker& checker) {
  HealthChecker* c = &checker;
  server.add_route("GET", "/target-groups", [c](const AdminRequest&) {
    json::array groups;
    for (const TargetGroup* g : c->groups()) groups.push_back(describe_group(*g));
    json::object o;
    o["target_groups"] = std::move(groups);
    return AdminResponse::json(200, json::serialize(o));
  });
  server.add_prefix_route("GET", "/target-groups/", [c](const AdminRequest& req) {
    const Path p = split(req.path_rest);
    if (!p.valid || !p.id.empty()) return AdminResponse::error(404, "no such resource");
    const TargetGroup* g = c->find_group(p.group);
    if (g == nullptr) return AdminResponse::error(404, "unknown target group '" + p.group + "'");
    json::object o = describe_group(*g);
    if (p.targets) return AdminResponse::json(200, json::serialize(o["targets"]));
    return AdminResponse::json(200, json::serialize(o));
  });
  server.add_prefix_route("POST", "/target-groups/", [c](const AdminRequest& req) {
    const Path p = split(req.path_rest);
    if (!p.valid || !p.targets || !p.id.empty())
      return AdminResponse::error(404, "POST /target-groups/{name}/targets registers targets");
    return post_targets(*c, p, req);
  });
  server.add_prefix_route("DELETE", "/target-groups/", [c](const AdminRequest& req) {
    const Path p = split(req.path_rest);
    if (!p.valid || p.id.empty())
      return AdminResponse::error(404, "DELETE /target-groups/{name}/targets/{id} deregisters");
    json::object ok;
    ok["deregistered"] = p.id;
    ok["state"] = "draining";
    return result_response(c->deregister_target(p.group, p.id), std::move(ok));
  });
  server.add_prefix_route("PATCH", "/target-groups/", [c](const AdminRequest& req) {
    const Path p = split(req.path_rest);
    if (!p.valid || p.id.empty())
      return AdminResponse::error(404, "PATCH /target-groups/{name}/targets/{id} sets a weight");
    return patch_target(*c, p, req);
  });
}

}  // namespace edge::server
