#pragma once
/// A small bounded ring of the latest edge-generated errors of one worker, for
/// the admin status page. Recorded only when the edge answers with an error (never
/// on a request's fast path), so its mutex is taken by the worker on errors and by
/// the admin thread when it renders the page; it is never contended otherwise.
/// Thread: record() by the owning worker, snapshot() by any thread.

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

#include "edge/core/error.hpp"

namespace edge::metrics {

struct RecentError {
  std::int64_t time_us = 0;  // wall clock, µs since the epoch
  EdgeError error = EdgeError::none;
  std::uint16_t listener = 0;  // listener index
  char target[48] = {};        // target id ("" when none), NUL-terminated, cut
  char request[96] = {};       // "METHOD /path", NUL-terminated, cut

  std::string_view target_view() const { return target; }
  std::string_view request_view() const { return request; }
};

class RecentErrors {
 public:
  static constexpr std::size_t kCapacity = 32;

  /// Records an error now (one wall-clock read, copies cut to fit).
  void record(EdgeError e, std::size_t listener, std::string_view target, std::string_view method,
              std::string_view path);
  /// The recorded errors, oldest first.
  std::vector<RecentError> snapshot() const;
  /// Errors recorded since start (including those overwritten).
  std::uint64_t total() const;

 private:
  mutable std::mutex mu_;
  std::array<RecentError, kCapacity> ring_{};
  std::uint64_t next_ = 0;
};

}  // namespace edge::metrics
