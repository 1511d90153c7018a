// Schema compatibility of events.proto.
//
// Three descriptor sets take part:
//   - the one the build produces from the current events.proto (AE_BUILT_DESCRIPTOR);
//   - the checked-in events/events.desc that downstream consumers decode with;
//   - every baseline tests/golden/descriptors/v<N>.desc (the schema as released).
// The checked-in set must equal the built one, and the current schema must be
// backward-compatible with every baseline: the log keeps old records forever,
// so a field is never renumbered, re-typed or reused, and a removed field is
// `reserved`. BreakingChanges() is the checker; the SchemaCompatChecker tests
// prove it catches each kind of break on in-memory copies of the v1 baseline.

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "autoenroll/events/v1/events.pb.h"
#include "tests/support/test_support.h"

namespace ae::events {
namespace {

namespace fs = std::filesystem;
using google::protobuf::DescriptorProto;
using google::protobuf::EnumDescriptorProto;
using google::protobuf::EnumValueDescriptorProto;
using google::protobuf::FieldDescriptor;
using google::protobuf::FieldDescriptorProto;
using google::protobuf::FileDescriptorProto;
using google::protobuf::FileDescriptorSet;
using google::protobuf::util::MessageDifferencer;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr std::string_view kEventsProto = "autoenroll/events/v1/events.proto";
constexpr std::string_view kUpdateHint =
    "run `cmake --build build --target update-descriptor` and commit events/events.desc";

// ------------------------------------------------------------------ checker --

std::string Join(const std::string& scope, const std::string& name) {
  return scope.empty() ? name : scope + "." + name;
}

// Every message and enum of a file, by full name (nested ones included).
struct SchemaIndex {
  std::map<std::string, const DescriptorProto*> messages;
  std::map<std::string, const EnumDescriptorProto*> enums;
};

void IndexMessage(const std::string& scope, const DescriptorProto& m, SchemaIndex* index) {
  const std::string name = Join(scope, m.name());
  index->messages[name] = &m;
  for (const auto& nested : m.nested_type()) IndexMessage(name, nested, index);
  for (const auto& e : m.enum_type()) index->enums[Join(name, e.name())] = &e;
}

SchemaIndex IndexFile(const FileDescriptorProto& file) {
  SchemaIndex index;
  for (const auto& m : file.message_type()) IndexMessage(file.package(), m, &index);
  for (const auto& e : file.enum_type()) index.enums[Join(file.package(), e.name())] = &e;
  return index;
}

// "string", "uint64", "message autoenroll.events.v1.Actor", "enum autoenroll.events.v1.Role".
std::string TypeOf(const FieldDescriptorProto& f) {
  const auto type = static_cast<FieldDescriptor::Type>(f.type());
  std::string name = FieldDescriptor::TypeName(type);
  if (f.has_type_name()) {
    std::string_view type_name = f.type_name();
    if (!type_name.empty() && type_name.front() == '.') type_name.remove_prefix(1);
    name += " " + std::string(type_name);
  }
  return name;
}

std::string LabelOf(const FieldDescriptorProto& f) {
  switch (f.label()) {
    case FieldDescriptorProto::LABEL_REPEATED:
      return "repeated";
    case FieldDescriptorProto::LABEL_REQUIRED:
      return "required";
    default:
      return "singular";
  }
}

// The real oneof a field belongs to ("" for none). A proto3 `optional` field
// sits in a synthetic oneof: that only adds presence and is not a oneof here.
std::string OneofOf(const DescriptorProto& m, const FieldDescriptorProto& f) {
  if (!f.has_oneof_index() || f.proto3_optional()) return "";
  if (f.oneof_index() < 0 || f.oneof_index() >= m.oneof_decl_size()) return "?";
  return m.oneof_decl(f.oneof_index()).name();
}

std::string Describe(const std::string& oneof) {
  return oneof.empty() ? "no oneof" : "oneof '" + oneof + "'";
}

// DescriptorProto.ReservedRange ends are exclusive.
bool IsReservedNumber(const DescriptorProto& m, int number) {
  return std::any_of(m.reserved_range().begin(), m.reserved_range().end(),
                     [&](const auto& r) { return number >= r.start() && number < r.end(); });
}

bool IsReservedName(const DescriptorProto& m, const std::string& name) {
  return std::find(m.reserved_name().begin(), m.reserved_name().end(), name) !=
         m.reserved_name().end();
}

// EnumDescriptorProto.EnumReservedRange ends are inclusive.
bool IsReservedNumber(const EnumDescriptorProto& e, int number) {
  return std::any_of(e.reserved_range().begin(), e.reserved_range().end(),
                     [&](const auto& r) { return number >= r.start() && number <= r.end(); });
}

bool IsReservedName(const EnumDescriptorProto& e, const std::string& name) {
  return std::find(e.reserved_name().begin(), e.reserved_name().end(), name) !=
         e.reserved_name().end();
}

void CheckField(const std::string& message_name, const DescriptorProto& old_msg,
                const FieldDescriptorProto& old_f, const DescriptorProto& now_msg,
                std::vector<std::string>* out) {
  const std::string where = "field " + Join(message_name, old_f.name()) + " (number " +
                            std::to_string(old_f.number()) + ")";
  const FieldDescriptorProto* by_number = nullptr;
  const FieldDescriptorProto* by_name = nullptr;
  for (const auto& f : now_msg.field()) {
    if (f.number() == old_f.number()) by_number = &f;
    if (f.name() == old_f.name()) by_name = &f;
  }
  if (by_number == nullptr) {
    if (by_name != nullptr) {
      out->push_back(where + " was renumbered to " + std::to_string(by_name->number()) +
                     ": field numbers never change");
      return;
    }
    if (!IsReservedNumber(now_msg, old_f.number())) {
      out->push_back(where + " was removed without reserving its number: add `reserved " +
                     std::to_string(old_f.number()) + ";` to " + message_name);
    }
    if (!IsReservedName(now_msg, old_f.name())) {
      out->push_back(where + " was removed without reserving its name: add `reserved \"" +
                     old_f.name() + "\";` to " + message_name);
    }
    return;
  }
  const FieldDescriptorProto& now_f = *by_number;
  if (now_f.name() != old_f.name()) {
    out->push_back(where + " was renamed or its number reused: number " +
                   std::to_string(old_f.number()) + " is now field '" + now_f.name() + "'");
  }
  if (TypeOf(now_f) != TypeOf(old_f)) {
    out->push_back(where + " changed type from " + TypeOf(old_f) + " to " + TypeOf(now_f));
  }
  if (now_f.label() != old_f.label()) {
    out->push_back(where + " changed label from " + LabelOf(old_f) + " to " + LabelOf(now_f));
  }
  const std::string old_oneof = OneofOf(old_msg, old_f);
  const std::string now_oneof = OneofOf(now_msg, now_f);
  if (old_oneof != now_oneof) {
    out->push_back(where + " moved from " + Describe(old_oneof) + " to " + Describe(now_oneof));
  }
  if (old_f.has_json_name() && now_f.has_json_name() && old_f.json_name() != now_f.json_name()) {
    out->push_back(where + " changed json_name from '" + old_f.json_name() + "' to '" +
                   now_f.json_name() + "'");
  }
}

void CheckMessage(const std::string& name, const DescriptorProto& old_msg,
                  const DescriptorProto& now_msg, std::vector<std::string>* out) {
  for (const auto& old_f : old_msg.field()) CheckField(name, old_msg, old_f, now_msg, out);
  // A number or name the baseline reserved (a field removed before it) stays unused.
  for (const auto& now_f : now_msg.field()) {
    const std::string where = "field " + Join(name, now_f.name()) + " (number " +
                              std::to_string(now_f.number()) + ")";
    if (IsReservedNumber(old_msg, now_f.number())) {
      out->push_back(where + " reuses a number the baseline reserved");
    }
    if (IsReservedName(old_msg, now_f.name())) {
      out->push_back(where + " reuses a name the baseline reserved");
    }
  }
}

void CheckEnum(const std::string& name, const EnumDescriptorProto& old_enum,
               const EnumDescriptorProto& now_enum, std::vector<std::string>* out) {
  for (const EnumValueDescriptorProto& old_v : old_enum.value()) {
    const std::string where = "enum value " + Join(name, old_v.name()) + " (number " +
                              std::to_string(old_v.number()) + ")";
    bool same = false;
    std::vector<std::string> names_for_number;
    std::optional<int> number_for_name;
    for (const auto& v : now_enum.value()) {
      if (v.number() == old_v.number() && v.name() == old_v.name()) same = true;
      if (v.number() == old_v.number()) names_for_number.push_back(v.name());
      if (v.name() == old_v.name()) number_for_name = v.number();
    }
    if (same) continue;
    if (!names_for_number.empty()) {
      out->push_back(where + " was renamed to " + names_for_number.front());
    } else if (number_for_name.has_value()) {
      out->push_back(where + " was renumbered to " + std::to_string(*number_for_name));
    } else if (!IsReservedNumber(now_enum, old_v.number()) ||
               !IsReservedName(now_enum, old_v.name())) {
      out->push_back(where + " was removed without reserving its number and name");
    }
  }
  for (const auto& now_v : now_enum.value()) {
    if (IsReservedNumber(old_enum, now_v.number()) || IsReservedName(old_enum, now_v.name())) {
      out->push_back("enum value " + Join(name, now_v.name()) + " (number " +
                     std::to_string(now_v.number()) +
                     ") reuses a number or name the baseline reserved");
    }
  }
}

// Every way `now` breaks readers and data of `old`; empty when compatible.
// Additions (fields, messages, enums, enum values, oneof cases) are compatible.
std::vector<std::string> BreakingChanges(const FileDescriptorProto& old,
                                         const FileDescriptorProto& now) {
  std::vector<std::string> out;
  if (old.package() != now.package()) {
    out.push_back("package changed from '" + old.package() + "' to '" + now.package() + "'");
  }
  if (old.syntax() != now.syntax()) {
    out.push_back("syntax changed from '" + old.syntax() + "' to '" + now.syntax() + "'");
  }
  const SchemaIndex old_index = IndexFile(old);
  const SchemaIndex now_index = IndexFile(now);
  for (const auto& [name, old_msg] : old_index.messages) {
    auto it = now_index.messages.find(name);
    if (it == now_index.messages.end()) {
      out.push_back("message " + name + " was removed or renamed: messages are never removed");
      continue;
    }
    CheckMessage(name, *old_msg, *it->second, &out);
  }
  for (const auto& [name, old_enum] : old_index.enums) {
    auto it = now_index.enums.find(name);
    if (it == now_index.enums.end()) {
      out.push_back("enum " + name + " was removed or renamed: enums are never removed");
      continue;
    }
    CheckEnum(name, *old_enum, *it->second, &out);
  }
  return out;
}

// ------------------------------------------------------------------ loading --

std::optional<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream data;
  data << in.rdbuf();
  return data.str();
}

std::optional<FileDescriptorSet> LoadSet(const fs::path& path) {
  auto data = ReadFile(path);
  FileDescriptorSet set;
  if (!data.has_value() || !set.ParseFromString(*data)) return std::nullopt;
  return set;
}

const FileDescriptorProto* FindFile(const FileDescriptorSet& set, std::string_view name) {
  for (const auto& f : set.file()) {
    if (f.name() == name) return &f;
  }
  return nullptr;
}

fs::path BuiltDescriptorPath() {
#ifdef AE_BUILT_DESCRIPTOR
  return AE_BUILT_DESCRIPTOR;
#else
  return {};
#endif
}

// The current schema: the build's descriptor set, or the compiled-in one.
FileDescriptorSet CurrentSet() {
  if (const fs::path built = BuiltDescriptorPath(); !built.empty()) {
    auto set = LoadSet(built);
    if (set.has_value()) return *set;
    ADD_FAILURE() << "cannot read the built descriptor set " << built;
  }
  FileDescriptorSet set;
  std::function<void(const google::protobuf::FileDescriptor*)> add =
      [&](const google::protobuf::FileDescriptor* file) {
        if (FindFile(set, file->name()) != nullptr) return;
        for (int i = 0; i < file->dependency_count(); ++i) add(file->dependency(i));
        FileDescriptorProto* proto = set.add_file();
        file->CopyTo(proto);
        file->CopyJsonNameTo(proto);
      };
  add(autoenroll::events::v1::Envelope::descriptor()->file());
  return set;
}

// The repository root: $AE_SOURCE_DIR (set by ae_test), else derived from this
// file's compiled-in path (tests/unit/events/<file>.cc) so the binary also runs by hand.
fs::path SourceRoot() {
  if (const char* dir = std::getenv("AE_SOURCE_DIR"); dir != nullptr && *dir != '\0') return dir;
  return fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path();
}

fs::path CheckedInPath() { return SourceRoot() / "events" / "events.desc"; }

fs::path BaselineDir() {
  return SourceRoot() / "tests" / "golden" / "descriptors";
}

std::vector<fs::path> BaselinePaths() {
  std::vector<fs::path> paths;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(BaselineDir(), ec)) {
    if (entry.path().extension() == ".desc") paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

FileDescriptorProto LoadBaselineV1() {
  auto set = LoadSet(BaselineDir() / "v1.desc");
  if (!set.has_value()) {
    ADD_FAILURE() << "cannot read " << BaselineDir() / "v1.desc";
    return {};
  }
  const FileDescriptorProto* file = FindFile(*set, kEventsProto);
  if (file == nullptr) {
    ADD_FAILURE() << "v1.desc has no " << kEventsProto;
    return {};
  }
  return *file;
}

std::string Lines(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += "\n  - " + item;
  return text;
}

// ------------------------------------------------------------- the schema --

TEST(EventSchema, CheckedInDescriptorMatchesBuild) {
  const FileDescriptorSet current = CurrentSet();
  const FileDescriptorProto* built = FindFile(current, kEventsProto);
  ASSERT_NE(built, nullptr) << "the built descriptor set has no " << kEventsProto;

  auto checked_in = LoadSet(CheckedInPath());
  ASSERT_TRUE(checked_in.has_value())
      << "cannot read or parse " << CheckedInPath() << ": " << kUpdateHint;
  const FileDescriptorProto* shipped = FindFile(*checked_in, kEventsProto);
  ASSERT_NE(shipped, nullptr) << CheckedInPath() << " has no " << kEventsProto << ": "
                              << kUpdateHint;

  MessageDifferencer differ;
  std::string diff;
  differ.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differ.Compare(*shipped, *built))
      << "events/events.desc is stale (events.proto changed): " << kUpdateHint
      << "\ndifferences (checked-in vs built):\n"
      << diff;

  // --include_imports: consumers decode without any other .proto at hand.
  for (const auto& file : current.file()) {
    EXPECT_NE(FindFile(*checked_in, file.name()), nullptr)
        << "events/events.desc lacks the import " << file.name() << ": " << kUpdateHint;
  }
}

TEST(EventSchema, CompiledSchemaMatchesBuiltDescriptor) {
  FileDescriptorProto compiled;
  const auto* file = autoenroll::events::v1::Envelope::descriptor()->file();
  file->CopyTo(&compiled);
  file->CopyJsonNameTo(&compiled);
  const FileDescriptorSet current = CurrentSet();
  const FileDescriptorProto* built = FindFile(current, kEventsProto);
  ASSERT_NE(built, nullptr);
  EXPECT_TRUE(MessageDifferencer::Equals(compiled, *built))
      << "the generated code and the built descriptor set disagree: rebuild";
}

TEST(EventSchema, IsBackwardCompatibleWithEveryBaseline) {
  const FileDescriptorSet current = CurrentSet();
  const FileDescriptorProto* now = FindFile(current, kEventsProto);
  ASSERT_NE(now, nullptr);
  const std::vector<fs::path> baselines = BaselinePaths();
  ASSERT_FALSE(baselines.empty()) << "no baseline descriptor sets in " << BaselineDir();
  for (const fs::path& path : baselines) {
    auto set = LoadSet(path);
    ASSERT_TRUE(set.has_value()) << "cannot read or parse " << path;
    const FileDescriptorProto* old = FindFile(*set, kEventsProto);
    ASSERT_NE(old, nullptr) << path << " has no " << kEventsProto;
    const std::vector<std::string> changes = BreakingChanges(*old, *now);
    EXPECT_TRUE(changes.empty()) << "events.proto breaks baseline " << path.filename()
                                 << " (schema rules: fields are only added; removed fields "
                                    "are reserved):"
                                 << Lines(changes);
  }
}

// ------------------------------------------- the checker catches breakage --

DescriptorProto* FindMessage(FileDescriptorProto* file, std::string_view name) {
  for (auto& m : *file->mutable_message_type()) {
    if (m.name() == name) return &m;
  }
  ADD_FAILURE() << "no message " << name << " in the v1 baseline";
  static DescriptorProto dummy;
  return &dummy;
}

FieldDescriptorProto* FindField(DescriptorProto* message, std::string_view name) {
  for (auto& f : *message->mutable_field()) {
    if (f.name() == name) return &f;
  }
  ADD_FAILURE() << "no field " << name << " in " << message->name();
  static FieldDescriptorProto dummy;
  return &dummy;
}

EnumDescriptorProto* FindEnum(FileDescriptorProto* file, std::string_view name) {
  for (auto& e : *file->mutable_enum_type()) {
    if (e.name() == name) return &e;
  }
  ADD_FAILURE() << "no enum " << name << " in the v1 baseline";
  static EnumDescriptorProto dummy;
  return &dummy;
}

void RemoveField(DescriptorProto* message, std::string_view name) {
  auto* fields = message->mutable_field();
  for (int i = 0; i < fields->size(); ++i) {
    if (fields->Get(i).name() == name) {
      fields->DeleteSubrange(i, 1);
      return;
    }
  }
  ADD_FAILURE() << "no field " << name << " in " << message->name();
}

void Reserve(DescriptorProto* message, int number, const std::string& name) {
  auto* range = message->add_reserved_range();
  range->set_start(number);
  range->set_end(number + 1);
  message->add_reserved_name(name);
}

class SchemaCompatChecker : public ::testing::Test {
 protected:
  void SetUp() override {
    old_ = LoadBaselineV1();
    ASSERT_GT(old_.message_type_size(), 0);
    now_ = old_;
  }
  std::vector<std::string> Changes() const { return BreakingChanges(old_, now_); }

