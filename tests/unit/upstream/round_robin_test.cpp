#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "edge/upstream/balancer.hpp"
#include "edge/upstream/target.hpp"

namespace edge::upstream {
namespace {

struct Pool {
  std::vector<std::unique_ptr<Target>> owned;
  std::vector<Target*> view;

  explicit Pool(std::vector<std::uint32_t> weights) {
    for (std::size_t i = 0; i < weights.size(); ++i) {
      owned.push_back(std::make_unique<Target>());
      owned.back()->index = static_cast<std::uint32_t>(i);
      owned.back()->weight = weights[i];
      view.push_back(owned.back().get());
    }
  }
  std::span<Target* const> span() const { return view; }
};

std::string sequence(RoundRobin& rr, const Pool& pool, int n, ExcludeSet ex = {}) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    Target* t = rr.pick(pool.span(), ex);
    out += t == nullptr ? '-' : static_cast<char>('a' + t->index);
  }
  return out;
}

TEST(RoundRobin, EqualWeightsCycleInOrder) {
  Pool pool({1, 1, 1});
  RoundRobin rr;
  EXPECT_EQ(sequence(rr, pool, 7), "abcabca");
}

TEST(RoundRobin, SmoothInterleavingAsNginx) {
  // nginx's documented sequence for weights 5, 1, 1.
  Pool pool({5, 1, 1});
  RoundRobin rr;
  EXPECT_EQ(sequence(rr, pool, 14), "aabacaaaabacaa");
}

TEST(RoundRobin, WeightedSharesExactOverEachCycle) {
  Pool pool({1, 2, 3, 4});
  RoundRobin rr;
  for (int cycle = 0; cycle < 5; ++cycle) {
    std::vector<int> counts(4, 0);
    for (int i = 0; i < 10; ++i) ++counts[rr.pick(pool.span(), {})->index];
    EXPECT_EQ(counts, (std::vector<int>{1, 2, 3, 4})) << "cycle " << cycle;
  }
}

TEST(RoundRobin, ExcludedTargetsAreSkippedAndNotCounted) {
  Pool equal({1, 1, 1});
  RoundRobin rr;
  ExcludeSet ex;
  ex.add(1);
  EXPECT_EQ(sequence(rr, equal, 4, ex), "acac");

  // The excluded weight-3 target does not take part in the sums: 1:2 over 3 picks.
  Pool weighted({1, 2, 3});
  RoundRobin rr2;
  ExcludeSet ex2;
  ex2.add(2);
  std::vector<int> counts(3, 0);
  for (int i = 0; i < 30; ++i) ++counts[rr2.pick(weighted.span(), ex2)->index];
  EXPECT_EQ(counts, (std::vector<int>{10, 20, 0}));
}

TEST(RoundRobin, NullWhenNothingToPick) {
  RoundRobin rr;
  EXPECT_EQ(rr.pick({}, ExcludeSet{}), nullptr);
  Pool pool({1, 1});
  ExcludeSet all;
  all.add(0);
  all.add(1);
  EXPECT_EQ(rr.pick(pool.span(), all), nullptr);
  // The state is unharmed: picking resumes normally.
  EXPECT_EQ(sequence(rr, pool, 4), "abab");
}

TEST(RoundRobin, CandidateListChangeRestartsState) {
  Pool three({1, 1, 1});
  Pool two({1, 1});
  RoundRobin rr;
  EXPECT_EQ(sequence(rr, three, 2), "ab");
  EXPECT_EQ(sequence(rr, two, 3), "aba");
  EXPECT_EQ(sequence(rr, three, 3), "abc");
}

TEST(MakeBalancer, ChoosesAlgorithm) {
  auto lor = make_balancer(config::Algorithm::least_outstanding_requests, 1);
  auto rr = make_balancer(config::Algorithm::round_robin, 1);
  EXPECT_NE(dynamic_cast<LeastOutstanding*>(lor.get()), nullptr);
  EXPECT_NE(dynamic_cast<RoundRobin*>(rr.get()), nullptr);
}

}  // namespace
}  // namespace edge::upstream
