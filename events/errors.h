#pragma once
// Reason catalogue of the event log, the secret store, the audit and the shared basics: `log.`,
// `audit.`, `secrets.`, `kafka.`, `crypto.`, `base64.`, `hex.`.
// Each entry is a reason code raised in the source tree, with the HTTP status it is answered
// with and its meaning; api/ERRORS.md shows them all. See events/base/reason_info.h.

#include "events/base/reason_info.h"

namespace ae::events {

inline constexpr ReasonInfo kReasons[] = {
    {"log.bad_format", 400, "the log format must be text or json"},
    {"log.bad_level", 400,
     "the log level must be trace, debug, info, warn, error, critical or off"},
    {"log.cache_mismatch", 409,
     "the local mirror of the Kafka topic belongs to another topic or cluster"},
    {"log.corruption", 500, "an event in the log fails its checksum or does not decode"},
    {"log.event_too_large", 400, "an event is larger than the Kafka brokers accept"},
    {"log.fenced", 503,
     "a newer writer with the same transactional.id took over: this process no longer writes"},
    {"log.file", 503, "the log file cannot be opened"},
    {"log.invalid_option", 400, "an event log option or librdkafka property is invalid"},
    {"log.invalid_stream", 400, "the stream id is not valid"},
    {"log.no_events", 400, "an append must hold at least one event"},
    {"log.no_topic", 409, "the Kafka topic does not exist: create it on the cluster first"},
    {"log.not_committed", 500, "the append was not committed"},
    {"log.read_only", 503, "this replica only reads the log: send writes to the writer"},
    {"log.topic_invalid", 409, "the Kafka topic's settings are not the ones the engine needs"},
    {"log.unavailable", 503, "the event log cannot be reached: retry"},
    {"log.writer_refused", 409,
     "the Kafka cluster refused to initialise this process as the transactional writer"},
    {"log.wrong_expected_version", 409,
     "the stream changed since it was read: read it again and retry"},
    {"audit.cancelled", 503, "the audit verification was cancelled"},
    {"secrets.bad_master_key", 400, "the master key must be 32 bytes"},
    {"secrets.master_key_missing", 409, "the master key file is not found"},
    {"secrets.master_key_write", 503, "the master key file cannot be written"},
    {"secrets.personal_undecodable", 500, "sealed personal data does not decode"},
    {"secrets.same_master_key", 400, "the new master key is the old one"},
    {"secrets.unavailable", 503, "the secret store cannot be read or written"},
    {"secrets.wrong_master_key", 409, "the master key does not open the secret store"},
    {"kafka.already_started", 409, "the development Kafka cluster is already running"},
    {"kafka.bad_property", 400, "a librdkafka property of the key store is invalid"},
    {"kafka.bad_sealing_key", 400, "the key sealing key must be 32 bytes"},
    {"kafka.config", 500, "the development Kafka cluster cannot be configured"},
    {"kafka.invalid_brokers", 400, "a development cluster has 1 to 16 brokers"},
    {"kafka.invalid_topic", 400, "a topic needs a name and at least one partition"},
    {"kafka.not_started", 409, "the development Kafka cluster is not running: start it first"},
    {"kafka.unavailable", 503, "the development Kafka cluster cannot be reached"},
    {"crypto.bad_key", 500, "an AES-256-GCM key is not 32 bytes"},
    {"crypto.open_failed", 500, "sealed data does not authenticate under the key"},
    {"crypto.seal_failed", 500, "encryption failed"},
    {"crypto.sealed_too_short", 500, "sealed data is too short to be valid"},
    {"base64.bad_char", 400, "the text holds a character that is not base64"},
    {"hex.bad_digit", 400, "the text holds a character that is not a hex digit"},
    {"hex.odd_length", 400, "a hex string must have an even length"},
};

}  // namespace ae::events
