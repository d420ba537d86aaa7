// edgeload: the load-test harness. Thin over edge::load: parse the command line,
// resolve the targets (a URL or a target group of an edged config), run with a
// progress line each second on stderr, print the summary (text or --json).
// SIGINT/SIGTERM end the run early and still print the summary.

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "edge/load/options.hpp"
#include "edge/load/runner.hpp"

namespace {

void print_progress(const edge::load::Progress& p) {
  char p99[32];
  if (p.p99_ns >= 1'000'000) {
    std::snprintf(p99, sizeof p99, "%.2f ms", static_cast<double>(p.p99_ns) / 1e6);
  } else {
    std::snprintf(p99, sizeof p99, "%.0f us", static_cast<double>(p.p99_ns) / 1e3);
  }
  char behind[48] = "";
  if (p.behind > 0) {
    std::snprintf(behind, sizeof behind, "  %llu behind schedule",
                  static_cast<unsigned long long>(p.behind));
  }
  std::fprintf(stderr, "[%5.0fs]%s %10.0f req/s  %llu responses  %llu errors  p99 %s%s\n",
               p.elapsed_s, p.warming_up ? " warm-up" : "", p.rate,
               static_cast<unsigned long long>(p.responses),
               static_cast<unsigned long long>(p.failures), p.warming_up ? "-" : p99, behind);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view program = argc > 0 ? argv[0] : "edgeload";
  std::vector<std::string_view> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  edge::load::LoadCommandLine cli = edge::load::parse_load_command_line(args);
  if (cli.help) {
    std::fputs(edge::load::load_usage_text(program).c_str(), stdout);
    return 0;
  }
  if (!cli.ok()) {
    std::fprintf(stderr, "edgeload: %s\n(see --help)\n", cli.error.c_str());
    return 2;
  }
  edge::load::LoadOptions& options = cli.options;
  if (!options.body_file.empty()) {
    std::ifstream in(options.body_file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "edgeload: cannot read %s\n", options.body_file.c_str());
      return 1;
    }
    options.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::vector<edge::load::LoadTarget> targets;
  std::string error;
  if (!edge::load::resolve_targets(options, targets, error)) {
    std::fprintf(stderr, "edgeload: %s\n", error.c_str());
    return 1;
  }

  // Only the watcher thread below sees SIGINT/SIGTERM.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  edge::load::LoadRunner runner(options, targets);
  std::atomic<bool> finished{false};
  std::thread watcher([&runner, &finished, stop_signals] {
    const timespec tick{0, 100'000'000};
    while (!finished.load()) {
      if (sigtimedwait(&stop_signals, nullptr, &tick) > 0) {
        runner.stop();
        return;
      }
    }
  });

  const bool show_progress = options.progress;
  const edge::load::LoadResult result = runner.run([show_progress](const edge::load::Progress& p) {
    if (show_progress) print_progress(p);
  });
  finished.store(true);
  watcher.join();

  if (!result.ok()) {
    std::fprintf(stderr, "edgeload: %s\n", result.error.c_str());
    return 1;
  }
  if (options.json) {
    std::printf("%s\n", edge::load::format_json(result).c_str());
  } else {
    std::fputs(edge::load::format_text(result).c_str(), stdout);
  }
  return 0;
}
