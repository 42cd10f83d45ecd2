/* Kafka RecordBatch v2: header access, verification, record iteration and
 * building; see batch.h for the layout and the error convention.
 *
 * Every length read from a batch is checked against the bytes really there
 * before it is used, and decompression output is capped at BATCH_MAX_BYTES,
 * so no input can make this code read out of bounds or allocate without bound. */
#include "buffer/batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "buffer/crc32c.h"
#include "buffer/varint.h"

/* Field positions in the header. */
#define OFF_LENGTH 8
#define OFF_EPOCH 12
#define OFF_MAGIC 16
#define OFF_CRC 17
#define OFF_ATTR 21        /* the CRC covers [21, end) */
#define OFF_LAST_DELTA 23
#define OFF_BASE_TS 27
#define OFF_MAX_TS 35
#define OFF_PRODUCER_ID 43
#define OFF_PRODUCER_EPOCH 51
#define OFF_BASE_SEQ 53
#define OFF_COUNT 57
#define MIN_LENGTH (BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD)

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v); }

long batch_size(const uint8_t *buf, size_t len)
{
	if (len < BATCH_LOG_OVERHEAD)
		return -ENODATA;
	int32_t l = (int32_t)get32(buf + OFF_LENGTH);
	if (l < MIN_LENGTH || (uint32_t)l > BATCH_MAX_BYTES - BATCH_LOG_OVERHEAD)
		return -EBADMSG;
	return BATCH_LOG_OVERHEAD + (long)l;
}

int batch_header_parse(const uint8_t *buf, size_t len, struct batch_header *h)
{
	if (len < BATCH_HEADER_SIZE)
		return -ENODATA;
	long size = batch_size(buf, len);
	if (size < 0)
		return (int)size;
	h->base_offset = (int64_t)get64(buf);
	h->length = (int32_t)get32(buf + OFF_LENGTH);
	h->leader_epoch = (int32_t)get32(buf + OFF_EPOCH);
	h->magic = (int8_t)buf[OFF_MAGIC];
	h->crc = get32(buf + OFF_CRC);
	h->attributes = (int16_t)get16(buf + OFF_ATTR);
	h->last_offset_delta = (int32_t)get32(buf + OFF_LAST_DELTA);
	h->base_timestamp = (int64_t)get64(buf + OFF_BASE_TS);
	h->max_timestamp = (int64_t)get64(buf + OFF_MAX_TS);
	h->producer_id = (int64_t)get64(buf + OFF_PRODUCER_ID);
	h->producer_epoch = (int16_t)get16(buf + OFF_PRODUCER_EPOCH);
	h->base_sequence = (int32_t)get32(buf + OFF_BASE_SEQ);
	h->record_count = (int32_t)get32(buf + OFF_COUNT);
	if (h->magic != BATCH_MAGIC)
		return -EBADMSG;
	/* Offsets inside a batch only grow: a count or delta out of these bounds
	 * is corrupt even when the CRC matches (a buggy or hostile producer). */
	if (h->record_count < 0 || h->last_offset_delta < 0 ||
	    (h->record_count > 0 && h->last_offset_delta < h->record_count - 1))
		return -EBADMSG;
	return 0;
}

long batch_verify(const uint8_t *buf, size_t len)
{
	struct batch_header h;
	long size = batch_size(buf, len);
	if (size < 0)
		return size;
	if ((size_t)size > len)
		return -ENODATA;
	int rc = batch_header_parse(buf, (size_t)size, &h);
	if (rc < 0)
		return rc;
	if (crc32c(0, buf + OFF_ATTR, (size_t)size - OFF_ATTR) != h.crc)
		return -EILSEQ;
	return size;
}

void batch_set_base_offset(uint8_t *buf, int64_t base_offset) { put64(buf, (uint64_t)base_offset); }
int64_t batch_base_offset(const uint8_t *buf) { return (int64_t)get64(buf); }
int64_t batch_last_offset(const uint8_t *buf)
{
	return (int64_t)get64(buf) + (int32_t)get32(buf + OFF_LAST_DELTA);
}

/* --- decompression, bounded ------------------------------------------- */

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	if (need > BATCH_MAX_BYTES)
		return -EMSGSIZE;
	size_t n = *cap ? *cap : 65536;
	while (n < need)
		n *= 2;
	if (n > BATCH_MAX_BYTES)
		n = BATCH_MAX_BYTES;
	uint8_t *p = realloc(*buf, n);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = n;
	return 0;
}

