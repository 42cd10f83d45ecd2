/* RecordBatch v2: a batch written out byte by byte by hand, random round
 * trips in every compression, bad input of every kind, and batches captured
 * from librdkafka itself (tests/unit/data/, made by capture_rdkafka_batches.py):
 * we read what real Kafka clients write, and for the same records we write
 * the same bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer/batch.h"
#include "buffer/crc32c.h"

#include <zlib.h>

/* One record, key "k", value "v", timestamp 1000, no headers, by hand. */
static const uint8_t hand[] = {
	0, 0, 0, 0, 0, 0, 0, 0,         /* baseOffset 0 */
	0, 0, 0, 58,                    /* batchLength: 70 - 12 */
	0xff, 0xff, 0xff, 0xff,         /* partitionLeaderEpoch -1 */
	2,                              /* magic */
	0, 0, 0, 0,                     /* crc: filled in by the test */
	0, 0,                           /* attributes: no compression, CreateTime */
	0, 0, 0, 0,                     /* lastOffsetDelta 0 */
	0, 0, 0, 0, 0, 0, 0x03, 0xe8,   /* baseTimestamp 1000 */
	0, 0, 0, 0, 0, 0, 0x03, 0xe8,   /* maxTimestamp 1000 */
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* producerId -1 */
	0xff, 0xff,                     /* producerEpoch -1 */
	0xff, 0xff, 0xff, 0xff,         /* baseSequence -1 */
	0, 0, 0, 1,                     /* records: 1 */
	/* record: length 8 (zigzag 16), attributes 0, timestampDelta 0,
	 * offsetDelta 0, key len 1 (zigzag 2) "k", value len 1 "v", 0 headers */
	16, 0, 0, 0, 2, 'k', 2, 'v', 0,
};

static void test_hand_vector(void **state)
{
	(void)state;
	uint8_t b[sizeof(hand)];
	memcpy(b, hand, sizeof(b));
	uint32_t crc = crc32c(0, b + 21, sizeof(b) - 21);
	b[17] = (uint8_t)(crc >> 24); b[18] = (uint8_t)(crc >> 16); b[19] = (uint8_t)(crc >> 8); b[20] = (uint8_t)crc;
	assert_int_equal(batch_verify(b, sizeof(b)), sizeof(b));
	/* Our builder writes exactly these bytes for the same record. */
	struct batch_builder bb;
	batch_builder_init(&bb, BATCH_COMPRESSION_NONE);
	assert_int_equal(batch_builder_add(&bb, 1000, "k", 1, "v", 1, NULL, 0), 0);
	const uint8_t *out;
	size_t len;
	assert_int_equal(batch_builder_finish(&bb, &out, &len), 0);
	assert_int_equal(len, sizeof(b));
	assert_memory_equal(out, b, sizeof(b));
	batch_builder_free(&bb);
	/* And read it back. */
	struct batch_iter it;
	struct batch_record r;
	assert_int_equal(batch_iter_init(&it, b, sizeof(b)), 0);
	assert_int_equal(batch_iter_next(&it, &r), 1);
	assert_int_equal(r.offset, 0);
	assert_int_equal(r.timestamp, 1000);
	assert_int_equal(r.key_len, 1);
	assert_memory_equal(r.key, "k", 1);
	assert_int_equal(r.value_len, 1);
	assert_memory_equal(r.value, "v", 1);
	assert_int_equal(r.header_count, 0);
	assert_int_equal(batch_iter_next(&it, &r), 0);
	batch_iter_free(&it);
	/* Base offset: written by the log, not covered by the CRC. */
	batch_set_base_offset(b, 42);
	assert_int_equal(batch_base_offset(b), 42);
	assert_int_equal(batch_last_offset(b), 42);
	assert_int_equal(batch_verify(b, sizeof(b)), sizeof(b));
}

struct rec { int64_t ts; char key[40]; int kl; int key_null; char val[300]; int val_null; int nh; };

