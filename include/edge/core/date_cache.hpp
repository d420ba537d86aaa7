#pragma once
/// The IMF-fixdate `Date` value, formatted at most once per second per worker.
/// Thread: worker (each worker owns one; refresh() from the worker's tick).

#include <ctime>
#include <string_view>

namespace edge {

class DateCache {
 public:
  DateCache() { refresh(std::time(nullptr)); }
  /// Reformats when the second changed; returns true if it did.
  bool refresh(std::time_t now);
  /// "Sun, 06 Nov 1994 08:49:37 GMT" (29 chars).
  std::string_view value() const { return {buf_, len_}; }

 private:
  std::time_t last_ = -1;
  char buf_[40] = {};
  std::size_t len_ = 0;
};

}  // namespace edge
