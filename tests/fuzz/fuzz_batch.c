/* libFuzzer target: the RecordBatch v2 decoder over arbitrary bytes.
 * Each input is tried as is, and again with its CRC recomputed so that the
 * fuzzer reaches record decoding and decompression past the checksum.
 * Invariants: no crash, no read out of bounds (ASan), every record view
 * inside the batch or the decoder's own buffer, bounded memory. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buffer/batch.h"
#include "buffer/crc32c.h"

static void walk(const uint8_t *b, size_t n)
{
	struct batch_iter it;
	struct batch_record r;
	if (batch_iter_init(&it, b, n) < 0)
		return;
	int32_t count = 0;
	while (batch_iter_next(&it, &r) == 1) {
		for (int32_t i = 0; i < r.header_count; i++) {
			struct batch_header_kv kv;
			if (batch_record_header(&r, i, &kv) < 0)
				abort();  /* the iterator validated every header */
		}
		count++;
	}
	if (count > it.h.record_count)
		abort();
	batch_iter_free(&it);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *b = malloc(size ? size : 1);
	if (!b)
		return 0;
	memcpy(b, data, size);
	batch_verify(b, size);
	batch_size(b, size);
	walk(b, size);
	if (size >= BATCH_HEADER_SIZE) {
		/* Make the length and CRC consistent so decoding goes deeper. */
		uint32_t bl = (uint32_t)(size - BATCH_LOG_OVERHEAD);
		b[8] = (uint8_t)(bl >> 24); b[9] = (uint8_t)(bl >> 16); b[10] = (uint8_t)(bl >> 8); b[11] = (uint8_t)bl;
		b[16] = BATCH_MAGIC;
		uint32_t c = crc32c(0, b + 21, size - 21);
		b[17] = (uint8_t)(c >> 24); b[18] = (uint8_t)(c >> 16); b[19] = (uint8_t)(c >> 8); b[20] = (uint8_t)c;
		if (batch_verify(b, size) == (long)size)
			walk(b, size);
	}
	free(b);
	return 0;
}
