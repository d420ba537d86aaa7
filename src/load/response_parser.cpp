#include "edge/load/response_parser.hpp"
#include "edge/core/text.hpp"

#include <algorithm>
#include <cstring>

namespace edge::load {
namespace {


/// Whether the comma-separated list `value` holds `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    std::string_view part = value.substr(0, comma);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\t')) part.remove_suffix(1);
    if (iequals(part, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

const char* find_crlf(const char* begin, const char* end) {
  const void* p = memmem(begin, static_cast<std::size_t>(end - begin), "\r\n", 2);
  return static_cast<const char*>(p);
}

}  // namespace

void ResponseParser::reset(bool head_request) {
  state_ = State::head;
  head_request_ = head_request;
  keep_alive_ = true;
  status_ = 0;
  consumed_ = 0;
  head_bytes_ = 0;
  remaining_ = 0;
  body_bytes_ = 0;
  error_ = "";
  target_len_ = 0;
}

ResponseParser::Result ResponseParser::parse_head(const char* data, std::size_t size) {
  const void* end_p = memmem(data, size, "\r\n\r\n", 4);
  if (end_p == nullptr) {
    if (size > kMaxHead) return fail("response head too large");
    return Result::need_more;
  }
  const char* end = static_cast<const char*>(end_p) + 2;  // after the last header's CRLF
  head_bytes_ = static_cast<std::size_t>(end - data) + 2;
  if (head_bytes_ > kMaxHead) return fail("response head too large");

  // Status line: HTTP/1.x SSS reason
  const char* line_end = find_crlf(data, end);
  const std::string_view status_line(data, static_cast<std::size_t>(line_end - data));
  if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.") ||
      (status_line[7] != '0' && status_line[7] != '1') || status_line[8] != ' ') {
    return fail("bad status line");
  }
  const bool http10 = status_line[7] == '0';
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    const char c = status_line[i];
    if (c < '0' || c > '9') return fail("bad status code");
    status = status * 10 + (c - '0');
  }
  if (status < 100 || (status_line.size() > 12 && status_line[12] != ' ')) {
    return fail("bad status code");
  }
  status_ = status;

  bool chunked = false;
  bool have_length = false;
  std::uint64_t length = 0;
  bool close = false;
  bool keep_alive_token = false;
  target_len_ = 0;
  const char* p = line_end + 2;
  while (p < end) {
    const char* le = find_crlf(p, end);
    if (le == nullptr) le = end;
    const std::string_view line(p, static_cast<std::size_t>(le - p));
    p = le + 2;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail("bad header line");
    const std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);

    if (iequals(name, "content-length")) {
      std::uint64_t n = 0;
      if (value.empty() || value.size() > 19) return fail("bad content-length");
      for (const char c : value) {
        if (c < '0' || c > '9') return fail("bad content-length");
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
      }
      if (have_length && n != length) return fail("conflicting content-length");
      have_length = true;
      length = n;
    } else if (iequals(name, "transfer-encoding")) {
      chunked = value.size() >= 7 && iequals(value.substr(value.size() - 7), "chunked");
    } else if (iequals(name, "connection")) {
      if (has_token(value, "close")) close = true;
      if (has_token(value, "keep-alive")) keep_alive_token = true;
    } else if (!target_header_.empty() && iequals(name, target_header_)) {
      target_len_ = std::min(value.size(), kMaxTargetValue);
      std::memcpy(target_value_.data(), value.data(), target_len_);
    }
  }
  keep_alive_ = !close && (!http10 || keep_alive_token);

  if (status < 200 && status != 101) {
    // Interim response: the final one follows.
    state_ = State::head;
    return Result::need_more;
  }
  if (head_request_ || status == 204 || status == 304 || status == 101) {
    state_ = State::done;
  } else if (chunked) {
    state_ = State::chunk_size;
  } else if (have_length) {
    remaining_ = length;
    state_ = length == 0 ? State::done : State::body_length;
  } else {
    keep_alive_ = false;
    state_ = State::body_close;
  }
  return Result::done;
}

ResponseParser::Result ResponseParser::parse(const char* data, std::size_t size) {
  std::size_t pos = 0;
  consumed_ = 0;
  for (;;) {
    const std::size_t avail = size - pos;
    const char* cur = data + pos;
    switch (state_) {
      case State::head: {
        const Result r = parse_head(cur, avail);
        if (r == Result::error) return r;
        if (state_ == State::head) {
          if (r == Result::need_more && head_bytes_ == 0) {
            consumed_ = pos;
            return Result::need_more;
          }
          // A 1xx was parsed: skip it and parse the final response.
          pos += head_bytes_;
          head_bytes_ = 0;
          continue;
        }
        pos += head_bytes_;
        continue;
      }
      case State::body_length:
      case State::chunk_data: {
        const std::uint64_t take = std::min<std::uint64_t>(remaining_, avail);
        pos += take;
        remaining_ -= take;
        body_bytes_ += take;
        if (remaining_ > 0) {
          consumed_ = pos;
          return Result::need_more;
        }
        state_ = state_ == State::body_length ? State::done : State::chunk_crlf;
        continue;
      }
      case State::body_close:
        body_bytes_ += avail;
        consumed_ = size;
        return Result::need_more;
      case State::chunk_size: {
        const char* le = find_crlf(cur, data + size);
        if (le == nullptr) {
          if (avail > 1024) return fail("chunk size line too long");
          consumed_ = pos;
          return Result::need_more;
        }
        std::uint64_t n = 0;
        int digits = 0;
        const char* q = cur;
        for (; q < le; ++q) {
          const char c = ascii_lower(*q);
          int d;
          if (c >= '0' && c <= '9') {
            d = c - '0';
          } else if (c >= 'a' && c <= 'f') {
            d = c - 'a' + 10;
          } else {
            break;
          }
          if (++digits > 15) return fail("chunk size too large");
          n = n * 16 + static_cast<std::uint64_t>(d);
        }
        if (digits == 0 || (q < le && *q != ';' && *q != ' ' && *q != '\t')) {
          return fail("bad chunk size");
        }
        pos = static_cast<std::size_t>(le - data) + 2;
        remaining_ = n;
        state_ = n == 0 ? State::trailers : State::chunk_data;
        continue;
      }
      case State::chunk_crlf:
        if (avail < 2) {
          consumed_ = pos;
          return Result::need_more;
        }
        if (cur[0] != '\r' || cur[1] != '\n') return fail("bad chunk end");
        pos += 2;
        state_ = State::chunk_size;
        continue;
      case State::trailers: {
        const char* le = find_crlf(cur, data + size);
        if (le == nullptr) {
          if (avail > kMaxHead) return fail("trailers too large");
          consumed_ = pos;
          return Result::need_more;
        }
        pos = static_cast<std::size_t>(le - data) + 2;
        if (le == cur) state_ = State::done;
        continue;
      }
      case State::done:
        consumed_ = pos;
        return Result::done;
    }
  }
}

ResponseParser::Result ResponseParser::finish_on_eof() {
  if (state_ == State::body_close) {
    state_ = State::done;
    return Result::done;
  }
  if (state_ == State::done) return Result::done;
  return fail(state_ == State::head ? "connection closed before a response"
                                    : "connection closed inside the body");
}

}  // namespace edge::load
