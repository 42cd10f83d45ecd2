/* logshipctl topics: list, describe (partitions, start/end offsets, leader),
 * create and delete, through the Kafka Metadata, ListOffsets, CreateTopics and
 * DeleteTopics APIs. */
#include "cli/ctl.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char topics_usage[] =
	"usage: logshipctl topics list\n"
	"       logshipctl topics describe TOPIC...\n"
	"       logshipctl topics create TOPIC [--partitions N] [--config KEY=VALUE]...\n"
	"       logshipctl topics delete TOPIC...\n";

static int topics_list(struct ctl *c, rd_kafka_t *rk)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, c->timeout_ms);
	if (e) {
		ctl_err("metadata from %s: %s", c->bootstrap, rd_kafka_err2str(e));
		return CTL_EXIT_FAIL;
	}
	if (c->json)
		fputs("[", stdout);
	else
		printf("%-40s %s\n", "TOPIC", "PARTITIONS");
	for (int i = 0; i < md->topic_cnt; i++) {
		const struct rd_kafka_metadata_topic *t = &md->topics[i];
		if (c->json) {
			printf("%s{\"topic\":", i ? "," : "");
			ctl_json_str(stdout, t->topic, strlen(t->topic));
			printf(",\"partitions\":%d}", t->partition_cnt);
		} else {
			printf("%-40s %d\n", t->topic, t->partition_cnt);
		}
	}
	if (c->json)
		fputs("]\n", stdout);
	rd_kafka_metadata_destroy(md);
	return 0;
}

static void json_i64_or_null(int64_t v)
{
	if (v >= 0)
		printf("%lld", (long long)v);
	else
		fputs("null", stdout);
}

static int topics_describe(struct ctl *c, rd_kafka_t *rk, int n, char **names)
{
	int rc = 0, shown = 0;
	if (c->json)
		fputs("[", stdout);
	for (int k = 0; k < n; k++) {
		const struct rd_kafka_metadata *md = ctl_topic_metadata(c, rk, names[k]);
		rd_kafka_resp_err_t e;
		if (!md) {
			rc = CTL_EXIT_FAIL;
			continue;
		}
		const struct rd_kafka_metadata_topic *t = &md->topics[0];
		int64_t *sizes = calloc((size_t)t->partition_cnt + 1, sizeof(*sizes));
		const char *why = NULL;
		if (!sizes) {
			ctl_err("out of memory");
			rd_kafka_metadata_destroy(md);
			rc = CTL_EXIT_FAIL;
			continue;
		}
		ctl_partition_sizes(c, md, t, sizes, &why);
		int64_t total = 0;
		for (int p = 0; p < t->partition_cnt; p++)
			total = total < 0 || sizes[p] < 0 ? -1 : total + sizes[p];
		if (c->json) {
			printf("%s{\"topic\":", shown++ ? "," : "");
			ctl_json_str(stdout, t->topic, strlen(t->topic));
			fputs(",\"size_bytes\":", stdout);
			json_i64_or_null(total);
			if (why) {
				fputs(",\"size_error\":", stdout);
				ctl_json_str(stdout, why, strlen(why));
			}
			fputs(",\"partitions\":[", stdout);
		} else {
			printf("topic %s: %d partition(s)", t->topic, t->partition_cnt);
			if (total >= 0)
				printf(", %lld bytes on disk\n", (long long)total);
			else
				printf(", size on disk unknown (%s)\n", why ? why : "not reported");
			printf("  %9s %6s %20s %20s %12s %14s\n", "PARTITION", "LEADER", "START", "END", "MESSAGES",
			       "SIZE");
		}
		for (int p = 0; p < t->partition_cnt; p++) {
			int64_t lo = -1, hi = -1;
			int32_t id = t->partitions[p].id;
			e = rd_kafka_query_watermark_offsets(rk, t->topic, id, &lo, &hi, c->timeout_ms);
			if (e) {
				ctl_err("offsets of %s/%d: %s", t->topic, id, rd_kafka_err2str(e));
				rc = CTL_EXIT_FAIL;
				lo = hi = -1;
			}
			if (c->json) {
				printf("%s{\"partition\":%d,\"leader\":%d,\"start_offset\":", p ? "," : "", id,
				       t->partitions[p].leader);
				json_i64_or_null(lo);
				fputs(",\"end_offset\":", stdout);
				json_i64_or_null(hi);
				fputs(",\"messages\":", stdout);
				json_i64_or_null(lo >= 0 && hi >= 0 ? hi - lo : -1);
				fputs(",\"size_bytes\":", stdout);
				json_i64_or_null(sizes[p]);
				fputs("}", stdout);
			} else {
				char sz[24] = "-";
				if (sizes[p] >= 0)
					snprintf(sz, sizeof(sz), "%lld", (long long)sizes[p]);
				printf("  %9d %6d %20lld %20lld %12lld %14s\n", id, t->partitions[p].leader,
				       (long long)lo, (long long)hi, (long long)(hi - lo), sz);
			}
		}
		if (c->json)
			fputs("]}", stdout);
		free(sizes);
		rd_kafka_metadata_destroy(md);
	}
	if (c->json)
		fputs("]\n", stdout);
	return rc;
}

