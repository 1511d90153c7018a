#include "adapters/simulators/apple_device_simulator.h"

#include <httplib.h>

#include "adapters/apple_mdm/internal/ossl.h"
#include "events/base/crypto.h"

namespace ae::sim {

namespace ossl = ae::mdm::ossl;

void AppleDeviceSimulator::KeyFree::operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
void AppleDeviceSimulator::CertFree::operator()(X509* c) const { X509_free(c); }

AppleDeviceSimulator::AppleDeviceSimulator(AppleDeviceSimulatorOptions options)
    : options_(std::move(options)) {}
AppleDeviceSimulator::~AppleDeviceSimulator() = default;

namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

// "scheme://host[:port]" and the path (with query) of an absolute URL.
struct SplitUrl {
  std::string origin;
  std::string path;
};

Result<SplitUrl> Split(std::string_view url) {
  if (!StartsWith(url, "http://") && !StartsWith(url, "https://")) {
    return InvalidArgument("sim.bad_url", "not an http(s) URL: " + std::string(url));
  }
  size_t host_start = url.find("://") + 3;
  size_t slash = url.find('/', host_start);
  SplitUrl out;
  out.origin = std::string(url.substr(0, slash));
  out.path = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  if (out.origin.size() <= host_start) return InvalidArgument("sim.bad_url", "URL has no host");
  return out;
}

std::string Resolve(std::string_view base, std::string_view url) {
  if (StartsWith(url, "http://") || StartsWith(url, "https://")) return std::string(url);
  std::string out(base);
  while (!out.empty() && out.back() == '/') out.pop_back();
  if (url.empty() || url.front() != '/') out.push_back('/');
  out.append(url);
  return out;
}

}  // namespace

Result<AppleDeviceSimulator::Response> AppleDeviceSimulator::Send(
    std::string_view method, std::string_view url, std::string_view content_type,
    const std::string& body, const std::optional<std::string>& mdm_signature) {
  AE_ASSIGN_OR_RETURN(SplitUrl target, Split(Resolve(options_.base_url, url)));
  httplib::Client client(target.origin);
  if (!client.is_valid()) return InvalidArgument("sim.bad_url", "unusable URL " + target.origin);
  const time_t sec = options_.timeout_ms / 1000;
  const time_t usec = (options_.timeout_ms % 1000) * 1000;
  client.set_connection_timeout(sec, usec);
  client.set_read_timeout(sec, usec);
  client.set_write_timeout(sec, usec);
  if (StartsWith(target.origin, "https://") && !options_.tls_ca_pem.empty()) {
    X509_STORE* store = X509_STORE_new();
    for (const auto& cert : ossl::ReadCertificatesPem(options_.tls_ca_pem)) {
      X509_STORE_add_cert(store, cert.get());
    }
    ossl::ClearErrors();
    client.set_ca_cert_store(store);  // the client's SSL context takes ownership
  }
  httplib::Headers headers = {{"User-Agent", method == "POST" ? "CloudConfigurationUIService/1.0"
                                                              : "MDM/1.0"}};
  if (mdm_signature) headers.emplace("Mdm-Signature", *mdm_signature);
  const std::string type(content_type);
  httplib::Result res = method == "POST" ? client.Post(target.path, headers, body, type)
                                         : client.Put(target.path, headers, body, type);
  if (!res) {
    return Unavailable("sim.transport", std::string(method) + " " + target.origin + target.path +
                                            ": " + httplib::to_string(res.error()));
  }
  Response out;
  out.status = res->status;
  out.content_type = res->get_header_value("Content-Type");
  out.body = res->body;
  return out;
}

