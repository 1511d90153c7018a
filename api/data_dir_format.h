#pragma once
// The format of a data directory: which parts it holds and how they are written, recorded
// in <data-dir>/FORMAT as one decimal number and a newline (like PostgreSQL's PG_VERSION).
// What each part writes inside has its own version besides (an event's schema_version,
// events/upcast.h; the views' format, projections/all_projectors.h): this one is the
// directory's, checked before anything in it is opened.
//
// Formats:
//   1  (no FORMAT file) written before formats were recorded: log/, views or
//      views.current and views-*/, secrets/, master-key, admin-token,
//      dep-adapter.checkpoint, kafka-cache*/.
//   2  the same parts, and the FORMAT file. Upgrading from 1 changes no file of the
//      parts: it writes FORMAT once the engine has opened every part.
//
// A newer engine upgrades an older directory in place, from kOldestUpgradableDataDirFormat
// on; an older engine refuses a newer directory before writing anything to it.

#include <string>

#include "events/base/status.h"

namespace ae::api {

inline constexpr int kDataDirFormat = 2;
inline constexpr int kOldestUpgradableDataDirFormat = 1;
inline constexpr const char* kDataDirFormatFile = "FORMAT";

// The format of `data_dir`: 0 when it does not exist or is empty (a new directory), 1
// when it holds files but no FORMAT file. data_dir.bad_format_file when FORMAT is not a
// number.
Result<int> ReadDataDirFormat(const std::string& data_dir);

// ReadDataDirFormat, refusing (kFailedPrecondition, before anything is written) a
// directory newer than this engine (data_dir.too_new) or older than it can upgrade
// (data_dir.too_old); the message names the directory, its format, the formats this
// engine reads, and what to do.
Result<int> CheckDataDirFormat(const std::string& data_dir);

// Brings `data_dir`, of format `from` (0: new), to kDataDirFormat: runs the upgrade
// steps after `from`, then writes FORMAT (atomically: a temporary file, fsync, rename,
// fsync of the directory). A no-op at kDataDirFormat.
Status UpgradeDataDir(const std::string& data_dir, int from);

}  // namespace ae::api
