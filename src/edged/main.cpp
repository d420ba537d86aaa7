// edged: the daemon. A thin layer over the library: arguments → config →
// Gateway, plus signals (SIGTERM/SIGINT drain and exit).
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

#include "edge/config/loader.hpp"
#include "edge/server/gateway.hpp"

#if defined(EDGE_WITH_JEMALLOC)
#include <jemalloc/jemalloc.h>
#endif

namespace {

/// The malloc this process runs on, for --version. With jemalloc: its version,
/// and only if an allocation made here is counted by it (its malloc is the one
/// in use, OpenSSL's allocations included).
std::string allocator_description() {
#if defined(EDGE_WITH_JEMALLOC)
  const char* version = nullptr;
  std::size_t len = sizeof version;
  std::uint64_t before = 0, after = 0;
  std::size_t n = sizeof before;
  if (mallctl("version", &version, &len, nullptr, 0) != 0 ||
      mallctl("thread.allocated", &before, &n, nullptr, 0) != 0)
    return "jemalloc linked but not answering";
  void* volatile p = std::malloc(1 << 20);
  n = sizeof after;
  mallctl("thread.allocated", &after, &n, nullptr, 0);
  std::free(p);
  if (after - before < (1 << 20)) return std::string("system (jemalloc ") + version + " not in use)";
  return std::string("jemalloc ") + version;
#else
  return "system";
#endif
}

constexpr const char* kUsage =
    "usage: edged -c FILE [--check-config] [--takeover PATH]\n"
    "       edged --version | --help\n"
    "\n"
    "  -c, --config FILE   configuration file (YAML), e.g. conf/edged.yaml\n"
    "      --check-config  validate the configuration and exit 0 (valid) or 1\n"
    "      --takeover PATH binary upgrade: take the listening sockets of the edged\n"
    "                      whose admin.upgrade_socket is PATH; it drains and exits\n"
    "      --version       print the version and exit\n"
    "  -h, --help          this text\n"
    "\n"
    "Signals: SIGTERM/SIGINT stop accepting, finish requests in flight within\n"
    "timeouts.drain, and exit; SIGHUP reloads the configuration file (and the\n"
    "certificates it names) without dropping a connection, or keeps the running\n"
    "one and says why; SIGUSR1 reopens the access-log file.\n";

/// Settings this version accepts (they are part of the configuration contract)
/// but does not act on yet: said once at start, never silently ignored.
void print_notices(const edge::config::Config& c) {
  for (const auto& l : c.listeners) {
    auto check = [&](const edge::config::Action& a) {
      if (!a.forward.origin_request_policy.empty() && a.forward.cache_policy.empty())
        std::fprintf(stderr, "edged: notice: listener '%s': origin_request_policy applies "
                             "with a cache_policy only (as CloudFront)\n", l.name.c_str());
      if (!a.forward.cache_policy.empty() && c.cache.memory == 0)
        std::fprintf(stderr, "edged: notice: listener '%s': cache_policy has no effect with "
                             "cache.memory 0\n", l.name.c_str());
    };
    check(l.default_action);
    for (const auto& r : l.rules) check(r.action);
  }
}

int print_errors(const std::vector<edge::config::ConfigError>& errors) {
  for (const auto& e : errors) std::fprintf(stderr, "edged: %s\n", e.to_string().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  std::string takeover_path;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "-c" || a == "--config") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "edged: %s needs a file argument\n%s", argv[i], kUsage);
        return 2;
      }
      config_path = argv[++i];
    } else if (a.starts_with("--config=")) {
      config_path = std::string(a.substr(9));
    } else if (a == "--takeover") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "edged: --takeover needs a socket path\n%s", kUsage);
        return 2;
      }
      takeover_path = argv[++i];
    } else if (a == "--check-config" || a == "-t") {
      check_only = true;
    } else if (a == "--version" || a == "-v") {
      std::printf("edged %s (malloc: %s)\n", EDGE_VERSION, allocator_description().c_str());
      return 0;
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "edged: unknown argument '%s'\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "edged: no configuration file given (-c FILE)\n%s", kUsage);
    return 2;
  }

  auto loaded = edge::config::load_config_file(config_path);
  if (!loaded.ok()) return print_errors(loaded.errors);
  print_notices(loaded.config);
  if (check_only) {
    std::printf("edged: %s: configuration is valid\n", config_path.c_str());
    return 0;
  }

  // Signals are taken by this thread only (sigwait); workers inherit the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGUSR2);  // raised by the gateway once handed over to a new process
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  try {
    const auto drain = loaded.config.timeouts.drain;
    edge::server::GatewayOptions options;
    options.takeover_path = takeover_path;
    options.on_handed_over = [] { ::kill(::getpid(), SIGUSR2); };
    edge::server::Gateway gateway(std::move(loaded.config), nullptr, options);
    gateway.start();
    const auto& cfg = gateway.config();
    for (std::size_t i = 0; i < cfg.listeners.size(); ++i)
      std::fprintf(stderr, "edged: listener '%s' on port %u (%u workers)\n",
                   cfg.listeners[i].name.c_str(), gateway.listener_port(i), gateway.workers());
    if (cfg.admin.enabled)
      std::fprintf(stderr, "edged: admin on %s port %u\n", cfg.admin.listen.host.c_str(),
                   gateway.admin_port());
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (sig == SIGTERM || sig == SIGINT) {
        std::fprintf(stderr, "edged: %s, draining (up to %lld ms)\n", strsignal(sig),
                     static_cast<long long>(drain.count()));
        gateway.drain(drain);
        break;
      }
      if (sig == SIGUSR2) {
        std::fprintf(stderr, "edged: listening sockets handed over to a new process, draining "
                             "(up to %lld ms)\n", static_cast<long long>(drain.count()));
        break;
      }
      if (sig == SIGHUP) {
        // The whole file again (certificates included); never exits on a bad one.
        const auto r = gateway.reload_file(config_path);
        if (r.ok) {
          std::fprintf(stderr, "edged: SIGHUP: configuration reloaded (generation %llu)\n",
                       static_cast<unsigned long long>(r.generation));
        } else {
          std::fprintf(stderr, "edged: SIGHUP: configuration NOT reloaded, still serving "
                               "generation %llu:\n",
                       static_cast<unsigned long long>(r.generation));
          for (const auto& e : r.errors) std::fprintf(stderr, "edged:   %s\n", e.c_str());
        }
      }
      if (sig == SIGUSR1) gateway.reopen_logs();  // log rotation
    }
    gateway.wait();
    std::fprintf(stderr, "edged: stopped\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "edged: %s\n", e.what());
    return 1;
  }
  return 0;
}
