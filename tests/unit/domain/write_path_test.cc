// One write path: outside events/ (the logs) and domain/command_bus.* (the bus), no code
// appends to an EventLog or stamps an envelope's header itself. Every command goes through
// the command bus, which stamps actor, correlation and causation and appends with the
// expected version; a second writer would bypass its conflict handling and its stamping.
//
// The check reads the sources of api/, adapters/, projections/ and domain/ and names every
// offending line as file:line.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

namespace ae {
namespace {

namespace fs = std::filesystem;

fs::path SourceRoot() {
  if (const char* dir = std::getenv("AE_SOURCE_DIR"); dir != nullptr && *dir != '\0') return dir;
  return fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path();
}

// Files that may, and why. Paths relative to the source root.
const std::map<std::string, std::string>& Allowed() {
  static const std::map<std::string, std::string> allowed = {
      {"domain/command_bus.h", "the command bus: the one writer"},
      {"domain/command_bus.cc", "the command bus: the one writer"},
      {"api/metrics.h",
       "CountingEventLog is an EventLog decorator (it counts appends): it forwards the "
       "bus's appends to the real log and writes nothing of its own"},
  };
  return allowed;
}

// Comments removed (// to the end of the line; /* */ across lines), strings kept.
std::vector<std::string> CodeLines(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> out;
  std::string line;
  bool in_block = false;
  while (std::getline(in, line)) {
    std::string code;
    bool in_string = false;
    for (size_t i = 0; i < line.size(); ++i) {
      if (in_block) {
        if (line.compare(i, 2, "*/") == 0) {
          in_block = false;
          ++i;
        }
        continue;
      }
      if (!in_string && line.compare(i, 2, "//") == 0) break;
      if (!in_string && line.compare(i, 2, "/*") == 0) {
        in_block = true;
        ++i;
        continue;
      }
      if (line[i] == '"' && (i == 0 || line[i - 1] != '\\')) in_string = !in_string;
      code += line[i];
    }
    out.push_back(std::move(code));
  }
  return out;
}

struct Finding {
  std::string where;  // file:line
  std::string what;
};

std::vector<Finding> Scan() {
  // An append to a log, and the envelope fields the bus (or the log) stamps.
  static const std::vector<std::pair<std::regex, std::string>> patterns = {
      {std::regex(R"((\.|->)\s*(Append|AppendBatch)\s*\()"), "appends to an EventLog"},
      {std::regex(R"(\bFillEnvelopeDefaults\s*\()"), "stamps an envelope (FillEnvelopeDefaults)"},
      {std::regex(R"(\bmutable_actor\s*\()"), "stamps an envelope's actor"},
      {std::regex(R"(\bset_(correlation_id|causation_id)\s*\()"),
       "stamps an envelope's correlation or causation"},
      {std::regex(R"(\b(set_event_id|set_stream_version|set_prev_hash|mutable_recorded_at)\s*\()"),
       "stamps a header field the log owns"},
  };
  std::vector<Finding> found;
  const fs::path root = SourceRoot();
  for (const char* top : {"api", "adapters", "projections", "domain"}) {
    for (const auto& entry : fs::recursive_directory_iterator(root / top)) {
      if (!entry.is_regular_file()) continue;
      const auto ext = entry.path().extension();
      if (ext != ".cc" && ext != ".h") continue;
      const std::string rel = fs::relative(entry.path(), root).generic_string();
      if (Allowed().count(rel)) continue;
      const auto lines = CodeLines(entry.path());
      for (size_t i = 0; i < lines.size(); ++i) {
        for (const auto& [re, what] : patterns) {
          if (std::regex_search(lines[i], re)) {
            found.push_back({rel + ":" + std::to_string(i + 1), what});
          }
        }
      }
    }
  }
  return found;
}

TEST(WritePath, OnlyTheCommandBusAppendsOrStampsEvents) {
  ASSERT_TRUE(fs::exists(SourceRoot() / "domain" / "command_bus.h"))
      << "sources not found under " << SourceRoot();
  std::string report;
  for (const auto& f : Scan()) report += "  " + f.where + ": " + f.what + "\n";
  EXPECT_TRUE(report.empty())
      << "code outside events/ and domain/command_bus.* writes to the log or stamps envelopes "
         "itself; send the command through domain::CommandBus (Execute, ExecuteBatch, "
         "ExecuteDecided or GroupCommit) instead:\n"
      << report;
}

// The check itself finds what it looks for (a scan that matched nothing would pass
// whatever the sources hold).
TEST(WritePath, TheCheckFindsTheBusItself) {
  const auto lines = CodeLines(SourceRoot() / "domain" / "command_bus.h");
  const std::regex append(R"((\.|->)\s*(Append|AppendBatch)\s*\()");
  size_t hits = 0;
  for (const auto& l : lines) hits += std::regex_search(l, append) ? 1 : 0;
  EXPECT_GE(hits, 2u) << "the command bus's own appends were not found by the pattern";
}

}  // namespace
}  // namespace ae
