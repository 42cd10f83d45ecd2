/* logshipctl groups: list, describe (members, assignment, committed offset and
 * lag per partition) and reset-offsets (only while the group has no active
 * member, as Kafka's own kafka-consumer-groups tool insists). */
#include "cli/ctl.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char groups_usage[] =
	"usage: logshipctl groups list\n"
	"       logshipctl groups describe GROUP\n"
	"       logshipctl groups reset-offsets GROUP --topic TOPIC\n"
	"                  (--to-earliest | --to-latest | --to-datetime YYYY-MM-DDTHH:MM:SS[.mmm](Z|+HH:MM))\n"
	"reset-offsets refuses while GROUP has active members.\n";

static rd_kafka_AdminOptions_t *admin_opts(struct ctl *c, rd_kafka_t *rk, rd_kafka_admin_op_t op)
{
	char err[256];
	rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, op);
	rd_kafka_AdminOptions_set_request_timeout(ao, c->timeout_ms, err, sizeof(err));
	return ao;
}

static int groups_list(struct ctl *c, rd_kafka_t *rk)
{
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *ao = admin_opts(c, rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS);
	rd_kafka_ListConsumerGroups(rk, ao, q);
	rd_kafka_event_t *ev = ctl_admin_wait(c, q, RD_KAFKA_EVENT_LISTCONSUMERGROUPS_RESULT);
	int rc = CTL_EXIT_FAIL;
	if (ev) {
		const rd_kafka_ListConsumerGroups_result_t *r = rd_kafka_event_ListConsumerGroups_result(ev);
		size_t n = 0, nerr = 0;
		const rd_kafka_ConsumerGroupListing_t **gl = rd_kafka_ListConsumerGroups_result_valid(r, &n);
		const rd_kafka_error_t **errs = rd_kafka_ListConsumerGroups_result_errors(r, &nerr);
		for (size_t i = 0; i < nerr; i++)
			ctl_err("list groups: %s", rd_kafka_error_string(errs[i]));
		if (c->json)
			fputs("[", stdout);
		else
			printf("%-40s %s\n", "GROUP", "STATE");
		for (size_t i = 0; i < n; i++) {
			const char *id = rd_kafka_ConsumerGroupListing_group_id(gl[i]);
			const char *st = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupListing_state(gl[i]));
			if (c->json) {
				printf("%s{\"group\":", i ? "," : "");
				ctl_json_str(stdout, id, strlen(id));
				printf(",\"state\":\"%s\"}", st);
			} else {
				printf("%-40s %s\n", id, st);
			}
		}
		if (c->json)
			fputs("]\n", stdout);
		rc = nerr ? CTL_EXIT_FAIL : 0;
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_AdminOptions_destroy(ao);
	rd_kafka_queue_destroy(q);
	return rc;
}

