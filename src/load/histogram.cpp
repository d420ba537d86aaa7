#include "edge/load/histogram.hpp"

#include <algorithm>
#include <cmath>

namespace edge::load {
namespace {

unsigned shift_of(std::uint64_t value) {
  const unsigned m = value == 0 ? 0 : 63u - static_cast<unsigned>(__builtin_clzll(value));
  return m > Histogram::kSubBucketBits ? m - Histogram::kSubBucketBits : 0;
}

/// Highest value of bucket `index` (inverse of index_of).
std::uint64_t highest_of_index(std::size_t index) {
  constexpr std::size_t kSub = std::size_t{1} << Histogram::kSubBucketBits;
  // Index i = (shift << 7) + top where top < 256 (shift 0) or top in [128, 256).
  std::size_t shift = 0;
  if (index >= 2 * kSub) shift = (index - kSub) >> Histogram::kSubBucketBits;
  const std::uint64_t top = index - (shift << Histogram::kSubBucketBits);
  const std::uint64_t low = top << shift;
  return low + ((std::uint64_t{1} << shift) - 1);
}

}  // namespace

Histogram::Histogram() : counts_(std::make_unique<std::uint64_t[]>(kBucketCount)) {}

Histogram::Histogram(const Histogram& other)
    : counts_(std::make_unique<std::uint64_t[]>(kBucketCount)),
      count_(other.count_),
      min_(other.min_),
      max_(other.max_),
      sum_(other.sum_) {
  std::copy_n(other.counts_.get(), kBucketCount, counts_.get());
}

Histogram& Histogram::operator=(const Histogram& other) {
  if (this != &other) {
    if (!counts_) counts_ = std::make_unique<std::uint64_t[]>(kBucketCount);
    std::copy_n(other.counts_.get(), kBucketCount, counts_.get());
    count_ = other.count_;
    min_ = other.min_;
    max_ = other.max_;
    sum_ = other.sum_;
  }
  return *this;
}

void Histogram::merge(const Histogram& other) {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void Histogram::reset() {
  std::fill_n(counts_.get(), kBucketCount, 0);
  count_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = 0;
}

double Histogram::mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / static_cast<long double>(count_));
}

std::uint64_t Histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  if (!(p < 100.0)) return max_;
  if (!(p > 0.0)) return min_;
  auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBucketCount; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(highest_of_index(i), min_, max_);
  }
  return max_;
}

std::uint64_t Histogram::lowest_equivalent(std::uint64_t value) {
  const unsigned shift = shift_of(value);
  return (value >> shift) << shift;
}

std::uint64_t Histogram::highest_equivalent(std::uint64_t value) {
  return highest_of_index(index_of(value));
}

}  // namespace edge::load
