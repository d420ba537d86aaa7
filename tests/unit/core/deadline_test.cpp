#include "edge/core/deadline.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace edge {
namespace {

using namespace std::chrono_literals;
using Clock = Deadline::Clock;

struct Owner {
  Deadline d;
  int fired = 0;
  static void cb(void* p) { ++static_cast<Owner*>(p)->fired; }
};

TEST(DeadlineList, FiresOnlyExpiredOnceWithInjectedTime) {
  DeadlineList list;
  const auto t0 = Clock::now();
  list.sweep(t0);
  Owner a, b, c;
  a.d.attach(list, &Owner::cb, &a);
  b.d.attach(list, &Owner::cb, &b);
  c.d.attach(list, &Owner::cb, &c);
  a.d.arm(100ms);
  b.d.arm(300ms);
  // c never armed
  EXPECT_EQ(list.sweep(t0 + 50ms), 0u);
  EXPECT_EQ(list.sweep(t0 + 100ms), 1u);
  EXPECT_EQ(a.fired, 1);
  EXPECT_TRUE(a.d.fired());
  EXPECT_FALSE(a.d.armed());
  EXPECT_EQ(list.sweep(t0 + 200ms), 0u);  // a fires once
  b.d.disarm();
  EXPECT_EQ(list.sweep(t0 + 1s), 0u);
  EXPECT_EQ(b.fired + c.fired, 0);
  EXPECT_EQ(list.size(), 3u);
}

TEST(DeadlineList, CallbackMayUnlinkItsOwnNode) {
  DeadlineList list;
  const auto t0 = Clock::now();
  list.sweep(t0);
  struct SelfRemoving {
    Deadline d;
    static void cb(void* p) { static_cast<SelfRemoving*>(p)->d.unlink(); }
  };
  std::vector<SelfRemoving> v(5);
  for (auto& s : v) {
    s.d.attach(list, &SelfRemoving::cb, &s);
    s.d.arm(10ms);
  }
  EXPECT_EQ(list.sweep(t0 + 20ms), 5u);
  EXPECT_EQ(list.size(), 0u);
}

TEST(DeadlineList, DestroyedNodeLeavesTheList) {
  DeadlineList list;
  {
    Owner a;
    a.d.attach(list, &Owner::cb, &a);
    EXPECT_EQ(list.size(), 1u);
  }
  EXPECT_EQ(list.size(), 0u);
}

}  // namespace
}  // namespace edge
