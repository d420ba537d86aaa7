#include "edge/upstream/upstream_pool.hpp"

#include <algorithm>

namespace edge::upstream {

UpstreamPool::UpstreamPool(const Executor& ex, DeadlineList& deadlines, std::size_t targets)
    : ex_(ex), deadlines_(deadlines), slots_(targets) {}

UpstreamPool::~UpstreamPool() { close_all(); }

UpstreamConnPtr UpstreamPool::checkout(std::size_t slot) {
  if (slot >= slots_.size()) return nullptr;
  auto& idle = slots_[slot].idle;
  while (!idle.empty()) {
    UpstreamConnPtr conn = std::move(idle.back());
    idle.pop_back();
    conn->idle = false;
    boost::system::error_code ec;
    conn->socket.cancel(ec);  // the idle watch completes with operation_aborted
    if (conn->socket.is_open()) return conn;
  }
  return nullptr;
}

void UpstreamPool::checkin(std::size_t slot, UpstreamConnPtr conn,
                           const config::UpstreamKeepalive& ka) {
  if (!conn || slot >= slots_.size() || !conn->socket.is_open()) return;
  auto& s = slots_[slot];
  s.idle_timeout = ka.idle_timeout;
  if (s.idle.size() >= ka.max_idle_per_target) {
    // Full: the oldest (front) goes.
    boost::system::error_code ec;
    s.idle.front()->idle = false;
    s.idle.front()->socket.close(ec);
    s.idle.erase(s.idle.begin());
  }
  conn->idle = true;
  conn->idle_since = deadlines_.now();
  s.idle.push_back(conn);
  watch(this, slot, std::move(conn));
}

void UpstreamPool::watch(UpstreamPool* pool, std::size_t slot, UpstreamConnPtr conn) {
  // An idle keep-alive connection has nothing to say: readable means the target
  // closed it (EOF/RST) or sent bytes nobody asked for. Either way it is dropped.
  UpstreamConn* raw = conn.get();
  raw->socket.async_wait(Socket::wait_read,
                         [pool, slot, c = std::move(conn)](const boost::system::error_code&) {
                           if (!c->idle) return;  // checked out meanwhile (cancelled)
                           pool->remove(slot, c.get());
                         });
}

void UpstreamPool::remove(std::size_t slot, UpstreamConn* conn) {
  auto& idle = slots_[slot].idle;
  auto it = std::find_if(idle.begin(), idle.end(),
                         [conn](const UpstreamConnPtr& p) { return p.get() == conn; });
  if (it == idle.end()) return;
  conn->idle = false;
  boost::system::error_code ec;
  conn->socket.close(ec);
  idle.erase(it);
}

void UpstreamPool::expire_idle(std::chrono::steady_clock::time_point now) {
  for (auto& s : slots_) {
    if (s.idle.empty()) continue;
    // Oldest first: stop at the first one still within its idle time.
    std::size_t expired = 0;
    while (expired < s.idle.size() && now - s.idle[expired]->idle_since >= s.idle_timeout)
      ++expired;
    for (std::size_t i = 0; i < expired; ++i) {
      boost::system::error_code ec;
      s.idle[i]->idle = false;
      s.idle[i]->socket.close(ec);
    }
    s.idle.erase(s.idle.begin(), s.idle.begin() + static_cast<std::ptrdiff_t>(expired));
  }
}

void UpstreamPool::close_all() {
  for (auto& s : slots_) {
    for (auto& c : s.idle) {
      boost::system::error_code ec;
      c->idle = false;
      c->socket.close(ec);
    }
    s.idle.clear();
  }
}

std::size_t UpstreamPool::idle_count() const {
  std::size_t n = 0;
  for (const auto& s : slots_) n += s.idle.size();
  return n;
}

}  // namespace edge::upstream
