// The reason catalogue: every reason code the engine raises is listed, with the HTTP status it
// is answered with and its meaning, in the errors.h of its area, and api/ERRORS.md and the
// READMEs agree with the catalogue.
//
// The raise sites are read from the source tree (api/, adapters/, domain/, projections/,
// events/): the first argument of the Status factories (InvalidArgument("dep.url_invalid", ...),
// NotFound(...), ...) and the reason of Status(StatusCode::k..., "reason", ...), given as a
// literal or as a named constant (dep::kTermsNotSigned), over as many lines as the call takes.

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/apple_dep/errors.h"
#include "adapters/apple_mdm/errors.h"
#include "adapters/assignment/errors.h"
#include "adapters/http/errors.h"
#include "adapters/samsung_knox/errors.h"
#include "adapters/simulators/errors.h"
#include "api/errors.h"
#include "api/http_errors.h"
#include "domain/dep/errors.h"
#include "domain/devices/errors.h"
#include "domain/errors.h"
#include "domain/kme/errors.h"
#include "domain/policies/errors.h"
#include "domain/rules/errors.h"
#include "domain/users/errors.h"
#include "events/base/reason_info.h"
#include "events/base/status.h"
#include "events/errors.h"
#include "projections/errors.h"

namespace ae::api {
namespace {

namespace fs = std::filesystem;

fs::path SourceRoot() {
  if (const char* dir = std::getenv("AE_SOURCE_DIR"); dir != nullptr && *dir != '\0') return dir;
  return fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path();
}

struct Catalogue {
  std::string file;  // relative to the source root
  std::span<const ReasonInfo> reasons;
};

const std::vector<Catalogue>& Catalogues() {
  static const std::vector<Catalogue> kAll = {
      {"api/errors.h", api::kReasons},
      {"events/errors.h", events::kReasons},
      {"projections/errors.h", proj::kReasons},
      {"domain/errors.h", domain::kReasons},
      {"domain/dep/errors.h", domain::dep::kReasons},
      {"domain/kme/errors.h", domain::kme::kReasons},
      {"domain/users/errors.h", domain::users::kReasons},
      {"domain/policies/errors.h", domain::policies::kReasons},
      {"domain/rules/errors.h", domain::rules::kReasons},
      {"domain/devices/errors.h", domain::devices::kReasons},
      {"adapters/http/errors.h", http::kReasons},
      {"adapters/apple_dep/errors.h", dep::kReasons},
      {"adapters/apple_mdm/errors.h", mdm::kReasons},
      {"adapters/samsung_knox/errors.h", knox::kReasons},
      {"adapters/assignment/errors.h", assign::kReasons},
      {"adapters/simulators/errors.h", sim::kReasons},
  };
  return kAll;
}

std::map<std::string, ReasonInfo> CatalogueByCode() {
  std::map<std::string, ReasonInfo> out;
  for (const Catalogue& c : Catalogues()) {
    for (const ReasonInfo& r : c.reasons) out.emplace(std::string(r.code), r);
  }
  return out;
}

std::string Area(std::string_view code) { return std::string(code.substr(0, code.find('.'))); }

bool IsReasonShaped(std::string_view code) {
  static const std::regex kShape("[a-z][a-z0-9_]*(\\.[a-z0-9_]+)?");
  return std::regex_match(code.begin(), code.end(), kShape);
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

// The end (one past the closing quote) of the string or character literal starting at `i`
// (on its opening quote, or on the R of a raw string).
size_t SkipLiteral(const std::string& s, size_t i) {
  if (s[i] == 'R') {  // R"delim( ... )delim"
    const size_t open = s.find('(', i + 2);
    if (open == std::string::npos) return s.size();
    const std::string close = ")" + s.substr(i + 2, open - i - 2) + "\"";
    const size_t end = s.find(close, open);
    return end == std::string::npos ? s.size() : end + close.size();
  }
  const char quote = s[i];
  for (size_t j = i + 1; j < s.size(); ++j) {
    if (s[j] == '\\') {
      ++j;
    } else if (s[j] == quote || s[j] == '\n') {
      return j + 1;
    }
  }
  return s.size();
}

bool StartsLiteral(const std::string& s, size_t i) {
  if (s[i] == '"') return true;
  if (s[i] == 'R' && i + 1 < s.size() && s[i + 1] == '"') return i == 0 || !IsIdentChar(s[i - 1]);
  // A quote after a digit or a letter is a digit separator (1'000), not a character literal.
  return s[i] == '\'' && (i == 0 || !IsIdentChar(s[i - 1]));
}

// `s` with its comments blanked (line breaks kept, so offsets keep their line).
std::string StripComments(const std::string& s) {
  std::string out = s;
  for (size_t i = 0; i < s.size();) {
    if (StartsLiteral(s, i)) {
      i = SkipLiteral(s, i);
    } else if (s.compare(i, 2, "//") == 0) {
      while (i < s.size() && s[i] != '\n') out[i++] = ' ';
    } else if (s.compare(i, 2, "/*") == 0) {
      const size_t end = std::min(s.find("*/", i + 2), s.size() - 2) + 2;
      for (; i < end; ++i) {
        if (out[i] != '\n') out[i] = ' ';
      }
    } else {
      ++i;
    }
  }
  return out;
}

std::string Collapse(std::string_view text) {  // whitespace runs to one space, trimmed
  std::string out;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

size_t SkipSpace(const std::string& s, size_t i) {
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])) != 0) ++i;
  return i;
}

