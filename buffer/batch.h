/* Kafka RecordBatch v2 (magic 2): the unit that moves everywhere in logship,
 * byte-identical in memory, in the ring log, on the wire.
 *
 * Layout (big-endian): baseOffset i64 | batchLength i32 | partitionLeaderEpoch i32 |
 * magic i8 = 2 | crc u32 (CRC-32C of everything after it) | attributes i16 |
 * lastOffsetDelta i32 | baseTimestamp i64 | maxTimestamp i64 | producerId i64 |
 * producerEpoch i16 | baseSequence i32 | recordCount i32 | records...
 * batchLength counts the bytes after itself, so a batch occupies 12 + batchLength.
 *
 * Errors are negative errno values:
 *   -ENODATA  the buffer holds less than the whole batch (truncated / torn)
 *   -EBADMSG  impossible header: magic != 2, length out of bounds, counts absurd
 *   -EILSEQ   CRC mismatch
 *   -EPROTO   records inside do not decode (bad varint, lengths past the end)
 *   -ENOTSUP  unsupported compression codec
 *   -ENOMEM   allocation failed (never caused by a length read from input
 *             beyond BATCH_MAX_BYTES / decompression limits)
 */
#ifndef LOGSHIP_BUFFER_BATCH_H
#define LOGSHIP_BUFFER_BATCH_H
#include <stddef.h>
#include <stdint.h>

#define BATCH_LOG_OVERHEAD 12          /* baseOffset + batchLength */
#define BATCH_HEADER_SIZE 61           /* through recordCount */
#define BATCH_MAX_BYTES (64u << 20)    /* no batch larger than this is accepted */
#define BATCH_MAGIC 2

enum batch_compression {
	BATCH_COMPRESSION_NONE = 0,
	BATCH_COMPRESSION_GZIP = 1,
	BATCH_COMPRESSION_ZSTD = 4,
};

struct batch_header {
	int64_t base_offset;
	int32_t length;                /* batchLength */
	int32_t leader_epoch;
	int8_t magic;
	uint32_t crc;
	int16_t attributes;
	int32_t last_offset_delta;
	int64_t base_timestamp;
	int64_t max_timestamp;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	int32_t record_count;
};

/* Parses the fixed header; buf must hold >= BATCH_HEADER_SIZE bytes (else
 * -ENODATA). Checks magic and that length is within [49, BATCH_MAX_BYTES]. */
int batch_header_parse(const uint8_t *buf, size_t len, struct batch_header *h);

/* Checks the batch at buf: header sane, the whole batch present, CRC right.
 * Returns its total size (12 + batchLength) or a negative errno as above. */
long batch_verify(const uint8_t *buf, size_t len);

/* Total size from the first 12 bytes, without checking the CRC (for scanning);
 * -ENODATA if len < 12, -EBADMSG if the length is out of bounds. */
long batch_size(const uint8_t *buf, size_t len);

/* Rewrites baseOffset (not covered by the CRC). */
void batch_set_base_offset(uint8_t *buf, int64_t base_offset);
int64_t batch_base_offset(const uint8_t *buf);
/* Offset of the last record: base + lastOffsetDelta. */
int64_t batch_last_offset(const uint8_t *buf);

/* One record as decoded. Pointers point into the batch (or into the iterator's
 * decompressed buffer) and stay valid until the next call or batch_iter_free. */
struct batch_header_kv {
	const uint8_t *key; int32_t key_len;       /* -1 = null */
	const uint8_t *value; int32_t value_len;   /* -1 = null */
};
struct batch_record {
	int64_t offset;                /* base_offset + offsetDelta */
	int64_t timestamp;             /* base_timestamp + timestampDelta, ms */
	const uint8_t *key; int32_t key_len;       /* -1 = null */
	const uint8_t *value; int32_t value_len;   /* -1 = null */
	int32_t header_count;
	const uint8_t *headers; size_t headers_len; /* raw; use batch_record_header() */
};
int batch_record_header(const struct batch_record *r, int32_t i, struct batch_header_kv *out);

/* Record iteration over a verified batch (decompresses if needed, bounded by
 * BATCH_MAX_BYTES of output). */
struct batch_iter {
	struct batch_header h;
	const uint8_t *p, *end;        /* cursor over the (decompressed) records */
	uint8_t *owned;                /* decompressed buffer, if any */
	int32_t remaining;
};
int batch_iter_init(struct batch_iter *it, const uint8_t *batch, size_t len);
/* 1 = record produced, 0 = end, <0 = error (-EPROTO on malformed records). */
int batch_iter_next(struct batch_iter *it, struct batch_record *r);
void batch_iter_free(struct batch_iter *it);

/* Building a batch. Records are appended uncompressed into a growing buffer,
 * after room left for the header; batch_builder_finish fills the header and
 * CRC in place (no copy of the records), or compresses into a second buffer.
 * baseOffset is written as 0: the log assigns it on append. */
struct batch_builder {
	uint8_t *buf; size_t len, cap; /* header room + records (len: records' bytes) */
	int32_t count;
	int64_t base_timestamp, max_timestamp;
	int compression;
	uint8_t *out; size_t out_len;  /* finished batch: points into buf or zbuf */
	uint8_t *zbuf; size_t zcap;    /* compressed batches */
};
void batch_builder_init(struct batch_builder *b, enum batch_compression c);
/* ts in ms since the epoch. key/value may be NULL (null). Returns 0 or -ENOMEM. */
int batch_builder_add(struct batch_builder *b, int64_t ts, const void *key, int32_t key_len,
		      const void *value, int32_t value_len,
		      const struct batch_header_kv *headers, int32_t header_count);
/* Bytes the batch would take uncompressed so far (to flush by size). */
size_t batch_builder_size(const struct batch_builder *b);
/* Finishes into b->out (owned by the builder, valid until reset/free).
 * Returns 0 or negative errno. */
int batch_builder_finish(struct batch_builder *b, const uint8_t **batch, size_t *len);
void batch_builder_reset(struct batch_builder *b);  /* keep memory, drop records */
void batch_builder_free(struct batch_builder *b);

#endif
