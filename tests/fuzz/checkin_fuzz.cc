// libFuzzer target: the MDM check-in and command-channel readers
// (adapters/apple_mdm/checkin.h), which PUT /mdm/apple/checkin (ParseCheckin) and
// PUT /mdm/apple/server (ParseCommandResult) feed with the device's body; the device
// simulator reads the server's commands with ParseCommandPlist.
//
// Every input goes through the three readers. Invariants:
//  - an accepted check-in has a MessageType and a UDID, Topic for Authenticate and
//    TokenUpdate, Token and PushMagic for TokenUpdate; an accepted command result has a
//    UDID, a known Status and a CommandUUID unless Idle; an accepted command has a
//    CommandUUID and a RequestType; no kept string or data value passes 4096 bytes;
//  - every accepted string is UTF-8: the routes put them into events (proto3 `string`
//    fields) and JSON views, which take nothing else;
//  - what the builders write (BuildCheckinPlist, BuildCommandResultPlist,
//    BuildCommandPlist) reads back to the same message;
//  - a property list reads the same in XML and in binary (converted with libplist);
//  - every refusal is a 400 with its reader's code and an error body that serialises
//    (fuzz_check.h CheckRefusal).
//
// Also linked into the unit test checkin_corpus_test, which replays the seed corpus.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/apple_mdm/checkin.h"
#include "events/base/text.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/plist_encoding.h"

namespace ae::fuzz {
const char* const kTarget = "checkin_fuzz";
}  // namespace ae::fuzz

namespace {

using ae::fuzz::Printable;
using ae::fuzz::ValidUtf8;
using ae::mdm::CheckinMessage;
using ae::mdm::Command;
using ae::mdm::CommandResult;

constexpr size_t kMaxValue = 4096;  // checkin.cc kMaxStringBytes

// What the XML builders give back unchanged: UTF-8 without NUL and the C0 controls
// XML 1.0 cannot carry.
bool XmlSafe(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\t' && c != '\n') return false;
  }
  return ValidUtf8(s);
}

std::vector<const std::string*> Texts(const CheckinMessage& m) {
  return {&m.message_type, &m.udid,          &m.serial_number, &m.topic,      &m.model,
          &m.model_name,   &m.product_name,  &m.os_version,    &m.build_version, &m.imei,
          &m.meid,         &m.push_magic,    &m.user_id};
}

bool SameCheckin(const CheckinMessage& a, const CheckinMessage& b) {
  const auto ta = Texts(a), tb = Texts(b);
  for (size_t i = 0; i < ta.size(); ++i) {
    if (*ta[i] != *tb[i]) return false;
  }
  return a.token == b.token && a.unlock_token == b.unlock_token &&
         a.awaiting_configuration == b.awaiting_configuration;
}

struct Outcome {
  std::optional<CheckinMessage> checkin;
  std::optional<CommandResult> result;
  std::optional<Command> command;
  std::string errors;  // the three refusals' messages, joined
};

void CheckCheckin(const CheckinMessage& m, bool builder_round_trip) {
  ae::fuzz::Note("check-in " + m.message_type);
  AE_FUZZ_CHECK(!m.message_type.empty() && !m.udid.empty(), "MessageType or UDID empty");
  if (m.message_type == "TokenUpdate") {
    AE_FUZZ_CHECK(!m.topic.empty() && !m.token.empty() && !m.push_magic.empty(), "TokenUpdate");
  }
  if (m.message_type == "Authenticate") AE_FUZZ_CHECK(!m.topic.empty(), "Authenticate");
  for (const std::string* s : Texts(m)) {
    AE_FUZZ_CHECK(s->size() <= kMaxValue, std::to_string(s->size()));
    AE_FUZZ_CHECK(ValidUtf8(*s), "accepted check-in text is not UTF-8: \"" + Printable(*s) + "\"");
  }
  AE_FUZZ_CHECK(m.token.size() <= kMaxValue && m.unlock_token.size() <= kMaxValue, "data size");
  if (!builder_round_trip) return;
  for (const std::string* s : Texts(m)) {
    if (!XmlSafe(*s)) return;
  }
  auto again = ae::mdm::ParseCheckin(ae::mdm::BuildCheckinPlist(m));
  AE_FUZZ_CHECK(again.ok(), "BuildCheckinPlist() does not read back: " + again.status().ToString());
  CheckinMessage expected = m;
  // The builder writes AwaitingConfiguration for TokenUpdate only.
  if (m.message_type != "TokenUpdate") expected.awaiting_configuration = false;
  AE_FUZZ_CHECK(SameCheckin(expected, *again), "BuildCheckinPlist() round trip changed it");
}