// The top-level arguments of the call whose '(' is at `open`, whitespace collapsed.
std::vector<std::string> CallArguments(const std::string& s, size_t open) {
  std::vector<std::string> args;
  int depth = 0;
  size_t start = open + 1;
  for (size_t i = open + 1; i < s.size();) {
    if (StartsLiteral(s, i)) {
      i = SkipLiteral(s, i);
      continue;
    }
    const char c = s[i];
    if (c == '(' || c == '[' || c == '{') {
      ++depth;
    } else if (c == ')' || c == ']' || c == '}') {
      if (depth == 0) {
        std::string last = Collapse(std::string_view(s).substr(start, i - start));
        if (!last.empty() || !args.empty()) args.push_back(last);
        return args;
      }
      --depth;
    } else if (c == ',' && depth == 0) {
      args.push_back(Collapse(std::string_view(s).substr(start, i - start)));
      start = i + 1;
    }
    ++i;
  }
  return args;
}

const std::map<std::string, StatusCode>& Factories() {
  static const std::map<std::string, StatusCode> kAll = {
      {"InvalidArgument", StatusCode::kInvalidArgument},
      {"NotFound", StatusCode::kNotFound},
      {"AlreadyExists", StatusCode::kAlreadyExists},
      {"Conflict", StatusCode::kConflict},
      {"FailedPrecondition", StatusCode::kFailedPrecondition},
      {"Unprocessable", StatusCode::kUnprocessable},
      {"Unavailable", StatusCode::kUnavailable},
      {"DeadlineExceeded", StatusCode::kDeadlineExceeded},
      {"Unauthenticated", StatusCode::kUnauthenticated},
      {"PermissionDenied", StatusCode::kPermissionDenied},
      {"ResourceExhausted", StatusCode::kResourceExhausted},
      {"Cancelled", StatusCode::kCancelled},
      {"Corruption", StatusCode::kCorruption},
      {"Internal", StatusCode::kInternal},
  };
  return kAll;
}

const std::map<std::string, StatusCode>& CodeNames() {  // StatusCode::k... in Status(...)
  static const std::map<std::string, StatusCode> kAll = [] {
    std::map<std::string, StatusCode> m;
    for (const auto& [name, code] : Factories()) m.emplace("k" + name, code);
    m.emplace("kPayloadTooLarge", StatusCode::kPayloadTooLarge);
    m.emplace("kUnimplemented", StatusCode::kUnimplemented);
    return m;
  }();
  return kAll;
}