static void test_random_round_trips(void **state)
{
	(void)state;
	static const enum batch_compression codecs[] = {
		BATCH_COMPRESSION_NONE, BATCH_COMPRESSION_GZIP, BATCH_COMPRESSION_ZSTD,
	};
	srand(7);
	static struct rec recs[500];
	for (int round = 0; round < 60; round++) {
		enum batch_compression c = codecs[round % 3];
		int n = 1 + rand() % 500;
		struct batch_builder b;
		batch_builder_init(&b, c);
		for (int i = 0; i < n; i++) {
			struct rec *r = &recs[i];
			r->ts = 1700000000000LL + (rand() % 100000) - 50000;
			r->key_null = rand() % 4 == 0;
			r->val_null = rand() % 20 == 0;
			int kl = rand() % 39, vl = rand() % 299;
			for (int k = 0; k < kl; k++)
				r->key[k] = (char)(rand() & 0xff);  /* binary keys, NULs too */
			r->kl = kl;
			for (int k = 0; k < vl; k++)
				r->val[k] = (char)('a' + rand() % 26);
			r->val[vl] = 0;
			r->nh = rand() % 3;
			struct batch_header_kv h[2] = {
				{ (const uint8_t *)"input", 5, (const uint8_t *)"gen", 3 },
				{ (const uint8_t *)"empty", 5, NULL, -1 },
			};
			assert_int_equal(batch_builder_add(&b, r->ts, r->key_null ? NULL : r->key, kl,
							   r->val_null ? NULL : r->val, vl, h, r->nh), 0);
		}
		const uint8_t *out;
		size_t len;
		assert_int_equal(batch_builder_finish(&b, &out, &len), 0);
		assert_int_equal(batch_verify(out, len), (long)len);
		struct batch_header hd;
		assert_int_equal(batch_header_parse(out, len, &hd), 0);
		assert_int_equal(hd.record_count, n);
		assert_int_equal(hd.attributes & 7, c);
		struct batch_iter it;
		struct batch_record r;
		assert_int_equal(batch_iter_init(&it, out, len), 0);
		int64_t maxts = INT64_MIN;
		for (int i = 0; i < n; i++) {
			assert_int_equal(batch_iter_next(&it, &r), 1);
			assert_int_equal(r.offset, i);
			assert_int_equal(r.timestamp, recs[i].ts);
			if (recs[i].ts > maxts)
				maxts = recs[i].ts;
			if (recs[i].key_null) {
				assert_int_equal(r.key_len, -1);
				assert_null(r.key);
			} else {
				assert_int_equal(r.key_len, recs[i].kl);
				assert_memory_equal(r.key, recs[i].key, (size_t)r.key_len);
			}
			if (recs[i].val_null)
				assert_int_equal(r.value_len, -1);
			else {
				assert_int_equal(r.value_len, strlen(recs[i].val));
				assert_memory_equal(r.value, recs[i].val, (size_t)r.value_len);
			}
			assert_int_equal(r.header_count, recs[i].nh);
			struct batch_header_kv kv;
			if (recs[i].nh >= 1) {
				assert_int_equal(batch_record_header(&r, 0, &kv), 0);
				assert_memory_equal(kv.key, "input", 5);
				assert_int_equal(kv.value_len, 3);
			}
			if (recs[i].nh >= 2) {
				assert_int_equal(batch_record_header(&r, 1, &kv), 0);
				assert_int_equal(kv.value_len, -1);
			}
			assert_int_equal(batch_record_header(&r, recs[i].nh, &kv), -ERANGE);
		}
		assert_int_equal(batch_iter_next(&it, &r), 0);
		assert_int_equal(hd.max_timestamp, maxts);
		batch_iter_free(&it);
		/* Reset and reuse the builder's memory. */
		batch_builder_reset(&b);
		assert_int_equal(batch_builder_finish(&b, &out, &len), -EINVAL);
		batch_builder_free(&b);
	}
}

static size_t build_one(uint8_t **out, enum batch_compression c, int n)
{
	struct batch_builder b;
	batch_builder_init(&b, c);
	for (int i = 0; i < n; i++)
		assert_int_equal(batch_builder_add(&b, 5, "key", 3, "value value value", 17, NULL, 0), 0);
	const uint8_t *p;
	size_t len;
	assert_int_equal(batch_builder_finish(&b, &p, &len), 0);
	*out = malloc(len);
	memcpy(*out, p, len);
	batch_builder_free(&b);
	return len;
}

static void recrc(uint8_t *b, size_t len)
{
	uint32_t crc = crc32c(0, b + 21, len - 21);
	b[17] = (uint8_t)(crc >> 24); b[18] = (uint8_t)(crc >> 16); b[19] = (uint8_t)(crc >> 8); b[20] = (uint8_t)crc;
}

static int iterate_all(const uint8_t *b, size_t len)
{
	struct batch_iter it;
	struct batch_record r;
	int rc = batch_iter_init(&it, b, len);
	if (rc < 0)
		return rc;
	while ((rc = batch_iter_next(&it, &r)) == 1)
		;
	batch_iter_free(&it);
	return rc;
}

