#pragma once
// The one place that maps a Status to an HTTP answer.
//   400 invalid argument · 401 · 403 · 404 · 405 · 409 (already exists, conflict,
//   failed precondition) · 413 · 422 · 429 · 503 unavailable · 504 deadline ·
//   500 corruption and internal.

#include <nlohmann/json.hpp>

#include "events/base/status.h"

namespace ae::api {

int HttpStatusFor(StatusCode code);

// {"error":{"code","message","field"?}}
nlohmann::json ErrorBody(const Status& status);

// A generic code for an HTTP status produced outside our handlers (404 no route, 413, ...).
Status StatusForHttp(int http_status);

}  // namespace ae::api
