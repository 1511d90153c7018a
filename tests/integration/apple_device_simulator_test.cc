// AppleDeviceSimulator against a minimal enrollment server on loopback, built
// from the ae_apple_mdm pieces: MachineInfo → profile → check-in → commands.

#include <httplib.h>

#include <mutex>
#include <thread>
#include <vector>

#include "adapters/apple_mdm/checkin.h"
#include "adapters/apple_mdm/enrollment_profile.h"
#include "adapters/apple_mdm/machine_info.h"
#include "adapters/apple_mdm/mdm_ca.h"
#include "adapters/simulators/apple_device_simulator.h"
#include "tests/support/test_support.h"

namespace ae::sim {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The device-facing routes, as the engine wires them, without the event log.
class EnrollmentServer {
 public:
  EnrollmentServer(mdm::DeviceTrust trust, mdm::MdmCa ca) : trust_(std::move(trust)), ca_(std::move(ca)) {
    server_.Post("/mdm/enroll", [this](const httplib::Request& req, httplib::Response& res) {
      auto info = mdm::VerifyMachineInfo(req.body, trust_, Clock::Real());
      if (!info.ok()) {
        res.status = info.status().code() == StatusCode::kPermissionDenied ? 403 : 400;
        res.set_content(info.status().reason(), "text/plain");
        return;
      }
      auto identity = ca_.IssueDeviceIdentity(info->udid, Clock::Real());
      mdm::EnrollmentProfileOptions o;
      o.organization = "Example";
      o.server_url = base_ + "/mdm/server";
      o.checkin_url = base_ + "/mdm/checkin";
      o.topic = "com.apple.mgmt.External.test";
      o.identity = *identity;
      res.set_content(mdm::BuildEnrollmentProfile(o).value(), "application/x-apple-aspen-config");
    });
    server_.Put("/mdm/checkin", [this](const httplib::Request& req, httplib::Response& res) {
      auto udid = Authenticate(req, res);
      if (!udid) return;
      auto m = mdm::ParseCheckin(req.body);
      if (!m.ok() || m->udid != *udid) {
        res.status = 400;
        return;
      }
      std::lock_guard lock(mu_);
      checkins_.push_back(m->message_type);
      if (m->message_type == "TokenUpdate" && m->awaiting_configuration) {
        queue_ = {{"CMD-1", "InstallApplication", "https://apps.example.com/manifest.plist"},
                  {"CMD-2", "DeviceConfigured", ""}};
      }
    });
    server_.Put("/mdm/server", [this](const httplib::Request& req, httplib::Response& res) {
      auto udid = Authenticate(req, res);
      if (!udid) return;
      auto r = mdm::ParseCommandResult(req.body);
      if (!r.ok() || r->udid != *udid) {
        res.status = 400;
        return;
      }
      std::lock_guard lock(mu_);
      results_.push_back(r->status + ":" + r->command_uuid);
      if (r->status == "Acknowledged" && !queue_.empty() && queue_.front().command_uuid == r->command_uuid) {
        queue_.erase(queue_.begin());
      }
      if (!queue_.empty()) res.set_content(mdm::BuildCommandPlist(queue_.front()), "application/xml");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    base_ = "http://127.0.0.1:" + std::to_string(port_);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    EXPECT_TRUE(testing::WaitFor([this] { return server_.is_running(); }));
  }
  ~EnrollmentServer() {
    server_.stop();
    thread_.join();
  }
  const std::string& base() const { return base_; }
  std::vector<std::string> checkins() {
    std::lock_guard lock(mu_);
    return checkins_;
  }
  std::vector<std::string> results() {
    std::lock_guard lock(mu_);
    return results_;
  }

 private:
  std::optional<std::string> Authenticate(const httplib::Request& req, httplib::Response& res) {
    auto signer = ca_.VerifyMdmSignature(req.body, req.get_header_value("Mdm-Signature"));
    if (!signer.ok()) {
      res.status = 401;
      return std::nullopt;
    }
    return signer->common_name;
  }

  mdm::DeviceTrust trust_;
  mdm::MdmCa ca_;
  httplib::Server server_;
  int port_ = 0;
  std::string base_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> checkins_;
  std::vector<std::string> results_;
  std::vector<mdm::Command> queue_;
};

class AppleDeviceSimulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto authority = mdm::TestDeviceAuthority::Generate();
    ASSERT_THAT(authority, IsOk());
    authority_.emplace(std::move(authority).value());
    auto trust = mdm::DeviceTrust::FromPem(authority_->CaPem());
    auto ca = mdm::MdmCa::Generate("Test MDM CA", Clock::Real());
    ASSERT_THAT(trust, IsOk());
    ASSERT_THAT(ca, IsOk());
    server_.emplace(std::move(trust).value(), std::move(ca).value());
  }
  AppleDeviceSimulatorOptions Options() {
    AppleDeviceSimulatorOptions o;
    o.base_url = server_->base();
    o.authority = &*authority_;
    return o;
  }

