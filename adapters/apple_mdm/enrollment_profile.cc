#include "adapters/apple_mdm/enrollment_profile.h"

#include "adapters/apple_mdm/internal/ossl.h"
#include "adapters/apple_mdm/internal/plist.h"
#include "events/base/crypto.h"

namespace ae::mdm {

namespace {

constexpr size_t kMaxProfileBytes = 1 << 20;

Status BadOptions(std::string message, std::string field) {
  return InvalidArgument("enroll.bad_profile_options", std::move(message), std::move(field));
}
Status BadProfile(std::string message) {
  return InvalidArgument("enroll.bad_profile", std::move(message));
}

bool IsHttpUrl(std::string_view url) {
  auto rest_after = [&](std::string_view scheme) -> bool {
    return url.size() > scheme.size() && url.substr(0, scheme.size()) == scheme;
  };
  if (!(rest_after("https://") || rest_after("http://"))) return false;
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

// The keys every payload carries.
void SetPayloadHeader(plist_t payload, std::string_view type, std::string_view identifier,
                      std::string_view uuid, std::string_view display_name,
                      std::string_view organization) {
  plist::SetString(payload, "PayloadType", type);
  plist::SetString(payload, "PayloadIdentifier", identifier);
  plist::SetString(payload, "PayloadUUID", uuid);
  plist::SetUint(payload, "PayloadVersion", 1);
  plist::SetString(payload, "PayloadDisplayName", display_name);
  if (!organization.empty()) plist::SetString(payload, "PayloadOrganization", organization);
}

}  // namespace

std::string NewPayloadUuid() {
  std::string b = crypto::RandomBytes(16);
  b[6] = static_cast<char>((static_cast<unsigned char>(b[6]) & 0x0f) | 0x40);
  b[8] = static_cast<char>((static_cast<unsigned char>(b[8]) & 0x3f) | 0x80);
  static const char* kDigits = "0123456789ABCDEF";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    const auto c = static_cast<unsigned char>(b[i]);
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

Result<std::string> BuildEnrollmentProfile(const EnrollmentProfileOptions& o) {
  if (o.organization.empty()) return BadOptions("organization is required", "organization");
  if (!IsHttpUrl(o.server_url)) return BadOptions("server_url must be an http(s) URL", "server_url");
  if (!o.checkin_url.empty() && !IsHttpUrl(o.checkin_url)) {
    return BadOptions("checkin_url must be an http(s) URL", "checkin_url");
  }
  if (o.topic.empty()) return BadOptions("topic is required", "topic");
  if (o.payload_identifier_prefix.empty()) {
    return BadOptions("payload_identifier_prefix is required", "payload_identifier_prefix");
  }
  if (o.identity.pkcs12_der.empty()) return BadOptions("identity is required", "identity");
  if (o.access_rights < 1 || o.access_rights > 8191) {
    return BadOptions("access_rights must be 1..8191", "access_rights");
  }
  std::string root_der;
  if (!o.ca_certificate_pem.empty()) {
    std::vector<ossl::Ptr<X509>> certs = ossl::ReadCertificatesPem(o.ca_certificate_pem);
    if (certs.empty()) {
      return InvalidArgument("enroll.bad_certificate", "ca_certificate_pem is not PEM",
                             "ca_certificate_pem");
    }
    root_der = ossl::CertificateDer(certs.front().get());
  }
  const std::string& prefix = o.payload_identifier_prefix;

  plist::Node root(plist_new_dict());
  plist_t content = plist_new_array();

  if (!root_der.empty()) {
    plist_t ca = plist_new_dict();
    SetPayloadHeader(ca, "com.apple.security.root", prefix + ".mdm.ca", NewPayloadUuid(),
                     "MDM certificate authority", o.organization);
    plist::SetString(ca, "PayloadCertificateFileName", "ca.cer");
    plist::SetData(ca, "PayloadContent", root_der);
    plist_array_append_item(content, ca);
  }

  const std::string identity_uuid = NewPayloadUuid();
  plist_t p12 = plist_new_dict();
  SetPayloadHeader(p12, "com.apple.security.pkcs12", prefix + ".mdm.identity", identity_uuid,
                   "Device identity", o.organization);
  plist::SetString(p12, "PayloadCertificateFileName", "identity.p12");
  plist::SetData(p12, "PayloadContent", o.identity.pkcs12_der);
  plist::SetString(p12, "Password", o.identity.password);
  plist_array_append_item(content, p12);

  plist_t mdm = plist_new_dict();
  SetPayloadHeader(mdm, "com.apple.mdm", prefix + ".mdm", NewPayloadUuid(), "Device management",
                   o.organization);
  plist::SetString(mdm, "IdentityCertificateUUID", identity_uuid);
  plist::SetString(mdm, "Topic", o.topic);
  plist::SetString(mdm, "ServerURL", o.server_url);
  if (!o.checkin_url.empty()) plist::SetString(mdm, "CheckInURL", o.checkin_url);
  plist::SetBool(mdm, "SignMessage", o.sign_message);
  plist::SetUint(mdm, "AccessRights", static_cast<uint64_t>(o.access_rights));
  plist::SetBool(mdm, "CheckOutWhenRemoved", o.check_out_when_removed);
  plist_t caps = plist_new_array();
  for (const std::string& cap : o.server_capabilities) {
    plist_array_append_item(caps, plist_new_string(cap.c_str()));
  }
  plist_dict_set_item(mdm, "ServerCapabilities", caps);
  plist_array_append_item(content, mdm);

  plist_t r = root.get();
  plist_dict_set_item(r, "PayloadContent", content);
  SetPayloadHeader(r, "Configuration", prefix + ".enrollment", NewPayloadUuid(),
                   o.organization + " device management", o.organization);
  plist::SetString(r, "PayloadDescription",
                   "Enrolls this device in " + o.organization + "'s device management.");
  std::string xml = plist::ToXml(r);
  if (xml.empty()) return Internal("enroll.profile_failed", "plist serialisation failed");
  return xml;
}

Result<ParsedEnrollmentProfile> ParseEnrollmentProfile(std::string_view xml) {
  if (xml.empty() || xml.size() > kMaxProfileBytes) {
    return BadProfile("profile is empty or larger than 1 MiB");
  }
  plist::Node root = plist::Parse(xml);
  if (!root || !plist::IsDict(root.get())) return BadProfile("not a property list dictionary");
  plist_t r = root.get();
  std::string type;
  if (plist::GetString(r, "PayloadType", &type) != plist::Lookup::kOk || type != "Configuration") {
    return BadProfile("PayloadType is not Configuration");
  }
  plist_t content = plist::Get(r, "PayloadContent");
  if (!plist::IsArray(content)) return BadProfile("PayloadContent is not an array");

  ParsedEnrollmentProfile out;
  plist::GetString(r, "PayloadIdentifier", &out.payload_identifier);
  plist::GetString(r, "PayloadOrganization", &out.organization);

  plist_t mdm = nullptr;
  const uint32_t n = plist_array_get_size(content);
  for (uint32_t i = 0; i < n; ++i) {
    plist_t payload = plist_array_get_item(content, i);
    std::string ptype;
    if (plist::GetString(payload, "PayloadType", &ptype) != plist::Lookup::kOk) {
      return BadProfile("payload " + std::to_string(i) + " has no PayloadType");
    }
    if (ptype == "com.apple.mdm") {
      if (mdm != nullptr) return BadProfile("more than one com.apple.mdm payload");
      mdm = payload;
    } else if (ptype == "com.apple.security.root" && out.root_certificate_der.empty()) {
      plist::GetData(payload, "PayloadContent", &out.root_certificate_der);
    }
  }
  if (mdm == nullptr) return BadProfile("no com.apple.mdm payload");

  auto required = [&](const char* key, std::string* value) -> Status {
    if (plist::GetString(mdm, key, value) != plist::Lookup::kOk || value->empty()) {
      return BadProfile(std::string("com.apple.mdm ") + key + " is missing");
    }
    return Status::Ok();
  };
  AE_RETURN_IF_ERROR(required("IdentityCertificateUUID", &out.identity_certificate_uuid));
  AE_RETURN_IF_ERROR(required("Topic", &out.topic));
  AE_RETURN_IF_ERROR(required("ServerURL", &out.server_url));
  if (plist::GetString(mdm, "CheckInURL", &out.checkin_url) != plist::Lookup::kOk ||
      out.checkin_url.empty()) {
    out.checkin_url = out.server_url;
  }
  plist::GetBool(mdm, "SignMessage", &out.sign_message);
  plist::GetBool(mdm, "CheckOutWhenRemoved", &out.check_out_when_removed);
  uint64_t rights = 0;
  if (plist::GetUint(mdm, "AccessRights", &rights) == plist::Lookup::kOk && rights <= 8191) {
    out.access_rights = static_cast<int64_t>(rights);
  }
  plist_t caps = plist::Get(mdm, "ServerCapabilities");
  if (plist::IsArray(caps)) {
    for (uint32_t i = 0; i < plist_array_get_size(caps); ++i) {
      plist_t cap = plist_array_get_item(caps, i);
      if (plist_get_node_type(cap) != PLIST_STRING) continue;
      uint64_t len = 0;
      const char* s = plist_get_string_ptr(cap, &len);
      if (s != nullptr) out.server_capabilities.emplace_back(s, len);
    }
  }

  for (uint32_t i = 0; i < n; ++i) {
    plist_t payload = plist_array_get_item(content, i);
    std::string ptype, uuid;
    plist::GetString(payload, "PayloadType", &ptype);
    plist::GetString(payload, "PayloadUUID", &uuid);
    if (ptype != "com.apple.security.pkcs12" || uuid != out.identity_certificate_uuid) continue;
    if (plist::GetData(payload, "PayloadContent", &out.pkcs12_der) != plist::Lookup::kOk ||
        out.pkcs12_der.empty()) {
      return BadProfile("the identity payload has no PayloadContent");
    }
    plist::GetString(payload, "Password", &out.password);
    out.pkcs12_payload_uuid = uuid;
    return out;
  }
  return BadProfile("no com.apple.security.pkcs12 payload matches IdentityCertificateUUID");
}

}  // namespace ae::mdm
