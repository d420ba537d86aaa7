#pragma once
/// Hop-by-hop fields (RFC 9110 7.6.1): never forwarded; the edge re-frames and
/// states its own connection options. Thread: any (pure).

#include <string_view>

#include <boost/beast/http/field.hpp>

namespace edge::http {

/// Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding,
/// Upgrade, Content-Length (framing is redone by the edge).
bool is_hop_by_hop_or_framing(boost::beast::http::field f);

/// Tokens of a Connection header value that name other fields to drop (i.e.
/// not close / keep-alive / upgrade). Calls f(token) for each.
template <class F>
void for_each_connection_option(std::string_view value, F&& f) {
  while (!value.empty()) {
    auto comma = value.find(',');
    std::string_view tok = value.substr(0, comma);
    while (!tok.empty() && (tok.front() == ' ' || tok.front() == '\t')) tok.remove_prefix(1);
    while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\t')) tok.remove_suffix(1);
    auto lower_eq = [&](std::string_view b) {
      if (tok.size() != b.size()) return false;
      for (std::size_t i = 0; i < b.size(); ++i)
        if ((tok[i] | 0x20) != b[i]) return false;
      return true;
    };
    if (!tok.empty() && !lower_eq("close") && !lower_eq("keep-alive") && !lower_eq("upgrade"))
      f(tok);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

}  // namespace edge::http
