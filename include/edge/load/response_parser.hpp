#pragma once
/// `ResponseParser`: a minimal incremental HTTP/1.1 response parser for edgeload.
///
/// edgeload only needs the status, the framing (Content-Length, chunked, or until
/// close), whether the connection stays open, and optionally one header's value (the
/// target that served the request). The body is counted and discarded. No
/// allocation per response; a few hundred instructions per small response.
///
/// Use: `reset()` before each response, then call `parse(data, size)` with the bytes
/// not yet consumed, until it returns `done` or `error`. It consumes what it can and
/// reports how much in `consumed()`; when it returns `need_more` the caller keeps the
/// unconsumed tail (a partial head or chunk-size line, at most `kMaxHead` bytes),
/// appends more bytes after it and calls again. When the body is delimited by the
/// close of the connection, call `finish_on_eof()` on EOF. Interim 1xx responses
/// (except 101) are skipped. Thread: one owner.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace edge::load {

class ResponseParser {
 public:
  enum class Result : std::uint8_t { need_more, done, error };
  static constexpr std::size_t kMaxHead = 16 * 1024;
  static constexpr std::size_t kMaxTargetValue = 64;

  /// `target_header`: header whose value `target()` returns ("" = none). Must
  /// outlive the parser.
  explicit ResponseParser(std::string_view target_header = {}) : target_header_(target_header) {}

  /// Prepares for the next response; `head_request`: the response answers a HEAD
  /// (no body whatever the framing says).
  void reset(bool head_request = false);
  Result parse(const char* data, std::size_t size);
  /// The connection closed: completes a close-delimited body, else an error.
  Result finish_on_eof();

  std::size_t consumed() const { return consumed_; }
  int status() const { return status_; }
  /// False when the server announced a close (Connection: close, HTTP/1.0 without
  /// keep-alive, or a close-delimited body).
  bool keep_alive() const { return keep_alive_; }
  std::uint64_t body_bytes() const { return body_bytes_; }
  /// Head bytes of the final response.
  std::size_t head_bytes() const { return head_bytes_; }
  /// Value of the target header (truncated to kMaxTargetValue), "" when absent.
  std::string_view target() const { return {target_value_.data(), target_len_}; }
  /// Short reason of the last `error`.
  const char* error_reason() const { return error_; }

 private:
  enum class State : std::uint8_t {
    head,
    body_length,
    body_close,
    chunk_size,
    chunk_data,
    chunk_crlf,
    trailers,
    done
  };
  Result parse_head(const char* data, std::size_t size);
  Result fail(const char* why) {
    error_ = why;
    return Result::error;
  }

  std::string_view target_header_;
  State state_ = State::head;
  bool head_request_ = false;
  bool keep_alive_ = true;
  int status_ = 0;
  std::size_t consumed_ = 0;
  std::size_t head_bytes_ = 0;
  std::uint64_t remaining_ = 0;  // body_length / chunk_data
  std::uint64_t body_bytes_ = 0;
  const char* error_ = "";
  std::array<char, kMaxTargetValue> target_value_{};
  std::size_t target_len_ = 0;
};

}  // namespace edge::load