// Functions that return a Status with the reason they are given: the argument index of the
// reason and the code they raise it with.
struct Forwarder {
  std::string_view function;
  size_t reason_arg;
  StatusCode code;
};
constexpr Forwarder kForwarders[] = {
    {"WriteFileDurably", 2, StatusCode::kUnavailable},       // events/base/durable_file.h
    {"CheckBaseUrlField", 2, StatusCode::kInvalidArgument},  // adapters/http/http_client.h
};
// Parameters whose default value is a reason the function raises (adapters/http/retry.h).
struct DefaultReason {
  std::string_view parameter;
  StatusCode code;
};
constexpr DefaultReason kDefaultReasons[] = {{"unavailable_reason", StatusCode::kUnavailable}};

// Reasons built at run time: the expression (whitespace collapsed) and the codes it makes.
// A family that passes a vendor's own code through makes none the catalogue can list;
// api/ERRORS.md describes it.
struct Composed {
  std::string_view expression;
  std::vector<std::string_view> codes;
};
const std::vector<Composed>& ComposedReasons() {
  static const std::vector<Composed> kAll = {
      // api/routes_policies.cc: k.kind is "policy" or "ruleset".
      {"k.kind + \".not_found\"", {"policy.not_found", "ruleset.not_found"}},
      {"k.kind + \".version_not_found\"",
       {"policy.version_not_found", "ruleset.version_not_found"}},
      {"k.kind + \".in_use\"", {"policy.in_use", "ruleset.in_use"}},
      // api/lookup.cc ResolveNamed: kind is "policy" or "ruleset" ("user" is raised apart).
      {"\"device.unknown_\" + kind", {"device.unknown_policy", "device.unknown_ruleset"}},
      // domain/policies/policies.cc SameKey: kind is "policy" or "ruleset".
      {"std::string(kind) + \".rename_not_supported\"",
       {"policy.rename_not_supported", "ruleset.rename_not_supported"}},
      // Apple's and Samsung's own error codes, passed through.
      {"\"dep.\" + Lower(code)", {}},
      {"\"knox.\" + code", {}},
  };
  return kAll;
}

struct RaiseSite {
  std::string where;  // file:line
  std::string code;
  int http = 0;  // 0: the raise site does not fix the status
};

struct Scan {
  std::vector<RaiseSite> sites;
  std::vector<std::string> problems;  // "file:line: ..." the catalogue cannot be checked against
  std::set<std::string> composed_seen;
};

struct SourceFile {
  std::string path;  // relative
  std::string text;  // comments blanked
  int LineOf(size_t pos) const {
    return 1 + static_cast<int>(std::count(text.begin(), text.begin() + pos, '\n'));
  }
};

std::vector<SourceFile> SourceFiles() {
  std::vector<SourceFile> files;
  for (const char* top : {"api", "adapters", "domain", "projections", "events"}) {
    for (const auto& entry : fs::recursive_directory_iterator(SourceRoot() / top)) {
      const std::string ext = entry.path().extension().string();
      if (!entry.is_regular_file() || (ext != ".cc" && ext != ".h")) continue;
      files.push_back({fs::relative(entry.path(), SourceRoot()).generic_string(),
                       StripComments(ReadFile(entry.path()))});
    }
  }
  std::sort(files.begin(), files.end(),
            [](const SourceFile& a, const SourceFile& b) { return a.path < b.path; });
  return files;
}

