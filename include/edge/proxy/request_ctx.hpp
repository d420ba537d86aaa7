#pragma once
/// Per-request state carried across the phases of one proxied request.
/// Owned by the downstream session, reused (cleared) for each request on a
/// connection; hooks receive it by reference. Thread: worker.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "edge/core/error.hpp"

namespace edge::upstream {
struct Target;
class TargetGroup;
}  // namespace edge::upstream

namespace edge::proxy {

/// Read access to the parsed request head, independent of the parser type.
class RequestHead {
 public:
  virtual ~RequestHead() = default;
  virtual std::string_view method() const = 0;
  virtual std::string_view target() const = 0;  // origin-form: path[?query]
  virtual unsigned version() const = 0;          // 10 or 11
  /// First value of a field (case-insensitive name); empty when absent.
  virtual std::string_view header(std::string_view name) const = 0;
  /// Value of a cookie from the Cookie header(s); empty when absent.
  std::string_view cookie(std::string_view name) const;
};

/// Header edits a hook asks for on a message the edge writes.
struct HeaderEdits {
  std::vector<std::pair<std::string, std::string>> add;
  std::vector<std::string> remove;  // names, case-insensitive
  void clear() {
    add.clear();
    remove.clear();
  }
  bool empty() const { return add.empty() && remove.empty(); }
};

/// What the edge did with a request (ALB `actions_executed`).
enum class ActionTaken : std::uint8_t { none, forward, fixed_response, redirect, hook_response };

struct RequestCtx {
  using Clock = std::chrono::steady_clock;

  // Set by the session before the first phase.
  const RequestHead* request = nullptr;
  boost::asio::ip::tcp::endpoint client;
  std::string_view listener;  // listener name
  std::uint64_t request_number = 0;  // on this connection, from 1

  // Routing outcome.
  const upstream::TargetGroup* target_group = nullptr;
  upstream::Target* target = nullptr;
  const upstream::Target* failed_target = nullptr;  // last one that could not be reached
  int attempts = 0;

  // Edits hooks request on the messages the edge sends.
  HeaderEdits upstream_request_edits;
  HeaderEdits response_edits;

  /// A hook may answer the request itself (status != 0) from on_request.
  int local_status = 0;
  std::string local_body;
  std::string local_content_type = "text/plain";

  // Outcome, filled as the request goes.
  int status = 0;         // sent to the client
  int target_status = 0;  // received from the target (0 = none)
  EdgeError error = EdgeError::none;
  std::uint64_t received_bytes = 0;
  std::uint64_t sent_bytes = 0;
  Clock::time_point start{};
  Clock::time_point target_sent{};      // request head written to the target
  Clock::time_point target_responded{}; // response head received
  Clock::time_point end{};
  std::string trace_id;
  // Routing and classification outcome (access log, status page).
  int matched_rule_priority = -1;          // 0 = default action, -1 = not routed
  ActionTaken action = ActionTaken::none;
  std::string redirect_url;                // redirects only
  std::uint8_t classification = 0;         // http::DesyncClass
  std::string_view classification_reason;  // static text; empty when compliant
  /// Routes with a cache policy: CloudFront's x-edge-result-type ("Hit",
  /// "RefreshHit", "Miss", "Error"; static text). Empty otherwise.
  std::string_view edge_result;

  void respond(int status_code, std::string body, std::string content_type = "text/plain") {
    local_status = status_code;
    local_body = std::move(body);
    local_content_type = std::move(content_type);
  }

  void reset() {
    request = nullptr;
    target_group = nullptr;
    target = nullptr;
    failed_target = nullptr;
    attempts = 0;
    upstream_request_edits.clear();
    response_edits.clear();
    local_status = 0;
    local_body.clear();
    status = target_status = 0;
    error = EdgeError::none;
    received_bytes = sent_bytes = 0;
    trace_id.clear();
    target_sent = target_responded = end = Clock::time_point{};
    matched_rule_priority = -1;
    action = ActionTaken::none;
    redirect_url.clear();
    classification = 0;
    classification_reason = {};
    edge_result = {};
  }
};

}  // namespace edge::proxy
