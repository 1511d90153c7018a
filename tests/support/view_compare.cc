#include "tests/support/view_compare.h"

#include <rocksdb/db.h>

#include <fstream>
#include <memory>
#include <vector>

namespace ae::testing {
namespace {

struct Opened {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  std::vector<std::string> names;
  ~Opened() {
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  }
};

std::string Open(const std::string& path, Opened& out) {
  rocksdb::Options o;
  auto s = rocksdb::DB::ListColumnFamilies(o, path, &out.names);
  if (!s.ok()) return "cannot list column families of " + path + ": " + s.ToString();
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : out.names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::OpenForReadOnly(o, path, cfs, &out.handles, &raw);
  if (!s.ok()) return "cannot open " + path + ": " + s.ToString();
  out.db.reset(raw);
  return "";
}

}  // namespace

std::string DiffViewStores(const std::string& a, const std::string& b) {
  Opened x, y;
  if (auto e = Open(a, x); !e.empty()) return e;
  if (auto e = Open(b, y); !e.empty()) return e;
  if (x.names.size() != y.names.size()) return "different column families";
  size_t compared = 0;
  for (size_t i = 0; i < x.names.size(); ++i) {
    size_t j = 0;
    while (j < y.names.size() && y.names[j] != x.names[i]) ++j;
    if (j == y.names.size()) return "column family " + x.names[i] + " missing in " + b;
    std::unique_ptr<rocksdb::Iterator> ix(x.db->NewIterator({}, x.handles[i]));
    std::unique_ptr<rocksdb::Iterator> iy(y.db->NewIterator({}, y.handles[j]));
    ix->SeekToFirst();
    iy->SeekToFirst();
    while (ix->Valid() && iy->Valid()) {
      if (ix->key() != iy->key()) {
        return x.names[i] + ": key " + ix->key().ToString(true) + " vs " + iy->key().ToString(true);
      }
      if (ix->value() != iy->value()) {
        return x.names[i] + ": value of " + ix->key().ToString(true) + " differs:\n  " +
               ix->value().ToString() + "\n  " + iy->value().ToString();
      }
      ix->Next();
      iy->Next();
      ++compared;
    }
    if (ix->Valid() || iy->Valid()) {
      return x.names[i] + ": one side has more records";
    }
  }
  if (compared == 0) return "both view stores are empty: nothing was compared";
  return "";
}

std::string LiveViewsDir(const std::string& data_dir) {
  std::ifstream in(data_dir + "/views.current");
  std::string name;
  if (in && std::getline(in, name) && !name.empty()) return data_dir + "/" + name;
  return data_dir + "/views";
}

}  // namespace ae::testing
