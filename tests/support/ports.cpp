#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "integration/gateway_fixture.hpp"

namespace edge::test {

std::uint16_t refused_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  auto port = a.local_endpoint().port();
  a.close();
  return port;
}

}  // namespace edge::test
