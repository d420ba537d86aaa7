#include "edge/core/date_cache.hpp"

#include <ctime>

namespace edge {

bool DateCache::refresh(std::time_t now) {
  if (now == last_) return false;
  last_ = now;
  std::tm tm{};
  gmtime_r(&now, &tm);
  len_ = std::strftime(buf_, sizeof buf_, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return true;
}

}  // namespace edge