  std::optional<mdm::TestDeviceAuthority> authority_;
  std::optional<EnrollmentServer> server_;
};

TEST_F(AppleDeviceSimulatorTest, DeviceEnrollsChecksInAndRunsItsSetupCommands) {
  AppleDeviceSimulator device(Options());
  auto outcome = device.Enroll("/mdm/enroll");
  ASSERT_THAT(outcome, IsOk());
  ASSERT_EQ(outcome->http_status, 200) << outcome->error_body;
  EXPECT_EQ(outcome->content_type, "application/x-apple-aspen-config");
  ASSERT_TRUE(outcome->profile.has_value());
  EXPECT_EQ(outcome->profile->checkin_url, server_->base() + "/mdm/checkin");
  EXPECT_THAT(outcome->identity_certificate_pem, HasSubstr("BEGIN CERTIFICATE"));

  EXPECT_EQ(*device.Authenticate(), 200);
  EXPECT_EQ(*device.Authenticate(), 200);
  EXPECT_EQ(*device.TokenUpdate(/*awaiting_configuration=*/true), 200);
  auto commands = device.RunCommandLoop(10);
  ASSERT_THAT(commands, IsOk());
  ASSERT_EQ(commands->size(), 2u);
  EXPECT_EQ((*commands)[0].request_type, "InstallApplication");
  EXPECT_EQ((*commands)[0].manifest_url, "https://apps.example.com/manifest.plist");
  EXPECT_EQ((*commands)[1].request_type, "DeviceConfigured");
  EXPECT_EQ(*device.CheckOut(), 200);
  EXPECT_THAT(server_->checkins(),
              ElementsAre("Authenticate", "Authenticate", "TokenUpdate", "CheckOut"));
  EXPECT_THAT(server_->results(), ElementsAre("Idle:", "Acknowledged:CMD-1", "Acknowledged:CMD-2"));
}

// Shaped like Apple's: SHA-1, a CA past its validity, a device certificate with or
// without the serial number.
TEST_F(AppleDeviceSimulatorTest, Sha1DeviceCertificateOfAnExpiredCaEnrolls) {
  for (bool serial_in_certificate : {true, false}) {
    AppleDeviceSimulatorOptions o = Options();
    o.sha1 = true;
    o.serial_in_certificate = serial_in_certificate;
    AppleDeviceSimulator device(o);
    auto outcome = device.Enroll(server_->base() + "/mdm/enroll");
    ASSERT_THAT(outcome, IsOk());
    EXPECT_EQ(outcome->http_status, 200) << outcome->error_body;
  }
}

TEST_F(AppleDeviceSimulatorTest, ExpiredDeviceCertificateIsRefused) {
  AppleDeviceSimulatorOptions o = Options();
  o.expired_cert = true;
  AppleDeviceSimulator device(o);
  auto outcome = device.Enroll("/mdm/enroll");
  ASSERT_THAT(outcome, IsOk());
  EXPECT_EQ(outcome->http_status, 403);
  EXPECT_EQ(outcome->error_body, "enroll.bad_signature");
}

// A device that signs with another device's certificate (and key).
TEST_F(AppleDeviceSimulatorTest, DeviceSigningWithAnotherDevicesCertificateIsRefused) {
  auto other = authority_->IssueDeviceCertificate("00008030-00000000000000AA", "C02OTHERDEV");
  ASSERT_THAT(other, IsOk());
  AppleDeviceSimulatorOptions o = Options();
  o.authority = nullptr;
  o.device_certificate = *other;
  AppleDeviceSimulator device(o);
  auto outcome = device.Enroll("/mdm/enroll");
  ASSERT_THAT(outcome, IsOk());
  EXPECT_EQ(outcome->http_status, 403);
  EXPECT_EQ(outcome->error_body, "enroll.signer_mismatch");
}

TEST_F(AppleDeviceSimulatorTest, DeviceOfAnUnknownCaIsRefused) {
  auto foreign = mdm::TestDeviceAuthority::Generate("Unknown CA");
  ASSERT_THAT(foreign, IsOk());
  AppleDeviceSimulatorOptions o = Options();
  o.authority = &*foreign;
  AppleDeviceSimulator device(o);
  auto outcome = device.Enroll("/mdm/enroll");
  ASSERT_THAT(outcome, IsOk());
  EXPECT_EQ(outcome->http_status, 403);
  EXPECT_EQ(outcome->error_body, "enroll.bad_signature");
  EXPECT_FALSE(device.enrolled());
  EXPECT_THAT(device.Authenticate(), StatusIs(StatusCode::kFailedPrecondition, "sim.not_enrolled"));
}

TEST_F(AppleDeviceSimulatorTest, CheckinSignedOverAnotherBodyIsUnauthorized) {
  AppleDeviceSimulator device(Options());
  ASSERT_EQ(device.Enroll("/mdm/enroll")->http_status, 200);
  const std::string body = mdm::BuildCheckinPlist(
      {.message_type = "Authenticate", .udid = device.options().udid, .topic = "t"});
  auto other = device.MdmSignatureForTest(body + " ");
  ASSERT_THAT(other, IsOk());
  EXPECT_EQ(*device.PutForTest("/mdm/checkin", mdm::kCheckinContentType, body, *other), 401);
  EXPECT_EQ(*device.PutForTest("/mdm/checkin", mdm::kCheckinContentType, body, std::nullopt), 401);
  EXPECT_TRUE(server_->checkins().empty());
}

}  // namespace
}  // namespace ae::sim