void CheckResult(const CommandResult& r, bool builder_round_trip) {
  ae::fuzz::Note("command result " + r.status + " " + r.error_chain_text);
  AE_FUZZ_CHECK(!r.udid.empty(), "UDID empty");
  AE_FUZZ_CHECK(r.status == "Idle" || r.status == "Acknowledged" || r.status == "Error" ||
                    r.status == "NotNow" || r.status == "CommandFormatError",
                Printable(r.status));
  AE_FUZZ_CHECK(r.status == "Idle" || !r.command_uuid.empty(), "CommandUUID missing");
  AE_FUZZ_CHECK(r.udid.size() <= kMaxValue && r.command_uuid.size() <= kMaxValue, "size");
  // 16 entries of a 256-byte domain, a code and a 1024-byte description at most.
  AE_FUZZ_CHECK(r.error_chain_text.size() <= 16 * (2 + 256 + 21 + 2 + 1024),
                std::to_string(r.error_chain_text.size()));
  for (const std::string* s : {&r.udid, &r.command_uuid, &r.error_chain_text}) {
    AE_FUZZ_CHECK(ValidUtf8(*s), "accepted command result text is not UTF-8: \"" +
                                     Printable(*s) + "\"");
  }
  if (!builder_round_trip || !XmlSafe(r.udid) || !XmlSafe(r.command_uuid) ||
      !XmlSafe(r.error_chain_text)) {
    return;
  }
  auto again = ae::mdm::ParseCommandResult(ae::mdm::BuildCommandResultPlist(r));
  AE_FUZZ_CHECK(again.ok(), "BuildCommandResultPlist() does not read back: " +
                                again.status().ToString());
  AE_FUZZ_CHECK(again->udid == r.udid && again->status == r.status &&
                    again->command_uuid == r.command_uuid,
                "BuildCommandResultPlist() round trip changed it");
  // The builder wraps the text in one MCMDMErrorDomain entry; the reader keeps at most
  // 1024 bytes of a description, cut at a character boundary.
  const std::string_view kept = ae::text::Utf8Prefix(r.error_chain_text, 1024);
  const std::string chain =
      r.error_chain_text.empty() ? "" : "MCMDMErrorDomain 12021: " + std::string(kept);
  AE_FUZZ_CHECK(again->error_chain_text == chain, Printable(again->error_chain_text));
}

void CheckCommand(const Command& c, bool builder_round_trip) {
  ae::fuzz::Note("command " + c.request_type);
  AE_FUZZ_CHECK(!c.command_uuid.empty() && !c.request_type.empty(), "CommandUUID/RequestType");
  for (const std::string* s : {&c.command_uuid, &c.request_type, &c.manifest_url}) {
    AE_FUZZ_CHECK(s->size() <= kMaxValue, std::to_string(s->size()));
  }
  if (!builder_round_trip || !XmlSafe(c.command_uuid) || !XmlSafe(c.request_type) ||
      !XmlSafe(c.manifest_url)) {
    return;
  }
  auto again = ae::mdm::ParseCommandPlist(ae::mdm::BuildCommandPlist(c));
  AE_FUZZ_CHECK(again.ok(), "BuildCommandPlist() does not read back: " + again.status().ToString());
  AE_FUZZ_CHECK(again->command_uuid == c.command_uuid && again->request_type == c.request_type &&
                    again->manifest_url == c.manifest_url,
                "BuildCommandPlist() round trip changed it");
}

