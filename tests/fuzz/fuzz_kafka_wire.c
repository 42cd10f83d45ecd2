/* libFuzzer target: the native Kafka producer's answer decoders
 * (outputs/kafka/kafka_wire.c) over arbitrary bytes, every version they
 * speak: ApiVersions, Metadata v1..v8, Produce v3..v7, and the frame size.
 * These bytes come from whatever listens at a configured broker address.
 * Invariants: no crash, no read out of bounds (ASan), no leak, allocations
 * bounded by the input's size (counts are checked against the bytes left). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outputs/kafka/kafka_wire.h"

static void count(void *arg, const struct kwire_produce_result *r)
{
	if (r->topic.len < 0)
		abort();  /* a null topic is never reported */
	(*(size_t *)arg)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *b = malloc(size ? size : 1);
	if (!b)
		return 0;
	memcpy(b, data, size);
	kwire_frame_size(b, size);
	struct kwire_versions v;
	kwire_api_versions_decode(b, size, &v);
	for (int16_t ver = KWIRE_METADATA_MIN; ver <= KWIRE_METADATA_MAX; ver++) {
		struct kwire_metadata m;
		if (kwire_metadata_decode(b, size, ver, &m) == 0) {
			for (int32_t i = 0; i < m.nbrokers; i++)
				if (!m.brokers[i].host)
					abort();
			for (int32_t i = 0; i < m.ntopics; i++)
				if (!m.topics[i].name || (m.topics[i].npart && !m.topics[i].parts))
					abort();
			kwire_metadata_free(&m);
		}
	}
	for (int16_t ver = KWIRE_PRODUCE_MIN; ver <= KWIRE_PRODUCE_MAX; ver++) {
		size_t n = 0;
		kwire_produce_decode(b, size, ver, count, &n);
		if (n > size)
			abort();
	}
	free(b);
	return 0;
}
