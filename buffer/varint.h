/* Zigzag varints as Kafka's record format uses them (protobuf-style base-128,
 * little-endian groups, zigzag sign folding). A varint is at most 5 bytes, a
 * varlong at most 10; a longer run of continuation bits is malformed.
 *
 * Every record of a batch carries five or more of them, so the common cases
 * (one or two bytes: values -8192..8191) are inline here, the rest is in
 * varint.c. */
#ifndef LOGSHIP_BUFFER_VARINT_H
#define LOGSHIP_BUFFER_VARINT_H
#include <stddef.h>
#include <stdint.h>

#define VARINT_MAX 5
#define VARLONG_MAX 10

static inline uint64_t varint_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* Write v into out (which has room for VARLONG_MAX / VARINT_MAX); returns bytes. */
int varlong_encode_long(uint64_t z, uint8_t *out);
static inline int varlong_encode(int64_t v, uint8_t *out)
{
	uint64_t z = varint_zigzag(v);
	if (z < 0x80) {
		out[0] = (uint8_t)z;
		return 1;
	}
	if (z < 0x4000) {
		out[0] = (uint8_t)(z | 0x80);
		out[1] = (uint8_t)(z >> 7);
		return 2;
	}
	return varlong_encode_long(z, out);
}
static inline int varint_encode(int32_t v, uint8_t *out)
{
	return varlong_encode(v, out);  /* same bytes for values in int32 range */
}
static inline int varint_size(int64_t v)
{
	uint64_t z = varint_zigzag(v);
	int n = 1;
	while (z >= 0x80) {
		z >>= 7;
		n++;
	}
	return n;
}

/* Read from p[0..len); returns bytes consumed, -ENODATA if the buffer ends
 * mid-varint, -EPROTO if it is too long or overflows the type. */
int varlong_decode_long(const uint8_t *p, size_t len, int64_t *out);
int varint_decode_long(const uint8_t *p, size_t len, int32_t *out);
/* One or two bytes: 0 (not that case) or the bytes, with *z unfolded. */
static inline int varint_decode_short(const uint8_t *p, size_t len, uint32_t *z)
{
	if (len && p[0] < 0x80) {
		*z = p[0];
		return 1;
	}
	if (len >= 2 && p[1] < 0x80) {
		*z = (uint32_t)(p[0] & 0x7f) | (uint32_t)p[1] << 7;
		return 2;
	}
	return 0;
}
static inline int varlong_decode(const uint8_t *p, size_t len, int64_t *out)
{
	uint32_t z;
	int n = varint_decode_short(p, len, &z);
	if (!n)
		return varlong_decode_long(p, len, out);
	*out = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
	return n;
}
static inline int varint_decode(const uint8_t *p, size_t len, int32_t *out)
{
	uint32_t z;
	int n = varint_decode_short(p, len, &z);
	if (!n)
		return varint_decode_long(p, len, out);
	*out = (int32_t)((z >> 1) ^ -(z & 1));
	return n;
}

#endif
