// YAML -> Config.
//
// Two passes. The reader walks the document, maps every key it knows into the
// structs and reports what YAML alone can tell: unknown keys, duplicate keys,
// missing required keys, wrong types and unparsable values. It also records
// where each key path sits in the file. Then validate() checks meaning (ranges,
// uniqueness, references) on the structs, and each of its errors gets the line
// and column of its key path from that record. All errors are collected.
//
// yaml-cpp throws; exceptions stay inside this file (startup / reload only).

#include "edge/config/loader.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace edge::config {
namespace {

using Node = YAML::Node;

std::string key_path(const std::string& parent, std::string_view key) {
  std::string out = parent;
  if (!out.empty()) out += '.';
  out += key;
  return out;
}

std::string index_path(const std::string& parent, std::size_t i) {
  return parent + "[" + std::to_string(i) + "]";
}

/// Parent of "a.b[2].c" is "a.b[2]", of "a.b[2]" is "a.b", of "a" is "".
std::string parent_path(const std::string& path) {
  const std::size_t cut = path.find_last_of(".[");
  return cut == std::string::npos ? std::string() : path.substr(0, cut);
}

/// True when `path` is `prefix` or lies below it.
bool is_under(const std::string& path, const std::string& prefix) {
  if (prefix.empty()) return true;  // the document itself
  if (path.size() < prefix.size() || path.compare(0, prefix.size(), prefix) != 0) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '.' || path[prefix.size()] == '[';
}

const char* kind_of(const Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

std::string in_quotes(std::string_view s) {
  std::string out = "\"";
  out += s;
  out += '"';
  return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0U : 1U)});
      diag = up;
    }
  }
  return row[b.size()];
}

/// Where a key path sits in the file. `alias` paths are written in a shorter form
/// than the structs (e.g. `forward.target_group`); errors anywhere below them are
/// shown under the path as written.
struct Origin {
  int line = 0;
  int column = 0;
  std::string display;
  bool alias = false;
};

/// One pass over one document: fills a Config and collects errors. Lives for a
/// single load on the loading thread; holds no reference to the YAML after it.
class Reader {
 public:
  using ReadFn = std::function<void(const Node&, const std::string&)>;
  struct Field {
    std::string_view key;
    ReadFn read;
    bool required = false;
  };

  explicit Reader(std::string file) : file_(std::move(file)) {}

  void root(const Node& n, Config& c);

  /// Gives each validate() error its position; drops those about a value the
  /// reader already reported (a field left at its default after a bad value would
  /// otherwise be reported twice).
  void add_semantic_errors(std::vector<ConfigError> semantic) {
    for (auto& e : semantic) {
      const bool reported = std::any_of(failed_.begin(), failed_.end(),
                                        [&](const std::string& f) { return is_under(e.path, f); });
      if (reported || quiet_.count(e.path) != 0) continue;
      locate(e);
      errors_.push_back(std::move(e));
    }
  }

  std::vector<ConfigError> take_errors() {
    std::stable_sort(errors_.begin(), errors_.end(),
                     [](const ConfigError& a, const ConfigError& b) {
                       const int la = a.line == 0 ? INT_MAX : a.line;
                       const int lb = b.line == 0 ? INT_MAX : b.line;
                       return la != lb ? la < lb : a.column < b.column;
                     });
    return std::move(errors_);
  }

 private:
  // ---- positions and errors ------------------------------------------------

  void note(const std::string& path, const YAML::Mark& m) {
    Origin& o = origins_[path];
    o.line = m.line >= 0 ? m.line + 1 : 0;
    o.column = m.column >= 0 ? m.column + 1 : 0;
    o.display = path;
    o.alias = false;
  }

  void note_alias(const std::string& path, const std::string& display) {
    Origin o = origins_[display];
    o.display = display;
    o.alias = true;
    origins_[path] = o;
  }

  /// Fills line/column from the nearest recorded ancestor of the error's path.
  void locate(ConfigError& e) const {
    e.file = file_;
    for (std::string p = e.path;; p = parent_path(p)) {
      auto it = origins_.find(p);
      if (it != origins_.end()) {
        e.line = it->second.line;
        e.column = it->second.column;
        if (it->second.alias) e.path = it->second.display;
        return;
      }
      if (p.empty()) return;
    }
  }

  void error(const std::string& path, std::string message) {
    ConfigError e;
    e.path = path;
    e.message = std::move(message);
    locate(e);
    errors_.push_back(std::move(e));
    failed_.push_back(path);
  }

  // ---- structure -----------------------------------------------------------

