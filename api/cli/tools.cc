// audit verify, audit export, master key rotation, events export.

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>

#include "api/cli/commands.h"
#include "api/data_dir_format.h"
#include "events/base/clock.h"
#include "events/base/crypto.h"
#include "events/codec.h"
#include "events/hash_chain.h"
#include "events/secret_store.h"

namespace ae::cli {

namespace fs = std::filesystem;

int AuditVerify(const api::AppOptions& o, std::ostream& out, std::ostream& err) {
  auto log = api::OpenLog([&] {
    api::AppOptions ro = o;
    ro.read_only_log = true;
    return ro;
  }());
  if (!log.ok()) {
    err << "audit verify: " << log.status().ToString() << "\n";
    return 1;
  }
  auto report = events::VerifyChain(
      **log, [&](uint64_t n) { err << "audit verify: " << n << " records checked\n"; },
      &StopRequested());
  if (!report.ok()) {
    err << "audit verify: " << report.status().ToString() << "\n";
    return 1;
  }
  out << api::ChainReportJson(*report).dump() << std::endl;
  return report->ok ? 0 : 1;
}

// The procedure an auditor runs on an export, with bash, coreutils, awk and openssl
// only. Also written at the top of every export, and in events/README.md.
constexpr char kAuditProcedure[] = R"sh(f=EXPORT_FILE; bad=0
while read -r _ off hash prev b64; do
  got=$(printf '%s' "$b64" | openssl base64 -d -A | sha256sum | cut -d' ' -f1)
  [ "$got" = "$hash" ] || { echo "record $off: its bytes do not hash to $hash"; bad=1; }
  if [ "$prev" != "-" ]; then
    printf '%s' "$b64" | openssl base64 -d -A | od -An -tx1 -v | tr -d ' 
' | grep -q "$prev" ||
      { echo "record $off: does not carry the hash of its predecessor"; bad=1; }
  fi
done < <(grep '^record ' "$f")
awk '$1=="record" {r[$2]=$3; rp[$2]=$4}
     $1=="chain" {c[$2]=$3; cp[$2]=$4; if (n++ && $4 != last) {print "chain broken at " $2; bad=1}; last=$3}
     $1=="head" {head=$3}
     END {for (o in r) if (c[o] != r[o] || cp[o] != rp[o]) {print "record " o " is not in the chain"; bad=1}
          if (last != head) {print "the chain does not end at the head"; bad=1}
          exit bad}' "$f" || bad=1
[ "$bad" = 0 ] && echo "OK: $(grep -c '^record ' "$f") records chained to head $(awk '$1=="head" {print $3}' "$f")"
exit "$bad")sh";

int AuditExport(const AuditExportOptions& o, std::ostream& out, std::ostream& err) {
  if (o.stream.find('/') == std::string::npos) {
    err << "audit export: --stream must be <type>/<id>, e.g. kme-device/imei:356938035643809\n";
    return 2;
  }
  api::AppOptions ro = o.app;
  ro.read_only_log = true;
  auto log = api::OpenLog(ro);
  if (!log.ok()) {
    err << "audit export: " << log.status().ToString() << "\n";
    return 1;
  }
  auto records = (*log)->ReadStream(StreamId(o.stream), 1, 1'000'000);
  if (!records.ok()) {
    err << "audit export: " << records.status().ToString() << "\n";
    return 1;
  }
  if (records->empty()) {
    err << "audit export: the log has no stream " << o.stream << "\n";
    return 1;
  }
  auto head = (*log)->Head();
  if (!head.ok()) {
    err << "audit export: " << head.status().ToString() << "\n";
    return 1;
  }
  const int32_t partition = records->front().position.partition;
  auto hex_prev = [](const events::Envelope& e) {
    return e.prev_hash().empty() ? std::string("-") : crypto::Hex(e.prev_hash());
  };
  std::ostringstream body;
  body << "# autoenroll audit export: the records of one stream, with the hash chain that\n"
          "# links each of them to the head of the log. Each `record` line holds the record's\n"
          "# offset, the SHA-256 of its stored bytes, the hash of the record before it in the\n"
          "# log, and the bytes (base64; an autoenroll.events.v1.Envelope, see events.desc).\n"
          "# `chain` lines list every record of the partition from the first one exported to\n"
          "# the head (offset, hash, previous hash), without their content.\n"
          "# Compare the head line with the head hash published by `autoenroll audit verify`\n"
          "# (or GET /v1/audit/verify) when the export was made, then check the file with:\n"
          "#\n";
  std::istringstream proc(kAuditProcedure);
  for (std::string line; std::getline(proc, line);) body << "#   " << line << "\n";
  body << "#\nautoenroll-audit-export 1\nstream " << o.stream << "\npartition " << partition
       << "\n";
  for (const auto& r : *records) {
    body << "record " << r.position.offset << " " << crypto::Hex(crypto::Sha256(r.raw)) << " "
         << hex_prev(r.envelope) << " " << crypto::Base64(r.raw) << "\n";
  }
  // The partition from the first exported record to the head; other partitions are
  // skipped by starting them at their heads.
  LogCursor cursor;
  for (const auto& [p, next] : head->next_offsets()) {
    if (p != partition) cursor.Advance(LogPosition{p, next - 1});
  }
  if (records->front().position.offset > 0) {
    cursor.Advance(LogPosition{partition, records->front().position.offset - 1});
  }
  std::string last_offset, last_hash;
  uint64_t chained = 0;
  while (!StopRequested().load()) {
    auto batch = (*log)->Read(cursor, 1000);
    if (!batch.ok()) {
      err << "audit export: " << batch.status().ToString() << "\n";
      return 1;
    }
    bool any = false;
    for (const auto& r : *batch) {
      cursor.Advance(r.position);
      if (r.position.partition != partition) continue;
      if (r.position.offset >= head->Next(partition)) continue;
      any = true;
      last_offset = std::to_string(r.position.offset);
      last_hash = crypto::Hex(crypto::Sha256(r.raw));
      body << "chain " << last_offset << " " << last_hash << " " << hex_prev(r.envelope) << "\n";
      if (++chained % 100000 == 0) err << "audit export: " << chained << " chain records\n";
    }
    if (batch->empty() || (!any && cursor.Next(partition) >= head->Next(partition))) break;
  }
  if (StopRequested().load()) return 1;
  body << "head " << last_offset << " " << last_hash << "\n";
  std::string text = body.str();
  size_t marker = 0;
  while ((marker = text.find("EXPORT_FILE", marker)) != std::string::npos) {
    std::string name = o.out.empty() ? std::string("export.aetrail") : o.out;
    text.replace(marker, 11, "'" + name + "'");
    marker += name.size() + 2;
  }
  if (o.out.empty()) {
    out << text;
    out.flush();
  } else {
    std::ofstream f(o.out, std::ios::binary | std::ios::trunc);
    f << text;
    f.close();
    if (!f) {
      err << "audit export: cannot write " << o.out << "\n";
      return 1;
    }
  }
  err << "audit export: " << records->size() << " records of " << o.stream << ", " << chained
      << " chain records to head " << last_offset << "\n";
  return 0;
}