static void test_bad_input(void **state)
{
	(void)state;
	uint8_t *b;
	size_t len = build_one(&b, BATCH_COMPRESSION_NONE, 3);
	/* Truncated at every length. */
	for (size_t n = 0; n < len; n++) {
		long r = batch_verify(b, n);
		assert_true(r == -ENODATA);
	}
	/* Wrong CRC. */
	b[len - 1] ^= 1;
	assert_int_equal(batch_verify(b, len), -EILSEQ);
	b[len - 1] ^= 1;
	/* Absurd lengths: negative, too small, beyond BATCH_MAX_BYTES. */
	uint8_t save[4];
	memcpy(save, b + 8, 4);
	memcpy(b + 8, "\xff\xff\xff\xf0", 4);
	assert_int_equal(batch_verify(b, len), -EBADMSG);
	memcpy(b + 8, "\x00\x00\x00\x05", 4);
	assert_int_equal(batch_verify(b, len), -EBADMSG);
	memcpy(b + 8, "\x7f\xff\xff\xff", 4);
	assert_int_equal(batch_verify(b, len), -EBADMSG);
	assert_int_equal(batch_size(b, len), -EBADMSG);
	memcpy(b + 8, save, 4);
	/* Wrong magic. */
	b[16] = 1;
	assert_int_equal(batch_verify(b, len), -EBADMSG);
	b[16] = 2;
	/* Record count that lies (CRC fixed so the records get decoded). */
	b[60] = 4;
	recrc(b, len);
	assert_int_equal(batch_verify(b, len), -EBADMSG);  /* count > lastOffsetDelta + 1 */
	b[26] = 3;                                         /* lastOffsetDelta 3 too */
	recrc(b, len);
	assert_int_equal(batch_verify(b, len), (long)len);
	assert_int_equal(iterate_all(b, len), -EPROTO);    /* 3 records there, not 4 */
	b[60] = 2;
	recrc(b, len);
	assert_int_equal(iterate_all(b, len), -EPROTO);    /* trailing bytes */
	free(b);
	/* A varint that never ends, inside a valid CRC. */
	len = build_one(&b, BATCH_COMPRESSION_NONE, 1);
	memset(b + 61, 0xff, len - 61);
	recrc(b, len);
	assert_int_equal(iterate_all(b, len), -EPROTO);
	/* A record length past the end. */
	b[61] = 0x7e;  /* zigzag 63 */
	recrc(b, len);
	assert_int_equal(iterate_all(b, len), -EPROTO);
	free(b);
	/* A buffer of zeros. */
	uint8_t zeros[200] = { 0 };
	assert_int_equal(batch_verify(zeros, sizeof(zeros)), -EBADMSG);
	assert_int_equal(iterate_all(zeros, sizeof(zeros)), -EBADMSG);
	/* Compressed garbage, and an unsupported codec. */
	len = build_one(&b, BATCH_COMPRESSION_GZIP, 50);
	memset(b + 70, 0x55, 20);
	recrc(b, len);
	assert_int_equal(iterate_all(b, len), -EPROTO);
	b[22] = 2;  /* snappy */
	recrc(b, len);
	assert_int_equal(iterate_all(b, len), -ENOTSUP);
	free(b);
	len = build_one(&b, BATCH_COMPRESSION_ZSTD, 50);
	assert_int_equal(iterate_all(b, len), 0);
	len -= 5;   /* a truncated zstd frame, with a consistent header */
	b[11] = (uint8_t)(b[11] - 5);
	recrc(b, len);
	assert_int_equal(iterate_all(b, len), -EPROTO);
	free(b);
}

/* A zip bomb: a gzip records area that inflates past BATCH_MAX_BYTES is
 * refused with -EMSGSIZE, not decompressed into ever more memory. */
static void test_decompression_is_bounded(void **state)
{
	(void)state;
	size_t zeros = (size_t)BATCH_MAX_BYTES + (1u << 20);
	uint8_t *src = calloc(1, zeros);
	size_t cap = compressBound((uLong)zeros) + 64;
	uint8_t *b = calloc(1, 61 + cap);
	z_stream z;
	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = src;
	z.avail_in = (uInt)zeros;
	z.next_out = b + 61;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	size_t clen = cap - z.avail_out;
	deflateEnd(&z);
	free(src);
	/* A header around it: 1 record claimed, gzip, valid CRC. */
	size_t len = 61 + clen;
	uint32_t bl = (uint32_t)(len - 12);
	b[8] = (uint8_t)(bl >> 24); b[9] = (uint8_t)(bl >> 16); b[10] = (uint8_t)(bl >> 8); b[11] = (uint8_t)bl;
	b[16] = 2;
	b[22] = 1;
	b[60] = 1;
	recrc(b, len);
	assert_int_equal(batch_verify(b, len), (long)len);
	assert_int_equal(iterate_all(b, len), -EMSGSIZE);
	free(b);
}

