// The golden corpus: encoded events of every released schema version that the
// current code must keep decoding, byte for byte (Redpanda's compat corpus is
// the model).
//
// tests/golden/events/v<N>/<payload_field_name>.bin holds one serialized
// Envelope per payload case of schema version N, and .textproto its TextFormat.
// The files are written once by tests/tools/make_golden.cc and never
// regenerated: see tests/golden/README.md.

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "autoenroll/events/v1/events.pb.h"
#include "tests/support/test_support.h"

namespace ae::events {
namespace {

namespace fs = std::filesystem;
namespace pb = google::protobuf;
using autoenroll::events::v1::Envelope;

constexpr char kMakeGoldenHint[] =
    "add a builder to tests/tools/make_golden.cc, run `build/tests/make_golden` "
    "(it writes only missing files) and commit the new files";

// The repository root: $AE_SOURCE_DIR (set by ae_test), else derived from this
// file's compiled-in path (tests/unit/events/<file>.cc) so the binary also runs by hand.
fs::path SourceRoot() {
  if (const char* dir = std::getenv("AE_SOURCE_DIR"); dir != nullptr && *dir != '\0') return dir;
  return fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path();
}

fs::path GoldenDir() { return SourceRoot() / "tests" / "golden"; }

std::optional<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream data;
  data << in.rdbuf();
  return data.str();
}

// "v12" -> 12; nullopt for anything else.
std::optional<int> VersionOf(const std::string& name) {
  if (name.size() < 2 || name[0] != 'v') return std::nullopt;
  if (!std::all_of(name.begin() + 1, name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::stoi(name.substr(1));
}

// Schema version -> tests/golden/events/v<N>.
std::map<int, fs::path> CorpusDirs() {
  std::map<int, fs::path> dirs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(GoldenDir() / "events", ec)) {
    auto version = VersionOf(entry.path().filename().string());
    if (entry.is_directory() && version.has_value()) dirs[*version] = entry.path();
  }
  return dirs;
}

// Schema version -> tests/golden/descriptors/v<N>.desc.
std::map<int, fs::path> Baselines() {
  std::map<int, fs::path> baselines;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(GoldenDir() / "descriptors", ec)) {
    auto version = VersionOf(entry.path().stem().string());
    if (entry.path().extension() == ".desc" && version.has_value()) {
      baselines[*version] = entry.path();
    }
  }
  return baselines;
}

std::vector<fs::path> FilesWithExtension(const fs::path& dir, const std::string& ext) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ext) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string SerializeDeterministic(const pb::Message& m) {
  std::string out;
  {
    pb::io::StringOutputStream stream(&out);
    pb::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    if (!m.SerializeToCodedStream(&coded)) out.clear();
  }
  return out;
}

std::string Lines(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += "\n  - " + item;
  return text;
}

// Paths of the fields left unset (recursively; well-known types are leaves).
void MissingFields(const pb::Message& m, const std::string& path, std::vector<std::string>* out) {
  const pb::Descriptor* d = m.GetDescriptor();
  if (d->file()->package() == "google.protobuf") return;
  const pb::Reflection* r = m.GetReflection();
  for (int i = 0; i < d->real_oneof_decl_count(); ++i) {
    if (r->GetOneofFieldDescriptor(m, d->oneof_decl(i)) == nullptr) {
      out->push_back(path + "." + d->oneof_decl(i)->name());
    }
  }
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    const pb::OneofDescriptor* oneof = f->real_containing_oneof();
    if (oneof != nullptr && r->GetOneofFieldDescriptor(m, oneof) != f) continue;
    const std::string name = path + "." + f->name();
    if (f->is_repeated()) {
      const int n = r->FieldSize(m, f);
      if (n == 0) out->push_back(name);
      if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
      for (int j = 0; j < n; ++j) {
        MissingFields(r->GetRepeatedMessage(m, f, j), name + "[" + std::to_string(j) + "]", out);
      }
    } else if (!r->HasField(m, f)) {
      out->push_back(name);
    } else if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      MissingFields(r->GetMessage(m, f), name, out);
    }
  }
}

// The payload cases of an Envelope descriptor, by field name.
std::set<std::string> PayloadCases(const pb::Descriptor& envelope) {
  std::set<std::string> cases;
  const pb::OneofDescriptor* payload = envelope.FindOneofByName("payload");
  if (payload == nullptr) return cases;
  for (int i = 0; i < payload->field_count(); ++i) cases.insert(payload->field(i)->name());
  return cases;
}

// A released schema, loaded from its descriptor set, to decode as its readers did.
class BaselineSchema {
 public:
  bool Load(const fs::path& path) {
    auto data = ReadFile(path);
    pb::FileDescriptorSet set;
    if (!data.has_value() || !set.ParseFromString(*data)) return false;
    for (const auto& file : set.file()) {
      if (pool_.BuildFile(file) == nullptr) return false;
    }
    envelope_ = pool_.FindMessageTypeByName("autoenroll.events.v1.Envelope");
    return envelope_ != nullptr;
  }
  const pb::Descriptor& envelope() const { return *envelope_; }
  std::unique_ptr<pb::Message> NewEnvelope() {
    return std::unique_ptr<pb::Message>(factory_.GetPrototype(envelope_)->New());
  }

 private:
  pb::DescriptorPool pool_;
  pb::DynamicMessageFactory factory_{&pool_};
  const pb::Descriptor* envelope_ = nullptr;
};

