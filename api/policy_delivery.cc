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
  AE_ASSIGN_OR_RETURN(auto rec, proj::ReadPolicyRecord<proj::PolicyRecord>(app.views(), id));
  return rec ? rec->version : 0u;
}

Result<uint32_t> CurrentRuleSetVersion(App& app, const std::string& id) {
  if (id.empty()) return 0u;
  AE_ASSIGN_OR_RETURN(auto rec, proj::ReadPolicyRecord<proj::RuleSetRecord>(app.views(), id));
  return rec ? rec->version : 0u;
}

Result<std::optional<proj::PolicyVersionRecord>> PolicyVersionRow(App& app, const std::string& id,
                                                                  uint32_t version) {
  return proj::ReadPolicyRecord<proj::PolicyVersionRecord>(app.views(),
                                                           proj::PolicyVersionKey(id, version));
}

Result<std::optional<proj::RuleSetVersionRecord>> RuleSetVersionRow(App& app,
                                                                    const std::string& id,
                                                                    uint32_t version) {
  return proj::ReadPolicyRecord<proj::RuleSetVersionRecord>(app.views(),
                                                            proj::PolicyVersionKey(id, version));
}

Result<std::optional<proj::DevicePolicyRecord>> LoadDevicePolicy(App& app,
                                                                 const std::string& device_id) {
  return proj::ReadPolicyRecord<proj::DevicePolicyRecord>(app.views(), device_id);
}

Result<json> DevicePolicyRow(App& app, const std::string& device_id) {
  AE_ASSIGN_OR_RETURN(auto rec, LoadDevicePolicy(app, device_id));
  return rec ? rec->ToJson() : json();
}

Result<std::optional<pol::Delivered>> AppleDeliveryOf(App& app, const std::string& policy_id) {
  AE_ASSIGN_OR_RETURN(uint32_t version, CurrentPolicyVersion(app, policy_id));
  if (version == 0) return std::optional<pol::Delivered>();
  AE_ASSIGN_OR_RETURN(auto row, PolicyVersionRow(app, policy_id, version));
  if (!row || row->apple_payloads.empty()) {
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
  AE_ASSIGN_OR_RETURN(auto row, PolicyVersionRow(app, policy_id, version));
  if (!row) {
    return NotFound("policy.version_not_found",
                    "policy " + policy_id + " has no version " + std::to_string(version));
  }
  mdm::ConfigurationProfileOptions o;
  o.identifier = "com.autoenroll.policy." + policy_id;
  o.uuid_seed = "policy/" + policy_id + "/" + std::to_string(version);
  o.display_name = row->name;
  o.description = row->description;
  o.organization = "autoenroll";
  o.payloads = row->apple_payloads;
  AE_ASSIGN_OR_RETURN(std::string profile, mdm::BuildConfigurationProfile(o));
  if (!row->sign) return profile;
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
    AE_ASSIGN_OR_RETURN(auto row, PolicyVersionRow(app, what.policy_id, what.policy_version));
    if (row) {
      out["policy"] = {{"id", what.policy_id},
                       {"name", row->name},
                       {"version", what.policy_version},
                       {"android_config", row->android_config}};
    }
  }
  if (!what.ruleset_id.empty()) {
    AE_ASSIGN_OR_RETURN(auto row, RuleSetVersionRow(app, what.ruleset_id, what.ruleset_version));
    if (row) {
      out["ruleset"] = {{"id", what.ruleset_id},
                        {"name", row->name},
                        {"version", what.ruleset_version},
                        {"rules", row->RulesJson()}};
    }
  }
  return out;
}

json PolicyDeliveryJson(App& app, const std::string& device_id) {
  auto row = LoadDevicePolicy(app, device_id);
  if (!row.ok() || !*row || !(*row)->delivered) return nullptr;
  auto part = [](const std::optional<proj::PolicyHandedAt>& p) -> json {
    if (!p) return nullptr;
    json out = {{"policy_id", p->policy_id},
                {"policy_version", p->policy_version},
                {"ruleset_id", p->ruleset_id},
                {"ruleset_version", p->ruleset_version},
                {"at", p->at}};
    if (p->channel) out["channel"] = *p->channel;
    if (p->status) out["status"] = *p->status;
    if (p->error) out["error"] = *p->error;
    return out;
  };
  return {{"delivered", part((*row)->delivered)},
          {"acknowledged", part((*row)->acknowledged)},
          {"last_error", part((*row)->last_error)}};
}

}  // namespace ae::api