Result<EnrollOutcome> AppleDeviceSimulator::Enroll(std::string_view enroll_url) {
  mdm::MachineInfo info;
  info.udid = options_.udid;
  info.serial = options_.serial;
  info.product = options_.model;
  info.version = options_.build_version;
  info.os_version = options_.os_version;
  info.language = "en";
  std::string signed_info;
  if (options_.authority != nullptr) {
    AE_ASSIGN_OR_RETURN(signed_info,
                        options_.authority->SignMachineInfo(info, options_.sha1, options_.expired_cert,
                                                            options_.serial_in_certificate));
  } else if (!options_.device_certificate.certificate_pem.empty()) {
    std::vector<ossl::Ptr<X509>> certs =
        ossl::ReadCertificatesPem(options_.device_certificate.certificate_pem);
    ossl::Ptr<EVP_PKEY> key = ossl::ReadPrivateKeyPem(options_.device_certificate.private_key_pem);
    if (certs.empty() || !key) {
      return InvalidArgument("sim.bad_device_certificate", "device certificate or key is not PEM");
    }
    std::vector<X509*> extra;
    for (size_t i = 1; i < certs.size(); ++i) extra.push_back(certs[i].get());
    signed_info = ossl::CmsSign(mdm::MachineInfoPlist(info), certs.front().get(), key.get(), extra,
                                options_.sha1 ? EVP_sha1() : EVP_sha256(), /*detached=*/false);
    if (signed_info.empty()) return Internal("sim.sign_failed", "CMS signing failed");
  } else {
    return FailedPrecondition("sim.no_device_identity", "neither an authority nor a device certificate");
  }

  AE_ASSIGN_OR_RETURN(Response res, Send("POST", enroll_url, "application/pkcs7-signature",
                                         signed_info, std::nullopt));
  EnrollOutcome outcome;
  outcome.http_status = res.status;
  outcome.content_type = res.content_type;
  if (res.status != 200) {
    outcome.error_body = res.body;
    return outcome;
  }
  Result<mdm::ParsedEnrollmentProfile> profile = mdm::ParseEnrollmentProfile(res.body);
  if (!profile.ok()) return profile.status().WithContext("enrollment profile");

  const auto* p = reinterpret_cast<const unsigned char*>(profile->pkcs12_der.data());
  ossl::Ptr<PKCS12> p12(d2i_PKCS12(nullptr, &p, static_cast<long>(profile->pkcs12_der.size())));
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  STACK_OF(X509)* ca = nullptr;
  if (!p12 || PKCS12_parse(p12.get(), profile->password.c_str(), &key, &cert, &ca) != 1 ||
      key == nullptr || cert == nullptr) {
    EVP_PKEY_free(key);
    X509_free(cert);
    sk_X509_pop_free(ca, X509_free);
    ossl::ClearErrors();
    return InvalidArgument("sim.bad_profile", "the PKCS#12 identity does not open with its password");
  }
  sk_X509_pop_free(ca, X509_free);
  identity_key_.reset(key);
  identity_cert_.reset(cert);
  outcome.identity_certificate_pem = ossl::CertificatePem(cert);
  outcome.profile = *profile;
  profile_ = std::move(profile).value();
  push_token_ = crypto::RandomBytes(32);
  push_magic_ = mdm::NewPayloadUuid();
  pending_result_.reset();
  return outcome;
}

Result<std::string> AppleDeviceSimulator::MdmSignatureForTest(std::string_view body) const {
  if (!identity_key_ || !identity_cert_) {
    return FailedPrecondition("sim.not_enrolled", "the device holds no identity");
  }
  std::string der = ossl::CmsSign(body, identity_cert_.get(), identity_key_.get(), {}, EVP_sha256(),
                                  /*detached=*/true);
  if (der.empty()) return Internal("sim.sign_failed", "CMS signing failed");
  return crypto::Base64(der);
}

Result<int> AppleDeviceSimulator::PutForTest(std::string_view url, std::string_view content_type,
                                             std::string body,
                                             std::optional<std::string> mdm_signature) {
  AE_ASSIGN_OR_RETURN(Response res, Send("PUT", url, content_type, body, mdm_signature));
  return res.status;
}

mdm::CheckinMessage AppleDeviceSimulator::BaseCheckin(std::string_view type) const {
  mdm::CheckinMessage m;
  m.message_type = std::string(type);
  m.udid = options_.udid;
  m.topic = !options_.topic_override.empty() ? options_.topic_override
                                              : (profile_ ? profile_->topic : std::string());
  return m;
}

