#include <iostream>

#include "api/cli/commands.h"

namespace ae::cli {

int DevKafka(int, std::ostream&, std::ostream& err) {
  err << "dev-kafka: not available in this build\n";
  return 1;
}

}  // namespace ae::cli
