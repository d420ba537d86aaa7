#include "edge/http/hop_by_hop.hpp"

namespace edge::http {

bool is_hop_by_hop_or_framing(boost::beast::http::field f) {
  using boost::beast::http::field;
  switch (f) {
    case field::connection:
    case field::keep_alive:
    case field::proxy_connection:
    case field::te:
    case field::trailer:
    case field::transfer_encoding:
    case field::upgrade:
    case field::content_length:
      return true;
    default:
      return false;
  }
}

}  // namespace edge::http
