#include "edge/cache/http_date.hpp"
#include "edge/core/text.hpp"

#include <array>
#include <cstdio>

namespace edge::cache {
namespace {

constexpr std::array<std::string_view, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kDays{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> kLongDays{"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                    "Thursday", "Friday", "Saturday"};

// Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Cursor {
  std::string_view s;
  bool literal(std::string_view lit) {
    if (!s.starts_with(lit)) return false;
    s.remove_prefix(lit.size());
    return true;
  }
  bool number(int digits, int& out) {
    if (s.size() < static_cast<std::size_t>(digits)) return false;
    int v = 0;
    for (int i = 0; i < digits; ++i) {
      char c = s[static_cast<std::size_t>(i)];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    s.remove_prefix(static_cast<std::size_t>(digits));
    out = v;
    return true;
  }
  bool month(int& out) {
    for (std::size_t i = 0; i < kMonths.size(); ++i)
      if (literal(kMonths[i])) {
        out = static_cast<int>(i) + 1;
        return true;
      }
    return false;
  }
  bool time(int& h, int& m, int& sec) {
    return number(2, h) && literal(":") && number(2, m) && literal(":") && number(2, sec);
  }
};

std::optional<UnixSeconds> make(int year, int month, int day, int h, int m, int s) {
  if (month < 1 || month > 12 || day < 1 || day > 31 || h > 23 || m > 59 || s > 60)
    return std::nullopt;
  static constexpr int kMonthDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (day > kMonthDays[month - 1]) return std::nullopt;
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month == 2 && day == 29 && !leap) return std::nullopt;
  return days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
         h * 3600 + m * 60 + std::min(s, 59);
}

constexpr auto trim = trim_ows;

}  // namespace

std::optional<UnixSeconds> parse_http_date(std::string_view text) {
  text = trim(text);
  int day = 0, month = 0, year = 0, h = 0, m = 0, s = 0;
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  for (auto dn : kDays) {
    Cursor c{text};
    if (c.literal(dn) && c.literal(", ") && c.number(2, day) && c.literal(" ") && c.month(month) &&
        c.literal(" ") && c.number(4, year) && c.literal(" ") && c.time(h, m, s) &&
        c.literal(" GMT") && c.s.empty())
      return make(year, month, day, h, m, s);
  }
  // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"; two-digit years: RFC 9110 says a
  // year more than 50 years in the future is in the past century.
  for (auto dn : kLongDays) {
    Cursor c{text};
    if (c.literal(dn) && c.literal(", ") && c.number(2, day) && c.literal("-") && c.month(month) &&
        c.literal("-") && c.number(2, year) && c.literal(" ") && c.time(h, m, s) &&
        c.literal(" GMT") && c.s.empty())
      return make(year < 70 ? 2000 + year : 1900 + year, month, day, h, m, s);
  }
  // asctime: "Sun Nov  6 08:49:37 1994"
  for (auto dn : kDays) {
    Cursor c{text};
    if (!(c.literal(dn) && c.literal(" ") && c.month(month) && c.literal(" "))) continue;
    if (c.literal(" ")) {
      if (!c.number(1, day)) continue;
    } else if (!c.number(2, day)) {
      continue;
    }
    if (c.literal(" ") && c.time(h, m, s) && c.literal(" ") && c.number(4, year) && c.s.empty())
      return make(year, month, day, h, m, s);
  }
  return std::nullopt;
}

std::string format_http_date(UnixSeconds t) {
  std::int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  std::int64_t secs = t - days * 86400;
  // civil_from_days
  std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned mo = mp < 10 ? mp + 3 : mp - 9;
  y += mo <= 2;
  const auto wd = static_cast<std::size_t>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
  const auto sec = static_cast<unsigned>(secs);  // 0..86399
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04lld %02u:%02u:%02u GMT",
                std::string(kDays[wd]).c_str(), d, std::string(kMonths[mo - 1]).c_str(),
                static_cast<long long>(y), sec / 3600 % 24, sec / 60 % 60, sec % 60);
  return buf;
}

}  // namespace edge::cache