static int gunzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 47) != Z_OK)  /* 32 + 15: gzip or zlib header */
		return -ENOMEM;
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;
	int rc = 0;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	for (;;) {
		if ((rc = grow(&buf, &cap, n + 65536 > BATCH_MAX_BYTES ? BATCH_MAX_BYTES : n + 65536)) < 0)
			break;
		if (n == cap) {
			rc = -EMSGSIZE;  /* more than BATCH_MAX_BYTES: a bomb, or not ours */
			break;
		}
		z.next_out = buf + n;
		z.avail_out = (uInt)(cap - n);
		int zr = inflate(&z, Z_NO_FLUSH);
		n = cap - z.avail_out;
		if (zr == Z_STREAM_END) {
			rc = 0;
			break;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			rc = -EPROTO;
			break;
		}
		if (zr == Z_BUF_ERROR && z.avail_in == 0) {
			rc = -EPROTO;  /* truncated stream */
			break;
		}
	}
	inflateEnd(&z);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	*out_len = n;
	return 0;
}

static int unzstd(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	ZSTD_DStream *d = ZSTD_createDStream();
	if (!d)
		return -ENOMEM;
	ZSTD_initDStream(d);
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0, zr = 1;
	int rc = 0;
	ZSTD_inBuffer ib = { in, len, 0 };
	while (zr != 0) {
		if ((rc = grow(&buf, &cap, n + 65536 > BATCH_MAX_BYTES ? BATCH_MAX_BYTES : n + 65536)) < 0)
			break;
		if (n == cap) {
			rc = -EMSGSIZE;
			break;
		}
		ZSTD_outBuffer ob = { buf + n, cap - n, 0 };
		zr = ZSTD_decompressStream(d, &ob, &ib);
		n += ob.pos;
		if (ZSTD_isError(zr)) {
			rc = -EPROTO;
			break;
		}
		if (zr != 0 && ib.pos == ib.size && ob.pos < ob.size) {
			rc = -EPROTO;  /* input ended inside a frame */
			break;
		}
	}
	ZSTD_freeDStream(d);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	*out_len = n;
	return 0;
}

/* --- iteration ----------------------------------------------------------- */

int batch_iter_init(struct batch_iter *it, const uint8_t *batch, size_t len)
{
	memset(it, 0, sizeof(*it));
	long size = batch_size(batch, len);
	if (size < 0)
		return (int)size;
	if ((size_t)size > len)
		return -ENODATA;
	int rc = batch_header_parse(batch, (size_t)size, &it->h);
	if (rc < 0)
		return rc;
	const uint8_t *rec = batch + BATCH_HEADER_SIZE, *end = batch + size;
	switch (it->h.attributes & 7) {
	case BATCH_COMPRESSION_NONE:
		it->p = rec;
		it->end = end;
		break;
	case BATCH_COMPRESSION_GZIP:
	case BATCH_COMPRESSION_ZSTD: {
		size_t n = 0;
		rc = (it->h.attributes & 7) == BATCH_COMPRESSION_GZIP
			     ? gunzip(rec, (size_t)(end - rec), &it->owned, &n)
			     : unzstd(rec, (size_t)(end - rec), &it->owned, &n);
		if (rc < 0)
			return rc;
		it->p = it->owned;
		it->end = it->owned + n;
		break;
	}
	default:
		return -ENOTSUP;  /* snappy, lz4: not produced by logship, not decoded */
	}
	it->remaining = it->h.record_count;
	return 0;
}

/* Reads a varint-length-prefixed byte string (-1 = null) into (*p, *len). */
static int read_bytes(const uint8_t **cur, const uint8_t *end, const uint8_t **p, int32_t *len)
{
	int32_t l;
	int n = varint_decode(*cur, (size_t)(end - *cur), &l);
	if (n < 0)
		return -EPROTO;
	*cur += n;
	if (l < -1 || (l > 0 && l > end - *cur))
		return -EPROTO;
	*p = l >= 0 ? *cur : NULL;
	*len = l;
	if (l > 0)
		*cur += l;
	return 0;
}