// Named reason constants: `constexpr char kName[] = "area.code";` (or const char*,
// std::string_view), with the folder that defines them.
std::multimap<std::string, std::pair<std::string, std::string>> ReasonConstants(
    const std::vector<SourceFile>& files) {
  static const std::regex kDef(
      "constexpr\\s+(?:const\\s+)?(?:char\\s*\\*?\\s*|std::string_view\\s+)(k[A-Z]\\w*)\\s*"
      "(?:\\[\\s*\\])?\\s*=\\s*\"([a-z][a-z0-9_]*\\.[a-z0-9_]+)\"\\s*;");
  std::multimap<std::string, std::pair<std::string, std::string>> out;
  for (const SourceFile& f : files) {
    for (size_t pos = f.text.find("constexpr"); pos != std::string::npos;
         pos = f.text.find("constexpr", pos + 1)) {
      const size_t end = f.text.find(';', pos);
      if (end == std::string::npos) break;
      const std::string statement = f.text.substr(pos, end + 1 - pos);
      std::smatch m;
      if (std::regex_match(statement, m, kDef)) {
        out.emplace(m[1], std::make_pair(fs::path(f.path).parent_path().string(), m[2]));
      }
    }
  }
  return out;
}

void AddReason(const SourceFile& f, size_t pos, const std::string& expr, int http,
               const std::multimap<std::string, std::pair<std::string, std::string>>& constants,
               Scan& scan) {
  static const std::regex kLiteral("\"([^\"\\\\]*)\"");
  static const std::regex kConstant("(?:\\w+::)*(k[A-Z]\\w*)");
  // A literal holding a dot in a longer expression: part of a reason built at run time.
  static const std::regex kFragment("\"[a-z0-9_]*\\.[a-z0-9_]*\"");
  const std::string where = f.path + ":" + std::to_string(f.LineOf(pos));
  std::smatch m;
  if (std::regex_match(expr, m, kLiteral)) {
    if (!IsReasonShaped(m[1].str())) {
      scan.problems.push_back(where + ": \"" + m[1].str() + "\" is not a dotted reason code");
      return;
    }
    scan.sites.push_back({where, m[1], http});
  } else if (std::regex_match(expr, m, kConstant)) {
    // The constant of the raise site's folder first (dep::kBadResponse, knox::kBadResponse).
    const auto [begin, end] = constants.equal_range(m[1]);
    if (begin == end) return;  // not a reason constant (a local, a number)
    std::string code = begin->second.second;
    const std::string folder = fs::path(f.path).parent_path().string();
    for (auto it = begin; it != end; ++it) {
      if (it->second.first == folder) code = it->second.second;
    }
    scan.sites.push_back({where, code, http});
  } else if (std::regex_search(expr, kFragment)) {
    for (const Composed& c : ComposedReasons()) {
      if (c.expression != expr) continue;
      scan.composed_seen.insert(std::string(c.expression));
      for (std::string_view code : c.codes) scan.sites.push_back({where, std::string(code), http});
      return;
    }
    scan.problems.push_back(where + ": the reason `" + expr +
                            "` is built at run time: list the codes it makes in "
                            "ComposedReasons() and the catalogue");
  }
  // Anything else forwards a reason raised elsewhere (s.reason(), a parameter, a view's
  // "code").
}

