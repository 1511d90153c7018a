// The rest of serve's configuration (config.h): the environment variable of each option,
// the TOML file (--config) and the effective configuration (`config show`). The options
// themselves are defined in config.cc.

#include "api/cli/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace ae::cli {

namespace {

std::string EnvName(const std::string& long_name) {
  std::string env = "AUTOENROLL_";
  for (char c : long_name) {
    env.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return env;
}

bool Repeatable(const CLI::Option* opt) { return opt->get_items_expected_max() > 1; }
bool IsFlag(const CLI::Option* opt) { return opt->get_expected_max() == 0; }

// The TOML type an option's values take: "string", "integer", "float" or "boolean".
std::string TomlType(const CLI::Option* opt) {
  if (IsFlag(opt)) return "boolean";
  std::string t = opt->get_type_name();
  t = t.substr(0, t.find_first_of(": "));
  if (t == "INT" || t == "UINT") return "integer";
  if (t == "FLOAT") return "float";
  if (t == "BOOLEAN") return "boolean";
  return "string";
}

// The options a configuration file may set: serve's, then its parent's logging options.
CLI::Option* FindKey(CLI::App* serve_cmd, const std::string& key) {
  if (key.empty() || key == "config" || key == "help") return nullptr;
  if (auto* o = serve_cmd->get_option_no_throw("--" + key)) return o;
  if (key.rfind("log-", 0) != 0) return nullptr;
  for (CLI::App* up = serve_cmd->get_parent(); up != nullptr; up = up->get_parent()) {
    if (auto* o = up->get_option_no_throw("--" + key)) return o;
  }
  return nullptr;
}

struct Entry {
  std::string key;
  int line = 0;
  std::vector<std::string> values;
  std::vector<std::string> types;  // TOML type of each value
  bool array = false;
};

std::string Where(const std::string& path, int line) {
  return line > 0 ? path + ":" + std::to_string(line) : path;
}

Status ScalarOf(const toml::node& n, std::string* value, std::string* type) {
  if (auto s = n.as_string()) {
    *value = s->get();
    *type = "string";
  } else if (auto i = n.as_integer()) {
    *value = std::to_string(i->get());
    *type = "integer";
  } else if (auto d = n.as_floating_point()) {
    std::ostringstream os;
    os.precision(17);
    os << d->get();
    *value = os.str();
    *type = "float";
  } else if (auto b = n.as_boolean()) {
    *value = b->get() ? "true" : "false";
    *type = "boolean";
  } else {
    return InvalidArgument("config.bad_value", "not a string, number or boolean");
  }
  return Status::Ok();
}

Result<std::vector<Entry>> ReadFile(const std::string& path) {
  {
    std::ifstream probe(path);
    if (!probe) {
      return InvalidArgument("config.unreadable",
                             "cannot read the configuration file " + path + ": " +
                                 std::strerror(errno));
    }
  }
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    return InvalidArgument("config.bad_file", Where(path, static_cast<int>(at.line)) +
                                                  ": not valid TOML: " +
                                                  std::string(e.description()));
  }
  std::vector<Entry> entries;
  for (auto&& [k, node] : table) {
    Entry e;
    e.key = std::string(k.str());
    e.line = static_cast<int>(k.source().begin.line);
    if (e.line == 0) e.line = static_cast<int>(node.source().begin.line);
    if (auto arr = node.as_array()) {
      e.array = true;
      for (const auto& item : *arr) {
        std::string v, t;
        Status s = ScalarOf(item, &v, &t);
        if (!s.ok()) {
          return InvalidArgument("config.bad_value", Where(path, e.line) + ": " + e.key +
                                                         ": an element is " + s.message(),
                                 e.key);
        }
        e.values.push_back(v);
        e.types.push_back(t);
      }
    } else if (node.is_table()) {
      return InvalidArgument("config.unknown_key",
                             Where(path, e.line) + ": unknown key '" + e.key +
                                 "' (a table: the keys of the file are serve's long options "
                                 "without the leading --, at the top level)",
                             e.key);
    } else {
      std::string v, t;
      Status s = ScalarOf(node, &v, &t);
      if (!s.ok()) {
        return InvalidArgument("config.bad_value",
                               Where(path, e.line) + ": " + e.key + ": " + s.message(), e.key);
      }
      e.values.push_back(v);
      e.types.push_back(t);
    }
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.line < b.line; });
  return entries;
}

