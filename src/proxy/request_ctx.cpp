#include "edge/proxy/request_ctx.hpp"

namespace edge::proxy {

std::string_view RequestHead::cookie(std::string_view name) const {
  // Cookie: a=1; b=2 (RFC 6265 5.4: one header, "; " separated)
  std::string_view v = header("cookie");
  while (!v.empty()) {
    auto semi = v.find(';');
    std::string_view pair = v.substr(0, semi);
    while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
    auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      std::string_view value = pair.substr(eq + 1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
        value = value.substr(1, value.size() - 2);
      return value;
    }
    if (semi == std::string_view::npos) break;
    v.remove_prefix(semi + 1);
  }
  return {};
}

}  // namespace edge::proxy
