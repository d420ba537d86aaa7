// Embedding edged as a library with a custom hook: requests carrying the cookie
// `lane=canary` go to the second target of the group, all others to the first,
// and every response gets an `X-Edge-Lane` header.
//
//   custom_hooks --listen 8080 --stable 127.0.0.1:5001 --canary 127.0.0.1:5002
//   custom_hooks --self-test      (starts two tiny upstreams, checks, exits 0/1)
#include <sys/socket.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include <boost/asio.hpp>

#include "edge/edge.hpp"

namespace {

/// The hook: pure functions of the request, no shared mutable state (one hook
/// object serves every worker thread at once).
class CanaryByCookie final : public edge::proxy::ProxyHooks {
 public:
  edge::upstream::Target* select_target(
      edge::proxy::RequestCtx& ctx,
      std::span<edge::upstream::Target* const> candidates) override {
    if (candidates.size() < 2) return nullptr;  // let the balancer choose
    const bool canary = ctx.request->cookie("lane") == "canary";
    return candidates[canary ? 1 : 0];
  }
  void on_response(edge::proxy::RequestCtx& ctx) override {
    const bool canary = ctx.target && ctx.target->index == 1;
    ctx.response_edits.add.emplace_back("X-Edge-Lane", canary ? "canary" : "stable");
  }
};

edge::config::Config make_config(std::uint16_t listen, const std::string& stable,
                                 const std::string& canary) {
  edge::config::Config c;
  c.workers = 2;
  c.admin.enabled = false;
  c.access_log.path = "off";
  edge::config::ListenerConfig l;
  l.name = "web";
  l.listen = {"127.0.0.1", listen};
  l.default_action.forward.target_groups.push_back({"app", 1});
  c.listeners.push_back(l);
  edge::config::TargetGroupConfig g;
  g.name = "app";
  g.health_check.enabled = false;
  for (const auto& id : {stable, canary}) {
    edge::config::TargetConfig t;
    t.id = id;
    if (!edge::config::parse_address(id, t.address)) throw std::runtime_error("bad address " + id);
    g.targets.push_back(t);
  }
  c.target_groups.push_back(g);
  return c;
}

// ---- self-test: two tiny upstreams that say who they are -------------------
namespace asio = boost::asio;

void tiny_upstream(asio::ip::tcp::acceptor& acc, std::string name) {
  for (;;) {
    boost::system::error_code ec;
    asio::ip::tcp::socket s(acc.get_executor());
    acc.accept(s, ec);
    if (ec) return;
    std::thread([s = std::move(s), name]() mutable {
      std::string buf;
      char tmp[4096];
      for (;;) {
        boost::system::error_code rec;
        auto end = buf.find("\r\n\r\n");
        if (end == std::string::npos) {
          std::size_t n = s.read_some(asio::buffer(tmp), rec);
          if (rec) return;
          buf.append(tmp, n);
          continue;
        }
        buf.erase(0, end + 4);
        std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(name.size()) +
                           "\r\n\r\n" + name;
        asio::write(s, asio::buffer(resp), rec);
        if (rec) return;
      }
    }).detach();
  }
}

std::string get(std::uint16_t port, const std::string& cookie, std::string& lane) {
  asio::io_context ioc;
  asio::ip::tcp::socket s(ioc);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  std::string req = "GET / HTTP/1.1\r\nHost: example\r\nConnection: close\r\n";
  if (!cookie.empty()) req += "Cookie: " + cookie + "\r\n";
  req += "\r\n";
  asio::write(s, asio::buffer(req));
  std::string resp;
  char tmp[4096];
  boost::system::error_code ec;
  for (;;) {
    std::size_t n = s.read_some(asio::buffer(tmp), ec);
    if (ec) break;
    resp.append(tmp, n);
  }
  auto h = resp.find("X-Edge-Lane: ");
  lane = h == std::string::npos ? "" : resp.substr(h + 13, resp.find("\r\n", h) - h - 13);
  auto body = resp.find("\r\n\r\n");
  return body == std::string::npos ? "" : resp.substr(body + 4);
}

int self_test() {
  asio::io_context ioc;
  asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::tcp::acceptor b(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  std::thread ta([&] { tiny_upstream(a, "stable"); });
  std::thread tb([&] { tiny_upstream(b, "canary"); });
  int failures = 0;
  {
    edge::server::Gateway gw(
        make_config(0, "127.0.0.1:" + std::to_string(a.local_endpoint().port()),
                    "127.0.0.1:" + std::to_string(b.local_endpoint().port())),
        std::make_shared<CanaryByCookie>());
    gw.start();
    const auto port = gw.listener_port(0);
    struct Case {
      const char* cookie;
      const char* want;
    } cases[] = {{"", "stable"}, {"lane=canary", "canary"}, {"a=1; lane=canary", "canary"},
                 {"lane=stable", "stable"}};
    for (const auto& c : cases) {
      std::string lane;
      std::string body = get(port, c.cookie, lane);
      const bool ok = body == c.want && lane == c.want;
      std::printf("%s cookie='%s' -> body='%s' X-Edge-Lane='%s'\n", ok ? "ok  " : "FAIL", c.cookie,
                  body.c_str(), lane.c_str());
      std::fflush(stdout);
      failures += ok ? 0 : 1;
    }
    gw.stop();
    gw.wait();
  }
  // shutdown() wakes the threads blocked in accept(); close() alone does not.
  boost::system::error_code ec;
  ::shutdown(a.native_handle(), SHUT_RDWR);
  ::shutdown(b.native_handle(), SHUT_RDWR);
  ta.join();
  tb.join();
  a.close(ec);
  b.close(ec);
  std::printf("%d passed, %d failed\n", 4 - failures, failures);
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint16_t listen = 8080;
  std::string stable = "127.0.0.1:5001", canary = "127.0.0.1:5002";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--self-test") return self_test();
    if (i + 1 >= argc) {
      std::fprintf(stderr, "usage: %s [--listen PORT --stable ADDR --canary ADDR | --self-test]\n",
                   argv[0]);
      return 2;
    }
    if (a == "--listen") listen = static_cast<std::uint16_t>(std::stoi(argv[++i]));
    else if (a == "--stable") stable = argv[++i];
    else if (a == "--canary") canary = argv[++i];
  }
  try {
    edge::server::Gateway gw(make_config(listen, stable, canary),
                             std::make_shared<CanaryByCookie>());
    gw.start();
    std::printf("listening on 127.0.0.1:%u (Ctrl-C to stop)\n", gw.listener_port(0));
    gw.wait();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
