/* The broker's configuration: one table of keys, from which binding,
 * validation (file:line:column errors), `--check` output and
 * docs/broker.md's table all come. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "common/logging.h"

static const char *const fsync_choices[] = { "interval", "always", "never", NULL };
static const char *const level_choices[] = { "error", "warn", "info", "debug", NULL };

#define K(field) offsetof(struct broker_config, field)
const struct cfg_key broker_config_keys[] = {
	{ "listen", CFG_T_HOSTPORT, K(listen), "127.0.0.1:9092", 0, NULL, 0, 0, NULL,
	  "address the Kafka listener binds; 0.0.0.0:9092 for every interface" },
	{ "advertised_host", CFG_T_STRING, K(advertised_host), "", 0, NULL, 0, 0, NULL,
	  "host clients are told to connect to (Metadata); empty: the listen host, or the hostname for 0.0.0.0" },
	{ "advertised_port", CFG_T_INT, K(advertised_port), "0", 0, NULL, 0, 65535, NULL,
	  "port clients are told to connect to; 0: the listen port" },
	{ "data_dir", CFG_T_STRING, K(data_dir), "/var/lib/logship-broker", 0, NULL, 0, 0, NULL,
	  "where partitions live, one directory <topic>-<partition> each" },
	{ "num_partitions", CFG_T_INT, K(num_partitions), "1", 0, NULL, 1, 10000, NULL,
	  "partitions of an auto-created topic" },
	{ "auto_create_topics", CFG_T_BOOL, K(auto_create_topics), "true", 0, NULL, 0, 0, NULL,
	  "create a topic when a client first names it (Metadata, Produce)" },
	{ "retention_hours", CFG_T_INT, K(retention_hours), "168", 0, NULL, 0, 1000000, NULL,
	  "delete whole segments whose newest record is older; 0: no age limit" },
	{ "retention_bytes", CFG_T_SIZE, K(retention_bytes), "0", 0, NULL, 0, 0, NULL,
	  "per partition: delete oldest segments beyond this size; 0: no size limit" },
	{ "retention_check_interval", CFG_T_DURATION, K(retention_check_interval_ms), "5m", 0, NULL, 100, 86400000, NULL,
	  "how often retention runs" },
	{ "segment_bytes", CFG_T_SIZE, K(segment_bytes), "128MiB", 0, NULL, 4096, (int64_t)1 << 40, NULL,
	  "segment roll size (the unit retention deletes)" },
	{ "fsync", CFG_T_ENUM, K(fsync), "interval", 0, fsync_choices, 0, 0, NULL,
	  "when appends reach the disk: interval (group commit every fsync_interval), always (before acks=1 answers too), never (the OS decides)" },
	{ "fsync_interval", CFG_T_DURATION, K(fsync_interval_ms), "1s", 0, NULL, 1, 3600000, NULL,
	  "the interval policy's period; acks=-1 never waits for it (it asks for a sync at once)" },
	{ "max_request_bytes", CFG_T_SIZE, K(max_request_bytes), "100MiB", 0, NULL, 1024, (int64_t)1 << 30, NULL,
	  "largest request accepted; a bigger size prefix closes the connection" },
	{ "max_connections", CFG_T_INT, K(max_connections), "1000", 0, NULL, 1, 1000000, NULL,
	  "connections beyond this are refused" },
	{ "log_level", CFG_T_ENUM, K(log_level), "info", 0, level_choices, 0, 0, NULL,
	  "error, warn, info or debug (stderr)" },
	{ NULL, 0, 0, NULL, 0, NULL, 0, 0, NULL, NULL },
};
#undef K

int broker_config_bind(struct broker_config *c, const struct cfg_node *root, struct cfg_error *err)
{
	memset(c, 0, sizeof(*c));
	return cfg_bind(root, broker_config_keys, c, NULL, err);
}

void broker_config_free(struct broker_config *c)
{
	cfg_unbind(broker_config_keys, c);
	memset(c, 0, sizeof(*c));
}

void broker_log_config(const struct broker *b, struct log_config *lc)
{
	log_config_defaults(lc);
	lc->segment_bytes = b->cfg.segment_bytes;
	lc->fsync = (enum log_fsync)b->cfg.fsync;
	lc->fsync_interval_ms = (uint32_t)b->cfg.fsync_interval_ms;
	lc->report = logging_report;
	lc->report_arg = (void *)"broker";
}
