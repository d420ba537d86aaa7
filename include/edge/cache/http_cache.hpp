#pragma once
/// The HTTP side of the cache, between the request flow and the pure rules
/// (freshness.hpp): reading the facts of a request and of a response head,
/// building the stored response, refreshing it from a 304, Vary secondary
/// keys, conditional requests (RFC 9110 13) and byte ranges (RFC 9110 14)
/// answered from a stored response.
/// Thread: any (pure functions over their arguments).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edge/cache/freshness.hpp"
#include "edge/cache/memory_cache.hpp"

namespace edge::proxy {
class RequestHead;
}

namespace edge::cache {

using Fields = std::vector<std::pair<std::string, std::string>>;

/// Cache-Control, Pragma and Authorization of a request.
RequestFacts request_facts(const proxy::RequestHead& head);

/// The facts of a response head, from its end-to-end fields (`fields`) and
/// status. Several Cache-Control lines add up; an Expires that does not parse
/// counts as already expired (RFC 9111 5.3).
ResponseFacts response_facts(int status, const Fields& fields);

/// Whether the response head names request headers in Vary, and which
/// (lower-case, sorted, without duplicates). `*` sets `star`.
struct VaryNames {
  std::vector<std::string> names;
  bool star = false;
};
VaryNames vary_names(const Fields& fields);

/// A stored response built from a response head. `fields` are the end-to-end
/// fields to keep (Date, Age, Set-Cookie and hop-by-hop fields already left
/// out by the caller); the body is filled in later by the caller.
CachedResponse make_stored(int status, std::string reason, Fields fields,
                           const ResponseFacts& facts, const StoreDecision& decision,
                           UnixSeconds request_time, UnixSeconds response_time);

/// RFC 9111 4.3.4: a 304 from the target refreshes a stored response. The
/// result has the stored body and status, the stored fields updated with the
/// 304's (except framing fields), and new freshness from the merged head.
/// `fields_304` are the 304's end-to-end fields (Date and Age left out).
std::shared_ptr<CachedResponse> refresh_stored(const CachedResponse& stored,
                                               const Fields& fields_304,
                                               const ResponseFacts& facts_304,
                                               const CachePolicy& policy,
                                               const RequestFacts& request,
                                               UnixSeconds request_time,
                                               UnixSeconds response_time);

/// The stored response's facts for usability() at `now`.
StoredFacts stored_facts(const CachedResponse& r, UnixSeconds now);

/// Value of the first stored field named `name` (case-insensitive), "" when absent.
std::string_view stored_field(const CachedResponse& r, std::string_view name);

/// Weak comparison of an entity tag against an If-None-Match list ("*" matches
/// anything).
bool none_match(std::string_view if_none_match, std::string_view etag);

/// RFC 9110 13.2.2 for a GET/HEAD answered from `stored`: true when the
/// client's If-None-Match (or, without it, If-Modified-Since) says its copy is
/// current, so a 304 answers it.
bool client_copy_current(const proxy::RequestHead& head, const CachedResponse& stored);

/// A satisfiable single byte range of a `size`-byte body: [first, last].
struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
};
enum class RangeResult { ignore, partial, unsatisfiable };
/// RFC 9110 14: `Range: bytes=a-b | a- | -n` against a body of `size` bytes.
/// Several ranges, other units or a malformed value: `ignore` (serve the whole
/// body, which a server may always do). `If-Range` that does not match the
/// stored validator (strong ETag or Last-Modified) also means `ignore`.
RangeResult parse_range(const proxy::RequestHead& head, const CachedResponse& stored,
                        std::uint64_t size, ByteRange& out);

}  // namespace edge::cache
