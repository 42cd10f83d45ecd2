/* The broker's topics: each partition one buffer/ log at
 * data_dir/<topic>-<partition>/. Topic names are checked as Kafka checks them
 * ([a-zA-Z0-9._-], 1..249 chars, not "." or "..") so no name can reach outside
 * data_dir. Used from the broker's single event-loop thread only. */
#ifndef LOGSHIP_BROKER_TOPICS_H
#define LOGSHIP_BROKER_TOPICS_H
#include <stddef.h>
#include <stdint.h>

#include "buffer/log.h"

#define TOPIC_NAME_MAX 249
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define TOPIC_PARTITIONS_MAX 10000
#else
#define TOPIC_PARTITIONS_MAX 16   /* fuzzing: a partition is a log and a thread */
#endif

struct topic {
	char name[TOPIC_NAME_MAX + 1];
	int32_t nparts;
	struct log **parts;
};

struct topics {
	char *data_dir;
	struct log_config log_cfg;   /* for every partition */
	struct topic **v;
	size_t n, cap;
};

/* Opens every partition found under data_dir (creating the directory). */
int topics_open(struct topics *t, const char *data_dir, const struct log_config *cfg);
void topics_close(struct topics *t);
int topics_name_ok(const char *name, size_t len);
struct topic *topics_find(struct topics *t, const char *name, size_t len);
/* 0 and *out, -EEXIST, -EINVAL (bad name or count), or an I/O error. */
int topics_create(struct topics *t, const char *name, size_t len, int32_t nparts, struct topic **out);
int topics_delete(struct topics *t, const char *name, size_t len);
/* Applies retention to every partition; returns segments deleted. */
int topics_retain(struct topics *t, int64_t now_ms, int64_t max_age_ms, uint64_t max_bytes);
void topics_sync_all(struct topics *t);

#endif
