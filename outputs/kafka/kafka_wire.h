/* The client side of the few Kafka requests the native producer speaks
 * (kafka_native.c): ApiVersions v0, Metadata v1..v8 and Produce v3..v7, the
 * non-flexible versions every Kafka since 1.0 (and Kafka 4, and
 * logship-broker) answers. Pure encoding and decoding, no I/O, so that the
 * decoders can be unit-tested and fuzzed on hostile bytes.
 *
 * Frames: every request is i32 size + header v1 (api_key, api_version,
 * correlation_id, client_id) + body; every response i32 size + correlation
 * id + body. kwire_frame_size() reads the size prefix; the decoders take the
 * body after the correlation id.
 *
 * Decoders never read past the end (common/kafka_codec.h) and bound every
 * array count by the bytes left before allocating for it. They return 0, or
 * -EPROTO for a malformed response, -ENOMEM. */
#ifndef LOGSHIP_OUTPUTS_KAFKA_WIRE_H
#define LOGSHIP_OUTPUTS_KAFKA_WIRE_H
#include <stddef.h>
#include <stdint.h>

#include "common/kafka_codec.h"

#define KWIRE_MAX_FRAME (64 << 20)     /* a response larger than this is an error */

/* Versions this client can speak; the connection picks the highest both
 * sides know (ApiVersions). */
#define KWIRE_METADATA_MIN 1
#define KWIRE_METADATA_MAX 8
#define KWIRE_PRODUCE_MIN 3             /* RecordBatch v2 */
#define KWIRE_PRODUCE_MAX 7

/* Appends the start of a request frame to w: size placeholder and header.
 * Returns where the frame starts, for kwire_end(), which fills the size.
 * Every request writer below appends a whole frame. */
size_t kwire_begin(struct kwriter *w, int16_t api, int16_t version, int32_t corr, const char *client_id);
void kwire_end(struct kwriter *w, size_t start);
/* The frame length prefix of a response (-1: fewer than 4 bytes yet;
 * -EPROTO: negative or above KWIRE_MAX_FRAME). */
long kwire_frame_size(const uint8_t *p, size_t n);

/* ApiVersions v0: the server's [min, max] for Metadata and Produce (-1 if
 * it does not list them), or its error code. */
struct kwire_versions { int16_t error; int16_t metadata_min, metadata_max, produce_min, produce_max; };
void kwire_api_versions_request(struct kwriter *w, int32_t corr, const char *client_id);
int kwire_api_versions_decode(const uint8_t *p, size_t n, struct kwire_versions *out);

/* Metadata: a request for these topics (n > 0), asking to create them
 * where the cluster auto-creates (v4+). */
void kwire_metadata_request(struct kwriter *w, int16_t version, int32_t corr, const char *client_id,
			    const char *const *topics, size_t n);
struct kwire_broker { int32_t id; char *host; int32_t port; };
struct kwire_partition { int16_t error; int32_t id, leader; };
struct kwire_topic { int16_t error; char *name; int32_t npart; struct kwire_partition *parts; };
struct kwire_metadata {
	int32_t nbrokers, ntopics;
	struct kwire_broker *brokers;
	struct kwire_topic *topics;
};
int kwire_metadata_decode(const uint8_t *p, size_t n, int16_t version, struct kwire_metadata *out);
void kwire_metadata_free(struct kwire_metadata *m);

/* Produce: kwire_produce_begin writes the header and the fixed fields; then
 * for each topic kwire_produce_topic(count of its partitions), and for each
 * partition kwire_produce_partition with its one RecordBatch v2 (Kafka takes
 * exactly one batch per partition per request from v3 on); then kwire_end
 * with what kwire_produce_begin returned. */
size_t kwire_produce_begin(struct kwriter *w, int16_t version, int32_t corr, const char *client_id, int16_t acks,
			   int32_t timeout_ms, int32_t ntopics);
void kwire_produce_topic(struct kwriter *w, const char *topic, int32_t npartitions);
void kwire_produce_partition(struct kwriter *w, int32_t partition, const uint8_t *batch, size_t len);

/* A Produce response, one call per partition result in the order given
 * (each NULL: only checks that the answer decodes). */
struct kwire_produce_result { struct kstr topic; int32_t partition; int16_t error; int64_t base_offset; };
int kwire_produce_decode(const uint8_t *p, size_t n, int16_t version,
			 void (*each)(void *arg, const struct kwire_produce_result *r), void *arg);

/* Kafka's name of an error code ("NOT_LEADER_OR_FOLLOWER"), or "error N". */
const char *kwire_error_name(int16_t code, char *buf, size_t cap);
/* Whether retrying the same records can succeed (leader moved, timeouts,
 * not enough replicas...). An error not listed as either is retried. */
int kwire_error_permanent(int16_t code);
/* Whether a permanent error about a batch may be one record's fault (an
 * invalid record or timestamp): worth isolating the records to find it. */
int kwire_error_record(int16_t code);
/* Whether the error means the client's metadata is out of date. */
int kwire_error_stale(int16_t code);

#endif
