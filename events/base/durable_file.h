#pragma once
// Small files written so that a crash leaves either the old content or the new, never a
// torn one: a temporary file, fsync, rename over the target, fsync of the directory.

#include <string>
#include <string_view>

#include "events/base/status.h"

namespace ae {

// Writes `content` to `path` (mode 0600) through `path`.tmp, synced and renamed, then syncs
// the directory. kUnavailable with `reason` (e.g. "views.io") naming the path on failure;
// the temporary file is removed.
Status WriteFileDurably(const std::string& path, std::string_view content,
                        const std::string& reason);

}  // namespace ae
