#pragma once
// Compares two view stores byte for byte: every column family, every key and value.

#include <string>

namespace ae::testing {

// "" when identical; otherwise a description of the first difference.
std::string DiffViewStores(const std::string& a, const std::string& b);
// The live views directory of a data dir: <data>/<the name in views.current>, or
// <data>/views without that file.
std::string LiveViewsDir(const std::string& data_dir);

}  // namespace ae::testing