  /// Reads a map whose keys must all be in `fields`. A null value (key present,
  /// nothing after the colon) counts as an empty map. Returns false when the node
  /// was not a map or held unknown or duplicate keys.
  bool map(const Node& n, const std::string& path, std::initializer_list<Field> fields) {
    bool clean = true;
    std::set<std::string> seen;
    if (n.IsMap()) {
      for (auto it = n.begin(); it != n.end(); ++it) {
        // yaml-cpp's iterator hands out a temporary pair: copy the (cheap, shared) nodes.
        const Node key = it->first;
        const Node value = it->second;
        if (!key.IsScalar()) {
          note(key_path(path, "?"), key.Mark());
          error(key_path(path, "?"),
                "keys must be plain strings, got " + std::string(kind_of(key)));
          clean = false;
          continue;
        }
        const std::string& k = key.Scalar();
        const std::string kp = key_path(path, k);
        if (!seen.insert(k).second) {
          note(kp, key.Mark());
          error(kp, "duplicate key");
          clean = false;
          continue;
        }
        auto field =
            std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return f.key == k; });
        if (field == fields.end()) {
          note(kp, key.Mark());
          error(kp, unknown_key_message(k, fields));
          // A complaint about this map as a whole ("needs at least one condition")
          // most likely comes from the misspelt key: say it once.
          quiet_.insert(path);
          clean = false;
          continue;
        }
        // A null value has no position of its own (yaml-cpp puts it at the next
        // token); the key is where the reader should look.
        note(kp, value.IsNull() ? key.Mark() : value.Mark());
        field->read(value, kp);
      }
    } else if (!n.IsNull()) {
      error(path, "expected a map, got " + std::string(kind_of(n)));
      return false;
    }
    for (const Field& f : fields) {
      if (f.required && seen.count(std::string(f.key)) == 0) {
        error(key_path(path, f.key), "missing required key");
      }
    }
    return clean;
  }

  static std::string unknown_key_message(std::string_view key,
                                         std::initializer_list<Field> fields) {
    std::string best;
    std::size_t best_distance = std::max<std::size_t>(2, key.size() / 3) + 1;
    for (const Field& f : fields) {
      const std::size_t d = edit_distance(key, f.key);
      if (d < best_distance) {
        best_distance = d;
        best = std::string(f.key);
      }
    }
    std::string msg = "unknown key";
    if (!best.empty()) msg += " (did you mean " + in_quotes(best) + "?)";
    return msg;
  }

  /// Calls `item` for each element of a list; null counts as an empty list.
  template <typename F>
  void list(const Node& n, const std::string& path, F&& item) {
    if (n.IsNull()) return;
    if (!n.IsSequence()) {
      error(path, "expected a list, got " + std::string(kind_of(n)));
      return;
    }
    std::size_t i = 0;
    for (auto it = n.begin(); it != n.end(); ++it, ++i) {
      const Node element = *it;
      const std::string ip = index_path(path, i);
      note(ip, element.IsNull() ? n.Mark() : element.Mark());
      item(element, ip);
    }
  }

  /// Vector of structs, one per list element (kept index-aligned with the YAML so
  /// that validate()'s paths point at the right element).
  template <typename T, typename F>
  void struct_list(const Node& n, const std::string& path, std::vector<T>& out, F&& read_one) {
    list(n, path, [&](const Node& item, const std::string& ip) {
      out.emplace_back();
      read_one(item, ip, out.back());
    });
  }

  // ---- scalars -------------------------------------------------------------

  /// The scalar's text; null reads as "" (`token:` with nothing after it).
  bool text(const Node& n, const std::string& path, std::string& out) {
    if (n.IsNull()) {
      out.clear();
      return true;
    }
    if (!n.IsScalar()) {
      error(path, "expected a string, got " + std::string(kind_of(n)));
      return false;
    }
    out = n.Scalar();
    return true;
  }

  /// A scalar that must not be null (numbers, durations, enums...).
  bool value(const Node& n, const std::string& path, std::string_view what, std::string& out) {
    if (!n.IsScalar()) {
      error(path, "expected " + std::string(what) + ", got " + std::string(kind_of(n)));
      return false;
    }
    out = n.Scalar();
    return true;
  }

  void string(const Node& n, const std::string& path, std::string& out) { text(n, path, out); }

  void strings(const Node& n, const std::string& path, std::vector<std::string>& out) {
    // Every element gets a slot, even a bad one, so validate()'s indices match the file's.
    list(n, path, [&](const Node& item, const std::string& ip) {
      std::string s;
      text(item, ip, s);
      out.push_back(std::move(s));
    });
  }

  template <typename T>
  void integer(const Node& n, const std::string& path, T& out) {
    std::string s;
    if (!value(n, path, "an integer", s)) return;
    long long v = 0;
    const char* first = s.data();
    const char* last = s.data() + s.size();
    if (!s.empty() && s.front() == '+') ++first;
    auto [end, ec] = std::from_chars(first, last, v);
    if (first == last || end != last || ec == std::errc::invalid_argument) {
      error(path, "expected an integer, got " + in_quotes(s));
      return;
    }
    if (ec == std::errc::result_out_of_range ||
        v < static_cast<long long>(std::numeric_limits<T>::min()) ||
        static_cast<unsigned long long>(std::max(v, 0LL)) >
            static_cast<unsigned long long>(std::numeric_limits<T>::max())) {
      error(path, "integer " + s + " is out of range");
      return;
    }
    out = static_cast<T>(v);
  }

  void boolean(const Node& n, const std::string& path, bool& out) {
    std::string s;
    if (!value(n, path, "true or false", s)) return;
    bool b = false;
    if (!YAML::convert<bool>::decode(n, b)) {
      error(path, "expected true or false, got " + in_quotes(s));
      return;
    }
    out = b;
  }

  void duration(const Node& n, const std::string& path, Duration& out) {
    std::string s;
    if (!value(n, path, "a duration", s)) return;
    if (!parse_duration(s, out)) {
      error(path, "invalid duration " + in_quotes(s) +
                      " (an integer with ms, s, m, h or d, or bare seconds; e.g. 250ms, 30s, 5m)");
    }
  }

  void size(const Node& n, const std::string& path, std::uint64_t& out) {
    std::string s;
    if (!value(n, path, "a size", s)) return;
    if (!parse_size(s, out)) {
      error(path, "invalid size " + in_quotes(s) +
                      " (bytes, or an integer with KiB, MiB, GiB, KB, MB or GB; e.g. 64KiB)");
    }
  }

  void address(const Node& n, const std::string& path, Address& out) {
    std::string s;
    if (!value(n, path, "an address", s)) return;
    if (!parse_address(s, out)) {
      error(path, "invalid address " + in_quotes(s) + " (host:port, [v6]:port or :port)");
    }
  }

  template <typename E>
  void choice(const Node& n, const std::string& path,
              std::initializer_list<std::pair<std::string_view, E>> options, E& out) {
    std::string s;
    std::string names;
    for (const auto& [name, v] : options) {
      if (!names.empty()) names += ", ";
      names += name;
    }
    if (!value(n, path, "one of " + names, s)) return;
    for (const auto& [name, v] : options) {
      if (name == s) {
        out = v;
        return;
      }
    }
    error(path, "invalid value " + in_quotes(s) + " (expected one of: " + names + ")");
  }

  void protocol(const Node& n, const std::string& path, Protocol& out) {
    choice(n, path, {{"HTTP", Protocol::http}, {"HTTPS", Protocol::https}}, out);
  }

  /// `none | all | [names] | { all_except: [names] }`
  void selector(const Node& n, const std::string& path, KeySelector& out) {
    out = KeySelector{};
    if (n.IsNull()) return;
    if (n.IsScalar()) {
      choice(n, path, {{"none", KeySelector::Mode::none}, {"all", KeySelector::Mode::all}},
             out.mode);
      return;
    }
    if (n.IsSequence()) {
      strings(n, path, out.names);
      out.mode = out.names.empty() ? KeySelector::Mode::none : KeySelector::Mode::whitelist;
      return;
    }
    map(n, path,
        {{"all_except",
          [&](const Node& v, const std::string& p) {
            out.mode = KeySelector::Mode::all_except;
            if (v.IsNull()) {
              error(p, "expected a list of names, got nothing");
            } else {
              strings(v, p, out.names);
            }
          },
          true}});
  }

  // ---- sections ------------------------------------------------------------

  void admin(const Node& n, const std::string& path, AdminConfig& a) {
    if (n.IsScalar()) {
      bool on = true;
      if (n.Scalar() == "off" || (YAML::convert<bool>::decode(n, on) && !on)) {
        a.enabled = false;
      } else {
        error(path, "expected a map or \"off\", got " + in_quotes(n.Scalar()));
      }
      return;
    }
    map(n, path,
        {{"listen", [&](const Node& v, const std::string& p) { address(v, p, a.listen); }},
         {"token", [&](const Node& v, const std::string& p) { string(v, p, a.token); }},
         {"state_file", [&](const Node& v, const std::string& p) { string(v, p, a.state_file); }},
         {"upgrade_socket",
          [&](const Node& v, const std::string& p) { string(v, p, a.upgrade_socket); }}});
  }

  void tls(const Node& n, const std::string& path, TlsConfig& t) {
    map(n, path,
        {{"policy", [&](const Node& v, const std::string& p) { string(v, p, t.policy); }},
         {"session_ticket_rotation",
          [&](const Node& v, const std::string& p) { duration(v, p, t.session_ticket_rotation); }},
         {"tls_version_and_cipher_headers",
          [&](const Node& v, const std::string& p) {
            boolean(v, p, t.tls_version_and_cipher_headers);
          }},
         {"certificates", [&](const Node& v, const std::string& p) {
            struct_list(
                v, p, t.certificates,
                [&](const Node& item, const std::string& ip, TlsCertificate& c) {
                  map(item, ip,
                      {{"cert",
                        [&](const Node& x, const std::string& xp) { string(x, xp, c.cert); }, true},
                       {"key", [&](const Node& x, const std::string& xp) { string(x, xp, c.key); },
                        true}});
                });
          }}});
  }

  void conditions(const Node& n, const std::string& path, Conditions& c) {
    map(n, path,
        {{"path_pattern",
          [&](const Node& v, const std::string& p) { strings(v, p, c.path_pattern); }},
         {"host_header",
          [&](const Node& v, const std::string& p) { strings(v, p, c.host_header); }},
         {"http_request_method",
          [&](const Node& v, const std::string& p) { strings(v, p, c.http_request_method); }},
         {"http_header",
          [&](const Node& v, const std::string& p) {
            HttpHeaderCondition h;
            map(v, p,
                {{"name", [&](const Node& x, const std::string& xp) { string(x, xp, h.name); },
                  true},
                 {"values", [&](const Node& x, const std::string& xp) { strings(x, xp, h.values); },
                  true}});
            c.http_header = std::move(h);
          }},
         {"query_string",
          [&](const Node& v, const std::string& p) {
            struct_list(
                v, p, c.query_string,
                [&](const Node& item, const std::string& ip, QueryStringCondition& q) {
                  map(item, ip,
                      {{"key", [&](const Node& x, const std::string& xp) { string(x, xp, q.key); }},
                       {"value",
                        [&](const Node& x, const std::string& xp) { string(x, xp, q.value); },
                        true}});
                });
          }},
         {"source_ip", [&](const Node& v, const std::string& p) { strings(v, p, c.source_ip); }}});
  }

  void forward(const Node& n, const std::string& path, ForwardAction& f) {
    bool single = false;
    bool multiple = false;
    const bool clean = map(
        n, path,
        {{"target_group",
          [&](const Node& v, const std::string& p) {
            single = true;
            ForwardTargetGroup tg;
            string(v, p, tg.name);
            f.target_groups.insert(f.target_groups.begin(), std::move(tg));
            // validate() speaks of target_groups[0].name; show it as written.
            note_alias(key_path(path, "target_groups[0]"), p);
          }},
         {"target_groups",
          [&](const Node& v, const std::string& p) {
            multiple = true;
            struct_list(
                v, p, f.target_groups,
                [&](const Node& item, const std::string& ip, ForwardTargetGroup& tg) {
                  map(item, ip,
                      {{"name",
                        [&](const Node& x, const std::string& xp) { string(x, xp, tg.name); },
                        true},
                       {"weight",
                        [&](const Node& x, const std::string& xp) { integer(x, xp, tg.weight); }}});
                });
          }},
         {"target_group_stickiness",
          [&](const Node& v, const std::string& p) {
            map(v, p,
                {{"enabled",
                  [&](const Node& x, const std::string& xp) {
                    boolean(x, xp, f.stickiness.enabled);
                  }},
                 {"duration", [&](const Node& x, const std::string& xp) {
                    duration(x, xp, f.stickiness.duration);
                  }}});
          }},
         {"cache_policy",
          [&](const Node& v, const std::string& p) { string(v, p, f.cache_policy); }},
         {"origin_request_policy",
          [&](const Node& v, const std::string& p) { string(v, p, f.origin_request_policy); }}});
    if (!clean) failed_.push_back(path);  // as in action(): one error per typo
    if (single && multiple) {
      error(path, "use either target_group or target_groups, not both");
    } else if (!single && !multiple && clean && (n.IsMap() || n.IsNull())) {
      error(path, "needs target_group or target_groups");
    }
  }

  void fixed_response(const Node& n, const std::string& path, FixedResponseAction& f) {
    map(n, path,
        {{"status", [&](const Node& v, const std::string& p) { integer(v, p, f.status); }},
         {"content_type",
          [&](const Node& v, const std::string& p) { string(v, p, f.content_type); }},
         {"body", [&](const Node& v, const std::string& p) { string(v, p, f.body); }}});
  }

  void redirect(const Node& n, const std::string& path, RedirectAction& r) {
    map(n, path,
        {{"status", [&](const Node& v, const std::string& p) { integer(v, p, r.status); }},
         {"protocol", [&](const Node& v, const std::string& p) { string(v, p, r.protocol); }},
         {"port", [&](const Node& v, const std::string& p) { string(v, p, r.port); }},
         {"host", [&](const Node& v, const std::string& p) { string(v, p, r.host); }},
         {"path", [&](const Node& v, const std::string& p) { string(v, p, r.path); }},
         {"query", [&](const Node& v, const std::string& p) { string(v, p, r.query); }}});
  }

  void action(const Node& n, const std::string& path, Action& a) {
    std::vector<std::string_view> kinds;
    const bool clean = map(n, path,
                           {{"forward",
                             [&](const Node& v, const std::string& p) {
                               kinds.push_back("forward");
                               a.kind = Action::Kind::forward;
                               forward(v, p, a.forward);
                             }},
                            {"fixed_response",
                             [&](const Node& v, const std::string& p) {
                               kinds.push_back("fixed_response");
                               a.kind = Action::Kind::fixed_response;
                               fixed_response(v, p, a.fixed_response);
                             }},
                            {"redirect", [&](const Node& v, const std::string& p) {
                               kinds.push_back("redirect");
                               a.kind = Action::Kind::redirect;
                               redirect(v, p, a.redirect);
                             }}});
    // With a misspelt kind the action stays at its default (an empty forward);
    // the unknown key already says what is wrong.
    if (!clean) failed_.push_back(path);
    if (kinds.size() > 1) {
      std::string list;
      for (auto k : kinds) list += (list.empty() ? "" : ", ") + std::string(k);
      error(path, "exactly one of forward, fixed_response, redirect is allowed (got " + list + ")");
    } else if (kinds.empty() && clean && (n.IsMap() || n.IsNull())) {
      error(path, "needs one of forward, fixed_response, redirect");
    }
  }

  void rule(const Node& n, const std::string& path, Rule& r) {
    map(n, path,
        {{"priority", [&](const Node& v, const std::string& p) { integer(v, p, r.priority); },
          true},
         {"conditions",
          [&](const Node& v, const std::string& p) { conditions(v, p, r.conditions); }},
         {"action", [&](const Node& v, const std::string& p) { action(v, p, r.action); }, true}});
  }

  void listener(const Node& n, const std::string& path, ListenerConfig& l) {
    map(n, path,
        {{"name", [&](const Node& v, const std::string& p) { string(v, p, l.name); }, true},
         {"listen", [&](const Node& v, const std::string& p) { address(v, p, l.listen); }, true},
         {"protocol", [&](const Node& v, const std::string& p) { protocol(v, p, l.protocol); }},
         {"tls", [&](const Node& v, const std::string& p) { tls(v, p, l.tls); }},
         {"mutual_authentication",
          [&](const Node& v, const std::string& p) {
            auto& m = l.mutual_authentication;
            map(v, p,
                {{"mode",
                  [&](const Node& x, const std::string& xp) {
                    std::string mode;
                    string(x, xp, mode);
                    if (mode == "off") {
                      m.mode = MutualAuthentication::Mode::off;
                    } else if (mode == "verify") {
                      m.mode = MutualAuthentication::Mode::verify;
                    } else {
                      error(xp, "must be off or verify (got " + in_quotes(mode) + ")");
                    }
                  }},
                 {"trust_store",
                  [&](const Node& x, const std::string& xp) { string(x, xp, m.trust_store); }}});
          }},
         {"rules",
          [&](const Node& v, const std::string& p) {
            struct_list(v, p, l.rules, [&](const Node& item, const std::string& ip, Rule& r) {
              rule(item, ip, r);
            });
          }},
         {"default_action",
          [&](const Node& v, const std::string& p) { action(v, p, l.default_action); }, true},
         {"upgrade_protocols",
          [&](const Node& v, const std::string& p) {
            l.upgrade_protocols.clear();
            strings(v, p, l.upgrade_protocols);
          }}});
  }

  void target(const Node& n, const std::string& path, TargetConfig& t) {
    if (n.IsScalar()) {
      t.id = n.Scalar();
      note_alias(key_path(path, "id"), path);
      if (!parse_address(t.id, t.address)) {
        error(path, "invalid target address " + in_quotes(t.id) + " (host:port or [v6]:port)");
      }
      return;
    }
    map(n, path,
        {{"id",
          [&](const Node& v, const std::string& p) {
            if (!value(v, p, "an address", t.id)) return;
            if (!parse_address(t.id, t.address)) {
              error(p, "invalid target address " + in_quotes(t.id) + " (host:port or [v6]:port)");
            }
          },
          true},
         {"weight", [&](const Node& v, const std::string& p) { integer(v, p, t.weight); }}});
  }

  void health_check(const Node& n, const std::string& path, HealthCheckConfig& h) {
    map(n, path,
        {{"enabled", [&](const Node& v, const std::string& p) { boolean(v, p, h.enabled); }},
         {"protocol",
          [&](const Node& v, const std::string& p) {
            HealthCheckProtocol hp = HealthCheckProtocol::http;
            const std::size_t before = errors_.size();
            choice(v, p,
                   {{"HTTP", HealthCheckProtocol::http},
                    {"HTTPS", HealthCheckProtocol::https},
                    {"TCP", HealthCheckProtocol::tcp}},
                   hp);
            if (errors_.size() == before) h.protocol = hp;
          }},
         {"port",
          [&](const Node& v, const std::string& p) {
            if (v.IsScalar() && v.Scalar() == "traffic-port") {
              h.port.reset();
              return;
            }
            std::uint16_t port = 0;
            const std::size_t before = errors_.size();
            integer(v, p, port);
            if (errors_.size() == before) h.port = port;
          }},
         {"path", [&](const Node& v, const std::string& p) { string(v, p, h.path); }},
         {"interval", [&](const Node& v, const std::string& p) { duration(v, p, h.interval); }},
         {"timeout", [&](const Node& v, const std::string& p) { duration(v, p, h.timeout); }},
         {"healthy_threshold",
          [&](const Node& v, const std::string& p) { integer(v, p, h.healthy_threshold); }},
         {"unhealthy_threshold",
          [&](const Node& v, const std::string& p) { integer(v, p, h.unhealthy_threshold); }},
         {"matcher", [&](const Node& v, const std::string& p) { string(v, p, h.matcher); }}});
  }

  void target_group(const Node& n, const std::string& path, TargetGroupConfig& g) {
    map(n, path,
        {{"name", [&](const Node& v, const std::string& p) { string(v, p, g.name); }, true},
         {"protocol", [&](const Node& v, const std::string& p) { protocol(v, p, g.protocol); }},
         {"tls",
          [&](const Node& v, const std::string& p) {
            map(v, p,
                {{"verify", [&](const Node& x, const std::string& xp) { boolean(x, xp, g.tls.verify); }},
                 {"ca_file", [&](const Node& x, const std::string& xp) { string(x, xp, g.tls.ca_file); }},
                 {"server_name",
                  [&](const Node& x, const std::string& xp) { string(x, xp, g.tls.server_name); }}});
          }},
         {"algorithm",
          [&](const Node& v, const std::string& p) {
            choice(v, p,
                   {{"least_outstanding_requests", Algorithm::least_outstanding_requests},
                    {"round_robin", Algorithm::round_robin},
                    {"weighted_random", Algorithm::weighted_random},
                    {"least_latency", Algorithm::least_latency}},
                   g.algorithm);
          }},
         {"targets",
          [&](const Node& v, const std::string& p) {
            struct_list(v, p, g.targets,
                        [&](const Node& item, const std::string& ip, TargetConfig& t) {
                          target(item, ip, t);
                        });
          }},
         {"health_check",
          [&](const Node& v, const std::string& p) { health_check(v, p, g.health_check); }},
         {"unhealthy_state_routing",
          [&](const Node& v, const std::string& p) {
            auto& u = g.unhealthy_state_routing;
            map(v, p,
                {{"minimum_healthy_targets", [&](const Node& x, const std::string& xp) {
                    integer(x, xp, u.minimum_healthy_targets);
                  }}});
          }},
         {"outlier_detection",
          [&](const Node& v, const std::string& p) {
            auto& o = g.outlier_detection;
            map(v, p,
                {{"enabled",
                  [&](const Node& x, const std::string& xp) { boolean(x, xp, o.enabled); }},
                 {"consecutive_5xx",
                  [&](const Node& x, const std::string& xp) { integer(x, xp, o.consecutive_5xx); }},
                 {"consecutive_gateway_failure",
                  [&](const Node& x, const std::string& xp) {
                    integer(x, xp, o.consecutive_gateway_failure);
                  }},
                 {"base_ejection_time",
                  [&](const Node& x, const std::string& xp) {
                    duration(x, xp, o.base_ejection_time);
                  }},
                 {"max_ejection_percent", [&](const Node& x, const std::string& xp) {
                    integer(x, xp, o.max_ejection_percent);
                  }}});
          }},
         {"deregistration_delay",
          [&](const Node& v, const std::string& p) { duration(v, p, g.deregistration_delay); }},
         {"slow_start", [&](const Node& v, const std::string& p) { duration(v, p, g.slow_start); }},
         {"upstream_keepalive",
          [&](const Node& v, const std::string& p) {
            auto& k = g.upstream_keepalive;
            map(v, p,
                {{"max_idle_per_target",
                  [&](const Node& x, const std::string& xp) {
                    integer(x, xp, k.max_idle_per_target);
                  }},
                 {"idle_timeout",
                  [&](const Node& x, const std::string& xp) { duration(x, xp, k.idle_timeout); }},
                 {"max_requests",
                  [&](const Node& x, const std::string& xp) { integer(x, xp, k.max_requests); }}});
          }},
         {"retries", [&](const Node& v, const std::string& p) { integer(v, p, g.retries); }}});
  }

  void cache_policy(const Node& n, const std::string& path, CachePolicyConfig& c) {
    map(n, path,
        {{"name", [&](const Node& v, const std::string& p) { string(v, p, c.name); }, true},
         {"min_ttl", [&](const Node& v, const std::string& p) { duration(v, p, c.min_ttl); }},
         {"default_ttl",
          [&](const Node& v, const std::string& p) { duration(v, p, c.default_ttl); }},
         {"max_ttl", [&](const Node& v, const std::string& p) { duration(v, p, c.max_ttl); }},
         {"key", [&](const Node& v, const std::string& p) {
            map(v, p,
                {{"headers",
                  [&](const Node& x, const std::string& xp) {
                    // Cache keys take listed headers only (as CloudFront): `none` or a list.
                    if (x.IsScalar() && x.Scalar() == "none") return;
                    if (x.IsScalar()) {
                      error(xp, "expected a list of header names or none, got " +
                                    in_quotes(x.Scalar()));
                      return;
                    }
                    strings(x, xp, c.key_headers);
                  }},
                 {"cookies",
                  [&](const Node& x, const std::string& xp) { selector(x, xp, c.key_cookies); }},
                 {"query_strings",
                  [&](const Node& x, const std::string& xp) {
                    selector(x, xp, c.key_query_strings);
                  }},
                 {"accept_encoding", [&](const Node& x, const std::string& xp) {
                    strings(x, xp, c.accept_encoding);
                  }}});
          }}});
  }

  void origin_request_policy(const Node& n, const std::string& path, OriginRequestPolicyConfig& o) {
    map(n, path,
        {{"name", [&](const Node& v, const std::string& p) { string(v, p, o.name); }, true},
         {"headers", [&](const Node& v, const std::string& p) { selector(v, p, o.headers); }},
         {"cookies", [&](const Node& v, const std::string& p) { selector(v, p, o.cookies); }},
         {"query_strings",
          [&](const Node& v, const std::string& p) { selector(v, p, o.query_strings); }}});
  }

  std::string file_;
  std::vector<ConfigError> errors_;
  std::map<std::string, Origin> origins_;
  std::vector<std::string> failed_;  // paths already reported by the reader
  std::set<std::string> quiet_;      // maps holding an unknown key
};

