// events/README.md documents every event of the schema for the consumers of the feed:
// each payload of the Envelope has its row in the catalogue.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "events/event_log.h"

namespace ae::events {
namespace {

namespace fs = std::filesystem;

fs::path SourceRoot() {
  if (const char* dir = std::getenv("AE_SOURCE_DIR"); dir != nullptr && *dir != '\0') return dir;
  return fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path();
}

TEST(ReadmeCatalogue, EveryEventOfTheSchemaHasItsRow) {
  std::ifstream in(SourceRoot() / "events" / "README.md");
  ASSERT_TRUE(in) << "events/README.md not found under " << SourceRoot();
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string readme = ss.str();
  const auto* oneof = Envelope::descriptor()->FindOneofByName("payload");
  ASSERT_NE(oneof, nullptr);
  ASSERT_GT(oneof->field_count(), 40);
  for (int i = 0; i < oneof->field_count(); ++i) {
    const std::string name = oneof->field(i)->message_type()->name();
    EXPECT_NE(readme.find("| `" + name + "` |"), std::string::npos)
        << name << " has no row in the event catalogue of events/README.md";
  }
}

}  // namespace
}  // namespace ae::events
