/* The kafka output's native producer: the Kafka protocol spoken directly
 * (kafka_wire.c), for plaintext connections, without librdkafka.
 *
 * Why: a run of records from the ring becomes, per partition, one
 * RecordBatch v2 built with buffer/batch.c and sent in one Produce request
 * per leader, so a record costs a copy and a CRC instead of librdkafka's
 * per-message queueing, locking and re-batching; and an agent that ships
 * to Kafka maps neither librdkafka nor OpenSSL nor SASL (~3.5 MiB of RSS
 * when idle). librdkafka (kafka_client.c) stays the engine for TLS, SASL,
 * lz4/snappy and `rdkafka:` properties (outputs/kafka/kafka.c chooses).
 *
 * The contract is kafka_client.h's: every record handed to
 * kafka_native_produce() gets exactly one report through cfg->report, on the
 * caller's thread, from inside produce or a later poll. OK only once the
 * partition leader acknowledged its batch under cfg->acks (acks 0: once
 * written to the socket); REJECT for errors that retrying cannot fix
 * (kwire_error_permanent: too large alone, authorization, invalid topic);
 * RETRY for everything else (broker down, leader moved, timeouts), with the
 * topic's metadata refreshed before its next records go out.
 *
 * Partitioning is librdkafka's default (consistent_random): CRC-32 of the
 * key modulo the partition count; records without a key, or with an empty
 * one, go to one random partition (with a leader) per run. So the two
 * engines place a keyed record alike.
 *
 * One thread: everything but kafka_native_abort() runs on the output's
 * thread. Waiting is poll(2) on the sockets and an eventfd, never a spin. */
#ifndef LOGSHIP_OUTPUTS_KAFKA_NATIVE_H
#define LOGSHIP_OUTPUTS_KAFKA_NATIVE_H
#include <stddef.h>

#include "outputs/kafka/kafka_client.h"

struct kafka_native;

/* Takes brokers, compression (none | gzip | zstd), acks, message_timeout_ms,
 * client_id, report and log from cfg (props must be empty). No I/O yet:
 * the first produce connects. 0, or -EINVAL with the reason in err. */
int kafka_native_new(const struct kafka_client_config *cfg, struct kafka_native **out, char *err, size_t errlen);
void kafka_native_produce(struct kafka_native *k, const struct kafka_msg *msgs, size_t n);
/* Serves what has come in; waits up to timeout_ms for a report if none came
 * yet. The number of reports given. */
size_t kafka_native_poll(struct kafka_native *k, int timeout_ms);
/* Records produced whose report has not been given yet. */
size_t kafka_native_outstanding(const struct kafka_native *k);
/* Any thread: produce and poll give up; in-flight records come back RETRY. */
void kafka_native_abort(struct kafka_native *k);
/* Closes the connections; no report is made after this call starts. */
void kafka_native_free(struct kafka_native *k);

#endif
