#pragma once
/// Umbrella header for the edge library.
#include "edge/config/config.hpp"
#include "edge/config/loader.hpp"
#include "edge/core/error.hpp"
#include "edge/metrics/metrics.hpp"
#include "edge/proxy/hooks.hpp"
#include "edge/proxy/request_ctx.hpp"
#include "edge/server/gateway.hpp"
#include "edge/upstream/balancer.hpp"
#include "edge/upstream/target.hpp"