TEST(GoldenCorpus, EveryEventDecodesToItsTextprotoAndReencodesIdentically) {
  const auto dirs = CorpusDirs();
  ASSERT_FALSE(dirs.empty()) << "no golden corpus under " << GoldenDir() / "events";
  const std::set<std::string> cases = PayloadCases(*Envelope::descriptor());
  int checked = 0;
  for (const auto& [version, dir] : dirs) {
    for (const fs::path& bin : FilesWithExtension(dir, ".bin")) {
      SCOPED_TRACE(bin.string());
      const std::string name = bin.stem().string();
      auto bytes = ReadFile(bin);
      ASSERT_TRUE(bytes.has_value());
      Envelope env;
      ASSERT_TRUE(env.ParseFromString(*bytes)) << bin << " no longer parses as an Envelope";

      ASSERT_TRUE(cases.count(name)) << bin.filename() << " names no payload case of Envelope";
      EXPECT_EQ(env.payload_case(), Envelope::descriptor()->FindFieldByName(name)->number())
          << bin << " does not hold the payload case its name says";
      EXPECT_EQ(env.schema_version(), static_cast<uint32_t>(version))
          << bin << " sits in v" << version << "/ but says schema_version "
          << env.schema_version();

      std::string text;
      ASSERT_TRUE(pb::TextFormat::PrintToString(env, &text));
      const fs::path textproto_path = fs::path(bin).replace_extension(".textproto");
      auto textproto = ReadFile(textproto_path);
      ASSERT_TRUE(textproto.has_value()) << textproto_path << " is missing";
      EXPECT_EQ(text, *textproto) << bin << " decodes differently from " << textproto_path;

      Envelope from_text;
      EXPECT_TRUE(pb::TextFormat::ParseFromString(*textproto, &from_text))
          << textproto_path << " is not valid TextFormat of Envelope";
      EXPECT_TRUE(pb::util::MessageDifferencer::Equals(from_text, env))
          << textproto_path << " and " << bin << " hold different events";

      EXPECT_EQ(SerializeDeterministic(env), *bytes)
          << bin << " does not re-encode to the same bytes";
      ++checked;
    }
    for (const fs::path& textproto : FilesWithExtension(dir, ".textproto")) {
      EXPECT_TRUE(fs::exists(fs::path(textproto).replace_extension(".bin")))
          << textproto << " has no .bin beside it";
    }
  }
  EXPECT_GT(checked, 0);
}

TEST(GoldenCorpus, CoversEveryPayloadCaseOfEachBaseline) {
  const auto baselines = Baselines();
  ASSERT_FALSE(baselines.empty()) << "no baselines in " << GoldenDir() / "descriptors";
  for (const auto& [version, path] : baselines) {
    BaselineSchema schema;
    ASSERT_TRUE(schema.Load(path)) << "cannot load " << path;
    const fs::path dir = GoldenDir() / "events" / ("v" + std::to_string(version));
    std::vector<std::string> missing;
    for (const std::string& name : PayloadCases(schema.envelope())) {
      if (!fs::exists(dir / (name + ".bin"))) missing.push_back(name + ".bin");
    }
    EXPECT_TRUE(missing.empty()) << "the corpus " << dir << " lacks payload cases of baseline "
                                 << path.filename() << ":" << Lines(missing);
  }
}

TEST(GoldenCorpus, CoversEveryPayloadCaseOfTheCurrentSchema) {
  const auto dirs = CorpusDirs();
  std::vector<std::string> missing;
  for (const std::string& name : PayloadCases(*Envelope::descriptor())) {
    const bool found = std::any_of(dirs.begin(), dirs.end(), [&](const auto& dir) {
      return fs::exists(dir.second / (name + ".bin"));
    });
    if (!found) missing.push_back(name);
  }
  EXPECT_TRUE(missing.empty()) << "payload cases without a golden event (" << kMakeGoldenHint
                               << "):" << Lines(missing);
}

// A reader built from a baseline's descriptor set (a downstream consumer that
// never saw our code) decodes that version's events completely: every field it
// knows is set and nothing is left unknown, so the corpus exercises every field.
TEST(GoldenCorpus, BaselineReadersDecodeEveryFieldOfTheirVersion) {
  const auto dirs = CorpusDirs();
  for (const auto& [version, path] : Baselines()) {
    auto dir = dirs.find(version);
    if (dir == dirs.end()) continue;  // reported by CoversEveryPayloadCaseOfEachBaseline
    BaselineSchema schema;
    ASSERT_TRUE(schema.Load(path)) << "cannot load " << path;
    const std::set<std::string> cases = PayloadCases(schema.envelope());
    for (const fs::path& bin : FilesWithExtension(dir->second, ".bin")) {
      SCOPED_TRACE(bin.string());
      // A case added after the baseline was cut is checked by make_golden instead.
      if (cases.count(bin.stem().string()) == 0) continue;
      auto bytes = ReadFile(bin);
      ASSERT_TRUE(bytes.has_value());
      std::unique_ptr<pb::Message> env = schema.NewEnvelope();
      ASSERT_TRUE(env->ParseFromString(*bytes))
          << path.filename() << " readers cannot parse " << bin;
      std::vector<std::string> missing;
      MissingFields(*env, "Envelope", &missing);
      EXPECT_TRUE(missing.empty()) << bin << " leaves fields of " << path.filename()
                                   << " unset:" << Lines(missing);
      std::string text;
      ASSERT_TRUE(pb::TextFormat::PrintToString(*env, &text));
      auto textproto = ReadFile(fs::path(bin).replace_extension(".textproto"));
      ASSERT_TRUE(textproto.has_value());
      EXPECT_EQ(text, *textproto) << path.filename() << " readers see " << bin
                                  << " differently (unknown fields?)";
    }
  }
}

}  // namespace
}  // namespace ae::events