Result<int> AppleDeviceSimulator::Checkin(mdm::CheckinMessage message) {
  if (!profile_) return FailedPrecondition("sim.not_enrolled", "Enroll() first");
  const std::string body = mdm::BuildCheckinPlist(message);
  std::optional<std::string> signature;
  if (profile_->sign_message) {
    AE_ASSIGN_OR_RETURN(signature, MdmSignatureForTest(body));
  }
  AE_ASSIGN_OR_RETURN(Response res, Send("PUT", profile_->checkin_url, mdm::kCheckinContentType,
                                         body, signature));
  return res.status;
}

Result<int> AppleDeviceSimulator::Authenticate() {
  mdm::CheckinMessage m = BaseCheckin("Authenticate");
  m.serial_number = options_.serial;
  m.model = options_.model;
  m.model_name = options_.model_name;
  m.product_name = options_.model;
  m.os_version = options_.os_version;
  m.build_version = options_.build_version;
  return Checkin(std::move(m));
}

Result<int> AppleDeviceSimulator::TokenUpdate(bool awaiting_configuration) {
  mdm::CheckinMessage m = BaseCheckin("TokenUpdate");
  m.token = push_token_;
  m.push_magic = push_magic_;
  m.awaiting_configuration = awaiting_configuration;
  return Checkin(std::move(m));
}

Result<int> AppleDeviceSimulator::CheckOut() { return Checkin(BaseCheckin("CheckOut")); }

Result<std::optional<mdm::Command>> AppleDeviceSimulator::Poll() {
  if (!profile_) return FailedPrecondition("sim.not_enrolled", "Enroll() first");
  mdm::CommandResult result =
      pending_result_ ? *pending_result_ : mdm::CommandResult{options_.udid, "Idle", "", ""};
  const std::string body = mdm::BuildCommandResultPlist(result);
  std::optional<std::string> signature;
  if (profile_->sign_message) {
    AE_ASSIGN_OR_RETURN(signature, MdmSignatureForTest(body));
  }
  AE_ASSIGN_OR_RETURN(Response res, Send("PUT", profile_->server_url, mdm::kCommandContentType,
                                         body, signature));
  if (res.status != 200) {
    return Unavailable("sim.http_status", "command channel answered " + std::to_string(res.status) +
                                              ": " + res.body.substr(0, 512));
  }
  pending_result_.reset();
  if (res.body.empty()) return std::optional<mdm::Command>();
  AE_ASSIGN_OR_RETURN(mdm::Command command, mdm::ParseCommandPlist(res.body));
  if (options_.respond) {
    pending_result_ = options_.respond(command);
  } else if (command.request_type == "InstallProfile") {
    auto profile = mdm::ParseConfigurationProfile(command.payload);
    if (profile.ok()) {
      installed_profiles_[profile->identifier] = *profile;
      pending_result_ = mdm::CommandResult{options_.udid, "Acknowledged", command.command_uuid, ""};
    } else {
      pending_result_ = mdm::CommandResult{options_.udid, "Error", command.command_uuid,
                                           "MCProfileErrorDomain 1000: " +
                                               profile.status().message()};
    }
  } else {
    pending_result_ = mdm::CommandResult{options_.udid, "Acknowledged", command.command_uuid, ""};
  }
  return std::optional<mdm::Command>(std::move(command));
}

Result<std::vector<mdm::Command>> AppleDeviceSimulator::RunCommandLoop(int max_rounds) {
  std::vector<mdm::Command> commands;
  for (int round = 0; round < max_rounds; ++round) {
    AE_ASSIGN_OR_RETURN(std::optional<mdm::Command> next, Poll());
    if (!next) return commands;
    commands.push_back(std::move(*next));
  }
  return DeadlineExceeded("sim.too_many_commands",
                          "the server still had commands after " + std::to_string(max_rounds) + " rounds");
}

}  // namespace ae::sim
