#include "api/policy_delivery.h"

#include <mutex>

#include "adapters/apple_dep/server_identity.h"
#include "adapters/apple_mdm/configuration_profile.h"
#include "events/base/logging.h"
#include "projections/policies_projector.h"

namespace ae::api {

namespace pol = domain::policies;
using nlohmann::json;

namespace {

constexpr const char* kSigningCertSecret = "mdm/profile-signing/certificate";
constexpr const char* kSigningKeySecret = "mdm/profile-signing/key";

Result<json> Row(App& app, const std::string& cf, const std::string& key) {
  AE_ASSIGN_OR_RETURN(auto raw, app.views().Get(cf, key));
  if (!raw) return json();
  json j = json::parse(*raw, nullptr, false);
  if (!j.is_object()) return Corruption("view.corruption", cf + " record does not parse");
  return j;
}

std::mutex& SigningMu() {
  static std::mutex mu;
  return mu;
}

Result<dep::ServerIdentity> SigningIdentity(App& app) {
  std::lock_guard lock(SigningMu());
  AE_ASSIGN_OR_RETURN(auto cert, app.secrets().Get(kSigningCertSecret));
  AE_ASSIGN_OR_RETURN(auto key, app.secrets().Get(kSigningKeySecret));
  if (cert && key) return dep::ServerIdentity::FromPem(*cert, *key);
  dep::ServerIdentityOptions o;
  o.common_name = "autoenroll profile signing";
  o.validity_days = 3650;
  AE_ASSIGN_OR_RETURN(auto identity, dep::ServerIdentity::Generate(o, app.clock()));
  AE_RETURN_IF_ERROR(app.secrets().Put(kSigningKeySecret, identity.PrivateKeyPem()));
  AE_RETURN_IF_ERROR(app.secrets().Put(kSigningCertSecret, identity.CertificatePem()));
  log::Get("api")->info("made the profile-signing certificate (kept in the secret store)");
  return identity;
}

}  // namespace

Result<uint32_t> CurrentPolicyVersion(App& app, const std::string& id) {
  if (id.empty()) return 0u;
  AE_ASSIGN_OR_RETURN(json rec, Row(app, "policies", id));
  return rec.is_object() ? rec.value("version", 1u) : 0u;
}

Result<uint32_t> CurrentRuleSetVersion(App& app, const std::string& id) {
  if (id.empty()) return 0u;
  AE_ASSIGN_OR_RETURN(json rec, Row(app, "rulesets", id));
  return rec.is_object() ? rec.value("version", 1u) : 0u;
}

Result<json> PolicyVersionRow(App& app, const std::string& id, uint32_t version) {
  return Row(app, "policy_versions", proj::PolicyVersionKey(id, version));
}

Result<json> RuleSetVersionRow(App& app, const std::string& id, uint32_t version) {
  return Row(app, "ruleset_versions", proj::PolicyVersionKey(id, version));
}

Result<json> DevicePolicyRow(App& app, const std::string& device_id) {
  return Row(app, "device_policies", device_id);
}

Result<std::optional<pol::Delivered>> AppleDeliveryOf(App& app, const std::string& policy_id) {
  AE_ASSIGN_OR_RETURN(uint32_t version, CurrentPolicyVersion(app, policy_id));
  if (version == 0) return std::optional<pol::Delivered>();
  AE_ASSIGN_OR_RETURN(json row, PolicyVersionRow(app, policy_id, version));
  if (!row.is_object() || row.value("apple_payloads", json::array()).empty()) {
    return std::optional<pol::Delivered>();
  }
  return std::optional<pol::Delivered>(
      pol::Delivered{policy_id, version, "", 0, pol::kChannelAppleMdm});
}

Result<std::optional<pol::Delivered>> AndroidDeliveryOf(App& app, const std::string& policy_id,
                                                        const std::string& ruleset_id) {
  AE_ASSIGN_OR_RETURN(uint32_t pv, CurrentPolicyVersion(app, policy_id));
  AE_ASSIGN_OR_RETURN(uint32_t rv, CurrentRuleSetVersion(app, ruleset_id));
  if (pv == 0 && rv == 0) return std::optional<pol::Delivered>();
  return std::optional<pol::Delivered>(pol::Delivered{pv ? policy_id : "", pv,
                                                      rv ? ruleset_id : "", rv,
                                                      pol::kChannelAndroidAgent});
}

Result<std::string> RenderInstallProfile(App& app, const std::string& policy_id,
                                         uint32_t version) {
  AE_ASSIGN_OR_RETURN(json row, PolicyVersionRow(app, policy_id, version));
  if (!row.is_object()) {
    return NotFound("policy.version_not_found",
                    "policy " + policy_id + " has no version " + std::to_string(version));
  }
  mdm::ConfigurationProfileOptions o;
  o.identifier = "com.autoenroll.policy." + policy_id;
  o.uuid_seed = "policy/" + policy_id + "/" + std::to_string(version);
  o.display_name = row.value("name", policy_id);
  o.description = row.value("description", "");
  o.organization = "autoenroll";
  o.payloads = row.value("apple_payloads", json::array());
  AE_ASSIGN_OR_RETURN(std::string profile, mdm::BuildConfigurationProfile(o));
  if (!row.value("sign", false)) return profile;
  AE_ASSIGN_OR_RETURN(auto identity, SigningIdentity(app));
  return mdm::SignProfile(profile, identity.key(), identity.certificate());
}

Result<std::string> SigningCertificatePem(App& app) {
  AE_ASSIGN_OR_RETURN(auto identity, SigningIdentity(app));
  return identity.CertificatePem();
}

Result<json> AndroidPolicyJson(App& app, const pol::Delivered& what) {
  json out = {{"policy", nullptr}, {"ruleset", nullptr}};
  if (!what.policy_id.empty()) {
    AE_ASSIGN_OR_RETURN(json row, PolicyVersionRow(app, what.policy_id, what.policy_version));
    if (row.is_object()) {
      out["policy"] = {{"id", what.policy_id},
                       {"name", row.value("name", "")},
                       {"version", what.policy_version},
                       {"android_config", row.value("android_config", json::object())}};
    }
  }
  if (!what.ruleset_id.empty()) {
    AE_ASSIGN_OR_RETURN(json row, RuleSetVersionRow(app, what.ruleset_id, what.ruleset_version));
    if (row.is_object()) {
      out["ruleset"] = {{"id", what.ruleset_id},
                        {"name", row.value("name", "")},
                        {"version", what.ruleset_version},
                        {"rules", row.value("rules", json::array())}};
    }
  }
  return out;
}

json PolicyDeliveryJson(App& app, const std::string& device_id) {
  auto row = DevicePolicyRow(app, device_id);
  if (!row.ok() || !row->is_object() || !row->contains("delivered")) return nullptr;
  auto part = [&](const char* key) -> json {
    if (!row->contains(key) || !(*row)[key].is_object()) return nullptr;
    const json& p = (*row)[key];
    json out = {{"policy_id", p.value("policy_id", "")},
                {"policy_version", p.value("policy_version", 0u)},
                {"ruleset_id", p.value("ruleset_id", "")},
                {"ruleset_version", p.value("ruleset_version", 0u)},
                {"at", p.value("at", "")}};
    for (const char* k : {"channel", "status", "error"}) {
      if (p.contains(k)) out[k] = p[k];
    }
    return out;
  };
  return {{"delivered", part("delivered")},
          {"acknowledged", part("acknowledged")},
          {"last_error", part("last_error")}};
}

}  // namespace ae::api
