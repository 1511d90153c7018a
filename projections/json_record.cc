#include "projections/json_record.h"

#include <google/protobuf/util/time_util.h>
#include <simdjson.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "events/base/clock.h"

namespace ae::proj::json_record {

std::string When(const events::Envelope& e) {
  return FormatRfc3339(
      google::protobuf::util::TimeUtil::TimestampToMilliseconds(e.occurred_at()));
}

// ---- Writer ----

void AppendString(std::string& out, std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      // Escapes, and UTF-8 (which nlohmann checks): exactly as nlohmann dumps the string.
      out += nlohmann::json(std::string(s)).dump();
      return;
    }
  }
  out += '"';
  out += s;
  out += '"';
}

void Writer::Key(std::string_view key) {
  if (!first_) out_ += ',';
  first_ = false;
  AppendString(out_, key);
  out_ += ':';
}

Writer& Writer::Str(std::string_view key, std::string_view v) {
  Key(key);
  AppendString(out_, v);
  return *this;
}

Writer& Writer::OptStr(std::string_view key, const std::optional<std::string>& v) {
  if (!v) return Null(key);
  return Str(key, std::string_view(*v));
}

Writer& Writer::Bool(std::string_view key, bool v) {
  Key(key);
  out_ += v ? "true" : "false";
  return *this;
}

namespace {
template <typename T>
void AppendNumber(std::string& out, T v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}
}  // namespace

Writer& Writer::Int(std::string_view key, int64_t v) {
  Key(key);
  AppendNumber(out_, v);
  return *this;
}

Writer& Writer::UInt(std::string_view key, uint64_t v) {
  Key(key);
  AppendNumber(out_, v);
  return *this;
}

Writer& Writer::Null(std::string_view key) {
  Key(key);
  out_ += "null";
  return *this;
}

Writer& Writer::Strings(std::string_view key, const std::vector<std::string>& v) {
  Key(key);
  out_ += '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out_ += ',';
    AppendString(out_, v[i]);
  }
  out_ += ']';
  return *this;
}

Writer& Writer::Object(std::string_view key, const std::function<void(Writer&)>& fn) {
  Key(key);
  Writer nested(out_);
  fn(nested);
  nested.Close();
  return *this;
}

// ---- Reading ----

namespace {

struct WrongType : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const simdjson::dom::element& El(const void* e) {
  return *static_cast<const simdjson::dom::element*>(e);
}

template <typename T>
T Get(const simdjson::dom::element& e, const char* what) {
  T v;
  if (auto err = e.get(v)) {
    throw WrongType(std::string("expected ") + what + ": " + simdjson::error_message(err));
  }
  return v;
}

void EachField(const simdjson::dom::object& o,
               const std::function<void(std::string_view, const Value&)>& fn) {
  for (auto field : o) {
    simdjson::dom::element v = field.value;
    fn(field.key, Value(&v));
  }
}

}  // namespace

bool Value::IsNull() const { return El(e_).is_null(); }

std::string Value::Str(const char* def) const {
  if (IsNull()) return def;
  return std::string(Get<std::string_view>(El(e_), "a string"));
}

std::optional<std::string> Value::OptStr() const {
  if (IsNull()) return std::nullopt;
  return std::string(Get<std::string_view>(El(e_), "a string"));
}

std::string Value::String() const { return std::string(Get<std::string_view>(El(e_), "a string")); }

std::vector<std::string> Value::Strings() const {
  std::vector<std::string> out;
  if (IsNull()) return out;
  for (simdjson::dom::element v : Get<simdjson::dom::array>(El(e_), "an array")) {
    out.emplace_back(Get<std::string_view>(v, "a string"));
  }
  return out;
}

bool Value::Bool() const { return !IsNull() && Get<bool>(El(e_), "a boolean"); }

int64_t Value::Int() const { return IsNull() ? 0 : Get<int64_t>(El(e_), "an integer"); }

uint64_t Value::UInt() const { return IsNull() ? 0 : Get<uint64_t>(El(e_), "an integer"); }

std::optional<uint64_t> Value::OptUInt() const {
  if (IsNull()) return std::nullopt;
  return Get<uint64_t>(El(e_), "an integer");
}

bool Value::Fields(const std::function<void(std::string_view, const Value&)>& fn) const {
  if (IsNull()) return false;
  EachField(Get<simdjson::dom::object>(El(e_), "an object"), fn);
  return true;
}

Status ReadObject(std::string_view bytes, const char* table,
                  const std::function<void(std::string_view, const Value&)>& fn) {
  // One parser per thread, reused: its buffers grow to the largest record once.
  thread_local simdjson::dom::parser parser;
  thread_local std::string padded;
  padded.assign(bytes);
  padded.resize(bytes.size() + simdjson::SIMDJSON_PADDING);
  simdjson::dom::element doc;
  if (parser.parse(padded.data(), bytes.size(), false).get(doc)) {
    return Corruption("view.corruption", std::string(table) + " record does not parse");
  }
  simdjson::dom::object o;
  if (doc.get(o)) {
    return Corruption("view.corruption", std::string(table) + " record is not an object");
  }
  try {
    EachField(o, fn);
  } catch (const WrongType& e) {
    return Corruption("view.corruption",
                      std::string(table) + " record has a value of the wrong type: " + e.what());
  }
  return Status::Ok();
}

}  // namespace ae::proj::json_record
