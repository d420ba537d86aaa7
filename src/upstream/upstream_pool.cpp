#include "edge/upstream/upstream_pool.hpp"

#include <algorithm>

#include "edge/upstream/target.hpp"

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
    if (conn->watched) {
      boost::system::error_code ec;
      conn->socket.cancel(ec);  // the idle read completes with operation_aborted
      conn->watched = false;
    }
    if (conn->socket.is_open()) return conn;
  }
  return nullptr;
}

void UpstreamPool::checkin(std::size_t slot, UpstreamConnPtr conn,
                           const config::UpstreamKeepalive& ka) {
  if (!conn || !conn->socket.is_open()) return;
  // Targets registered at run time get slots beyond the initial count: the
  // first check-in to one grows the table (once per new target and worker).
  if (slot >= slots_.size()) slots_.resize(slot + 1);
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
  s.idle.push_back(std::move(conn));
  // Not watched yet: under load a connection is reused within microseconds, and
  // watching it would cost a syscall per request. The next tick watches it.
}

void UpstreamPool::watch(UpstreamPool* pool, std::size_t slot, UpstreamConnPtr conn) {
  conn->watched = true;
  // An idle keep-alive connection has nothing to say: readable means the target
  // closed it (EOF/RST) or sent bytes nobody asked for. Either way it is dropped.
  // A pending read (not async_wait) is used on purpose: Asio starts a wait with
  // an epoll_ctl each time, while a read on a socket just drained costs nothing
  // until the kernel reports it readable.
  UpstreamConn* raw = conn.get();
  raw->socket.async_read_some(
      raw->buffer.prepare(1),
      [pool, slot, c = std::move(conn)](const boost::system::error_code& ec, std::size_t) {
        if (ec == boost::asio::error::operation_aborted || !c->idle) return;  // checked out
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
    // A draining (or removed) target keeps no idle connection.
    if (!s.idle.front()->target || !s.idle.front()->target->poolable()) {
      for (auto& c : s.idle) {
        boost::system::error_code ec;
        c->idle = false;
        c->socket.close(ec);
      }
      s.idle.clear();
      continue;
    }
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
    for (auto& c : s.idle)
      if (!c->watched) watch(this, static_cast<std::size_t>(&s - slots_.data()), c);
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