// Checks `e` against its option and, unless the option already has a value (a flag or
// the environment gave one) and `only_unset`, sets it.
Status ApplyEntry(const Entry& e, CLI::App* serve_cmd, const std::string& path,
                  bool only_unset) {
  CLI::Option* opt = FindKey(serve_cmd, e.key);
  const std::string where = Where(path, e.line);
  if (opt == nullptr) {
    return InvalidArgument("config.unknown_key",
                           where + ": unknown key '" + e.key +
                               "' (the keys are serve's long options without the leading --: "
                               "autoenroll serve --help)",
                           e.key);
  }
  const std::string want = TomlType(opt);
  if (e.array && !Repeatable(opt)) {
    return InvalidArgument("config.bad_value",
                           where + ": " + e.key + ": takes one " + want + ", not an array",
                           e.key);
  }
  for (const auto& t : e.types) {
    bool ok = t == want || (want == "float" && t == "integer");
    if (!ok) {
      return InvalidArgument("config.bad_value",
                             where + ": " + e.key + ": expected " +
                                 (want == "integer" ? "an " : "a ") + want + ", got a " + t,
                             e.key);
    }
  }
  if (only_unset && opt->count() > 0) return Status::Ok();
  if (e.values.empty()) return Status::Ok();  // [] : none, as by default
  try {
    opt->add_result(e.values);
    opt->run_callback();
  } catch (const CLI::Error& err) {
    return InvalidArgument("config.bad_value", where + ": " + e.key + ": " + err.what(), e.key);
  }
  return Status::Ok();
}

std::string Quoted(const std::string& s) { return nlohmann::json(s).dump(); }

// "https://user:pass@host/..." -> "https://user:***@host/...".
std::string MaskUrlPassword(const std::string& v) {
  auto scheme = v.find("://");
  if (scheme == std::string::npos) return v;
  auto at = v.find('@', scheme + 3);
  auto slash = v.find('/', scheme + 3);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return v;
  auto colon = v.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return v;
  return v.substr(0, colon + 1) + "***" + v.substr(at);
}

}  // namespace

bool IsSecretKey(const std::string& key) {
  std::string k = key;
  std::transform(k.begin(), k.end(), k.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* word : {"password", "secret", "token", "jaas", "key.pem", "ssl_key",
                           "credential", "private"}) {
    if (k.find(word) != std::string::npos) return true;
  }
  return false;
}

void AddEnvNames(CLI::App* cmd) {
  for (CLI::Option* opt : cmd->get_options()) {
    const auto& names = opt->get_lnames();
    if (names.empty() || names.front() == "help") continue;
    opt->envname(EnvName(names.front()));
    if (Repeatable(opt)) opt->delimiter('\n');
  }
}

Status ApplyConfigFile(const std::string& path, CLI::App* serve_cmd) {
  AE_ASSIGN_OR_RETURN(std::vector<Entry> entries, ReadFile(path));
  {
    // Every entry is checked on fresh options, so a bad value is refused even where a
    // flag or a variable overrides it.
    CLI::App scratch;
    LoggingFlags logging;
    ServeFlags flags;
    AddLoggingOptions(&scratch, logging);
    CLI::App* scratch_serve = scratch.add_subcommand("serve");
    AddServeOptions(scratch_serve, flags);
    for (const auto& e : entries) AE_RETURN_IF_ERROR(ApplyEntry(e, scratch_serve, path, false));
  }
  for (const auto& e : entries) AE_RETURN_IF_ERROR(ApplyEntry(e, serve_cmd, path, true));
  return Status::Ok();
}

std::string EffectiveConfig(CLI::App* serve_cmd) {
  std::ostringstream out;
  out << "# The effective configuration of autoenroll serve (flag > AUTOENROLL_* variable > "
         "file > default).\n";
  std::vector<CLI::Option*> options;
  for (CLI::App* up = serve_cmd->get_parent(); up != nullptr; up = up->get_parent()) {
    for (auto* o : up->get_options()) {
      if (!o->get_lnames().empty() && o->get_lnames().front().rfind("log-", 0) == 0) {
        options.push_back(o);
      }
    }
  }
  for (auto* o : serve_cmd->get_options()) {
    if (o->get_lnames().empty()) continue;
    const std::string& name = o->get_lnames().front();
    if (name == "help" || name == "config") continue;
    options.push_back(o);
  }
  for (CLI::Option* o : options) {
    const std::string key = o->get_lnames().front();
    std::vector<std::string> values;
    if (o->count() > 0) {
      values = o->results();
    } else if (!o->get_default_str().empty() && o->get_default_str() != "[]") {
      values = {o->get_default_str()};
    }
    const std::string type = TomlType(o);
    const bool secret = IsSecretKey(key);
    auto render = [&](std::string v) {
      if (type == "boolean") {
        bool b = false;
        if (!v.empty()) CLI::detail::lexical_cast(v, b);
        return std::string(b ? "true" : "false");
      }
      if (type == "integer" || type == "float") return v.empty() ? std::string("0") : v;
      if (secret && !v.empty()) return Quoted("***");
      if (key == "kafka-property") {
        auto eq = v.find('=');
        if (eq != std::string::npos && IsSecretKey(v.substr(0, eq))) {
          v = v.substr(0, eq + 1) + "***";
        }
      }
      return Quoted(MaskUrlPassword(v));
    };
    out << key << " = ";
    if (Repeatable(o)) {
      out << "[";
      for (size_t i = 0; i < values.size(); ++i) out << (i ? ", " : "") << render(values[i]);
      out << "]\n";
    } else {
      out << render(values.empty() ? "" : values.back()) << "\n";
    }
  }
  return out.str();
}

}  // namespace ae::cli