int RotateMasterKey(const RotateMasterKeyOptions& o, std::ostream& out, std::ostream& err) {
  const fs::path data(o.app.data_dir);
  const std::string key_file =
      o.app.master_key_file.empty() ? (data / "master-key").string() : o.app.master_key_file;
  const std::string store = (data / "secrets").string();
  const std::string next = key_file + ".new";
  auto fail = [&](const Status& s) {
    err << "secrets rotate-master-key: " << s.ToString() << "\n";
    return 1;
  };
  if (auto format = api::CheckDataDirFormat(o.app.data_dir); !format.ok()) {
    return fail(format.status());
  }
  {
    // Completes an interrupted rotation first; fails while a server holds the store.
    auto opened = events::OpenSecretStore(store, key_file, false, false);
    if (!opened.ok()) return fail(opened.status());
  }
  std::error_code ec;
  fs::remove(next, ec);  // a rotation that stopped before re-sealing: its key was never used
  auto old_key = events::LoadOrCreateMasterKey(key_file, false);
  if (!old_key.ok()) return fail(old_key.status());
  std::string new_key;
  if (o.new_key_file.empty()) {
    new_key = crypto::RandomBytes(32);
  } else {
    auto loaded = events::LoadOrCreateMasterKey(o.new_key_file, false);
    if (!loaded.ok()) return fail(loaded.status());
    new_key = *loaded;
  }
  Status written = events::WriteMasterKeyFile(next, new_key);
  if (!written.ok()) return fail(written);
  auto n = events::SecretStore::RotateMasterKey(store, *old_key, new_key);
  if (!n.ok()) {
    fs::remove(next, ec);
    return fail(n.status());
  }
  fs::rename(next, key_file, ec);
  if (ec) {
    err << "secrets rotate-master-key: the secrets are sealed under the key in " << next
        << ", which could not replace " << key_file << ": " << ec.message()
        << " (the next start uses it)\n";
    return 1;
  }
  out << nlohmann::json({{"secrets_resealed", *n}, {"master_key_file", key_file}}).dump()
      << std::endl;
  return 0;
}

int EventsExport(const ExportOptions& o, std::ostream& out, std::ostream& err) {
  if (o.format != "json" && o.format != "proto") {
    err << "events export: --format must be json or proto\n";
    return 2;
  }
  LogCursor from;
  if (!o.after.empty()) {
    auto p = LogPosition::Parse(o.after);
    if (!p) {
      err << "events export: --after must be a log position\n";
      return 2;
    }
    from = LogCursor::After(*p);
  }
  api::AppOptions ro = o.app;
  ro.read_only_log = true;
  auto log = api::OpenLog(ro);
  if (!log.ok()) {
    err << "events export: " << log.status().ToString() << "\n";
    return 1;
  }
  google::protobuf::io::OstreamOutputStream zout(&out);
  google::protobuf::io::CodedOutputStream coded(&zout);
  uint64_t n = 0;
  while (!StopRequested().load()) {
    auto batch = (*log)->Read(from, 1000);
    if (!batch.ok()) {
      err << "events export: " << batch.status().ToString() << "\n";
      return 1;
    }
    if (batch->empty()) break;
    for (const auto& r : *batch) {
      if (o.format == "json") {
        out << events::RecordToJson(r).dump() << "\n";
      } else {
        coded.WriteVarint32(static_cast<uint32_t>(r.raw.size()));
        coded.WriteRaw(r.raw.data(), static_cast<int>(r.raw.size()));
      }
      from.Advance(r.position);
      ++n;
    }
  }
  if (o.format == "json") out.flush();
  err << "events export: " << n << " records\n";
  return 0;
}

}  // namespace ae::cli