// Runs the three readers over `body` and checks each outcome.
Outcome ReadAll(std::string_view body, bool builder_round_trip) {
  Outcome out;
  auto checkin = ae::mdm::ParseCheckin(body);
  if (checkin.ok()) {
    CheckCheckin(*checkin, builder_round_trip);
    out.checkin = std::move(checkin).value();
  } else {
    ae::fuzz::CheckRefusal(checkin.status(), 400, {"mdm.bad_checkin"});
    out.errors += checkin.status().message();
  }
  out.errors += '|';
  auto result = ae::mdm::ParseCommandResult(body);
  if (result.ok()) {
    CheckResult(*result, builder_round_trip);
    out.result = std::move(result).value();
  } else {
    ae::fuzz::CheckRefusal(result.status(), 400, {"mdm.bad_command_result"});
    out.errors += result.status().message();
  }
  out.errors += '|';
  auto command = ae::mdm::ParseCommandPlist(body);
  if (command.ok()) {
    CheckCommand(*command, builder_round_trip);
    out.command = std::move(command).value();
  } else {
    ae::fuzz::CheckRefusal(command.status(), 400, {"mdm.bad_command"});
    out.errors += command.status().message();
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const Outcome whole = ReadAll(input, /*builder_round_trip=*/true);

  // The other encoding. XML is compared only when it is UTF-8 without NUL (binary plists
  // hold UTF-16 or ASCII text, and libplist writes strings up to a NUL), and only small inputs
  // (a binary plist beyond 4096 objects is refused, XML is not).
  if (input.size() < 8 || input.size() > 4096) return 0;
  const bool binary = ae::fuzz::IsBinaryPlist(input);
  if (!binary && (!ValidUtf8(input) || input.find('\0') != std::string_view::npos)) return 0;
  // Compared only when the engine's own reader saw a dictionary: libplist's generic reader
  // (plist_from_memory, used for the conversion) accepts some binary inputs its binary
  // reader refuses, and the engine's refusal of those is the 400 it should be.
  if (whole.errors.find("not a dictionary") != std::string::npos ||
      whole.errors.find("not a property list") != std::string::npos) {
    return 0;
  }
  const std::optional<std::string> other = ae::fuzz::OtherPlistEncoding(input, binary);
  if (!other) return 0;
  // Only a faithful conversion is compared: one that converting back and forth again
  // reproduces. (A binary dictionary may repeat a key, which XML cannot keep: the binary
  // reading sees the first value, the XML one the last.)
  const std::optional<std::string> back = ae::fuzz::OtherPlistEncoding(*other, !binary);
  if (!back || ae::fuzz::OtherPlistEncoding(*back, binary) != other) return 0;
  const Outcome converted = ReadAll(*other, /*builder_round_trip=*/false);
  AE_FUZZ_CHECK(whole.errors == converted.errors,
                (binary ? "binary: " : "XML: ") + Printable(whole.errors, 300) + " vs " +
                    Printable(converted.errors, 300));
  AE_FUZZ_CHECK(whole.checkin.has_value() == converted.checkin.has_value() &&
                    (!whole.checkin || SameCheckin(*whole.checkin, *converted.checkin)),
                "check-in differs between XML and binary");
  AE_FUZZ_CHECK(whole.result.has_value() == converted.result.has_value() &&
                    (!whole.result || (whole.result->udid == converted.result->udid &&
                                       whole.result->status == converted.result->status &&
                                       whole.result->command_uuid == converted.result->command_uuid &&
                                       whole.result->error_chain_text ==
                                           converted.result->error_chain_text)),
                "command result differs between XML and binary");
  AE_FUZZ_CHECK(whole.command.has_value() == converted.command.has_value() &&
                    (!whole.command || (whole.command->command_uuid == converted.command->command_uuid &&
                                        whole.command->request_type == converted.command->request_type &&
                                        whole.command->manifest_url == converted.command->manifest_url)),
                "command differs between XML and binary");
  return 0;
}
