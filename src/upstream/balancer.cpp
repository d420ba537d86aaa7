#include "edge/upstream/balancer.hpp"

namespace edge::upstream {

std::unique_ptr<Balancer> make_balancer(config::Algorithm algorithm, std::uint64_t seed) {
  switch (algorithm) {
    case config::Algorithm::round_robin:
      return std::make_unique<RoundRobin>();
    case config::Algorithm::weighted_random:
      return std::make_unique<WeightedRandom>(seed);
    case config::Algorithm::least_latency:
      return std::make_unique<LeastLatency>(seed);
    case config::Algorithm::least_outstanding_requests:
      break;
  }
  return std::make_unique<LeastOutstanding>(seed);
}

}  // namespace edge::upstream