int batch_iter_next(struct batch_iter *it, struct batch_record *r)
{
	if (it->remaining == 0)
		return it->p == it->end ? 0 : -EPROTO;  /* trailing bytes: count lied */
	const uint8_t *cur = it->p, *end = it->end;
	int32_t len, odelta;
	int64_t tdelta;
	int n = varint_decode(cur, (size_t)(end - cur), &len);
	if (n < 0 || len < 0 || len > end - cur - n)
		return -EPROTO;
	cur += n;
	const uint8_t *rend = cur + len;
	if (len < 1)
		return -EPROTO;
	cur++;  /* attributes: unused in v2 */
	if ((n = varlong_decode(cur, (size_t)(rend - cur), &tdelta)) < 0)
		return -EPROTO;
	cur += n;
	if ((n = varint_decode(cur, (size_t)(rend - cur), &odelta)) < 0 || odelta < 0 ||
	    odelta > it->h.last_offset_delta)
		return -EPROTO;
	cur += n;
	if (read_bytes(&cur, rend, &r->key, &r->key_len) || read_bytes(&cur, rend, &r->value, &r->value_len))
		return -EPROTO;
	int32_t hc;
	if ((n = varint_decode(cur, (size_t)(rend - cur), &hc)) < 0 || hc < 0 || hc > rend - cur)
		return -EPROTO;
	cur += n;
	r->headers = cur;
	for (int32_t i = 0; i < hc; i++) {
		const uint8_t *k, *v;
		int32_t kl, vl;
		if (read_bytes(&cur, rend, &k, &kl) || kl < 0 || read_bytes(&cur, rend, &v, &vl))
			return -EPROTO;
	}
	if (cur != rend)
		return -EPROTO;  /* the record's length must match what it holds */
	r->headers_len = (size_t)(cur - r->headers);
	r->header_count = hc;
	r->offset = it->h.base_offset + odelta;
	r->timestamp = it->h.base_timestamp + tdelta;
	it->p = rend;
	it->remaining--;
	return 1;
}

int batch_record_header(const struct batch_record *r, int32_t i, struct batch_header_kv *out)
{
	const uint8_t *cur = r->headers, *end = r->headers + r->headers_len;
	if (i < 0 || i >= r->header_count)
		return -ERANGE;
	for (int32_t k = 0; k <= i; k++) {
		if (read_bytes(&cur, end, &out->key, &out->key_len) ||
		    read_bytes(&cur, end, &out->value, &out->value_len))
			return -EPROTO;
	}
	return 0;
}

void batch_iter_free(struct batch_iter *it)
{
	free(it->owned);
	it->owned = NULL;
}

/* --- building ------------------------------------------------------------ */

void batch_builder_init(struct batch_builder *b, enum batch_compression c)
{
	memset(b, 0, sizeof(*b));
	b->compression = c;
}

static int reserve(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 4096;
	while (n < need)
		n *= 2;
	uint8_t *p = realloc(*buf, n);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = n;
	return 0;
}

static size_t bytes_size(int32_t len) { return (size_t)varint_size(len) + (len > 0 ? (size_t)len : 0); }

static uint8_t *put_bytes(uint8_t *p, const void *data, int32_t len)
{
	p += varint_encode(len, p);
	if (len > 0) {
		memcpy(p, data, (size_t)len);
		p += len;
	}
	return p;
}

int batch_builder_add(struct batch_builder *b, int64_t ts, const void *key, int32_t key_len,
		      const void *value, int32_t value_len,
		      const struct batch_header_kv *headers, int32_t header_count)
{
	if (!key)
		key_len = -1;
	if (!value)
		value_len = -1;
	if (b->count == 0)
		b->base_timestamp = b->max_timestamp = ts;
	int64_t tdelta = ts - b->base_timestamp;
	size_t body = 1 + (size_t)varint_size(tdelta) + (size_t)varint_size(b->count) +
		      bytes_size(key_len) + bytes_size(value_len) + (size_t)varint_size(header_count);
	for (int32_t i = 0; i < header_count; i++)
		body += bytes_size(headers[i].key_len) + bytes_size(headers[i].value ? headers[i].value_len : -1);
	if (body > BATCH_MAX_BYTES || b->len + body + VARINT_MAX > BATCH_MAX_BYTES - BATCH_HEADER_SIZE)
		return -EMSGSIZE;
	if (reserve(&b->buf, &b->cap, BATCH_HEADER_SIZE + b->len + body + VARINT_MAX) < 0)
		return -ENOMEM;
	uint8_t *p = b->buf + BATCH_HEADER_SIZE + b->len;
	p += varint_encode((int32_t)body, p);
	*p++ = 0;  /* record attributes */
	p += varlong_encode(tdelta, p);
	p += varint_encode(b->count, p);
	p = put_bytes(p, key, key_len);
	p = put_bytes(p, value, value_len);
	p += varint_encode(header_count, p);
	for (int32_t i = 0; i < header_count; i++) {
		p = put_bytes(p, headers[i].key, headers[i].key_len);
		p = put_bytes(p, headers[i].value, headers[i].value ? headers[i].value_len : -1);
	}
	b->len = (size_t)(p - b->buf) - BATCH_HEADER_SIZE;
	if (ts > b->max_timestamp)
		b->max_timestamp = ts;
	b->count++;
	return 0;
}

