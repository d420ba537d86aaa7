#include "edge/server/worker.hpp"

#include "edge/core/readiness.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>

#include "edge/proxy/session.hpp"

namespace edge::server {

namespace {
asio::ip::tcp fd_protocol(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    throw std::system_error(errno, std::generic_category(), "listening socket: getsockname");
  return ss.ss_family == AF_INET6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4();
}

/// Sweep period: fine enough for the shortest configured timeout, coarse
/// enough to cost nothing (a wake-up per tick per worker).
std::chrono::milliseconds tick_period(const config::Config& c) {
  auto shortest = std::min({c.timeouts.client_header, c.timeouts.idle, c.timeouts.upstream_connect,
                            c.timeouts.upstream_response});
  auto p = shortest / 8;
  return std::clamp(p, std::chrono::milliseconds(5), std::chrono::milliseconds(100));
}
}  // namespace

Worker::Worker(unsigned index, std::shared_ptr<const Snapshot> snapshot,
               metrics::WorkerShard& shard)
    : index_(index),
      snapshot_(std::move(snapshot)),
      shard_(shard),
      pool_(ioc_->get_executor(), deadlines_, 0),
      relay_buffers_(static_cast<std::size_t>(snapshot_->config.relay_buffer_bytes)),
      tick_(std::make_unique<Timer>(ioc_->get_executor())),
      rng_(0x9e3779b97f4a7c15ULL * (index + 1)) {
  update_balancers();
}

void Worker::update_balancers() {
  for (const auto& g : snapshot_->groups) {
    const std::size_t slot = g.group->index();
    const config::Algorithm a = g.group->config().algorithm;
    if (slot >= balancers_.size()) {
      balancers_.resize(slot + 1);
      balancer_algorithms_.resize(slot + 1);
    }
    if (!balancers_[slot] || balancer_algorithms_[slot] != a) {
      balancers_[slot] = upstream::make_balancer(a, rng_());
      balancer_algorithms_[slot] = a;
    }
  }
}


Worker::~Worker() {
  stopped_ = true;  // sessions destroyed below must not restart the shutdown
  // Sockets and timers owned here go before the io_context; then the context
  // destroys what is still pending (session frames) while members are alive.
  acceptors_.clear();
  tick_.reset();
  pool_.close_all();
  ioc_.reset();
}

void Worker::bind_listener(std::size_t i, std::uint16_t& port) {
  const int fd = open_listening_socket(*snapshot_->listeners[i].config, port);
  auto acc = std::make_unique<Acceptor>(ioc_->get_executor());
  boost::system::error_code ec;
  acc->assign(fd_protocol(fd), fd, ec);
  if (ec) {
    ::close(fd);
    throw std::system_error(ec, "listener '" + snapshot_->listeners[i].config->name + "'");
  }
  acceptors_.push_back({std::move(acc), snapshot_->listeners[i].key, i, true});
}

int Worker::open_listening_socket(const config::ListenerConfig& l, std::uint16_t& port) {
  // Its own io_context: no worker's (their reactors are not thread-safe) is
  // touched, so a reload may call this while the workers run.
  asio::io_context io(1);
  boost::system::error_code ec;
  asio::ip::address addr;
  if (l.listen.host.empty()) {
    addr = asio::ip::address_v6::any();
  } else {
    addr = asio::ip::make_address(l.listen.host, ec);
    if (ec) {
      // a name: resolve once, here (control thread, before serving)
      asio::ip::tcp::resolver r(io);
      auto res = r.resolve(l.listen.host, std::to_string(l.listen.port), ec);
      if (ec || res.empty())
        throw std::system_error(ec, "listener '" + l.name + "': cannot resolve " + l.listen.host);
      addr = res.begin()->endpoint().address();
    }
  }
  asio::ip::tcp::endpoint ep(addr, port);
  auto acc = std::make_unique<asio::ip::tcp::acceptor>(io);
  acc->open(ep.protocol());
  acc->set_option(asio::socket_base::reuse_address(true));
  int one = 1;
  if (::setsockopt(acc->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    throw std::system_error(errno, std::generic_category(), "SO_REUSEPORT");
  if (addr.is_v6() && l.listen.host.empty()) acc->set_option(asio::ip::v6_only(false));
  acc->bind(ep, ec);
  if (ec)
    throw std::system_error(ec, "listener '" + l.name + "': cannot bind " + l.listen.to_string());
  acc->listen(asio::socket_base::max_listen_connections);
  port = acc->local_endpoint().port();
  return acc->release();
}

std::uint16_t Worker::adopt(std::size_t i, int fd) {
  auto acc = std::make_unique<Acceptor>(ioc_->get_executor());
  acc->assign(fd_protocol(fd), fd);
  const std::uint16_t port = acc->local_endpoint().port();
  acceptors_.push_back({std::move(acc), snapshot_->listeners[i].key, i, true});
  return port;
}

std::vector<std::pair<std::string, int>> Worker::listening_fds() const {
  std::vector<std::pair<std::string, int>> out;
  for (const auto& a : acceptors_)
    if (a.open) out.emplace_back(a.key, a.acceptor->native_handle());
  return out;
}

void Worker::swap_snapshot(std::shared_ptr<const Snapshot> snapshot,
                           std::vector<std::pair<std::string, int>> added) {
  asio::post(*ioc_, [this, s = std::move(snapshot), a = std::move(added)]() mutable {
    on_swap(std::move(s), std::move(a));
  });
}

void Worker::on_swap(std::shared_ptr<const Snapshot> snapshot,
                     std::vector<std::pair<std::string, int>> added) {
  snapshot_ = std::move(snapshot);
  update_balancers();
  for (auto& a : acceptors_) {
    if (!a.open) continue;
    if (const ListenerRuntime* l = snapshot_->find_listener(a.key)) {
      a.listener = static_cast<std::size_t>(l - snapshot_->listeners.data());
    } else {
      // Removed: no new connection; its accept loop ends on the close.
      a.open = false;
      boost::system::error_code ec;
      a.acceptor->close(ec);
    }
  }
  for (auto& [key, fd] : added) {
    const ListenerRuntime* l = snapshot_->find_listener(key);
    if (l == nullptr || draining_) {
      ::close(fd);
      continue;
    }
    auto acc = std::make_unique<Acceptor>(ioc_->get_executor());
    boost::system::error_code ec;
    acc->assign(fd_protocol(fd), fd, ec);
    if (ec) {
      ::close(fd);
      continue;
    }
    acceptors_.push_back(
        {std::move(acc), key, static_cast<std::size_t>(l - snapshot_->listeners.data()), true});
    asio::co_spawn(*ioc_, accept_loop(this, acceptors_.size() - 1), asio::detached);
  }
  // Connections of removed listeners drain: idle ones now, busy ones after
  // their response (the session sees its listener gone at its next request).
  for (auto* s : std::vector<proxy::Session*>(sessions_)) {
    if (snapshot_->find_listener(proxy::session_listener(s)) == nullptr)
      proxy::close_session(s, false);
  }
}

void Worker::run() {
  for (std::size_t i = 0; i < acceptors_.size(); ++i)
    asio::co_spawn(*ioc_, accept_loop(this, i), asio::detached);
  asio::co_spawn(*ioc_, tick_loop(this), asio::detached);
  ioc_->run();
}

Task<void> Worker::accept_loop(Worker* self, std::size_t entry) {
  Acceptor& acc = *self->acceptors_[entry].acceptor;
  boost::system::error_code ec;
  // accept_now never blocks; the acceptor's own asynchronous operations are
  // unaffected (Asio keeps them non-blocking either way).
  acc.non_blocking(true, ec);
  asio::ip::tcp::endpoint peer;  // filled by accept itself (no getpeername later)
  for (unsigned in_a_row = 0;;) {
    if (!acc.is_open()) co_return;  // closed by a drain or a reload
    Socket sock(self->ioc_->get_executor());
    ec.clear();
    if (!core::accept_now(acc, sock, peer, ec)) {
      // Nothing queued: wait for the listening socket to become readable.
      in_a_row = 0;
      auto [wec] = co_await acc.async_wait(asio::socket_base::wait_read, kUseTuple);
      if (wec == asio::error::operation_aborted || !acc.is_open()) co_return;
      if (!wec) continue;
      ec = wec;
    }
    if (ec) {
      // EMFILE and friends: back off a little instead of spinning.
      self->shard_.client_connections_rejected.inc();
      Timer t(self->ioc_->get_executor());
      t.expires_after(std::chrono::milliseconds(50));
      co_await t.async_wait(kUseTuple);
      continue;
    }
    // Accepted, even if a drain began meanwhile: it is answered (with
    // Connection: close), not dropped; after a hand-over the new process
    // accepts what is still queued.
    // The listener's settings of the snapshot current now (after a reload
    // that changed them, new connections get the new ones).
    const AcceptorEntry& a = self->acceptors_[entry];
    if (!a.open) co_return;
    proxy::start_session(*self, self->snapshot_, a.listener, std::move(sock), peer);
    if (self->draining_) co_return;
    // A burst of connections does not hold up the sessions already running:
    // after a few in a row, the others' handlers run first (as each of Asio's
    // accept completions would be queued behind them).
    if (++in_a_row == 16) {
      in_a_row = 0;
      co_await asio::post(self->ioc_->get_executor(), asio::use_awaitable_t<Executor>{});
    }
  }
}

Task<void> Worker::tick_loop(Worker* self) {
  for (;;) {
    self->tick_->expires_after(tick_period(self->snapshot_->config));
    auto [ec] = co_await self->tick_->async_wait(kUseTuple);
    if (ec || self->stopped_) co_return;
    auto now = std::chrono::steady_clock::now();
    self->deadlines_.sweep(now);
    self->date_.refresh(std::time(nullptr));
    self->pool_.expire_idle(now);
  }
}

void Worker::add_session(proxy::Session* s) { sessions_.push_back(s); }

void Worker::remove_session(proxy::Session* s) {
  auto it = std::find(sessions_.begin(), sessions_.end(), s);
  if (it != sessions_.end()) {
    *it = sessions_.back();
    sessions_.pop_back();
  }
  if (draining_) maybe_finish();
}

void Worker::drain() {
  asio::post(*ioc_, [this] { on_drain(); });
}

void Worker::on_drain() {
  if (draining_) return;
  draining_ = true;
  for (auto& a : acceptors_) {
    boost::system::error_code ec;
    a.acceptor->close(ec);
  }
  pool_.close_all();
  // Idle keep-alive clients are closed now; busy ones after their response.
  for (auto* s : std::vector<proxy::Session*>(sessions_)) proxy::close_session(s, false);
  // After accepts that already completed (queued before this) started their sessions.
  asio::post(*ioc_, [this] { maybe_finish(); });
}

void Worker::maybe_finish() {
  if (sessions_.empty() && !stopped_) {
    stopped_ = true;
    tick_->cancel();
    pool_.close_all();
    ioc_->stop();
  }
}

void Worker::stop() {
  asio::post(*ioc_, [this] {
    draining_ = true;
    for (auto& a : acceptors_) {
      boost::system::error_code ec;
      a.acceptor->close(ec);
    }
    pool_.close_all();
    close_all_sessions();
    maybe_finish();
  });
}

void Worker::close_all_sessions() {
  for (auto* s : std::vector<proxy::Session*>(sessions_)) proxy::close_session(s, true);
}

}  // namespace edge::server
