/* libFuzzer target: the broker's request handlers (broker_handle) over
 * arbitrary bytes, on a real broker state: topics and consumer groups opened
 * in a temporary data directory, a topic "fuzz" with 2 partitions holding a
 * few batches, so Produce, Fetch, ListOffsets, Metadata, CreateTopics,
 * DeleteTopics and the group APIs all reach their deep paths.
 *
 * Input: a sequence of size-prefixed request frames, as on the wire (the
 * corpus holds real client sessions captured from kcat and librdkafka). A
 * size prefix that does not fit what is left makes the rest one frame, so
 * arbitrary bytes are still one request.
 *
 * Invariants checked: no crash, no out-of-bounds access or leak (ASan,
 * UBSan), every response frame's size prefix equals its length, and a
 * request answered REQ_RESPOND always has at least its correlation id.
 * Parked requests are run again with final=1 as the loop would at their
 * deadline. Topics an input creates are deleted after it, and the whole
 * broker is rebuilt every RESET_EVERY inputs, so state (partition logs,
 * their flusher threads, groups) stays bounded across millions of runs. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"
#include "buffer/batch.h"
#include "common/logging.h"

#define RESET_EVERY 2000
#define MAX_FRAMES 16

static struct broker b;
static char dir[256];
static int64_t clock_ms = 1000000;
static unsigned runs;

static void rm_rf(const char *path)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		abort();
}

/* One produced batch of three records, so Fetch has something to serve. */
static void seed_topic(void)
{
	struct topic *tp;
	if (topics_create(&b.topics, "fuzz", 4, 2, &tp) < 0)
		abort();
	for (int p = 0; p < 2; p++) {
		struct batch_builder bb;
		batch_builder_init(&bb, BATCH_COMPRESSION_NONE);
		for (int i = 0; i < 3; i++)
			batch_builder_add(&bb, 1700000000000LL + i, NULL, 0, "value", 5, NULL, 0);
		const uint8_t *data;
		size_t len;
		int64_t off;
		/* data is the builder's own buffer: writable, as log_append needs */
		if (batch_builder_finish(&bb, &data, &len) < 0 ||
		    log_append(tp->parts[p], (uint8_t *)data, len, &off) < 0)
			abort();
		batch_builder_free(&bb);
	}
}

static void broker_up(void)
{
	memset(&b, 0, sizeof(b));
	b.wake_fd = -1;
	if (broker_config_bind(&b.cfg, NULL, &(struct cfg_error){ "" }) < 0)
		abort();
	free(b.cfg.data_dir);
	b.cfg.data_dir = strdup(dir);
	b.cfg.fsync = LOG_FSYNC_NEVER;  /* no disk flushes: speed, not durability, here */
	snprintf(b.adv_host, sizeof(b.adv_host), "127.0.0.1");
	b.adv_port = 9092;
	struct log_config lc;
	broker_log_config(&b, &lc);
	if (topics_open(&b.topics, dir, &lc) < 0 || groups_open(&b) < 0)
		abort();
	if (!topics_find(&b.topics, "fuzz", 4))
		seed_topic();
}

static void broker_down(void)
{
	groups_close(&b);
	topics_close(&b.topics);
	log_buf_free(&b.fetch_buf);
	broker_config_free(&b.cfg);
}

/* libFuzzer ends with exit(): the partition logs and the directory go. */
static void cleanup(void)
{
	broker_down();
	rm_rf(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	logging_set_level(LOG_LEVEL_ERROR);
	snprintf(dir, sizeof(dir), "/tmp/fuzz_kafka_request.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	broker_up();
	atexit(cleanup);
	return 0;
}

static void check_response(const struct kwriter *out)
{
	if (out->len < 8)
		abort();
	uint32_t n = (uint32_t)out->buf[0] << 24 | (uint32_t)out->buf[1] << 16 | (uint32_t)out->buf[2] << 8 | out->buf[3];
	if (n != out->len - 4)
		abort();
}

/* Runs one frame the way the server loop does: parked long polls run again
 * with final=1; durable waits are asked once (fsync=never: done at once). */
static void run_frame(const uint8_t *data, size_t len)
{
	uint8_t *req = malloc(len ? len : 1);
	if (!req)
		abort();
	memcpy(req, data, len);
	struct kwriter out;
	struct req_wait wait;
	kw_init(&out);
	enum req_result r = broker_handle(&b, req, len, 0, clock_ms, "fuzz", &out, &wait);
	if (r == REQ_WAIT && wait.kind == WAIT_FETCH) {
		req_wait_free(&wait);
		clock_ms += 100;
		r = broker_handle(&b, req, len, 1, clock_ms, "fuzz", &out, &wait);
		if (r == REQ_WAIT)
			abort();  /* final=1 never parks again */
	}
	if (r == REQ_WAIT && wait.kind == WAIT_DURABLE && !broker_wait_durable_done(&b, &wait))
		abort();
	if (r == REQ_RESPOND || r == REQ_WAIT)
		check_response(&out);
	req_wait_free(&wait);
	kw_free(&out);
	free(req);
	clock_ms += 10;
	groups_tick(&b, clock_ms);
}

/* Deletes every topic but the seeded one (what the input created). */
static void drop_new_topics(void)
{
	for (size_t i = b.topics.n; i-- > 0;) {
		const char *name = b.topics.v[i]->name;
		if (strcmp(name, "fuzz") != 0)
			topics_delete(&b.topics, name, strlen(name));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos = 0;
	for (int f = 0; f < MAX_FRAMES && pos < size; f++) {
		size_t left = size - pos, n = left;
		if (left >= 4) {
			uint32_t k = (uint32_t)data[pos] << 24 | (uint32_t)data[pos + 1] << 16 |
				     (uint32_t)data[pos + 2] << 8 | data[pos + 3];
			if (k <= left - 4) {
				pos += 4;
				n = k;
			}
		}
		run_frame(data + pos, n);
		pos += n;
	}
	drop_new_topics();
	if (++runs % RESET_EVERY == 0) {
		broker_down();
		rm_rf(dir);
		broker_up();
	}
	return 0;
}
