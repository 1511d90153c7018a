#include "projections/all_projectors.h"

#include <set>

#include "projections/dep_projector.h"
#include "projections/devices_projector.h"
#include "projections/enrollments_projector.h"
#include "projections/kme_projector.h"
#include "projections/policies_projector.h"
#include "projections/rules_projector.h"
#include "projections/users_projector.h"

namespace ae::proj {

std::vector<std::unique_ptr<Projector>> AllProjectors() {
  std::vector<std::unique_ptr<Projector>> out;
  out.push_back(std::make_unique<UsersProjector>());
  out.push_back(std::make_unique<DepProjector>());
  out.push_back(std::make_unique<DevicesProjector>());
  out.push_back(std::make_unique<KmeProjector>());
  out.push_back(std::make_unique<PoliciesProjector>());
  out.push_back(std::make_unique<EnrollmentsProjector>());
  out.push_back(std::make_unique<RulesProjector>());
  return out;
}

std::vector<std::string> AllColumnFamilies(const std::vector<std::unique_ptr<Projector>>& ps) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& p : ps) {
    for (const auto& cf : p->column_families()) {
      if (seen.insert(cf).second) out.push_back(cf);
    }
  }
  return out;
}

std::vector<std::string> AllPointReadFamilies(const std::vector<std::unique_ptr<Projector>>& ps) {
  std::set<std::string> all;
  for (const auto& p : ps) {
    for (const auto& cf : p->point_read_families()) all.insert(cf);
  }
  return {all.begin(), all.end()};
}

}  // namespace ae::proj
