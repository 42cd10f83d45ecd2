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

/* States of groups a broker listed as Unknown: ListGroups before v4 (the
 * versions logship-broker and Kafka < 2.6 speak) carries no state, so ask
 * DescribeGroups, which does. states[i] stays NULL if that fails too. */
static void describe_states(struct ctl *c, rd_kafka_t *rk, const char **ids, size_t n, const char **states)
{
	if (!n)
		return;
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *ao = admin_opts(c, rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
	rd_kafka_DescribeConsumerGroups(rk, ids, n, ao, q);
	rd_kafka_event_t *ev = ctl_admin_wait(c, q, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT);
	if (ev) {
		size_t nd = 0;
		const rd_kafka_ConsumerGroupDescription_t **gd = rd_kafka_DescribeConsumerGroups_result_groups(
			rd_kafka_event_DescribeConsumerGroups_result(ev), &nd);
		for (size_t i = 0; i < nd; i++) {
			if (rd_kafka_ConsumerGroupDescription_error(gd[i]))
				continue;
			const char *id = rd_kafka_ConsumerGroupDescription_group_id(gd[i]);
			for (size_t k = 0; k < n; k++)
				if (!strcmp(ids[k], id))
					states[k] = rd_kafka_consumer_group_state_name(
						rd_kafka_ConsumerGroupDescription_state(gd[i]));
		}
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_AdminOptions_destroy(ao);
	rd_kafka_queue_destroy(q);
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
		size_t n = 0, nerr = 0, nunk = 0;
		const rd_kafka_ConsumerGroupListing_t **gl = rd_kafka_ListConsumerGroups_result_valid(r, &n);
		const rd_kafka_error_t **errs = rd_kafka_ListConsumerGroups_result_errors(r, &nerr);
		for (size_t i = 0; i < nerr; i++)
			ctl_err("list groups at %s: %s", c->bootstrap, rd_kafka_error_string(errs[i]));
		const char **ids = calloc(n + 1, sizeof(*ids)), **states = calloc(n + 1, sizeof(*states));
		const char **unk = calloc(n + 1, sizeof(*unk)), **unk_states = calloc(n + 1, sizeof(*unk_states));
		if (!ids || !states || !unk || !unk_states) {
			ctl_err("out of memory");
			n = 0;
			nerr = 1;
		}
		for (size_t i = 0; i < n; i++) {
			ids[i] = rd_kafka_ConsumerGroupListing_group_id(gl[i]);
			rd_kafka_consumer_group_state_t st = rd_kafka_ConsumerGroupListing_state(gl[i]);
			if (st == RD_KAFKA_CONSUMER_GROUP_STATE_UNKNOWN)
				unk[nunk++] = ids[i];
			else
				states[i] = rd_kafka_consumer_group_state_name(st);
		}
		describe_states(c, rk, unk, nunk, unk_states);
		for (size_t i = 0, k = 0; i < n && k < nunk; i++)
			if (!states[i] && unk[k] == ids[i])
				states[i] = unk_states[k++];
		if (nerr && !n)
			goto done;  /* nothing to show: the errors said why */
		if (c->json)
			fputs("[", stdout);
		else
			printf("%-40s %s\n", "GROUP", "STATE");
		for (size_t i = 0; i < n; i++) {
			const char *st = states[i] ? states[i] : "Unknown";
			if (c->json) {
				printf("%s{\"group\":", i ? "," : "");
				ctl_json_str(stdout, ids[i], strlen(ids[i]));
				printf(",\"state\":\"%s\"}", st);
			} else {
				printf("%-40s %s\n", ids[i], st);
			}
		}
		if (c->json)
			fputs("]\n", stdout);
done:
		rc = nerr ? CTL_EXIT_FAIL : 0;
		free(ids);
		free(states);
		free(unk);
		free(unk_states);
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_AdminOptions_destroy(ao);
	rd_kafka_queue_destroy(q);
	return rc;
}

/* The group's committed offsets, for every partition it has one for.
 * Asked partition by partition (every partition of every topic in the
 * metadata), not with a null list meaning "all": librdkafka 2.0.x encodes a
 * null list as an empty one, which Kafka (and logship-broker) answer with
 * nothing. */
static rd_kafka_topic_partition_list_t *committed_offsets(struct ctl *c, rd_kafka_t *rk, const char *group)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, c->timeout_ms);
	if (e) {
		ctl_err("metadata from %s: %s", c->bootstrap, rd_kafka_err2str(e));
		return NULL;
	}
	rd_kafka_topic_partition_list_t *want = rd_kafka_topic_partition_list_new(64);
	for (int i = 0; i < md->topic_cnt; i++) {
		if (md->topics[i].err || !strncmp(md->topics[i].topic, "__", 2))
			continue;  /* Kafka's internal topics hold no consumer positions */
		for (int p = 0; p < md->topics[i].partition_cnt; p++)
			rd_kafka_topic_partition_list_add(want, md->topics[i].topic, md->topics[i].partitions[p].id);
	}
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_partition_list_t *out = rd_kafka_topic_partition_list_new(want->cnt + 1);
	if (want->cnt == 0) {
		rd_kafka_topic_partition_list_destroy(want);
		return out;
	}
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *ao = admin_opts(c, rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
	rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, want);
	rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, ao, q);
	rd_kafka_event_t *ev = ctl_admin_wait(c, q, RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT);
	int ok = 0;
	if (ev) {
		size_t n = 0;
		const rd_kafka_group_result_t **gr = rd_kafka_ListConsumerGroupOffsets_result_groups(
			rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
		const rd_kafka_topic_partition_list_t *res = n == 1 ? rd_kafka_group_result_partitions(gr[0]) : NULL;
		if (n == 1 && rd_kafka_group_result_error(gr[0])) {
			ctl_err("offsets of group '%s': %s", group,
				rd_kafka_error_string(rd_kafka_group_result_error(gr[0])));
		} else {
			ok = 1;
			for (int i = 0; res && i < res->cnt; i++)
				if (!res->elems[i].err && res->elems[i].offset >= 0)
					rd_kafka_topic_partition_list_add(out, res->elems[i].topic,
									  res->elems[i].partition)->offset =
						res->elems[i].offset;
		}
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_ListConsumerGroupOffsets_destroy(req);
	rd_kafka_topic_partition_list_destroy(want);
	rd_kafka_AdminOptions_destroy(ao);
	rd_kafka_queue_destroy(q);
	if (!ok) {
		rd_kafka_topic_partition_list_destroy(out);
		return NULL;
	}
	rd_kafka_topic_partition_list_sort(out, NULL, NULL);
	return out;
}

/* One row of `groups describe`: a partition the group holds or has an offset for. */
struct gd_row { const char *topic; int32_t partition; int64_t committed; const char *member, *client, *host; };

static int gd_row_cmp(const void *a, const void *b)
{
	const struct gd_row *x = a, *y = b;
	int c = strcmp(x->topic, y->topic);
	return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

static struct gd_row *gd_row_get(struct gd_row *rows, size_t *n, const char *topic, int32_t partition)
{
	for (size_t i = 0; i < *n; i++)
		if (rows[i].partition == partition && !strcmp(rows[i].topic, topic))
			return &rows[i];
	struct gd_row *r = &rows[(*n)++];
	memset(r, 0, sizeof(*r));
	r->topic = topic;
	r->partition = partition;
	r->committed = -1;
	return r;
}

static void json_str_or_null(const char *s)
{
	if (s)
		ctl_json_str(stdout, s, strlen(s));
	else
		fputs("null", stdout);
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
		ctl_err("describe group '%s' at %s: %s", group, c->bootstrap,
			n == 1 ? rd_kafka_error_string(rd_kafka_ConsumerGroupDescription_error(gd[0])) : "no answer");
		rd_kafka_event_destroy(ev);
		return CTL_EXIT_FAIL;
	}
	rd_kafka_topic_partition_list_t *off = committed_offsets(c, rk, group);
	if (!off) {
		rd_kafka_event_destroy(ev);
		return CTL_EXIT_FAIL;
	}
	rd_kafka_consumer_group_state_t st = rd_kafka_ConsumerGroupDescription_state(gd[0]);
	const char *state = rd_kafka_consumer_group_state_name(st);
	size_t members = rd_kafka_ConsumerGroupDescription_member_count(gd[0]);
	if (st == RD_KAFKA_CONSUMER_GROUP_STATE_DEAD && members == 0 && off->cnt == 0) {
		/* What Kafka answers for a group it does not know. */
		ctl_err("group '%s' does not exist (no members, no committed offsets)", group);
		rd_kafka_topic_partition_list_destroy(off);
		rd_kafka_event_destroy(ev);
		return CTL_EXIT_FAIL;
	}
	size_t cap = (size_t)off->cnt + 1, nrows = 0;
	for (size_t i = 0; i < members; i++) {
		const rd_kafka_topic_partition_list_t *a = rd_kafka_MemberAssignment_partitions(
			rd_kafka_MemberDescription_assignment(rd_kafka_ConsumerGroupDescription_member(gd[0], i)));
		cap += a ? (size_t)a->cnt : 0;
	}
	struct gd_row *rows = calloc(cap, sizeof(*rows));
	if (!rows) {
		ctl_err("out of memory");
		rd_kafka_topic_partition_list_destroy(off);
		rd_kafka_event_destroy(ev);
		return CTL_EXIT_FAIL;
	}
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
		for (int k = 0; a && k < a->cnt; k++) {
			struct gd_row *r = gd_row_get(rows, &nrows, a->elems[k].topic, a->elems[k].partition);
			r->member = id;
			r->client = client;
			r->host = host;
		}
		if (c->json) {
			printf("%s{\"member_id\":", i ? "," : "");
			json_str_or_null(id);
			fputs(",\"client_id\":", stdout);
			json_str_or_null(client);
			fputs(",\"host\":", stdout);
			json_str_or_null(host);
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
			printf("%s\n", a && a->cnt ? "" : " (no partitions)");
		}
	}
	for (int i = 0; i < off->cnt; i++)
		gd_row_get(rows, &nrows, off->elems[i].topic, off->elems[i].partition)->committed = off->elems[i].offset;
	qsort(rows, nrows, sizeof(*rows), gd_row_cmp);
	if (c->json)
		fputs("],\"offsets\":[", stdout);
	else
		printf("\n  %-30s %9s %14s %14s %10s  %s\n", "TOPIC", "PARTITION", "COMMITTED", "END", "LAG",
		       "MEMBER");
	int rc = 0;
	for (size_t i = 0; i < nrows; i++) {
		struct gd_row *r = &rows[i];
		int64_t lo = -1, hi = -1;
		rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, r->topic, r->partition, &lo, &hi,
									 c->timeout_ms);
		if (e) {
			ctl_err("end offset of %s/%d: %s", r->topic, r->partition, rd_kafka_err2str(e));
			rc = CTL_EXIT_FAIL;
			hi = -1;
		}
		long long lag = r->committed >= 0 && hi >= 0 ? (long long)(hi - r->committed) : -1;
		if (c->json) {
			printf("%s{\"topic\":", i ? "," : "");
			ctl_json_str(stdout, r->topic, strlen(r->topic));
			printf(",\"partition\":%d,\"committed\":", r->partition);
			if (r->committed >= 0)
				printf("%lld", (long long)r->committed);
			else
				fputs("null", stdout);
			fputs(",\"end_offset\":", stdout);
			if (hi >= 0)
				printf("%lld", (long long)hi);
			else
				fputs("null", stdout);
			fputs(",\"lag\":", stdout);
			if (lag >= 0)
				printf("%lld", lag);
			else
				fputs("null", stdout);
			fputs(",\"member_id\":", stdout);
			json_str_or_null(r->member);
			fputs("}", stdout);
		} else {
			char cs[24] = "-", hs[24] = "-", ls[24] = "-";
			if (r->committed >= 0)
				snprintf(cs, sizeof(cs), "%lld", (long long)r->committed);
			if (hi >= 0)
				snprintf(hs, sizeof(hs), "%lld", (long long)hi);
			if (lag >= 0)
				snprintf(ls, sizeof(ls), "%lld", lag);
			printf("  %-30s %9d %14s %14s %10s  %s\n", r->topic, r->partition, cs, hs, ls,
			       r->member ? r->member : "-");
		}
	}
	if (c->json)
		fputs("]}\n", stdout);
	free(rows);
	rd_kafka_topic_partition_list_destroy(off);
	rd_kafka_event_destroy(ev);
	return rc;
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
	if (n != 1 || rd_kafka_ConsumerGroupDescription_error(gd[0])) {
		ctl_err("describe group '%s' at %s: %s", group, c->bootstrap,
			n == 1 ? rd_kafka_error_string(rd_kafka_ConsumerGroupDescription_error(gd[0])) : "no answer");
		rd_kafka_event_destroy(ev);
		rd_kafka_queue_destroy(q);
		return CTL_EXIT_FAIL;
	}
	size_t members = rd_kafka_ConsumerGroupDescription_member_count(gd[0]);
	rd_kafka_event_destroy(ev);
	if (members) {
		ctl_err("group '%s' has %zu active member(s): stop its consumers before resetting offsets",
			group, members);
		rd_kafka_queue_destroy(q);
		return CTL_EXIT_FAIL;
	}
	/* Target offsets per partition of the topic. */
	const struct rd_kafka_metadata *md = ctl_topic_metadata(c, rk, topic);
	rd_kafka_resp_err_t e;
	if (!md) {
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
				if (c->json) {
					fputs("{\"group\":", stdout);
					ctl_json_str(stdout, group, strlen(group));
					fputs(",\"topic\":", stdout);
					ctl_json_str(stdout, topic, strlen(topic));
					fputs(",\"offsets\":[", stdout);
				}
				for (int i = 0; res && i < res->cnt; i++) {
					const rd_kafka_topic_partition_t *p = &res->elems[i];
					if (p->err) {
						ctl_err("reset %s/%d: %s", topic, p->partition, rd_kafka_err2str(p->err));
						rc = CTL_EXIT_FAIL;
					}
					if (c->json) {
						printf("%s{\"partition\":%d,\"offset\":%lld,\"error\":", i ? "," : "",
						       p->partition, (long long)p->offset);
						if (p->err)
							ctl_json_str(stdout, rd_kafka_err2str(p->err),
								     strlen(rd_kafka_err2str(p->err)));
						else
							fputs("null", stdout);
						fputs("}", stdout);
					} else if (!p->err) {
						printf("group %s: %s/%d -> %lld\n", group, topic, p->partition,
						       (long long)p->offset);
					}
				}
				if (c->json)
					printf("],\"ok\":%s}\n", rc ? "false" : "true");
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
