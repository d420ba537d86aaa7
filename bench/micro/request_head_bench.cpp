// Cost of reading one request head at the edge: Beast parse (as the session
// does it, into a buffer_body parser) + desync classification.
#include <benchmark/benchmark.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <string>

#include "edge/http/request_validator.hpp"

namespace {

const std::string kBrowserHead =
    "GET /static/app.js?v=42 HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36\r\n"
    "Accept: */*\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Cookie: session=abc123; lane=canary\r\n"
    "Referer: https://www.example.com/\r\n"
    "X-Forwarded-For: 203.0.113.7\r\n"
    "\r\n";

const std::string kWrkHead = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

void parse_and_classify(benchmark::State& state, const std::string& head) {
  namespace http = boost::beast::http;
  for (auto _ : state) {
    http::request_parser<http::buffer_body> p;
    p.header_limit(64 * 1024);
    p.body_limit(boost::none);
    boost::beast::error_code ec;
    std::size_t n = p.put(boost::asio::buffer(head), ec);
    auto v = edge::http::classify_request_head(std::string_view(head.data(), n), 16 * 1024);
    benchmark::DoNotOptimize(v);
    benchmark::DoNotOptimize(p.get().target().data());
  }
  state.SetItemsProcessed(state.iterations());
}

void classify_only(benchmark::State& state, const std::string& head) {
  for (auto _ : state) {
    auto v = edge::http::classify_request_head(head, 16 * 1024);
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_ParseValidateBrowserHead(benchmark::State& s) { parse_and_classify(s, kBrowserHead); }
void BM_ParseValidateMinimalHead(benchmark::State& s) { parse_and_classify(s, kWrkHead); }
void BM_ValidateBrowserHead(benchmark::State& s) { classify_only(s, kBrowserHead); }

}  // namespace

BENCHMARK(BM_ParseValidateBrowserHead);
BENCHMARK(BM_ParseValidateMinimalHead);
BENCHMARK(BM_ValidateBrowserHead);
