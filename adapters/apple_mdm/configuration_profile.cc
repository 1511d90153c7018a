#include "adapters/apple_mdm/configuration_profile.h"

#include "adapters/apple_mdm/internal/ossl.h"
#include "adapters/apple_mdm/internal/plist.h"
#include "events/base/crypto.h"

namespace ae::mdm {

using nlohmann::json;

namespace {

inline constexpr size_t kMaxProfileBytes = 4 << 20;

// An upper-case UUID (version 4 layout) from the SHA-256 of `seed`.
std::string DerivedUuid(const std::string& seed) {
  std::string b = crypto::Sha256(seed).substr(0, 16);
  b[6] = static_cast<char>((static_cast<unsigned char>(b[6]) & 0x0f) | 0x40);
  b[8] = static_cast<char>((static_cast<unsigned char>(b[8]) & 0x3f) | 0x80);
  static const char* kDigits = "0123456789ABCDEF";
  std::string out;
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    const auto c = static_cast<unsigned char>(b[i]);
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

Status BadPayload(const std::string& path, const std::string& why) {
  return InvalidArgument("mdm.bad_profile_payload", path + " " + why, path);
}

// The plist form of a JSON value (owned by the caller), or an error naming `path`.
Result<plist_t> ToPlist(const json& v, const std::string& path) {
  switch (v.type()) {
    case json::value_t::string:
      return plist_new_string(v.get_ref<const std::string&>().c_str());
    case json::value_t::boolean:
      return plist_new_bool(v.get<bool>() ? 1 : 0);
    case json::value_t::number_unsigned:
      return plist_new_uint(v.get<uint64_t>());
    case json::value_t::number_integer:
      // libplist keeps integers as 64-bit two's complement and writes them signed.
      return plist_new_uint(static_cast<uint64_t>(v.get<int64_t>()));
    case json::value_t::number_float:
      return plist_new_real(v.get<double>());
    case json::value_t::array: {
      plist::Node a(plist_new_array());
      for (size_t i = 0; i < v.size(); ++i) {
        AE_ASSIGN_OR_RETURN(plist_t item, ToPlist(v[i], path + "[" + std::to_string(i) + "]"));
        plist_array_append_item(a.get(), item);
      }
      return a.release();
    }
    case json::value_t::object: {
      plist::Node d(plist_new_dict());
      for (const auto& [k, child] : v.items()) {
        AE_ASSIGN_OR_RETURN(plist_t item, ToPlist(child, path + "." + k));
        plist_dict_set_item(d.get(), k.c_str(), item);
      }
      return d.release();
    }
    default:
      return BadPayload(path, "has no plist form (null or binary)");
  }
}

Status BadProfile(const std::string& why) {
  return InvalidArgument("mdm.bad_profile", "configuration profile: " + why);
}

}  // namespace

Result<std::string> BuildConfigurationProfile(const ConfigurationProfileOptions& o) {
  if (o.identifier.empty()) return BadPayload("identifier", "is required");
  if (!o.payloads.is_array()) return BadPayload("payloads", "must be an array");
  plist::Node root(plist_new_dict());
  plist_t content = plist_new_array();
  plist_dict_set_item(root.get(), "PayloadContent", content);
  for (size_t i = 0; i < o.payloads.size(); ++i) {
    const std::string path = "apple_payloads[" + std::to_string(i) + "]";
    const json& p = o.payloads[i];
    if (!p.is_object()) return BadPayload(path, "is not a dictionary");
    AE_ASSIGN_OR_RETURN(plist_t item, ToPlist(p, path));
    if (!p.contains("PayloadVersion")) plist::SetUint(item, "PayloadVersion", 1);
    if (!p.contains("PayloadUUID")) {
      plist::SetString(item, "PayloadUUID",
                       DerivedUuid(o.uuid_seed + "/" + p.value("PayloadIdentifier", "") + "/" +
                                   std::to_string(i)));
    }
    plist_array_append_item(content, item);
  }
  plist::SetString(root.get(), "PayloadType", "Configuration");
  plist::SetUint(root.get(), "PayloadVersion", 1);
  plist::SetString(root.get(), "PayloadIdentifier", o.identifier);
  plist::SetString(root.get(), "PayloadUUID", DerivedUuid(o.uuid_seed));
  plist::SetString(root.get(), "PayloadDisplayName",
                   o.display_name.empty() ? o.identifier : o.display_name);
  if (!o.description.empty()) plist::SetString(root.get(), "PayloadDescription", o.description);
  if (!o.organization.empty()) plist::SetString(root.get(), "PayloadOrganization", o.organization);
  plist::SetBool(root.get(), "PayloadRemovalDisallowed", false);
  return plist::ToXml(root.get());
}

Result<std::string> SignProfile(std::string_view profile, EVP_PKEY* key, X509* certificate) {
  if (key == nullptr || certificate == nullptr) {
    return Internal("mdm.sign_failed", "no signing identity");
  }
  ossl::Ptr<BIO> in = ossl::MemBio(profile);
  ossl::Ptr<CMS_ContentInfo> cms(
      in ? CMS_sign(certificate, key, nullptr, in.get(), CMS_BINARY) : nullptr);
  if (!cms) {
    ossl::ClearErrors();
    return Internal("mdm.sign_failed", "CMS_sign failed");
  }
  ossl::Ptr<BIO> out(BIO_new(BIO_s_mem()));
  if (!out || i2d_CMS_bio(out.get(), cms.get()) != 1) {
    ossl::ClearErrors();
    return Internal("mdm.sign_failed", "cannot encode the signed profile");
  }
  return ossl::BioToString(out.get());
}

Result<ParsedConfigurationProfile> ParseConfigurationProfile(std::string_view data) {
  if (data.empty() || data.size() > kMaxProfileBytes) return BadProfile("empty or too large");
  ParsedConfigurationProfile out;
  std::string body(data);
  if (static_cast<unsigned char>(data[0]) == 0x30) {  // DER: CMS SignedData
    ossl::Ptr<CMS_ContentInfo> cms = ossl::ReadCms(data);
    if (!cms || OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed) {
      ossl::ClearErrors();
      return BadProfile("not CMS SignedData");
    }
    ossl::Ptr<BIO> content(BIO_new(BIO_s_mem()));
    if (!content || CMS_verify(cms.get(), nullptr, nullptr, nullptr, content.get(),
                               CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1) {
      ossl::ClearErrors();
      return BadProfile("the signature does not verify");
    }
    STACK_OF(X509)* signers = CMS_get0_signers(cms.get());
    if (signers != nullptr && sk_X509_num(signers) == 1) {
      out.signer_certificate_sha256 =
          crypto::Hex(crypto::Sha256(ossl::CertificateDer(sk_X509_value(signers, 0))));
    }
    sk_X509_free(signers);
    out.is_signed = true;
    body = ossl::BioToString(content.get());
  }
  plist::Node root = plist::Parse(body);
  if (!plist::IsDict(root.get())) return BadProfile("not a plist dictionary");
  std::string type;
  if (plist::GetString(root.get(), "PayloadType", &type) != plist::Lookup::kOk ||
      type != "Configuration") {
    return BadProfile("PayloadType is not Configuration");
  }
  if (plist::GetString(root.get(), "PayloadIdentifier", &out.identifier) != plist::Lookup::kOk ||
      plist::GetString(root.get(), "PayloadUUID", &out.uuid) != plist::Lookup::kOk) {
    return BadProfile("PayloadIdentifier or PayloadUUID is missing");
  }
  plist::GetString(root.get(), "PayloadDisplayName", &out.display_name);
  plist_t content = plist::Get(root.get(), "PayloadContent");
  if (!plist::IsArray(content)) return BadProfile("PayloadContent is not an array");
  for (uint32_t i = 0; i < plist_array_get_size(content); ++i) {
    plist_t p = plist_array_get_item(content, i);
    std::string pt, pi;
    if (plist::GetString(p, "PayloadType", &pt) != plist::Lookup::kOk ||
        plist::GetString(p, "PayloadIdentifier", &pi) != plist::Lookup::kOk) {
      return BadProfile("payload " + std::to_string(i) + " lacks PayloadType or PayloadIdentifier");
    }
    out.payload_types.push_back(pt);
    out.payload_identifiers.push_back(pi);
  }
  return out;
}

}  // namespace ae::mdm
