#include "edge/server/handover.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <system_error>

namespace edge::server {

namespace {

constexpr std::string_view kEnd = "END";
constexpr std::string_view kDrain = "DRAIN";
constexpr std::string_view kOk = "OK";
constexpr std::size_t kMaxMessage = 512;

[[noreturn]] void fail(const char* what) {
  throw std::system_error(errno, std::generic_category(), std::string("hand-over: ") + what);
}

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof a.sun_path)
    throw std::runtime_error("hand-over: socket path empty or too long: " + path);
  std::memcpy(a.sun_path, path.data(), path.size());
  return a;
}

bool send_message(int fd, std::string_view text, int pass_fd = -1) {
  iovec iov{const_cast<char*>(text.data()), text.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (pass_fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  }
  ssize_t n;
  do {
    n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(text.size());
}

/// One message; `received_fd` gets an attached descriptor (or -1). Returns
/// false on EOF or error.
bool receive_message(int fd, std::string& text, int& received_fd) {
  char buf[kMaxMessage];
  iovec iov{buf, sizeof buf};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return false;
  received_fd = -1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
        c->cmsg_len >= CMSG_LEN(sizeof(int)))
      std::memcpy(&received_fd, CMSG_DATA(c), sizeof(int));
  }
  text.assign(buf, static_cast<std::size_t>(n));
  return true;
}

bool wait_readable(int fd, int other, std::chrono::milliseconds timeout, bool& other_ready) {
  pollfd p[2] = {{fd, POLLIN, 0}, {other, POLLIN, 0}};
  int n;
  do {
    n = ::poll(p, other >= 0 ? 2 : 1, static_cast<int>(timeout.count()));
  } while (n < 0 && errno == EINTR);
  other_ready = other >= 0 && (p[1].revents != 0);
  return n > 0 && p[0].revents != 0;
}

}  // namespace

// ---------------------------------------------------------------- old side

HandoverServer::HandoverServer(std::string path, std::function<ListenerFds()> fds,
                               std::function<void()> release)
    : path_(std::move(path)), fds_(std::move(fds)), release_(std::move(release)) {
  const sockaddr_un a = unix_address(path_);
  listen_fd_ = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) fail("socket");
  ::unlink(path_.c_str());  // a stale socket of an earlier run
  if (::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 4) != 0) {
    const int e = errno;
    ::close(listen_fd_);
    errno = e;
    fail(("cannot listen on " + path_).c_str());
  }
  if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) fail("pipe");
  thread_ = std::thread([this] { run(); });
}

HandoverServer::~HandoverServer() { stop(); }

void HandoverServer::stop() {
  if (thread_.joinable()) {
    const char x = 0;
    [[maybe_unused]] auto r = ::write(stop_pipe_[1], &x, 1);
    thread_.join();
  }
  for (int* fd : {&listen_fd_, &stop_pipe_[0], &stop_pipe_[1]}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

void HandoverServer::run() {
  bool handed_over = false;
  for (;;) {
    bool stopping = false;
    if (!wait_readable(listen_fd_, stop_pipe_[0], std::chrono::milliseconds(-1), stopping) ||
        stopping) {
      if (stopping) break;
      continue;
    }
    const int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    bool ok = true;
    for (const auto& [address, list] : fds_()) {
      for (int fd : list) ok = ok && send_message(c, address, fd);
    }
    ok = ok && send_message(c, kEnd);
    std::string text;
    int ignored = -1;
    // The new process now accepts on the sockets too; it says when to leave.
    bool stop_now = false;
    ok = ok && wait_readable(c, stop_pipe_[0], std::chrono::seconds(60), stop_now) && !stop_now;
    if (ok && receive_message(c, text, ignored) && text == kDrain) {
      // The path is the new process's from now on (it listens there once told OK).
      ::unlink(path_.c_str());
      handed_over = true;
      release_();
      send_message(c, kOk);
      ::close(c);
      break;  // one hand-over per process
    }
    if (ignored >= 0) ::close(ignored);
    ::close(c);  // the new process gave up: keep serving, accept another attempt
    if (stop_now) break;
  }
  if (!handed_over) ::unlink(path_.c_str());
}

// ---------------------------------------------------------------- new side

Takeover takeover_receive(const std::string& path) {
  const sockaddr_un a = unix_address(path);
  Takeover t;
  t.connection = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (t.connection < 0) fail("socket");
  if (::connect(t.connection, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    const int e = errno;
    ::close(t.connection);
    errno = e;
    fail(("cannot connect to " + path).c_str());
  }
  for (;;) {
    std::string text;
    int fd = -1;
    bool unused = false;
    if (!wait_readable(t.connection, -1, std::chrono::seconds(10), unused) ||
        !receive_message(t.connection, text, fd)) {
      for (auto& [addr, list] : t.fds)
        for (int f : list) ::close(f);
      ::close(t.connection);
      throw std::runtime_error("hand-over: the running process did not send its sockets");
    }
    if (text == kEnd) break;
    if (fd >= 0) t.fds[text].push_back(fd);
  }
  return t;
}

void takeover_finish(Takeover& t, std::chrono::milliseconds timeout) {
  const bool sent = send_message(t.connection, kDrain);
  std::string text;
  int fd = -1;
  bool unused = false;
  const bool ok = sent && wait_readable(t.connection, -1, timeout, unused) &&
                  receive_message(t.connection, text, fd) && text == kOk;
  if (fd >= 0) ::close(fd);
  ::close(t.connection);
  t.connection = -1;
  if (!ok) throw std::runtime_error("hand-over: the running process did not confirm the drain");
}

}  // namespace edge::server
