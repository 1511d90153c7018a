#pragma once
// Every projector of the engine, in a fixed order. `serve` and `replay` use the
// same list, so a rebuilt view store matches the live one.

#include <memory>
#include <string>
#include <vector>

#include "projections/projector.h"

namespace ae::proj {

std::vector<std::unique_ptr<Projector>> AllProjectors();
// The union of their column families.
std::vector<std::string> AllColumnFamilies(const std::vector<std::unique_ptr<Projector>>& ps);

}  // namespace ae::proj