size_t batch_builder_size(const struct batch_builder *b)
{
	return BATCH_HEADER_SIZE + b->len;
}

/* Compresses the records into b->zbuf (after room for the header). */
static int compress_into(struct batch_builder *b, size_t *n)
{
	const uint8_t *rec = b->buf + BATCH_HEADER_SIZE;
	if (b->compression == BATCH_COMPRESSION_GZIP) {
		z_stream z;
		memset(&z, 0, sizeof(z));
		if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			return -ENOMEM;
		size_t bound = deflateBound(&z, (uLong)b->len) + 32;
		if (reserve(&b->zbuf, &b->zcap, BATCH_HEADER_SIZE + bound) < 0) {
			deflateEnd(&z);
			return -ENOMEM;
		}
		z.next_in = (Bytef *)rec;
		z.avail_in = (uInt)b->len;
		z.next_out = b->zbuf + BATCH_HEADER_SIZE;
		z.avail_out = (uInt)bound;
		int zr = deflate(&z, Z_FINISH);
		*n = bound - z.avail_out;
		deflateEnd(&z);
		return zr == Z_STREAM_END ? 0 : -EPROTO;
	}
	size_t bound = ZSTD_compressBound(b->len);
	if (reserve(&b->zbuf, &b->zcap, BATCH_HEADER_SIZE + bound) < 0)
		return -ENOMEM;
	size_t zr = ZSTD_compress(b->zbuf + BATCH_HEADER_SIZE, bound, rec, b->len, 3);
	if (ZSTD_isError(zr))
		return -EPROTO;
	*n = zr;
	return 0;
}

int batch_builder_finish(struct batch_builder *b, const uint8_t **batch, size_t *len)
{
	size_t n;
	uint8_t *h;
	if (b->count == 0)
		return -EINVAL;
	switch (b->compression) {
	case BATCH_COMPRESSION_NONE:
		h = b->buf;  /* the records are already in place after the header */
		n = b->len;
		break;
	case BATCH_COMPRESSION_GZIP:
	case BATCH_COMPRESSION_ZSTD: {
		int rc = compress_into(b, &n);
		if (rc < 0)
			return rc;
		h = b->zbuf;
		break;
	}
	default:
		return -ENOTSUP;
	}
	size_t total = BATCH_HEADER_SIZE + n;
	if (total > BATCH_MAX_BYTES)
		return -EMSGSIZE;
	put64(h, 0);
	put32(h + OFF_LENGTH, (uint32_t)(total - BATCH_LOG_OVERHEAD));
	put32(h + OFF_EPOCH, 0xffffffffu);  /* no partition leader epoch */
	h[OFF_MAGIC] = BATCH_MAGIC;
	put16(h + OFF_ATTR, (uint16_t)b->compression);  /* CreateTime, not transactional */
	put32(h + OFF_LAST_DELTA, (uint32_t)(b->count - 1));
	put64(h + OFF_BASE_TS, (uint64_t)b->base_timestamp);
	put64(h + OFF_MAX_TS, (uint64_t)b->max_timestamp);
	put64(h + OFF_PRODUCER_ID, (uint64_t)-1);
	put16(h + OFF_PRODUCER_EPOCH, 0xffff);
	put32(h + OFF_BASE_SEQ, 0xffffffffu);
	put32(h + OFF_COUNT, (uint32_t)b->count);
	put32(h + OFF_CRC, crc32c(0, h + OFF_ATTR, total - OFF_ATTR));
	b->out = h;
	b->out_len = total;
	*batch = h;
	*len = total;
	return 0;
}

void batch_builder_reset(struct batch_builder *b)
{
	b->len = 0;
	b->count = 0;
	b->base_timestamp = b->max_timestamp = 0;
	b->out_len = 0;
}

void batch_builder_free(struct batch_builder *b)
{
	free(b->buf);
	free(b->zbuf);
	memset(b, 0, sizeof(*b));
}
