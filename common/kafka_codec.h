/* The Kafka wire protocol's primitive types, read and written with bounds:
 * the broker's request decoder and the agent's native producer
 * (outputs/kafka/kafka_wire.c) share them.
 *
 * kreader never reads past its end: a short or malformed field sets `err` and
 * every later read returns zero values, so a request decoder can read all its
 * fields and check `err` once. Array counts are checked against the bytes left
 * (each element takes at least min_elem bytes) before anyone allocates for
 * them, so a count of 2^31 in a 40-byte request is an error, not an
 * allocation. kwriter grows a buffer geometrically; an allocation failure
 * sets `err` and later writes are dropped. */
#ifndef LOGSHIP_COMMON_KAFKA_CODEC_H
#define LOGSHIP_COMMON_KAFKA_CODEC_H
#include <stddef.h>
#include <stdint.h>

struct kreader { const uint8_t *p, *end; int err; };
struct kstr { const char *p; int32_t len; };  /* len -1: null */

static inline void kr_init(struct kreader *r, const void *p, size_t n)
{
	r->p = p;
	r->end = (const uint8_t *)p + n;
	r->err = 0;
}
int8_t kr_i8(struct kreader *r);
int16_t kr_i16(struct kreader *r);
int32_t kr_i32(struct kreader *r);
int64_t kr_i64(struct kreader *r);
struct kstr kr_string(struct kreader *r);          /* i16 length, -1 = null */
struct kstr kr_bytes(struct kreader *r);           /* i32 length, -1 = null */
/* An array count (i32, -1 = null -> 0 with *is_null set if given). */
int32_t kr_array(struct kreader *r, size_t min_elem, int *is_null);
size_t kr_left(const struct kreader *r);
int kr_kstr_eq(struct kstr s, const char *c);
/* A NUL-terminated copy of s (malloc); NULL if s is null or out of memory. */
char *kr_strdup(struct kstr s);

struct kwriter { uint8_t *buf; size_t len, cap; int err; };
void kw_init(struct kwriter *w);
void kw_free(struct kwriter *w);
void kw_reset(struct kwriter *w);
uint8_t *kw_reserve(struct kwriter *w, size_t n);   /* n bytes at the end, NULL on error */
void kw_i8(struct kwriter *w, int8_t v);
void kw_i16(struct kwriter *w, int16_t v);
void kw_i32(struct kwriter *w, int32_t v);
void kw_i64(struct kwriter *w, int64_t v);
void kw_string(struct kwriter *w, const char *s, int32_t len);  /* len -1 with s NULL: null */
void kw_cstring(struct kwriter *w, const char *s);              /* NULL: null */
void kw_bytes(struct kwriter *w, const void *p, int32_t len);   /* -1: null */
void kw_put_i32_at(struct kwriter *w, size_t pos, int32_t v);

/* Kafka error codes the broker and the native producer use. */
enum kafka_error {
	KERR_NONE = 0,
	KERR_OFFSET_OUT_OF_RANGE = 1,
	KERR_CORRUPT_MESSAGE = 2,
	KERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
	KERR_INVALID_FETCH_SIZE = 4,
	KERR_LEADER_NOT_AVAILABLE = 5,
	KERR_NOT_LEADER_OR_FOLLOWER = 6,
	KERR_REQUEST_TIMED_OUT = 7,
	KERR_MESSAGE_TOO_LARGE = 10,
	KERR_COORDINATOR_NOT_AVAILABLE = 15,
	KERR_INVALID_TOPIC_EXCEPTION = 17,
	KERR_RECORD_LIST_TOO_LARGE = 18,
	KERR_NOT_ENOUGH_REPLICAS = 19,
	KERR_INVALID_REQUIRED_ACKS = 21,
	KERR_TOPIC_AUTHORIZATION_FAILED = 29,
	KERR_GROUP_AUTHORIZATION_FAILED = 30,
	KERR_CLUSTER_AUTHORIZATION_FAILED = 31,
	KERR_UNSUPPORTED_SASL_MECHANISM = 33,
	KERR_ILLEGAL_SASL_STATE = 34,
	KERR_UNSUPPORTED_VERSION = 35,
	KERR_TOPIC_ALREADY_EXISTS = 36,
	KERR_INVALID_PARTITIONS = 37,
	KERR_INVALID_REPLICATION_FACTOR = 38,
	KERR_INVALID_REQUEST = 42,
	KERR_KAFKA_STORAGE_ERROR = 56,
	KERR_SASL_AUTHENTICATION_FAILED = 58,
	KERR_UNKNOWN_SERVER_ERROR = -1,
};

/* API keys the broker knows. */
enum kafka_api {
	KAPI_PRODUCE = 0, KAPI_FETCH = 1, KAPI_LIST_OFFSETS = 2, KAPI_METADATA = 3,
	KAPI_FIND_COORDINATOR = 10, KAPI_SASL_HANDSHAKE = 17, KAPI_API_VERSIONS = 18, KAPI_CREATE_TOPICS = 19,
	KAPI_DELETE_TOPICS = 20, KAPI_SASL_AUTHENTICATE = 36,
};

#endif
