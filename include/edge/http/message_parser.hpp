#pragma once
/// An HTTP/1.1 message parser for proxying: Beast's `basic_parser` (the
/// tokenizer, its validation and its chunked decoding) with a flat header store
/// instead of `basic_fields`' node tree.
///
/// Each part of the head is copied into a `HeadStore` as Beast delivers it (the
/// head may arrive over several `put()` calls, from buffers that move in
/// between); once the head is complete every field is a pair of views into that
/// copy. The store outlives the parser and keeps its capacity, so a connection
/// parses message after message without allocating.
/// Body bytes are copied into the buffer the caller sets with `body()`, as
/// Beast's `buffer_body` does: `put()` stops with `error::need_buffer` when it is
/// full.
/// Thread: one parser and its store are used by one thread at a time.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

namespace edge::http {

/// One header field of a parsed head. Views point into the HeadStore.
class HeadField {
 public:
  HeadField(boost::beast::http::field id, std::string_view name, std::string_view value)
      : id_(id), name_(name), value_(value) {}
  /// The known field, or `field::unknown`.
  boost::beast::http::field name() const { return id_; }
  /// The name as received (any case).
  std::string_view name_string() const { return name_; }
  std::string_view value() const { return value_; }

 private:
  boost::beast::http::field id_;
  std::string_view name_;
  std::string_view value_;
};

template <bool isRequest>
class MessageParser;

/// Storage for one parsed head, reused from message to message.
class HeadStore {
 public:
  HeadStore() {
    bytes_.reserve(2048);
    raw_.reserve(32);
    fields_.reserve(32);
  }

 private:
  template <bool>
  friend class MessageParser;

  struct Span {
    std::uint32_t off = 0;
    std::uint32_t len = 0;
  };
  struct RawField {
    boost::beast::http::field id;
    Span name;
    Span value;
  };

  void clear() {
    bytes_.clear();
    raw_.clear();
    fields_.clear();
  }
  Span add(std::string_view s) {
    Span r{static_cast<std::uint32_t>(bytes_.size()), static_cast<std::uint32_t>(s.size())};
    bytes_.append(s);
    return r;
  }
  std::string_view view(Span s) const { return {bytes_.data() + s.off, s.len}; }

  std::string bytes_;  // start-line parts and fields, copied as they are parsed
  std::vector<RawField> raw_;
  std::vector<HeadField> fields_;  // views into bytes_, built when the head is complete
};

template <bool isRequest>
class MessageParser final : public boost::beast::http::basic_parser<isRequest> {
  using base = boost::beast::http::basic_parser<isRequest>;

 public:
  using field = boost::beast::http::field;
  using verb = boost::beast::http::verb;
  using error_code = boost::system::error_code;
  using const_iterator = const HeadField*;

  /// Where body bytes go (`buffer_body` semantics): `data` advances and `size`
  /// shrinks as bytes are stored.
  struct Body {
    char* data = nullptr;
    std::size_t size = 0;
  };

  /// Clears `store`; the parser writes the next head into it.
  explicit MessageParser(HeadStore& store) : store_(&store) { store.clear(); }

  /// Feeds bytes (see `basic_parser::put`); returns the bytes consumed.
  std::size_t put(boost::asio::const_buffer in, error_code& ec) {
    in_begin_ = static_cast<const char*>(in.data());
    in_end_ = in_begin_ + in.size();
    return base::put(in, ec);
  }

  // ---- the head (valid once is_header_done()) ----
  /// Beast-style access: the parser is its own message.
  const MessageParser& get() const { return *this; }
  MessageParser& get() { return *this; }

  verb method() const { return verb_; }
  std::string_view method_string() const { return method_; }
  std::string_view target() const { return target_; }
  unsigned version() const { return version_; }
  int result_int() const { return status_; }
  std::string_view reason() const { return reason_; }

  const_iterator begin() const { return store_->fields_.data(); }
  const_iterator end() const { return store_->fields_.data() + store_->fields_.size(); }
  std::size_t field_count() const { return store_->fields_.size(); }
  /// First field with this known name, or end().
  const_iterator find(field f) const;
  /// First field with this name (ASCII case-insensitive), or end().
  const_iterator find(std::string_view name) const;

  Body& body() { return body_; }

 private:
  using string_view = boost::core::string_view;

  void on_request_impl(verb method, string_view method_str, string_view target, int version,
                       error_code& ec) override;
  void on_response_impl(int code, string_view reason, int version, error_code& ec) override;
  void on_field_impl(field name, string_view name_string, string_view value,
                     error_code& ec) override;
  void on_header_impl(error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         error_code& ec) override;
  std::size_t on_body_impl(string_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size, string_view extensions, error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain, string_view body, error_code& ec) override;
  void on_finish_impl(error_code& ec) override;

  HeadStore* store_;
  const char* in_begin_ = nullptr;  // input of the current put()
  const char* in_end_ = nullptr;
  HeadStore::Span method_span_, target_span_, reason_span_;
  verb verb_ = verb::unknown;
  std::string_view method_, target_, reason_;
  unsigned version_ = 11;
  int status_ = 0;
  Body body_;
};

extern template class MessageParser<true>;
extern template class MessageParser<false>;

using RequestParser = MessageParser<true>;
using ResponseParser = MessageParser<false>;

}  // namespace edge::http
