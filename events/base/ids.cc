#include "events/base/ids.h"

#include <charconv>

namespace ae {
namespace {
template <typename T>
std::optional<T> ParseInt(std::string_view s) {
  T v{};
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}
}  // namespace

std::string LogPosition::ToString() const {
  if (partition == 0) return std::to_string(offset);
  return std::to_string(partition) + ":" + std::to_string(offset);
}

std::optional<LogPosition> LogPosition::Parse(std::string_view text) {
  LogPosition pos;
  auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    auto off = ParseInt<int64_t>(text);
    if (!off || *off < 0) return std::nullopt;
    pos.offset = *off;
    return pos;
  }
  auto part = ParseInt<int32_t>(text.substr(0, colon));
  auto off = ParseInt<int64_t>(text.substr(colon + 1));
  if (!part || !off || *part < 0 || *off < 0) return std::nullopt;
  pos.partition = *part;
  pos.offset = *off;
  return pos;
}

int64_t LogCursor::Next(int32_t partition) const {
  auto it = next_.find(partition);
  return it == next_.end() ? 0 : it->second;
}

void LogCursor::Advance(const LogPosition& pos) {
  int64_t& n = next_[pos.partition];
  if (pos.offset + 1 > n) n = pos.offset + 1;
}

std::string LogCursor::ToString() const {
  std::string s;
  for (const auto& [p, n] : next_) {
    if (!s.empty()) s += ",";
    s += std::to_string(p) + ":" + std::to_string(n);
  }
  return s;
}

std::optional<LogCursor> LogCursor::Parse(std::string_view text) {
  LogCursor c;
  while (!text.empty()) {
    auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    auto colon = item.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    auto p = ParseInt<int32_t>(item.substr(0, colon));
    auto n = ParseInt<int64_t>(item.substr(colon + 1));
    if (!p || !n || *p < 0 || *n < 0) return std::nullopt;
    c.next_[*p] = *n;
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return c;
}

LogCursor LogCursor::After(const LogPosition& pos) {
  LogCursor c;
  if (pos.valid()) c.Advance(pos);
  return c;
}

std::string_view StreamId::type() const {
  auto slash = value_.find('/');
  return std::string_view(value_).substr(0, slash);
}

std::string_view StreamId::id() const {
  auto slash = value_.find('/');
  if (slash == std::string::npos) return {};
  return std::string_view(value_).substr(slash + 1);
}

}  // namespace ae