/* The group's committed offsets (all partitions it has any for). */
static rd_kafka_topic_partition_list_t *committed_offsets(struct ctl *c, rd_kafka_t *rk, const char *group)
{
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *ao = admin_opts(c, rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
	rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, NULL);
	rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, ao, q);
	rd_kafka_event_t *ev = ctl_admin_wait(c, q, RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT);
	rd_kafka_topic_partition_list_t *out = NULL;
	if (ev) {
		size_t n = 0;
		const rd_kafka_group_result_t **gr = rd_kafka_ListConsumerGroupOffsets_result_groups(
			rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
		if (n == 1 && rd_kafka_group_result_error(gr[0]))
			ctl_err("offsets of group '%s': %s", group,
				rd_kafka_error_string(rd_kafka_group_result_error(gr[0])));
		else if (n == 1 && rd_kafka_group_result_partitions(gr[0]))
			out = rd_kafka_topic_partition_list_copy(rd_kafka_group_result_partitions(gr[0]));
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_ListConsumerGroupOffsets_destroy(req);
	rd_kafka_AdminOptions_destroy(ao);
	rd_kafka_queue_destroy(q);
	return out;
}

static int groups_describe(struct ctl *c, rd_kafka_t *rk, const char *group)
{
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *ao = admin_opts(c, rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
	rd_kafka_DescribeConsumerGroups(rk, &group, 1, ao, q);
	rd_kafka_event_t *ev = ctl_admin_wait(c, q, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT);
	rd_kafka_AdminOptions_destroy(ao);
	rd_kafka_queue_destroy(q);
	if (!ev)
		return CTL_EXIT_FAIL;
	size_t n = 0;
	const rd_kafka_ConsumerGroupDescription_t **gd = rd_kafka_DescribeConsumerGroups_result_groups(
		rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
	if (n != 1 || rd_kafka_ConsumerGroupDescription_error(gd[0])) {
		ctl_err("describe group '%s': %s", group,
			n == 1 ? rd_kafka_error_string(rd_kafka_ConsumerGroupDescription_error(gd[0])) : "no answer");
		rd_kafka_event_destroy(ev);
		return CTL_EXIT_FAIL;
	}
	const char *state = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(gd[0]));
	size_t members = rd_kafka_ConsumerGroupDescription_member_count(gd[0]);
	if (c->json) {
		fputs("{\"group\":", stdout);
		ctl_json_str(stdout, group, strlen(group));
		printf(",\"state\":\"%s\",\"members\":[", state);
	} else {
		printf("group %s: state %s, %zu member(s)\n", group, state, members);
	}
	for (size_t i = 0; i < members; i++) {
		const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(gd[0], i);
		const char *id = rd_kafka_MemberDescription_consumer_id(m);
		const char *client = rd_kafka_MemberDescription_client_id(m);
		const char *host = rd_kafka_MemberDescription_host(m);
		const rd_kafka_topic_partition_list_t *a =
			rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(m));
		if (c->json) {
			printf("%s{\"member_id\":", i ? "," : "");
			ctl_json_str(stdout, id, strlen(id));
			fputs(",\"client_id\":", stdout);
			ctl_json_str(stdout, client, strlen(client));
			fputs(",\"host\":", stdout);
			ctl_json_str(stdout, host, strlen(host));
			fputs(",\"assignment\":[", stdout);
			for (int k = 0; a && k < a->cnt; k++) {
				printf("%s{\"topic\":", k ? "," : "");
				ctl_json_str(stdout, a->elems[k].topic, strlen(a->elems[k].topic));
				printf(",\"partition\":%d}", a->elems[k].partition);
			}
			fputs("]}", stdout);
		} else {
			printf("  member %s (client %s, host %s):", id, client, host);
			for (int k = 0; a && k < a->cnt; k++)
				printf(" %s/%d", a->elems[k].topic, a->elems[k].partition);
			printf("\n");
		}
	}
	rd_kafka_event_destroy(ev);
	rd_kafka_topic_partition_list_t *off = committed_offsets(c, rk, group);
	if (c->json)
		fputs("],\"offsets\":[", stdout);
	else
		printf("  %-30s %-9s %14s %14s %10s\n", "TOPIC", "PARTITION", "COMMITTED", "END", "LAG");
	for (int i = 0; off && i < off->cnt; i++) {
		rd_kafka_topic_partition_t *p = &off->elems[i];
		int64_t lo = -1, hi = -1;
		rd_kafka_query_watermark_offsets(rk, p->topic, p->partition, &lo, &hi, c->timeout_ms);
		long long lag = p->offset >= 0 && hi >= 0 ? (long long)(hi - p->offset) : -1;
		if (c->json) {
			printf("%s{\"topic\":", i ? "," : "");
			ctl_json_str(stdout, p->topic, strlen(p->topic));
			printf(",\"partition\":%d,\"committed\":%lld,\"end_offset\":%lld,\"lag\":%lld}",
			       p->partition, (long long)p->offset, (long long)hi, lag);
		} else {
			printf("  %-30s %-9d %14lld %14lld %10lld\n", p->topic, p->partition,
			       (long long)p->offset, (long long)hi, lag);
		}
	}
	if (c->json)
		fputs("]}\n", stdout);
	if (off)
		rd_kafka_topic_partition_list_destroy(off);
	return off ? 0 : CTL_EXIT_FAIL;
}

/* ISO 8601 (YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)) to ms since the epoch. */
static int parse_iso8601(const char *s, int64_t *ms)
{
	struct tm tm = { 0 };
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	int64_t frac = 0;
	if (*p == '.') {
		int digits = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 3)
				frac = frac * 10 + (*p - '0');
		for (; digits < 3; digits++)
			frac *= 10;
	}
	int64_t off = 0;
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh, mm;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			return -1;
		off = (hh * 3600 + mm * 60) * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	*ms = ((int64_t)timegm(&tm) - off) * 1000 + frac;
	return 0;
}

