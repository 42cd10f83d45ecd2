/* Zigzag varints as Kafka's record format uses them (protobuf-style base-128,
 * little-endian groups, zigzag sign folding). A varint is at most 5 bytes, a
 * varlong at most 10; a longer run of continuation bits is malformed. */
#ifndef LOGSHIP_BUFFER_VARINT_H
#define LOGSHIP_BUFFER_VARINT_H
#include <stddef.h>
#include <stdint.h>

#define VARINT_MAX 5
#define VARLONG_MAX 10

/* Write v into out (which has room for VARLONG_MAX / VARINT_MAX); returns bytes. */
int varlong_encode(int64_t v, uint8_t *out);
int varint_encode(int32_t v, uint8_t *out);
int varint_size(int64_t v);
/* Read from p[0..len); returns bytes consumed, -ENODATA if the buffer ends
 * mid-varint, -EPROTO if it is too long or overflows the type. */
int varlong_decode(const uint8_t *p, size_t len, int64_t *out);
int varint_decode(const uint8_t *p, size_t len, int32_t *out);

#endif