/* Runs one admin request built by the caller and checks each topic's result. */
static int topics_admin_result(struct ctl *c, rd_kafka_event_t *ev, int create)
{
	size_t n = 0;
	const rd_kafka_topic_result_t **res = create
		? rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n)
		: rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		const char *name = rd_kafka_topic_result_name(res[i]);
		rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
		if (e) {
			const char *msg = rd_kafka_topic_result_error_string(res[i]);
			ctl_err("%s topic '%s': %s", create ? "create" : "delete", name,
				msg ? msg : rd_kafka_err2str(e));
			rc = CTL_EXIT_FAIL;
		} else if (!c->json) {
			printf("%s topic %s\n", create ? "created" : "deleted", name);
		}
	}
	if (c->json)
		printf("{\"ok\":%s}\n", rc ? "false" : "true");
	return rc;
}

static int topics_create(struct ctl *c, rd_kafka_t *rk, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "partitions", required_argument, NULL, 'p' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int partitions = 1, o;
	const char *configs[64];
	int nconfigs = 0;
	while ((o = getopt_long(argc, argv, "p:c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'p': {
			char *end;
			long v = strtol(optarg, &end, 10);
			partitions = end != optarg && !*end && v >= 1 && v <= 10000 ? (int)v : 0;
			if (partitions < 1 || partitions > 10000) {
				ctl_err("--partitions %s: expected 1..10000", optarg);
				return CTL_EXIT_USAGE;
			}
			break;
		}
		case 'c':
			if (nconfigs == 64 || !strchr(optarg, '=')) {
				ctl_err("--config %s: expected KEY=VALUE (at most 64)", optarg);
				return CTL_EXIT_USAGE;
			}
			configs[nconfigs++] = optarg;
			break;
		case 'h': fputs(topics_usage, stdout); return 0;
		default: fputs(topics_usage, stderr); return CTL_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fputs(topics_usage, stderr);
		return CTL_EXIT_USAGE;
	}
	char err[512];
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(argv[optind], partitions, 1, err, sizeof(err));
	if (!nt) {
		ctl_err("topic '%s': %s", argv[optind], err);
		return CTL_EXIT_USAGE;
	}
	for (int i = 0; i < nconfigs; i++) {
		char key[256];
		size_t kl = (size_t)(strchr(configs[i], '=') - configs[i]);
		if (kl >= sizeof(key))
			kl = sizeof(key) - 1;
		memcpy(key, configs[i], kl);
		key[kl] = 0;
		rd_kafka_NewTopic_set_config(nt, key, configs[i] + kl + 1);
	}
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_AdminOptions_set_request_timeout(ao, c->timeout_ms, err, sizeof(err));
	rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
	rd_kafka_event_t *ev = ctl_admin_wait(c, q, RD_KAFKA_EVENT_CREATETOPICS_RESULT);
	int rc = ev ? topics_admin_result(c, ev, 1) : CTL_EXIT_FAIL;
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(ao);
	rd_kafka_NewTopic_destroy(nt);
	rd_kafka_queue_destroy(q);
	return rc;
}

static int topics_delete(struct ctl *c, rd_kafka_t *rk, int n, char **names)
{
	char err[256];
	rd_kafka_DeleteTopic_t **dt = calloc((size_t)n, sizeof(*dt));
	if (!dt)
		return CTL_EXIT_FAIL;
	for (int i = 0; i < n; i++)
		dt[i] = rd_kafka_DeleteTopic_new(names[i]);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
	rd_kafka_AdminOptions_set_request_timeout(ao, c->timeout_ms, err, sizeof(err));
	rd_kafka_DeleteTopics(rk, dt, (size_t)n, ao, q);
	rd_kafka_event_t *ev = ctl_admin_wait(c, q, RD_KAFKA_EVENT_DELETETOPICS_RESULT);
	int rc = ev ? topics_admin_result(c, ev, 0) : CTL_EXIT_FAIL;
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(ao);
	rd_kafka_DeleteTopic_destroy_array(dt, (size_t)n);
	free(dt);
	rd_kafka_queue_destroy(q);
	return rc;
}

int ctl_topics(struct ctl *c, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(topics_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CTL_EXIT_USAGE : 0;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "list") && strcmp(sub, "describe") && strcmp(sub, "create") && strcmp(sub, "delete")) {
		ctl_err("topics: unknown subcommand '%s'", sub);
		fputs(topics_usage, stderr);
		return CTL_EXIT_USAGE;
	}
	if ((!strcmp(sub, "describe") || !strcmp(sub, "delete")) && argc < 3) {
		fputs(topics_usage, stderr);
		return CTL_EXIT_USAGE;
	}
	rd_kafka_t *rk = ctl_client(c, RD_KAFKA_PRODUCER, ctl_conf(c));
	if (!rk)
		return CTL_EXIT_FAIL;
	int rc;
	if (!strcmp(sub, "list"))
		rc = topics_list(c, rk);
	else if (!strcmp(sub, "describe"))
		rc = topics_describe(c, rk, argc - 2, argv + 2);
	else if (!strcmp(sub, "create"))
		rc = topics_create(c, rk, argc - 1, argv + 1);
	else
		rc = topics_delete(c, rk, argc - 2, argv + 2);
	rd_kafka_destroy(rk);
	return rc;
}