  FileDescriptorProto old_;
  FileDescriptorProto now_;
};

TEST_F(SchemaCompatChecker, AcceptsAnIdenticalSchema) { EXPECT_THAT(Changes(), IsEmpty()); }

TEST_F(SchemaCompatChecker, ReportsARenumberedField) {
  FindField(FindMessage(&now_, "DepTokenUploaded"), "secret_ref")->set_number(6);
  EXPECT_THAT(Changes(), Contains(HasSubstr("field autoenroll.events.v1.DepTokenUploaded.secret_ref "
                                            "(number 4) was renumbered to 6")));
}

TEST_F(SchemaCompatChecker, ReportsAChangedScalarType) {
  FindField(FindMessage(&now_, "DepSyncProgressed"), "pages")
      ->set_type(FieldDescriptorProto::TYPE_INT64);
  EXPECT_THAT(Changes(), Contains(HasSubstr("field autoenroll.events.v1.DepSyncProgressed.pages "
                                            "(number 3) changed type from uint64 to int64")));
}

TEST_F(SchemaCompatChecker, ReportsAChangedMessageType) {
  FindField(FindMessage(&now_, "UserCreated"), "personal")
      ->set_type_name(".autoenroll.events.v1.PersonalData");
  EXPECT_THAT(Changes(),
              Contains(HasSubstr("field autoenroll.events.v1.UserCreated.personal (number 3) "
                                 "changed type from message autoenroll.events.v1.SealedPersonal "
                                 "to message autoenroll.events.v1.PersonalData")));
}

TEST_F(SchemaCompatChecker, ReportsAChangedEnumType) {
  FindField(FindMessage(&now_, "DeviceEnrolled"), "platform")
      ->set_type_name(".autoenroll.events.v1.KmeSource");
  EXPECT_THAT(Changes(), Contains(HasSubstr("DeviceEnrolled.platform (number 2) changed type")));
}

TEST_F(SchemaCompatChecker, ReportsARepeatedFieldBecomingSingular) {
  FindField(FindMessage(&now_, "KmeDeviceImported"), "tags")
      ->set_label(FieldDescriptorProto::LABEL_OPTIONAL);
  EXPECT_THAT(Changes(), Contains(HasSubstr("field autoenroll.events.v1.KmeDeviceImported.tags "
                                            "(number 5) changed label from repeated to "
                                            "singular")));
}

TEST_F(SchemaCompatChecker, ReportsAFieldDroppedWithoutReservation) {
  RemoveField(FindMessage(&now_, "UserCreated"), "created_by");
  const auto changes = Changes();
  EXPECT_THAT(changes, Contains(HasSubstr("field autoenroll.events.v1.UserCreated.created_by "
                                          "(number 4) was removed without reserving its number")));
  EXPECT_THAT(changes, Contains(HasSubstr("UserCreated.created_by (number 4) was removed without "
                                          "reserving its name")));
}

TEST_F(SchemaCompatChecker, AcceptsAFieldDroppedWithItsNumberAndNameReserved) {
  DescriptorProto* message = FindMessage(&now_, "UserCreated");
  RemoveField(message, "created_by");
  Reserve(message, 4, "created_by");
  EXPECT_THAT(Changes(), IsEmpty());
}

TEST_F(SchemaCompatChecker, ReportsAReservedNumberReused) {
  DescriptorProto* old_message = FindMessage(&old_, "UserCreated");
  RemoveField(old_message, "created_by");
  Reserve(old_message, 4, "created_by");
  now_ = old_;
  auto* reused = FindMessage(&now_, "UserCreated")->add_field();
  reused->set_name("creator_kind");
  reused->set_number(4);
  reused->set_label(FieldDescriptorProto::LABEL_OPTIONAL);
  reused->set_type(FieldDescriptorProto::TYPE_UINT32);
  EXPECT_THAT(Changes(), Contains(HasSubstr("field autoenroll.events.v1.UserCreated.creator_kind "
                                            "(number 4) reuses a number the baseline reserved")));
}

TEST_F(SchemaCompatChecker, ReportsAFieldNumberTakenOverByAnotherField) {
  DescriptorProto* message = FindMessage(&now_, "DeviceCheckedIn");
  RemoveField(message, "message_type");
  auto* other = message->add_field();
  other->set_name("check_in_kind");
  other->set_number(2);
  other->set_label(FieldDescriptorProto::LABEL_OPTIONAL);
  other->set_type(FieldDescriptorProto::TYPE_STRING);
  EXPECT_THAT(Changes(),
              Contains(HasSubstr("field autoenroll.events.v1.DeviceCheckedIn.message_type "
                                 "(number 2) was renamed or its number reused: number 2 is now "
                                 "field 'check_in_kind'")));
}

TEST_F(SchemaCompatChecker, ReportsAFieldMovedOutOfItsOneof) {
  FindField(FindMessage(&now_, "Envelope"), "user_created")->clear_oneof_index();
  EXPECT_THAT(Changes(), Contains(HasSubstr("field autoenroll.events.v1.Envelope.user_created "
                                            "(number 100) moved from oneof 'payload' to no "
                                            "oneof")));
}

TEST_F(SchemaCompatChecker, ReportsARemovedMessage) {
  auto* messages = now_.mutable_message_type();
  for (int i = 0; i < messages->size(); ++i) {
    if (messages->Get(i).name() == "KmeSyncCompleted") messages->DeleteSubrange(i, 1);
  }
  EXPECT_THAT(Changes(),
              Contains(HasSubstr("message autoenroll.events.v1.KmeSyncCompleted was removed")));
}

TEST_F(SchemaCompatChecker, ReportsARenamedEnumValue) {
  for (auto& v : *FindEnum(&now_, "DepProfileStatus")->mutable_value()) {
    if (v.name() == "DEP_PROFILE_STATUS_PUSHED") v.set_name("DEP_PROFILE_STATUS_DELIVERED");
  }
  EXPECT_THAT(Changes(), Contains(HasSubstr("enum value autoenroll.events.v1.DepProfileStatus."
                                            "DEP_PROFILE_STATUS_PUSHED (number 3) was renamed to "
                                            "DEP_PROFILE_STATUS_DELIVERED")));
}

TEST_F(SchemaCompatChecker, ReportsARenamedNestedEnumValue) {
  for (auto& v : *FindMessage(&now_, "Actor")->mutable_enum_type(0)->mutable_value()) {
    if (v.name() == "KIND_SYSTEM") v.set_name("KIND_SERVICE");
  }
  EXPECT_THAT(Changes(), Contains(HasSubstr("enum value autoenroll.events.v1.Actor.Kind."
                                            "KIND_SYSTEM (number 3) was renamed to "
                                            "KIND_SERVICE")));
}

TEST_F(SchemaCompatChecker, ReportsARemovedEnumValue) {
  auto* values = FindEnum(&now_, "Role")->mutable_value();
  values->DeleteSubrange(values->size() - 1, 1);
  EXPECT_THAT(Changes(), Contains(HasSubstr("enum value autoenroll.events.v1.Role."
                                            "ROLE_ADMINISTRATOR (number 3) was removed")));
}

TEST_F(SchemaCompatChecker, AcceptsAdditions) {
  // A new field in an existing message.
  auto* field = FindMessage(&now_, "DeviceEnrolled")->add_field();
  field->set_name("enrollment_id");
  field->set_number(13);
  field->set_label(FieldDescriptorProto::LABEL_OPTIONAL);
  field->set_type(FieldDescriptorProto::TYPE_STRING);
  // A new message and a new payload case for it.
  auto* message = now_.add_message_type();
  message->set_name("DeviceLocked");
  auto* device_id = message->add_field();
  device_id->set_name("device_id");
  device_id->set_number(1);
  device_id->set_label(FieldDescriptorProto::LABEL_OPTIONAL);
  device_id->set_type(FieldDescriptorProto::TYPE_STRING);
  DescriptorProto* envelope = FindMessage(&now_, "Envelope");
  auto* payload_case = envelope->add_field();
  payload_case->set_name("device_locked");
  payload_case->set_number(210);
  payload_case->set_label(FieldDescriptorProto::LABEL_OPTIONAL);
  payload_case->set_type(FieldDescriptorProto::TYPE_MESSAGE);
  payload_case->set_type_name(".autoenroll.events.v1.DeviceLocked");
  payload_case->set_oneof_index(FindField(envelope, "user_created")->oneof_index());
  // A new enum value and a new enum.
  auto* value = FindEnum(&now_, "KmeSource")->add_value();
  value->set_name("KME_SOURCE_ZERO_TOUCH");
  value->set_number(4);
  auto* kind = now_.add_enum_type();
  kind->set_name("LockReason");
  kind->add_value()->set_name("LOCK_REASON_UNSPECIFIED");

  EXPECT_THAT(Changes(), IsEmpty());
}

}  // namespace
}  // namespace ae::events