void Reader::root(const Node& n, Config& c) {
  note("", n.Mark());
  if (!n.IsMap()) {
    error("", n.IsNull() ? "the document is empty"
                         : "the document must be a map, got " + std::string(kind_of(n)));
    return;
  }
  map(n, "",
      {{"workers",
        [&](const Node& v, const std::string& p) {
          if (v.IsScalar() && v.Scalar() == "auto") {
            c.workers = 0;
            return;
          }
          long long w = 0;
          const std::size_t before = errors_.size();
          integer(v, p, w);
          if (errors_.size() != before) return;
          if (w < 1 || w > 1024) {
            error(p, "must be auto or between 1 and 1024 (got " + std::to_string(w) + ")");
            return;
          }
          c.workers = static_cast<unsigned>(w);
        }},
       {"admin", [&](const Node& v, const std::string& p) { admin(v, p, c.admin); }},
       {"access_log",
        [&](const Node& v, const std::string& p) {
          map(v, p,
              {{"path",
                [&](const Node& x, const std::string& xp) { string(x, xp, c.access_log.path); }},
               {"format", [&](const Node& x, const std::string& xp) {
                  choice(x, xp, {{"alb", AccessLogFormat::alb}, {"json", AccessLogFormat::json}},
                         c.access_log.format);
                }}});
        }},
       {"desync_mitigation_mode",
        [&](const Node& v, const std::string& p) {
          choice(v, p,
                 {{"monitor", DesyncMode::monitor},
                  {"defensive", DesyncMode::defensive},
                  {"strictest", DesyncMode::strictest}},
                 c.desync_mitigation_mode);
        }},
       {"limits",
        [&](const Node& v, const std::string& p) {
          auto& l = c.limits;
          map(v, p,
              {{"max_header_bytes",
                [&](const Node& x, const std::string& xp) { size(x, xp, l.max_header_bytes); }},
               {"max_header_line_bytes",
                [&](const Node& x, const std::string& xp) {
                  size(x, xp, l.max_header_line_bytes);
                }},
               {"max_body_bytes",
                [&](const Node& x, const std::string& xp) { size(x, xp, l.max_body_bytes); }}});
        }},
       {"timeouts",
        [&](const Node& v, const std::string& p) {
          auto& t = c.timeouts;
          map(v, p,
              {{"client_header",
                [&](const Node& x, const std::string& xp) { duration(x, xp, t.client_header); }},
               {"idle", [&](const Node& x, const std::string& xp) { duration(x, xp, t.idle); }},
               {"upstream_connect",
                [&](const Node& x, const std::string& xp) { duration(x, xp, t.upstream_connect); }},
               {"upstream_response",
                [&](const Node& x, const std::string& xp) {
                  duration(x, xp, t.upstream_response);
                }},
               {"drain", [&](const Node& x, const std::string& xp) { duration(x, xp, t.drain); }},
               {"tls_handshake",
                [&](const Node& x, const std::string& xp) { duration(x, xp, t.tls_handshake); }},
               {"websocket_idle",
                [&](const Node& x, const std::string& xp) { duration(x, xp, t.websocket_idle); }}});
        }},
       {"relay_buffer",
        [&](const Node& v, const std::string& p) { size(v, p, c.relay_buffer_bytes); }},
       {"listeners",
        [&](const Node& v, const std::string& p) {
          struct_list(v, p, c.listeners,
                      [&](const Node& item, const std::string& ip, ListenerConfig& l) {
                        listener(item, ip, l);
                      });
        }},
       {"target_groups",
        [&](const Node& v, const std::string& p) {
          struct_list(v, p, c.target_groups,
                      [&](const Node& item, const std::string& ip, TargetGroupConfig& g) {
                        target_group(item, ip, g);
                      });
        }},
       {"cache_policies",
        [&](const Node& v, const std::string& p) {
          struct_list(v, p, c.cache_policies,
                      [&](const Node& item, const std::string& ip, CachePolicyConfig& cp) {
                        cache_policy(item, ip, cp);
                      });
        }},
       {"origin_request_policies",
        [&](const Node& v, const std::string& p) {
          struct_list(v, p, c.origin_request_policies,
                      [&](const Node& item, const std::string& ip, OriginRequestPolicyConfig& o) {
                        origin_request_policy(item, ip, o);
                      });
        }},
       {"cache", [&](const Node& v, const std::string& p) {
          map(v, p,
              {{"memory",
                [&](const Node& x, const std::string& xp) { size(x, xp, c.cache.memory); }},
               {"max_object_size",
                [&](const Node& x, const std::string& xp) {
                  size(x, xp, c.cache.max_object_size);
                }},
               {"collapse_timeout", [&](const Node& x, const std::string& xp) {
                  duration(x, xp, c.cache.collapse_timeout);
                }}});
        }}});
}