const Scan& ScanSources() {
  static const Scan kScan = [] {
    Scan scan;
    const std::vector<SourceFile> files = SourceFiles();
    const auto constants = ReasonConstants(files);
    for (const SourceFile& f : files) {
      const std::string& s = f.text;
      for (size_t i = 0; i < s.size();) {
        if (StartsLiteral(s, i)) {
          i = SkipLiteral(s, i);
          continue;
        }
        if (!IsIdentChar(s[i]) || (i > 0 && IsIdentChar(s[i - 1]))) {
          ++i;
          continue;
        }
        size_t end = i;
        while (end < s.size() && IsIdentChar(s[end])) ++end;
        const std::string ident = s.substr(i, end - i);
        const size_t start = i;
        i = end;
        size_t before = start;
        while (before > 0 && std::isspace(static_cast<unsigned char>(s[before - 1])) != 0) {
          --before;
        }
        const bool member = before > 0 && (s[before - 1] == '.' || s[before - 1] == '>');
        const size_t next = SkipSpace(s, end);
        for (const DefaultReason& d : kDefaultReasons) {
          if (ident == d.parameter && next < s.size() && s[next] == '=') {
            const size_t value = SkipSpace(s, next + 1);
            if (value < s.size() && s[value] == '"') {
              AddReason(f, start, s.substr(value, SkipLiteral(s, value) - value),
                        HttpStatusFor(d.code), constants, scan);
            }
          }
        }
        if (member || next >= s.size() || s[next] != '(') continue;
        if (auto it = Factories().find(ident); it != Factories().end()) {
          const std::vector<std::string> args = CallArguments(s, next);
          if (!args.empty()) {
            AddReason(f, start, args[0], HttpStatusFor(it->second), constants, scan);
          }
        } else if (ident == "Status") {
          const std::vector<std::string> args = CallArguments(s, next);
          if (args.size() < 2) continue;
          static const std::regex kCode("(?:::)?(?:ae::)?StatusCode::(k\\w+)");
          std::smatch m;
          int http = 0;
          if (std::regex_match(args[0], m, kCode)) {
            auto code = CodeNames().find(m[1]);
            if (code != CodeNames().end()) http = HttpStatusFor(code->second);
          }
          AddReason(f, start, args[1], http, constants, scan);
        } else {
          for (const Forwarder& fw : kForwarders) {
            if (ident != fw.function) continue;
            const std::vector<std::string> args = CallArguments(s, next);
            if (args.size() > fw.reason_arg) {
              AddReason(f, start, args[fw.reason_arg], HttpStatusFor(fw.code), constants, scan);
            }
          }
        }
      }
    }
    return scan;
  }();
  return kScan;
}

TEST(ReasonCatalogue, CataloguesAreWellFormed) {
  std::map<std::string, std::string> file_of_code;
  std::map<std::string, std::string> file_of_area;
  for (const Catalogue& c : Catalogues()) {
    EXPECT_TRUE(fs::exists(SourceRoot() / c.file)) << c.file;
    EXPECT_FALSE(c.reasons.empty()) << c.file;
    for (const ReasonInfo& r : c.reasons) {
      const std::string code(r.code);
      EXPECT_TRUE(IsReasonShaped(code)) << c.file << ": " << code;
      auto [it, fresh] = file_of_code.emplace(code, c.file);
      EXPECT_TRUE(fresh) << code << " is catalogued twice: " << it->second << ", " << c.file;
      auto [area, new_area] = file_of_area.emplace(Area(code), c.file);
      EXPECT_EQ(area->second, c.file)
          << "the area " << Area(code) << " is split over " << area->second << " and " << c.file;
      EXPECT_GE(r.http_status, 400) << code;
      EXPECT_LE(r.http_status, 599) << code;
      EXPECT_FALSE(r.meaning.empty()) << code;
      EXPECT_EQ(r.meaning.find_first_of("|\n"), std::string_view::npos) << code;
    }
  }
  // Every errors.h of the tree is one of the catalogues above.
  std::set<std::string> listed;
  for (const Catalogue& c : Catalogues()) listed.insert(c.file);
  for (const char* top : {"api", "adapters", "domain", "projections", "events"}) {
    for (const auto& entry : fs::recursive_directory_iterator(SourceRoot() / top)) {
      if (entry.path().filename() != "errors.h") continue;
      const std::string rel = fs::relative(entry.path(), SourceRoot()).generic_string();
      EXPECT_TRUE(listed.count(rel)) << rel << " is not among the catalogues of this test";
    }
  }
}

TEST(ReasonCatalogue, EveryRaisedReasonIsCatalogued) {
  const Scan& scan = ScanSources();
  for (const std::string& problem : scan.problems) ADD_FAILURE() << problem;
  // The scan sees the raise sites at all (a broken scan must not pass for an empty tree).
  ASSERT_GT(scan.sites.size(), 500u);
  const auto catalogue = CatalogueByCode();
  for (const RaiseSite& site : scan.sites) {
    EXPECT_TRUE(catalogue.count(site.code))
        << site.where << ": " << site.code << " is raised but not in the catalogue of its area ("
        << Area(site.code) << ".): add it to the area's errors.h and to api/ERRORS.md";
  }
}

