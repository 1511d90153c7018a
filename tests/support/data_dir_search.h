#pragma once
// Where given strings occur in a data directory: every RocksDB instance read key by key
// (values may sit in compressed blocks), every other file byte by byte. Used by the forget
// tests to show that nothing of a forgotten person is left.

#include <rocksdb/db.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace ae::testing {

inline std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Where `needles` (lower case) occur in `data_dir`: "<file or db:family>: <needle>" lines.
inline std::string FindInDataDir(const std::string& data_dir,
                                 const std::vector<std::string>& needles) {
  std::string found;
  auto search = [&](const std::string& where, std::string bytes) {
    bytes = Lower(std::move(bytes));
    for (const auto& n : needles) {
      if (bytes.find(n) != std::string::npos) found += where + ": " + n + "\n";
    }
  };
  namespace fs = std::filesystem;
  for (const auto& entry : fs::recursive_directory_iterator(data_dir)) {
    if (entry.is_regular_file()) {
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      search(entry.path().string(), ss.str());
    }
    if (!entry.is_directory() || !fs::exists(entry.path() / "CURRENT")) continue;
    // A RocksDB instance: its values may sit in compressed blocks, so read them.
    rocksdb::Options o;
    std::vector<std::string> names;
    if (!rocksdb::DB::ListColumnFamilies(o, entry.path().string(), &names).ok()) {
      found += "cannot list " + entry.path().string() + "\n";
      continue;
    }
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    if (!rocksdb::DB::OpenForReadOnly(o, entry.path().string(), cfs, &handles, &raw).ok()) {
      found += "cannot open " + entry.path().string() + "\n";
      continue;
    }
    std::unique_ptr<rocksdb::DB> db(raw);
    for (size_t i = 0; i < handles.size(); ++i) {
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}, handles[i]));
      std::string all;
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        all += it->key().ToString();
        all += '\n';
        all += it->value().ToString();
        all += '\n';
      }
      search(entry.path().string() + ":" + names[i], std::move(all));
      db->DestroyColumnFamilyHandle(handles[i]);
    }
  }
  return found;
}

}  // namespace ae::testing
