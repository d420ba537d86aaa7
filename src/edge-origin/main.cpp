// edge-origin: the app-tier stand-in used by the demo, tests and benchmarks.
// Thin over edge::origin: parse the command line, start one OriginServer per
// --listen, wait for SIGINT/SIGTERM, stop cleanly.

#include <pthread.h>
#include <signal.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <memory>
#include <string_view>
#include <vector>

#include "edge/origin/command_line.hpp"
#include "edge/origin/origin_server.hpp"

int main(int argc, char** argv) {
  const std::string_view program = argc > 0 ? argv[0] : "edge-origin";
  std::vector<std::string_view> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  const edge::origin::CommandLine cli = edge::origin::parse_command_line(args);
  if (cli.help) {
    std::fputs(edge::origin::usage_text(program).c_str(), stdout);
    return 0;
  }
  if (!cli.ok()) {
    std::fprintf(stderr, "edge-origin: %s\n(see --help)\n", cli.error.c_str());
    return 2;
  }

  // Block the stop signals before any thread starts so that only sigwait sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::vector<std::unique_ptr<edge::origin::OriginServer>> servers;
  try {
    for (const auto& options : cli.servers) {
      auto server = std::make_unique<edge::origin::OriginServer>(options);
      server->start();
      std::printf("edge-origin: listening on %s:%u (id %s, %d thread%s)\n", options.host.c_str(),
                  static_cast<unsigned>(server->port()), server->id().c_str(), options.threads,
                  options.threads == 1 ? "" : "s");
      servers.push_back(std::move(server));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "edge-origin: %s\n", e.what());
    return 1;
  }
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  for (auto& server : servers) {
    server->stop();
    std::fprintf(stderr, "edge-origin: %s served %llu requests on %llu connections\n",
                 server->id().c_str(), static_cast<unsigned long long>(server->total_requests()),
                 static_cast<unsigned long long>(server->total_connections()));
  }
  return 0;
}
