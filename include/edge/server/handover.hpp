#pragma once
/// Binary upgrade: a new edged process takes over the listening sockets of a
/// running one, so that no connection is refused or lost.
///
/// Why the sockets themselves and not new SO_REUSEPORT ones bound alongside:
/// with SO_REUSEPORT the kernel hashes each incoming connection to one socket
/// of the group, and it waits in that socket's accept queue. When the old
/// process closes its sockets, the connections already queued on them (and
/// any still completing their handshake there) are reset. Passing the very
/// same sockets (SCM_RIGHTS) keeps every queue: the socket lives as long as
/// one process holds it, and the new process accepts what the old one leaves.
///
/// Protocol, over a Unix SOCK_SEQPACKET socket at `admin.upgrade_socket`:
///   old → new  one message per listening socket: "<listen address>" with
///              the descriptor attached (every worker's socket of every
///              listener), then "END"
///   new        adopts them (matched to its listeners by configured `listen`
///              address), starts accepting on them
///   new → old  "DRAIN"
///   old        closes its admin listener, stops accepting, drains
///              (timeouts.drain) and exits; → new "OK" once the admin port is free
///   new        starts its admin listener
/// If the new process fails before "DRAIN", the old one keeps serving.
/// Thread: HandoverServer runs its own thread; takeover_* are blocking calls
/// for the control thread (startup only).

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace edge::server {

/// Listening descriptors to hand over, keyed by the listener's configured address.
using ListenerFds = std::map<std::string, std::vector<int>>;

/// Old side. Listens on `path` from construction to stop()/destruction and
/// serves one hand-over. `fds` is called on the hand-over thread to get the
/// descriptors to send; `release` when the new process asked to take over (it
/// must free the admin port and start draining before returning).
class HandoverServer {
 public:
  HandoverServer(std::string path, std::function<ListenerFds()> fds, std::function<void()> release);
  ~HandoverServer();
  HandoverServer(const HandoverServer&) = delete;
  HandoverServer& operator=(const HandoverServer&) = delete;
  void stop();

 private:
  void run();
  std::string path_;
  std::function<ListenerFds()> fds_;
  std::function<void()> release_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::thread thread_;
};

/// New side, step 1: connects to `path` and receives the descriptors (the
/// caller owns them). Throws std::system_error / std::runtime_error.
struct Takeover {
  int connection = -1;
  ListenerFds fds;
};
Takeover takeover_receive(const std::string& path);

/// New side, step 2 (once accepting on the adopted sockets): asks the old
/// process to drain and waits until it released its admin listener. Closes
/// the connection. Throws on failure or after `timeout`.
void takeover_finish(Takeover& t, std::chrono::milliseconds timeout);

}  // namespace edge::server
