#pragma once
// What a device is handed of its policy and rule set, read from the policies views
// (projections/policies_projector.h), shared by the Apple command channel, the Android
// enrollment answer and agent routes, and the inventory's device answer.
//
//   - Apple: the policy's configuration profile, rendered from the version's payloads
//     (adapters/apple_mdm/configuration_profile.h) and, when the version says `sign`,
//     signed (CMS) with the profile-signing identity: an RSA key and self-signed
//     certificate made once and kept in the secret store ("mdm/profile-signing/key" and
//     ".../certificate"); GET /v1/mdm/signing-certificate hands out the certificate.
//   - Android: the version's android_config and the rule set version's rules.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "api/app.h"
#include "domain/policies/policies.h"
#include "projections/policy_records.h"

namespace ae::api {

// The current version of policy `id` (0 when it does not exist).
Result<uint32_t> CurrentPolicyVersion(App& app, const std::string& id);
Result<uint32_t> CurrentRuleSetVersion(App& app, const std::string& id);

// The row of one version; nullopt when there is none.
Result<std::optional<proj::PolicyVersionRecord>> PolicyVersionRow(App& app, const std::string& id,
                                                                  uint32_t version);
Result<std::optional<proj::RuleSetVersionRecord>> RuleSetVersionRow(App& app,
                                                                    const std::string& id,
                                                                    uint32_t version);

// The device's record of device_policies; nullopt when it has none.
Result<std::optional<proj::DevicePolicyRecord>> LoadDevicePolicy(App& app,
                                                                 const std::string& device_id);
// The same record as JSON (its stored keys); null when it has none.
Result<nlohmann::json> DevicePolicyRow(App& app, const std::string& device_id);

// What an Apple device with policy `policy_id` is to be handed: the current version of
// the policy when it has Apple payloads; nullopt otherwise.
Result<std::optional<domain::policies::Delivered>> AppleDeliveryOf(App& app,
                                                                   const std::string& policy_id);

// What an Android device with `policy_id` and `ruleset_id` is to be handed (their
// current versions; nullopt when it has neither).
Result<std::optional<domain::policies::Delivered>> AndroidDeliveryOf(
    App& app, const std::string& policy_id, const std::string& ruleset_id);

// The InstallProfile Payload of a policy version: its configuration profile, signed when
// the version says so. kNotFound "policy.version_not_found".
Result<std::string> RenderInstallProfile(App& app, const std::string& policy_id,
                                         uint32_t version);

// The profile-signing certificate (PEM), made on first use.
Result<std::string> SigningCertificatePem(App& app);

// What an Android agent receives: {policy: {name, version, android_config} | null,
// ruleset: {name, version, rules} | null}.
Result<nlohmann::json> AndroidPolicyJson(App& app, const domain::policies::Delivered& what);

// For a device's answer: {policy_id, delivered: {version, channel, at} | null,
// acknowledged: {version, at} | null, last_error: {...} | null}; null when the device
// was never handed anything.
nlohmann::json PolicyDeliveryJson(App& app, const std::string& device_id);

}  // namespace ae::api
