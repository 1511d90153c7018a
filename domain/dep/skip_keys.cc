// The skip_setup_items keys Apple knows (apple-dep.md §5.2). A file of its own: the
// profile body reader (api/dep_profile.cc) needs it, and so does its fuzz target.

#include <algorithm>
#include <array>
#include <string_view>

#include "domain/dep/dep.h"

namespace ae::domain::dep {

bool IsKnownSkipKey(std::string_view key) {
  static constexpr std::array<std::string_view, 53> kKeys = {
      "Accessibility", "AccessibilityAppearance", "ActionButton", "Android", "Appearance",
      "AppleID", "AppStore", "Biometric", "CameraButton", "DeviceFeaturesTour",
      "DeviceToDeviceMigration", "Diagnostics", "DisplayTone", "EnableLockdownMode", "FileVault",
      "HomeButtonSensitivity", "iCloudDiagnostics", "iCloudStorage", "iMessageAndFaceTime",
      "Intelligence", "Keyboard", "LiquidGlass", "Location",
      "MessagingActivationUsingPhoneNumber", "Multitasking", "OnBoarding", "OSShowcase",
      "Passcode", "Payment", "Privacy", "Restore", "RestoreCompleted", "Safety",
      "SafetyAndHandling", "ScreenSaver", "ScreenTime", "SIMSetup", "Siri", "SoftwareUpdate",
      "SpokenLanguage", "TapToSetup", "TermsOfAddress", "Tips", "TOS", "TVHomeScreenSync",
      "TVProviderSignIn", "TVRoom", "UnlockWithWatch", "UpdateCompleted", "Wallpaper",
      "WatchMigration", "WebContentFiltering", "Welcome"};
  return key == "Zoom" || std::find(kKeys.begin(), kKeys.end(), key) != kKeys.end();
}

}  // namespace ae::domain::dep
