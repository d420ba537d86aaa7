#pragma once
/// The target-group part of the admin API (ALB DescribeTargetHealth,
/// RegisterTargets, DeregisterTargets, plus a weight change), JSON in and out:
///   GET    /target-groups                      every group with its targets
///   GET    /target-groups/{name}               one group
///   POST   /target-groups/{name}/targets       {"targets":[{"id":"h:p","weight":1}]}
///   DELETE /target-groups/{name}/targets/{id}  deregister (draining)
///   PATCH  /target-groups/{name}/targets/{id}  {"weight":N}
/// Errors are 4xx with `{"error":{"status":..,"message":..}}`; nothing is
/// applied when a request is rejected. The bearer token is the admin server's.
/// Thread: handlers run on the admin thread; changes go through HealthChecker.

namespace edge::upstream {
class HealthChecker;
}

namespace edge::server {

class AdminServer;

/// `checker` must outlive the admin server's thread.
void add_target_group_routes(AdminServer& server, upstream::HealthChecker& checker);

}  // namespace edge::server