TEST(ReasonCatalogue, EveryCatalogueEntryIsRaised) {
  const Scan& scan = ScanSources();
  std::set<std::string> raised;
  for (const RaiseSite& site : scan.sites) raised.insert(site.code);
  for (const Catalogue& c : Catalogues()) {
    for (const ReasonInfo& r : c.reasons) {
      EXPECT_TRUE(raised.count(std::string(r.code)))
          << c.file << ": " << r.code << " is catalogued but no source raises it";
    }
  }
  for (const Composed& c : ComposedReasons()) {
    EXPECT_TRUE(scan.composed_seen.count(std::string(c.expression)))
        << "no raise site builds a reason as " << c.expression << " any more";
  }
}

TEST(ReasonCatalogue, StatusIsOneTheCodeIsRaisedWith) {
  std::map<std::string, std::map<int, std::vector<std::string>>> raised;  // code -> http -> where
  for (const RaiseSite& site : ScanSources().sites) {
    if (site.http != 0) raised[site.code][site.http].push_back(site.where);
  }
  for (const auto& [code, info] : CatalogueByCode()) {
    auto it = raised.find(code);
    if (it == raised.end()) continue;
    if (it->second.count(info.http_status)) continue;
    std::string sites;
    for (const auto& [http, wheres] : it->second) {
      for (const std::string& w : wheres) sites += "\n  " + std::to_string(http) + " at " + w;
    }
    ADD_FAILURE() << code << " is catalogued as " << info.http_status
                  << " but raised only as:" << sites;
  }
}

TEST(ReasonCatalogue, ACodeIsRaisedWithOneStatus) {
  // A client maps a code to one meaning and one status: a path naming something missing
  // is 404 (dep.profile_not_found), a body field naming it 422 with a code of its own
  // (dep.unknown_profile).
  std::map<std::string, std::map<int, std::vector<std::string>>> raised;  // code -> http -> where
  for (const RaiseSite& site : ScanSources().sites) {
    if (site.http != 0) raised[site.code][site.http].push_back(site.where);
  }
  for (const auto& [code, by_status] : raised) {
    if (by_status.size() < 2) continue;
    std::string sites;
    for (const auto& [http, wheres] : by_status) {
      for (const std::string& w : wheres) sites += "\n  " + std::to_string(http) + " at " + w;
    }
    ADD_FAILURE() << code << " is raised with more than one status:" << sites;
  }
}

TEST(ReasonCatalogue, NoSourceRaisesAnotherStatusesCodeUnderItsOwnStatus) {
  // A code's status is fixed where it is raised: passing status.reason() to a factory of
  // another status (a 422 answered as 400) would give the code a second status no raise
  // site shows. Status(s.code(), s.reason(), ...) keeps it, and is allowed.
  static const std::regex kReRaise(
      "\\b(InvalidArgument|NotFound|AlreadyExists|Conflict|FailedPrecondition|Unprocessable|"
      "Unavailable|DeadlineExceeded|Unauthenticated|PermissionDenied|ResourceExhausted|"
      "Cancelled|Corruption|Internal)\\(\\s*[A-Za-z_][\\w.>()-]*\\breason\\(\\)");
  for (const SourceFile& f : SourceFiles()) {
    for (auto it = std::sregex_iterator(f.text.begin(), f.text.end(), kReRaise);
         it != std::sregex_iterator(); ++it) {
      ADD_FAILURE() << f.path << ":" << f.LineOf(it->position())
                    << ": re-raises a code under a status of its own: " << it->str();
    }
  }
}

