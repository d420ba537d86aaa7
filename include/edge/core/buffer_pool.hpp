#pragma once
/// Per-worker free list of fixed-size body relay buffers. A session takes one
/// only while it relays a body that does not fit in its read buffers and gives
/// it back when the request ends, so relay memory follows the transfers in
/// flight, not the number of (mostly idle keep-alive) connections.
/// Thread: worker.

#include <cstddef>
#include <memory>
#include <vector>

namespace edge {

class BufferPool {
 public:
  explicit BufferPool(std::size_t buffer_size, std::size_t max_free = 64)
      : size_(buffer_size), max_free_(max_free) {}
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  char* acquire() {
    if (free_.empty()) return new char[size_];
    char* b = free_.back().release();
    free_.pop_back();
    return b;
  }
  void release(char* b) {
    if (!b) return;
    if (free_.size() >= max_free_) {
      delete[] b;
      return;
    }
    free_.emplace_back(b);
  }
  std::size_t buffer_size() const { return size_; }
  std::size_t free_count() const { return free_.size(); }

 private:
  std::size_t size_;
  std::size_t max_free_;
  std::vector<std::unique_ptr<char[]>> free_;
};

}  // namespace edge
