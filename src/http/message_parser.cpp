#include "edge/http/message_parser.hpp"
#include "edge/core/text.hpp"

#include <algorithm>
#include <cstring>

#include <boost/beast/http/error.hpp>

namespace edge::http {

namespace {

std::string_view sv(boost::core::string_view s) { return {s.data(), s.size()}; }

}  // namespace

template <bool isRequest>
typename MessageParser<isRequest>::const_iterator MessageParser<isRequest>::find(field f) const {
  for (auto it = begin(), e = end(); it != e; ++it)
    if (it->name() == f) return it;
  return end();
}

template <bool isRequest>
typename MessageParser<isRequest>::const_iterator MessageParser<isRequest>::find(
    std::string_view name) const {
  for (auto it = begin(), e = end(); it != e; ++it)
    if (iequals(it->name_string(), name)) return it;
  return end();
}

template <bool isRequest>
void MessageParser<isRequest>::on_request_impl(verb method, string_view method_str,
                                               string_view target, int version, error_code&) {
  verb_ = method;
  method_span_ = store_->add(sv(method_str));
  target_span_ = store_->add(sv(target));
  version_ = static_cast<unsigned>(version);
}

template <bool isRequest>
void MessageParser<isRequest>::on_response_impl(int code, string_view reason, int version,
                                                error_code&) {
  status_ = code;
  reason_span_ = store_->add(sv(reason));
  version_ = static_cast<unsigned>(version);
}

template <bool isRequest>
void MessageParser<isRequest>::on_field_impl(field name, string_view name_string,
                                             string_view value, error_code&) {
  HeadStore& s = *store_;
  const char* nb = name_string.data();
  const char* vb = value.data();
  HeadStore::RawField f{name, {}, {}};
  // Name and value usually sit on one line of the input: one copy for both
  // (not when Beast rebuilt the value elsewhere, as it does for obs-fold).
  if (nb >= in_begin_ && vb >= nb && vb + value.size() <= in_end_ &&
      static_cast<std::size_t>(vb - nb) <= name_string.size() + 256) {
    auto span = s.add(std::string_view(nb, static_cast<std::size_t>(vb + value.size() - nb)));
    f.name = {span.off, static_cast<std::uint32_t>(name_string.size())};
    f.value = {static_cast<std::uint32_t>(span.off + (vb - nb)),
               static_cast<std::uint32_t>(value.size())};
  } else {
    f.name = s.add(sv(name_string));
    f.value = s.add(sv(value));
  }
  s.raw_.push_back(f);
}

template <bool isRequest>
void MessageParser<isRequest>::on_header_impl(error_code&) {
  HeadStore& s = *store_;
  s.fields_.clear();
  for (const auto& f : s.raw_) s.fields_.emplace_back(f.id, s.view(f.name), s.view(f.value));
  method_ = s.view(method_span_);
  target_ = s.view(target_span_);
  reason_ = s.view(reason_span_);
}

template <bool isRequest>
void MessageParser<isRequest>::on_body_init_impl(const boost::optional<std::uint64_t>&,
                                                 error_code&) {}

template <bool isRequest>
std::size_t MessageParser<isRequest>::on_body_impl(string_view body, error_code& ec) {
  if (!body_.data) {
    ec = boost::beast::http::error::need_buffer;
    return 0;
  }
  const std::size_t n = std::min(body_.size, body.size());
  if (n) std::memcpy(body_.data, body.data(), n);
  body_.data += n;
  body_.size -= n;
  if (n < body.size()) ec = boost::beast::http::error::need_buffer;
  return n;
}

template <bool isRequest>
void MessageParser<isRequest>::on_chunk_header_impl(std::uint64_t, string_view, error_code&) {}

template <bool isRequest>
std::size_t MessageParser<isRequest>::on_chunk_body_impl(std::uint64_t, string_view body,
                                                         error_code& ec) {
  return on_body_impl(body, ec);
}

template <bool isRequest>
void MessageParser<isRequest>::on_finish_impl(error_code&) {}

template class MessageParser<true>;
template class MessageParser<false>;

}  // namespace edge::http
