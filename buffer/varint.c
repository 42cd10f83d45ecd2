/* Zigzag varints (Kafka record format = protobuf's sint32/sint64); see
 * varint.h, which has the one-byte cases inline. Decoding stops at the
 * type's maximum length, so a run of continuation bytes can never make it
 * read or loop further. */
#include "buffer/varint.h"

#include <errno.h>

int varlong_encode_long(uint64_t z, uint8_t *out)
{
	int n = 0;
	while (z >= 0x80) {
		out[n++] = (uint8_t)(z | 0x80);
		z >>= 7;
	}
	out[n++] = (uint8_t)z;
	return n;
}

static int decode(const uint8_t *p, size_t len, int max, uint64_t *out)
{
	uint64_t z = 0;
	for (int i = 0; i < max; i++) {
		if ((size_t)i >= len)
			return -ENODATA;
		uint8_t b = p[i];
		z |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			/* The last byte of a 10-byte varlong may only carry 1 bit, of a
			 * 5-byte varint 4 bits: more would overflow the type. */
			if (i == max - 1 && (b >> (max == VARLONG_MAX ? 1 : 4)))
				return -EPROTO;
			*out = z;
			return i + 1;
		}
	}
	return -EPROTO;
}

int varlong_decode_long(const uint8_t *p, size_t len, int64_t *out)
{
	uint64_t z;
	int n = decode(p, len, VARLONG_MAX, &z);
	if (n > 0)
		*out = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
	return n;
}

int varint_decode_long(const uint8_t *p, size_t len, int32_t *out)
{
	uint64_t z;
	int n = decode(p, len, VARINT_MAX, &z);
	if (n > 0)
		*out = (int32_t)((uint32_t)(z >> 1) ^ -(uint32_t)(z & 1));
	return n;
}