// Backticked `area.snake_case` words of the documentation that are not reason codes.
bool NotAReason(const std::string& word) {
  static const std::set<std::string> kNames = {
      "views.current",      // the file naming the live views directory
      "enroll.x", "kme.x",  // placeholders in events/README.md's upcast table
  };
  static const std::regex kFileName(
      ".*\\.(cc|h|md|json|proto|desc|toml|pem|p12|p7m|cer|csv|txt|sh|py|yaml|yml|service|log)");
  return kNames.count(word) || std::regex_match(word, kFileName);
}

TEST(ReasonCatalogue, DocumentedCodesAreCatalogued) {
  const auto catalogue = CatalogueByCode();
  std::set<std::string> areas;
  for (const auto& [code, info] : catalogue) areas.insert(Area(code));
  std::vector<fs::path> docs = {SourceRoot() / "README.md", SourceRoot() / "SECURITY.md"};
  for (auto it = fs::recursive_directory_iterator(SourceRoot());
       it != fs::recursive_directory_iterator(); ++it) {
    const std::string name = it->path().filename().string();
    if (it->is_directory() && (name.rfind("build", 0) == 0 || name.rfind('.', 0) == 0)) {
      it.disable_recursion_pending();
      continue;
    }
    if (name == "README.md" && it->path().parent_path() != SourceRoot()) docs.push_back(it->path());
  }
  ASSERT_GE(docs.size(), 8u);
  static const std::regex kWord("`([a-z][a-z0-9_]*\\.[a-z0-9_]+)`");
  size_t checked = 0;
  for (const fs::path& doc : docs) {
    std::ifstream in(doc);
    ASSERT_TRUE(in) << doc;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      for (std::sregex_iterator m(line.begin(), line.end(), kWord), e; m != e; ++m) {
        const std::string word = (*m)[1];
        if (!areas.count(Area(word)) || NotAReason(word)) continue;
        ++checked;
        EXPECT_TRUE(catalogue.count(word))
            << fs::relative(doc, SourceRoot()).generic_string() << ":" << n << ": `" << word
            << "` looks like a reason code but is not in the catalogue";
      }
    }
  }
  EXPECT_GT(checked, 50u);
}

TEST(ReasonCatalogue, ErrorsMdTableEqualsTheCatalogue) {
  std::ifstream in(SourceRoot() / "api" / "ERRORS.md");
  ASSERT_TRUE(in) << "api/ERRORS.md not found under " << SourceRoot();
  static const std::regex kHeading("## `([a-z][a-z0-9_]*)\\.?`");
  static const std::regex kRow("\\| `([^`]+)` \\| ([0-9]{3}) \\| (.*) \\|");
  struct Row {
    int http;
    std::string meaning;
  };
  std::map<std::string, Row> rows;
  std::string section;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    std::smatch m;
    if (std::regex_match(line, m, kHeading)) {
      section = m[1];
    } else if (std::regex_match(line, m, kRow)) {
      const std::string code = m[1];
      EXPECT_EQ(Area(code), section) << "api/ERRORS.md:" << n << ": " << code
                                     << " is not under the heading of its area";
      EXPECT_TRUE(rows.emplace(code, Row{std::stoi(m[2]), m[3]}).second)
          << "api/ERRORS.md:" << n << ": " << code << " has two rows";
    } else {
      EXPECT_NE(line.rfind("| `", 0), 0u) << "api/ERRORS.md:" << n << ": not a table row: "
                                          << line;
    }
  }
  const auto catalogue = CatalogueByCode();
  for (const auto& [code, info] : catalogue) {
    auto it = rows.find(code);
    if (it == rows.end()) {
      ADD_FAILURE() << code << " has no row in api/ERRORS.md";
      continue;
    }
    EXPECT_EQ(it->second.http, info.http_status) << "api/ERRORS.md, " << code;
    EXPECT_EQ(it->second.meaning, info.meaning) << "api/ERRORS.md, " << code;
  }
  for (const auto& [code, row] : rows) {
    EXPECT_TRUE(catalogue.count(code)) << "api/ERRORS.md lists " << code
                                       << ", which no catalogue has";
  }
}

}  // namespace
}  // namespace ae::api