static int groups_reset(struct ctl *c, rd_kafka_t *rk, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "topic", required_argument, NULL, 't' },
		{ "to-earliest", no_argument, NULL, 'e' },
		{ "to-latest", no_argument, NULL, 'l' },
		{ "to-datetime", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *topic = NULL, *when = NULL;
	int mode = 0, o;
	while ((o = getopt_long(argc, argv, "t:eld:h", opts, NULL)) != -1) {
		switch (o) {
		case 't': topic = optarg; break;
		case 'e': case 'l': case 'd':
			if (mode) {
				ctl_err("reset-offsets: give one of --to-earliest, --to-latest, --to-datetime");
				return CTL_EXIT_USAGE;
			}
			mode = o;
			when = optarg;
			break;
		case 'h': fputs(groups_usage, stdout); return 0;
		default: fputs(groups_usage, stderr); return CTL_EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || !topic || !mode) {
		fputs(groups_usage, stderr);
		return CTL_EXIT_USAGE;
	}
	const char *group = argv[optind];
	int64_t ts = 0;
	if (mode == 'd' && parse_iso8601(when, &ts) < 0) {
		ctl_err("--to-datetime %s: expected YYYY-MM-DDTHH:MM:SS[.mmm] and Z or +HH:MM", when);
		return CTL_EXIT_USAGE;
	}
	/* Refuse while members are active: they would overwrite the reset. */
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *ao = admin_opts(c, rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
	rd_kafka_DescribeConsumerGroups(rk, &group, 1, ao, q);
	rd_kafka_event_t *ev = ctl_admin_wait(c, q, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT);
	rd_kafka_AdminOptions_destroy(ao);
	if (!ev) {
		rd_kafka_queue_destroy(q);
		return CTL_EXIT_FAIL;
	}
	size_t n = 0;
	const rd_kafka_ConsumerGroupDescription_t **gd = rd_kafka_DescribeConsumerGroups_result_groups(
		rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
	size_t members = n == 1 ? rd_kafka_ConsumerGroupDescription_member_count(gd[0]) : 0;
	rd_kafka_event_destroy(ev);
	if (members) {
		ctl_err("group '%s' has %zu active member(s): stop its consumers before resetting offsets",
			group, members);
		rd_kafka_queue_destroy(q);
		return CTL_EXIT_FAIL;
	}
	/* Target offsets per partition of the topic. */
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, c->timeout_ms);
	rd_kafka_topic_destroy(rkt);
	if (e || md->topic_cnt != 1 || md->topics[0].err) {
		ctl_err("topic '%s': %s", topic,
			rd_kafka_err2str(e ? e : md->topic_cnt ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
		if (!e)
			rd_kafka_metadata_destroy(md);
		rd_kafka_queue_destroy(q);
		return CTL_EXIT_FAIL;
	}
	rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
	for (int i = 0; i < md->topics[0].partition_cnt; i++)
		rd_kafka_topic_partition_list_add(tl, topic, md->topics[0].partitions[i].id)->offset = ts;
	rd_kafka_metadata_destroy(md);
	int rc = 0;
	if (mode == 'd') {
		e = rd_kafka_offsets_for_times(rk, tl, c->timeout_ms);
		if (e) {
			ctl_err("offsets for %s: %s", when, rd_kafka_err2str(e));
			rc = CTL_EXIT_FAIL;
		}
	}
	for (int i = 0; !rc && i < tl->cnt; i++) {
		int64_t lo, hi;
		rd_kafka_topic_partition_t *p = &tl->elems[i];
		e = rd_kafka_query_watermark_offsets(rk, topic, p->partition, &lo, &hi, c->timeout_ms);
		if (e) {
			ctl_err("offsets of %s/%d: %s", topic, p->partition, rd_kafka_err2str(e));
			rc = CTL_EXIT_FAIL;
		} else if (mode == 'e') {
			p->offset = lo;
		} else if (mode == 'l' || p->offset < 0) {
			p->offset = hi;  /* nothing at or after the time: the end */
		}
	}
	if (!rc) {
		ao = admin_opts(c, rk, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS);
		rd_kafka_AlterConsumerGroupOffsets_t *req = rd_kafka_AlterConsumerGroupOffsets_new(group, tl);
		rd_kafka_AlterConsumerGroupOffsets(rk, &req, 1, ao, q);
		ev = ctl_admin_wait(c, q, RD_KAFKA_EVENT_ALTERCONSUMERGROUPOFFSETS_RESULT);
		rc = CTL_EXIT_FAIL;
		if (ev) {
			const rd_kafka_group_result_t **gr = rd_kafka_AlterConsumerGroupOffsets_result_groups(
				rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &n);
			const rd_kafka_topic_partition_list_t *res = n == 1 ? rd_kafka_group_result_partitions(gr[0]) : NULL;
			if (n == 1 && rd_kafka_group_result_error(gr[0])) {
				ctl_err("reset '%s': %s", group, rd_kafka_error_string(rd_kafka_group_result_error(gr[0])));
			} else {
				rc = 0;
				for (int i = 0; res && i < res->cnt; i++) {
					if (res->elems[i].err) {
						ctl_err("reset %s/%d: %s", topic, res->elems[i].partition,
							rd_kafka_err2str(res->elems[i].err));
						rc = CTL_EXIT_FAIL;
					} else if (!c->json) {
						printf("group %s: %s/%d -> %lld\n", group, topic, res->elems[i].partition,
						       (long long)res->elems[i].offset);
					}
				}
				if (c->json)
					printf("{\"ok\":%s}\n", rc ? "false" : "true");
			}
			rd_kafka_event_destroy(ev);
		}
		rd_kafka_AlterConsumerGroupOffsets_destroy(req);
		rd_kafka_AdminOptions_destroy(ao);
	}
	rd_kafka_topic_partition_list_destroy(tl);
	rd_kafka_queue_destroy(q);
	return rc;
}

int ctl_groups(struct ctl *c, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(groups_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CTL_EXIT_USAGE : 0;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "list") && strcmp(sub, "describe") && strcmp(sub, "reset-offsets")) {
		ctl_err("groups: unknown subcommand '%s'", sub);
		fputs(groups_usage, stderr);
		return CTL_EXIT_USAGE;
	}
	if (!strcmp(sub, "describe") && argc != 3) {
		fputs(groups_usage, stderr);
		return CTL_EXIT_USAGE;
	}
	rd_kafka_t *rk = ctl_client(c, RD_KAFKA_PRODUCER, ctl_conf(c));
	if (!rk)
		return CTL_EXIT_FAIL;
	int rc;
	if (!strcmp(sub, "list"))
		rc = groups_list(c, rk);
	else if (!strcmp(sub, "describe"))
		rc = groups_describe(c, rk, argv[2]);
	else
		rc = groups_reset(c, rk, argc - 1, argv + 1);
	rd_kafka_destroy(rk);
	return rc;
}
