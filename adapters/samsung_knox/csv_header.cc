// The Knox CSV header: the column names and their synonyms (spec samsung-kme.md §1.1).

#include <cstring>

#include "adapters/samsung_knox/csv_parts.h"

namespace ae::kme {

using namespace csv_parts;

namespace {

// ---- header synonyms (§1.1) ---------------------------------------------------------------

// Lower case; drops white space, U+00A0, U+FEFF and ':' '*' '_' '-' '/' '.'.
std::string NormalizeHeader(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (size_t n = BlankAt(s, i); n > 0) {
      i += n;
      continue;
    }
    const char c = s[i++];
    if (std::strchr(":*_-/.", c) != nullptr) continue;
    out.push_back(ToLower(c));
  }
  return out;
}

struct Synonym {
  std::string_view normalized;
  KnoxCsvField field;
};

// Every synonym of §1.1 in NormalizeHeader form, plus the canonical names.
constexpr Synonym kSynonyms[] = {
    {"imeimeid", KnoxCsvField::kImei},
    {"imei", KnoxCsvField::kImei},
    {"imei1", KnoxCsvField::kImei},
    {"meid", KnoxCsvField::kImei},
    {"deviceid", KnoxCsvField::kImei},
    {"deviceimei", KnoxCsvField::kImei},
    {"deviceimeiorserialnumber", KnoxCsvField::kImei},
    {"imeiorserial", KnoxCsvField::kImei},
    {"imeiorserialnumber", KnoxCsvField::kImei},
    {"deviceimeiserialnumber", KnoxCsvField::kImei},
    {"deviceuid", KnoxCsvField::kImei},
    {"imei2", KnoxCsvField::kImei2},
    {"secondimei", KnoxCsvField::kImei2},
    {"serialnumber", KnoxCsvField::kSerial},
    {"serial", KnoxCsvField::kSerial},
    {"sn", KnoxCsvField::kSerial},
    {"wifidevicemacaddress", KnoxCsvField::kWifiMac},
    {"wifiphonemacaddress", KnoxCsvField::kWifiMac},
    {"wifimac", KnoxCsvField::kWifiMac},
    {"wifimacaddress", KnoxCsvField::kWifiMac},
    {"macaddress", KnoxCsvField::kWifiMac},
    {"model", KnoxCsvField::kModel},
    {"modelname", KnoxCsvField::kModel},
    {"osversion", KnoxCsvField::kOsVersion},
    {"androidversion", KnoxCsvField::kOsVersion},
    {"ordernumber", KnoxCsvField::kOrderNumber},
    {"orderno", KnoxCsvField::kOrderNumber},
    {"orderid", KnoxCsvField::kOrderNumber},
    {"orderdate", KnoxCsvField::kOrderDate},
    {"emmuserid", KnoxCsvField::kUserId},
    {"userid", KnoxCsvField::kUserId},
    {"username", KnoxCsvField::kUserId},
    {"emmpassword", KnoxCsvField::kPassword},
    {"password", KnoxCsvField::kPassword},
    {"tags", KnoxCsvField::kTags},
    {"tag", KnoxCsvField::kTags},
    {"submitted", KnoxCsvField::kSubmitted},
    {"submitteddate", KnoxCsvField::kSubmitted},
    {"addedon", KnoxCsvField::kSubmitted},
    {"uploaddate", KnoxCsvField::kSubmitted},
    {"reselleruploadtime", KnoxCsvField::kSubmitted},
    {"enrollmentprofile", KnoxCsvField::kProfile},
    {"profile", KnoxCsvField::kProfile},
    {"profilename", KnoxCsvField::kProfile},
    {"mdmprofile", KnoxCsvField::kProfile},
    {"status", KnoxCsvField::kStatus},
    {"devicestatus", KnoxCsvField::kStatus},
    {"state", KnoxCsvField::kStatus},
    {"resellerid", KnoxCsvField::kResellerId},
    {"resellername", KnoxCsvField::kResellerName},
    {"reseller", KnoxCsvField::kResellerName},
    {"lastmodifiedadmin", KnoxCsvField::kModifiedBy},
    {"modifiedby", KnoxCsvField::kModifiedBy},
    {"lastmodifiedtime", KnoxCsvField::kModifiedAt},
    {"lastmodified", KnoxCsvField::kModifiedAt},
    {"updated", KnoxCsvField::kModifiedAt},
    {"modifiedat", KnoxCsvField::kModifiedAt},
    {"emmautoenrollment", KnoxCsvField::kEmmAutoEnroll},
    {"emmautoenroll", KnoxCsvField::kEmmAutoEnroll},
    {"devicename", KnoxCsvField::kDeviceName},
};

}  // namespace

namespace csv_parts {
bool IsIdentifierField(KnoxCsvField f) {
  return f == KnoxCsvField::kImei || f == KnoxCsvField::kImei2 || f == KnoxCsvField::kSerial;
}
}  // namespace csv_parts

std::string_view KnoxCsvFieldName(KnoxCsvField field) {
  switch (field) {
    case KnoxCsvField::kImei:
      return "imei";
    case KnoxCsvField::kImei2:
      return "imei2";
    case KnoxCsvField::kSerial:
      return "serial";
    case KnoxCsvField::kWifiMac:
      return "wifi_mac";
    case KnoxCsvField::kModel:
      return "model";
    case KnoxCsvField::kOsVersion:
      return "os_version";
    case KnoxCsvField::kOrderNumber:
      return "order_number";
    case KnoxCsvField::kOrderDate:
      return "order_date";
    case KnoxCsvField::kUserId:
      return "user_id";
    case KnoxCsvField::kPassword:
      return "password";
    case KnoxCsvField::kTags:
      return "tags";
    case KnoxCsvField::kSubmitted:
      return "submitted";
    case KnoxCsvField::kProfile:
      return "profile";
    case KnoxCsvField::kStatus:
      return "status";
    case KnoxCsvField::kResellerId:
      return "reseller_id";
    case KnoxCsvField::kResellerName:
      return "reseller_name";
    case KnoxCsvField::kModifiedBy:
      return "modified_by";
    case KnoxCsvField::kModifiedAt:
      return "modified_at";
    case KnoxCsvField::kEmmAutoEnroll:
      return "emm_auto_enroll";
    case KnoxCsvField::kDeviceName:
      return "device_name";
    case KnoxCsvField::kAttribute:
      return "attribute";
  }
  return "attribute";
}

std::optional<KnoxCsvField> MatchKnoxCsvHeader(std::string_view header) {
  const std::string key = NormalizeHeader(header);
  if (key.empty()) return std::nullopt;
  for (const Synonym& s : kSynonyms) {
    if (s.normalized == key) return s.field;
  }
  return std::nullopt;
}

}  // namespace ae::kme
