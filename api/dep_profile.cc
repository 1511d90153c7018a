#include "api/dep_profile.h"

#include "adapters/http/http_client.h"
#include "api/request_body.h"
#include "domain/dep/dep.h"

namespace ae::api {

namespace ddep = domain::dep;
namespace pb = autoenroll::events::v1;
using nlohmann::json;

Result<pb::DepProfileDefined> ParseProfile(const json& body, const std::string& default_url) {
  pb::DepProfileDefined p;
  AE_ASSIGN_OR_RETURN(std::string account_id, StrField(body, "account_id", 64));
  if (account_id.empty()) {
    return InvalidArgument("request.missing_field", "account_id is required", "account_id");
  }
  p.set_account_id(account_id);
  AE_ASSIGN_OR_RETURN(std::string name, StrField(body, "profile_name", 255));
  if (name.empty()) {
    return InvalidArgument("dep.config_name_required", "profile_name is required", "profile_name");
  }
  p.set_profile_name(name);
  AE_ASSIGN_OR_RETURN(std::string given_url, StrField(body, "url", 2048));
  p.set_url(given_url.empty() ? default_url : given_url);
  if (auto u = http::SplitUrl(p.url());
      !u.ok() || (u->scheme != "https" && u->scheme != "http") || u->host.empty()) {
    return InvalidArgument("dep.url_invalid", "url must be an http(s) URL", "url");
  }
  AE_ASSIGN_OR_RETURN(std::string web_url, StrField(body, "configuration_web_url", 2048));
  p.set_configuration_web_url(web_url);
  AE_ASSIGN_OR_RETURN(bool mandatory, BoolField(body, "is_mandatory", false));
  AE_ASSIGN_OR_RETURN(bool removable, BoolField(body, "is_mdm_removable", true));
  AE_ASSIGN_OR_RETURN(bool supervised, BoolField(body, "is_supervised", true));
  AE_ASSIGN_OR_RETURN(bool await_cfg, BoolField(body, "await_device_configured", false));
  AE_ASSIGN_OR_RETURN(bool pairing, BoolField(body, "allow_pairing", true));
  AE_ASSIGN_OR_RETURN(bool multi, BoolField(body, "is_multi_user", false));
  AE_ASSIGN_OR_RETURN(bool advance, BoolField(body, "auto_advance_setup", false));
  AE_ASSIGN_OR_RETURN(bool no_backup, BoolField(body, "do_not_use_profile_from_backup", false));
  if (await_cfg && !supervised) {
    return InvalidArgument("dep.flags_invalid",
                           "await_device_configured needs is_supervised", "await_device_configured");
  }
  p.set_is_mandatory(mandatory);
  p.set_is_mdm_removable(removable);
  p.set_is_supervised(supervised);
  p.set_await_device_configured(await_cfg);
  p.set_allow_pairing(pairing);
  p.set_is_multi_user(multi);
  p.set_auto_advance_setup(advance);
  p.set_do_not_use_profile_from_backup(no_backup);
  struct {
    const char* name;
    size_t max;
    void (pb::DepProfileDefined::*set)(const std::string&);
  } strings[] = {
      {"support_phone_number", 64, &pb::DepProfileDefined::set_support_phone_number},
      {"support_email_address", 250, &pb::DepProfileDefined::set_support_email_address},
      {"department", 125, &pb::DepProfileDefined::set_department},
      {"org_magic", 256, &pb::DepProfileDefined::set_org_magic},
      {"language", 16, &pb::DepProfileDefined::set_language},
      {"region", 16, &pb::DepProfileDefined::set_region},
  };
  for (const auto& f : strings) {
    AE_ASSIGN_OR_RETURN(std::string v, StrField(body, f.name, f.max));
    (p.*f.set)(v);
  }
  if (!p.support_email_address().empty() &&
      p.support_email_address().find('@') == std::string::npos) {
    return InvalidArgument("dep.support_email_invalid", "support_email_address must be an e-mail",
                           "support_email_address");
  }
  auto string_list = [&](const char* name,
                         google::protobuf::RepeatedPtrField<std::string>* out) -> Status {
    if (!body.contains(name) || body[name].is_null()) return Status::Ok();
    if (!body[name].is_array() || body[name].size() > 256) {
      return InvalidArgument("request.bad_field", std::string(name) + " must be a list of strings",
                             name);
    }
    for (const auto& v : body[name]) {
      if (!v.is_string()) {
        return InvalidArgument("request.bad_field",
                               std::string(name) + " must be a list of strings", name);
      }
      out->Add(v.get<std::string>());
    }
    return Status::Ok();
  };
  AE_RETURN_IF_ERROR(string_list("skip_setup_items", p.mutable_skip_setup_items()));
  for (const auto& k : p.skip_setup_items()) {
    if (!ddep::IsKnownSkipKey(k)) {
      return InvalidArgument("dep.skip_item_invalid",
                             "'" + k + "' is not one of Apple's skip_setup_items keys "
                                       "(they are case-sensitive, e.g. AppleID, SIMSetup, TOS)",
                             "skip_setup_items");
    }
  }
  AE_RETURN_IF_ERROR(string_list("anchor_certs", p.mutable_anchor_certs()));
  AE_RETURN_IF_ERROR(string_list("supervising_host_certs", p.mutable_supervising_host_certs()));
  return p;
}

}  // namespace ae::api
