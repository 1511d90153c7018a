#pragma once
// One entry of a reason catalogue: a stable dotted reason code the engine answers with
// (`Status::reason()`, the `error.code` of an HTTP answer), the HTTP status it is answered
// with, and what it means for the caller.
//
// Each area keeps its catalogue in the `errors.h` of the folder that owns it
// (`api/errors.h`, `domain/dep/errors.h`, ...). The catalogues describe the raise sites;
// they are not used to raise. tests/unit/reason_catalogue_test.cc keeps them, the raise
// sites and api/ERRORS.md in step.

#include <string_view>

namespace ae {

struct ReasonInfo {
  std::string_view code;     // "dep.url_invalid"
  int http_status;           // api::HttpStatusFor of the StatusCode it is raised with
  std::string_view meaning;  // one line, for the API user
};

}  // namespace ae
