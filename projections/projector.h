#pragma once
// Projector: turns log records into one view's table updates.
//
// Contract:
//   - Apply() reads and writes only through the given ViewBatch.
//   - It is deterministic: the same records produce the same bytes, so a
//     rebuilt view is byte-identical to a live one (no wall-clock, no randomness;
//     times come from the envelope).
//   - Unknown event types are ignored (forward compatibility).
//   - A non-OK status stops the runner at that record (a poison event is never
//     skipped silently).
// [Threading] Apply() is called on the ProjectionRunner's thread only.

#include <string>
#include <vector>

#include "events/event_log.h"
#include "projections/view_store.h"

namespace ae::proj {

using events::RecordedEvent;

class Projector {
 public:
  virtual ~Projector() = default;
  virtual std::string name() const = 0;
  virtual std::vector<std::string> column_families() const = 0;
  // Those of its families whose keys Apply (or the services that decide against the views)
  // mostly read before they exist: a new device's record, its identifiers. Their memtables
  // keep a bloom of whole keys, so such a read skips the skip list.
  virtual std::vector<std::string> point_read_families() const { return {}; }
  // Anything to do once the batch is in the store (its updates visible to readers) is
  // asked of the batch: batch.AfterWrite(hook). A projector keeps no state between
  // batches: the runner may apply the next batch while the one before is being written.
  virtual Status Apply(const RecordedEvent& record, ViewBatch& batch) = 0;
};

}  // namespace ae::proj