static uint8_t *load(const char *name, size_t *len)
{
	char path[4096];
	const char *root = getenv("LOGSHIP_ROOT");
	snprintf(path, sizeof(path), "%s/tests/unit/data/%s", root ? root : ".", name);
	FILE *f = fopen(path, "rb");
	if (!f) {
		print_error("cannot open %s (run from the repo root or set LOGSHIP_ROOT)\n", path);
		fail();
	}
	static uint8_t buf[65536];
	*len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return buf;
}

static void test_librdkafka_batches(void **state)
{
	(void)state;
	size_t ilen;
	char input[8192], text[8192];
	uint8_t *in = load("rdkafka_input.txt", &ilen);
	assert_true(ilen < sizeof(text));
	memcpy(text, in, ilen);
	text[ilen] = 0;
	memcpy(input, text, ilen + 1);
	static const char *const files[] = { "rdkafka_batch_none.bin", "rdkafka_batch_gzip.bin", "rdkafka_batch_zstd.bin" };
	static const int codecs[] = { 0, 1, 4 };
	for (int f = 0; f < 3; f++) {
		size_t len;
		uint8_t *b = load(files[f], &len);
		assert_int_equal(batch_verify(b, len), (long)len);
		struct batch_header h;
		assert_int_equal(batch_header_parse(b, len, &h), 0);
		assert_int_equal(h.attributes & 7, codecs[f]);
		assert_int_equal(h.record_count, 20);
		assert_int_equal(h.producer_id, -1);
		struct batch_iter it;
		struct batch_record r;
		assert_int_equal(batch_iter_init(&it, b, len), 0);
		char *save = NULL, *line = strtok_r(input, "\n", &save);
		struct batch_builder bb;
		batch_builder_init(&bb, BATCH_COMPRESSION_NONE);
		int i = 0;
		for (; line; line = strtok_r(NULL, "\n", &save), i++) {
			const char *colon = strchr(line, ':');
			size_t kl = (size_t)(colon - line);
			assert_int_equal(batch_iter_next(&it, &r), 1);
			assert_int_equal(r.offset, i);
			assert_true(r.timestamp >= h.base_timestamp && r.timestamp <= h.max_timestamp);
			if (kl == 0)
				assert_true(r.key_len <= 0);  /* kcat sends an empty key as null */
			else {
				assert_int_equal(r.key_len, kl);
				assert_memory_equal(r.key, line, kl);
			}
			assert_int_equal(r.value_len, strlen(colon + 1));
			assert_memory_equal(r.value, colon + 1, (size_t)r.value_len);
			assert_int_equal(r.header_count, 2);
			struct batch_header_kv kv;
			assert_int_equal(batch_record_header(&r, 1, &kv), 0);
			assert_int_equal(kv.key_len, 2);
			assert_memory_equal(kv.key, "h2", 2);
			assert_memory_equal(kv.value, "v2", 2);
			struct batch_header_kv hs[2];
			batch_record_header(&r, 0, &hs[0]);
			batch_record_header(&r, 1, &hs[1]);
			assert_int_equal(batch_builder_add(&bb, r.timestamp, r.key, r.key_len, r.value, r.value_len, hs, 2), 0);
		}
		assert_int_equal(i, 20);
		assert_int_equal(batch_iter_next(&it, &r), 0);
		/* Same records, same bytes: everything from the magic byte on
		 * (librdkafka writes partitionLeaderEpoch 0, we write -1; the CRC
		 * does not cover it). Compressed bytes depend on the library level. */
		if (codecs[f] == 0) {
			const uint8_t *ours;
			size_t olen;
			assert_int_equal(batch_builder_finish(&bb, &ours, &olen), 0);
			assert_int_equal(olen, len);
			assert_memory_equal(ours + 16, b + 16, len - 16);
		}
		batch_builder_free(&bb);
		batch_iter_free(&it);
		memcpy(input, text, ilen + 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hand_vector),
		cmocka_unit_test(test_random_round_trips),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_decompression_is_bounded),
		cmocka_unit_test(test_librdkafka_batches),
	};
	return cmocka_run_group_tests_name("batch", tests, NULL, NULL);
}
