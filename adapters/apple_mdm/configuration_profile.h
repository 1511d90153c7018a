#pragma once
// A policy's Apple configuration profile (.mobileconfig): the payloads a policy version
// holds (JSON dictionaries with PayloadType, PayloadIdentifier, ...), written as an XML
// plist with libplist, optionally signed (CMS SignedData, content attached, DER) with the
// server's profile-signing identity. The device receives it as the Payload of an
// InstallProfile command.
//
// The profile's PayloadIdentifier stays the same from version to version, so a device
// replaces the version it holds; its PayloadUUID (and that of each payload that has none)
// is derived from the policy, the version and the payload, so the same version is always
// written the same way.
//
// Thread-safety: free functions without shared state.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "events/base/status.h"

typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_st X509;

namespace ae::mdm {

struct ConfigurationProfileOptions {
  std::string identifier;    // PayloadIdentifier, e.g. com.autoenroll.policy.<id>
  std::string uuid_seed;     // the PayloadUUIDs derive from it, e.g. "policy/<id>/<version>"
  std::string display_name;  // PayloadDisplayName
  std::string description;   // PayloadDescription (optional)
  std::string organization;  // PayloadOrganization (optional)
  nlohmann::json payloads = nlohmann::json::array();  // validated by the caller
};

// The XML plist of the profile: {PayloadType Configuration, PayloadVersion 1,
// PayloadIdentifier, PayloadUUID, PayloadDisplayName, PayloadContent: [payloads, each with
// PayloadVersion 1 and a PayloadUUID unless given]}. JSON strings, booleans, numbers,
// arrays and objects become plist strings, booleans, integers or reals, arrays and
// dictionaries. kInvalidArgument "mdm.bad_profile_payload" (naming the payload) when a
// value has no plist form (null) or a payload is not a dictionary.
Result<std::string> BuildConfigurationProfile(const ConfigurationProfileOptions& options);

// CMS SignedData (DER) of `profile`, content attached, signed with `key` and `certificate`
// (which it carries), SHA-256. kInternal "mdm.sign_failed".
Result<std::string> SignProfile(std::string_view profile, EVP_PKEY* key, X509* certificate);

// What a device reads of a configuration profile (the simulator's view).
struct ParsedConfigurationProfile {
  std::string identifier;
  std::string uuid;
  std::string display_name;
  bool is_signed = false;
  std::string signer_certificate_sha256;  // lower-case hex of the signer's DER, when signed
  std::vector<std::string> payload_types;
  std::vector<std::string> payload_identifiers;
};

// Reads a profile: an XML or binary plist, or CMS SignedData holding one (its signature
// checked against the certificate it carries). kInvalidArgument "mdm.bad_profile".
Result<ParsedConfigurationProfile> ParseConfigurationProfile(std::string_view data);

}  // namespace ae::mdm
