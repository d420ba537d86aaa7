#pragma once
/// `Histogram`: a log-linear latency histogram in the manner of HdrHistogram.
///
/// Values (nanoseconds, any uint64) fall in buckets of 128 sub-buckets per power of
/// two: a value v with highest set bit m >= 8 lands in a bucket of width 2^(m-7), and
/// values below 256 are exact. Every bucket's width is at most 1/128 of its lowest
/// value, so a percentile reported as the highest value of its bucket is within
/// +0.79 % of the true sample (never below it). min, max, count and sum are exact.
///
/// Memory: one fixed array of 7,424 counters (58 KiB), allocated at construction;
/// `record` never allocates. Thread: one owner; `merge` reads another histogram, which
/// its owner must not write meanwhile.

#include <cstddef>
#include <cstdint>
#include <memory>

namespace edge::load {

class Histogram {
 public:
  static constexpr unsigned kSubBucketBits = 7;  // 128 sub-buckets per power of two
  static constexpr std::size_t kBucketCount =
      (64 - kSubBucketBits - 1) * (1u << kSubBucketBits) + (2u << kSubBucketBits);  // 7,424
  /// Upper bound of the relative error of a reported percentile.
  static constexpr double kMaxRelativeError = 1.0 / (1u << kSubBucketBits);

  Histogram();
  Histogram(const Histogram& other);
  Histogram& operator=(const Histogram& other);
  Histogram(Histogram&&) noexcept = default;
  Histogram& operator=(Histogram&&) noexcept = default;
  ~Histogram() = default;

  void record(std::uint64_t value) { record_n(value, 1); }
  void record_n(std::uint64_t value, std::uint64_t n) {
    counts_[index_of(value)] += n;
    count_ += n;
    sum_ += static_cast<long double>(value) * static_cast<long double>(n);
    if (value < min_) min_ = value;
    if (value > max_) max_ = value;
  }
  /// Adds every sample of `other`.
  void merge(const Histogram& other);
  void reset();

  std::uint64_t count() const { return count_; }
  /// Exact; 0 when empty.
  std::uint64_t min() const { return count_ == 0 ? 0 : min_; }
  std::uint64_t max() const { return max_; }
  double mean() const;

  /// The value at percentile `p` in [0, 100]: the highest value of the bucket holding
  /// the sample of rank ceil(p/100 × count) (clamped to `max()`). 0 when empty;
  /// p >= 100 gives `max()` exactly.
  std::uint64_t percentile(double p) const;

  /// Bucket index of `value` (exposed for tests).
  static std::size_t index_of(std::uint64_t value) {
    const unsigned m = value == 0 ? 0 : 63u - static_cast<unsigned>(__builtin_clzll(value));
    const unsigned shift = m > kSubBucketBits ? m - kSubBucketBits : 0;
    return (static_cast<std::size_t>(shift) << kSubBucketBits) + (value >> shift);
  }
  /// Lowest and highest values sharing `value`'s bucket.
  static std::uint64_t lowest_equivalent(std::uint64_t value);
  static std::uint64_t highest_equivalent(std::uint64_t value);

 private:
  std::unique_ptr<std::uint64_t[]> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace edge::load
