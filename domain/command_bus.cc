#include "domain/command_bus.h"

namespace ae::domain {

void CommandBus::Stamp(std::vector<Envelope>& events, const CommandContext& ctx) {
  Stamp(events, ctx, clock_.NowMs());
}

void CommandBus::Stamp(std::vector<Envelope>& events, const CommandContext& ctx,
                       int64_t now) {
  for (auto& e : events) {
    events::FillEnvelopeDefaults(e, now);
    *e.mutable_actor() = ctx.actor;
    e.set_correlation_id(ctx.correlation_id);
    e.set_causation_id(ctx.causation_id);
  }
}

}  // namespace ae::domain