LoadResult load(std::string_view yaml, const std::string& file_name, const std::string& source) {
  LoadResult result;
  result.config.source = source;
  Node root;
  try {
    // LoadAll rather than Load: a second document would otherwise be ignored silently.
    std::vector<Node> documents = YAML::LoadAll(std::string(yaml));
    if (documents.size() > 1) {
      ConfigError err;
      err.file = file_name;
      const YAML::Mark m = documents[1].Mark();
      err.line = m.line >= 0 ? m.line + 1 : 0;
      err.column = m.column >= 0 ? m.column + 1 : 0;
      err.message = "only one YAML document is allowed per file";
      result.errors.push_back(std::move(err));
      return result;
    }
    if (!documents.empty()) root = documents.front();
  } catch (const YAML::ParserException& e) {
    ConfigError err;
    err.file = file_name;
    err.line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    err.column = e.mark.column >= 0 ? e.mark.column + 1 : 0;
    err.message = "YAML syntax error: " + e.msg;
    result.errors.push_back(std::move(err));
    return result;
  } catch (const YAML::Exception& e) {
    ConfigError err;
    err.file = file_name;
    err.message = "YAML error: " + e.msg;
    result.errors.push_back(std::move(err));
    return result;
  }
  Reader reader(file_name);
  try {
    reader.root(root, result.config);
  } catch (const YAML::Exception& e) {
    // The reader only uses non-throwing accessors; this is a last line of defence
    // so a yaml-cpp surprise becomes a config error rather than a crash.
    ConfigError err;
    err.file = file_name;
    err.line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    err.column = e.mark.column >= 0 ? e.mark.column + 1 : 0;
    err.message = "YAML error: " + e.msg;
    result.errors.push_back(std::move(err));
    return result;
  }
  reader.add_semantic_errors(validate(result.config));
  result.errors = reader.take_errors();
  for (auto& e : result.errors) e.file = file_name;
  return result;
}

}  // namespace

std::string ConfigError::to_string() const {
  std::string out = file.empty() ? std::string("<config>") : file;
  if (line > 0) {
    out += ':';
    out += std::to_string(line);
    out += ':';
    out += std::to_string(column);
  }
  out += ": ";
  if (!path.empty()) {
    out += path;
    out += ": ";
  }
  out += message;
  return out;
}

LoadResult load_config_file(const std::string& path) {
  auto fail = [&](std::string message) {
    LoadResult result;
    result.config.source = path;
    ConfigError err;
    err.file = path;
    err.message = std::move(message);
    result.errors.push_back(std::move(err));
    return result;
  };
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return fail("cannot open: is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(std::string("cannot open: ") + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return load(text.str(), path, path);
}

LoadResult load_config_string(std::string_view yaml, const std::string& name) {
  // Text has no file to reload from, so `source` stays empty as for a Config built in code.
  return load(yaml, name, "");
}

}  // namespace edge::config
