#include "edge/http/request_validator.hpp"

#include "edge/core/text.hpp"

#include <algorithm>
#include <array>

namespace edge::http {
namespace {

constexpr std::array<bool, 256> make_tchar() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr auto kTchar = make_tchar();

bool is_tchar(char c) { return kTchar[static_cast<unsigned char>(c)]; }


struct Acc {
  HeadVerdict v;
  void note(DesyncClass c, std::string_view reason) {
    if (static_cast<int>(c) > static_cast<int>(v.cls)) {
      v.cls = c;
      v.reason = reason;
    }
  }
};

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() <= 19 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void check_request_line(std::string_view line, Acc& acc) {
  auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) {
    acc.note(DesyncClass::severe, "bad_request_line");
    return;
  }
  std::string_view method = line.substr(0, sp1);
  if (!std::all_of(method.begin(), method.end(), is_tchar)) {
    acc.note(DesyncClass::severe, "bad_method");
    return;
  }
  auto rest = line.substr(sp1 + 1);
  auto sp2 = rest.find(' ');
  if (sp2 == std::string_view::npos || sp2 == 0) {
    acc.note(DesyncClass::severe, "bad_request_line");
    return;
  }
  std::string_view target = rest.substr(0, sp2);
  std::string_view version = rest.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    acc.note(DesyncClass::severe, "bad_version");
    return;
  }
  for (char c : target) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      acc.note(DesyncClass::severe, "bad_target");
      return;
    }
  }
  if (target.front() == '/') {
    // origin-form
  } else if (target == "*") {
    if (method != "OPTIONS") acc.note(DesyncClass::severe, "bad_target");
  } else if (target.starts_with("http://") || target.starts_with("https://")) {
    acc.note(DesyncClass::acceptable, "absolute_form_target");
  } else {
    acc.note(DesyncClass::severe, "bad_target");
  }
  if (target.find('#') != std::string_view::npos) acc.note(DesyncClass::severe, "bad_target");
}

}  // namespace

std::string_view to_string(DesyncClass c) {
  switch (c) {
    case DesyncClass::compliant: return "compliant";
    case DesyncClass::acceptable: return "acceptable";
    case DesyncClass::ambiguous: return "ambiguous";
    case DesyncClass::severe: return "severe";
  }
  return "severe";
}

HeadVerdict classify_request_head(std::string_view raw, std::uint64_t max_line_bytes) {
  Acc acc;
  int content_length_count = 0;
  std::string_view content_length;
  bool cl_differs = false;
  bool cl_bad = false;
  int te_count = 0;
  std::string_view te_value;
  int host_count = 0;
  bool http11 = false;

  std::size_t pos = 0;
  bool first = true;
  while (pos < raw.size()) {
    auto lf = raw.find('\n', pos);
    if (lf == std::string_view::npos) {
      acc.note(DesyncClass::severe, "bad_line_ending");
      break;
    }
    if (lf == pos || raw[lf - 1] != '\r') {
      acc.note(DesyncClass::severe, "bare_lf");
      // still scan the rest for the line-length check
    }
    std::size_t end = (lf > pos && raw[lf - 1] == '\r') ? lf - 1 : lf;
    std::string_view line = raw.substr(pos, end - pos);
    if (line.size() > max_line_bytes) acc.v.line_too_long = true;
    pos = lf + 1;
    if (line.empty()) break;  // end of head
    if (line.find('\0') != std::string_view::npos) {
      acc.note(DesyncClass::severe, "nul_in_head");
      continue;
    }
    if (line.find('\r') != std::string_view::npos) {
      acc.note(DesyncClass::severe, "bare_cr");
      continue;
    }
    if (first) {
      first = false;
      check_request_line(line, acc);
      http11 = line.ends_with("HTTP/1.1");
      continue;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      acc.note(DesyncClass::severe, "obs_fold");
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      acc.note(DesyncClass::severe, "bad_field_line");
      continue;
    }
    std::string_view name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_tchar)) {
      // includes whitespace before the colon ("Content-Length : 5")
      acc.note(DesyncClass::severe, "bad_field_name");
      continue;
    }
    std::string_view value = trim_ows(line.substr(colon + 1));
    bool obs_text = false;
    for (char c : value) {
      auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) {
        acc.note(DesyncClass::severe, "ctl_in_field_value");
        break;
      }
      if (u >= 0x80) obs_text = true;
    }
    if (obs_text) acc.note(DesyncClass::acceptable, "obs_text_in_field_value");

    if (iequals(name, "content-length")) {
      ++content_length_count;
      // A list "5, 5" is allowed only when every element is equal (RFC 9110 8.6).
      std::string_view rest = value;
      while (true) {
        auto comma = rest.find(',');
        std::string_view tok = trim_ows(rest.substr(0, comma));
        if (!all_digits(tok)) {
          cl_bad = true;
        } else if (content_length.empty()) {
          content_length = tok;
        } else if (tok != content_length) {
          // leading zeros make equal numbers look different: compare numerically
          auto strip = [](std::string_view s) {
            while (s.size() > 1 && s.front() == '0') s.remove_prefix(1);
            return s;
          };
          if (strip(tok) != strip(content_length)) cl_differs = true;
        }
        if (comma == std::string_view::npos) break;
        rest = rest.substr(comma + 1);
      }
      if (value.find(',') != std::string_view::npos)
        acc.note(DesyncClass::ambiguous, "content_length_list");
    } else if (iequals(name, "transfer-encoding")) {
      ++te_count;
      te_value = value;
    } else if (iequals(name, "host")) {
      ++host_count;
      if (value.empty()) acc.note(DesyncClass::severe, "empty_host");
    }
  }
  if (first) acc.note(DesyncClass::severe, "empty_request");

  if (cl_bad) acc.note(DesyncClass::severe, "bad_content_length");
  if (cl_differs) acc.note(DesyncClass::severe, "differing_content_length");
  if (content_length_count > 1 && !cl_differs)
    acc.note(DesyncClass::ambiguous, "duplicate_content_length");
  if (te_count > 0 && content_length_count > 0)
    acc.note(DesyncClass::severe, "content_length_with_transfer_encoding");
  if (te_count > 1) acc.note(DesyncClass::severe, "duplicate_transfer_encoding");
  if (te_count == 1) {
    if (!iequals(te_value, "chunked")) {
      // "gzip, chunked", "chunked, identity", "xchunked", "identity" ...
      // RFC 9112 6.1: chunked must be final; anything else is unreadable framing.
      acc.note(DesyncClass::severe, "bad_transfer_encoding");
    } else if (!http11) {
      acc.note(DesyncClass::ambiguous, "transfer_encoding_http10");
    }
  }
  if (host_count > 1) acc.note(DesyncClass::severe, "duplicate_host");
  if (host_count == 0 && http11) acc.note(DesyncClass::severe, "missing_host");
  return acc.v;
}

}  // namespace edge::http
