/* The group coordinator: see groups.h.
 *
 * States follow Kafka's GroupCoordinator: Empty -> PreparingRebalance (a
 * member joined, left or expired; every member must send JoinGroup again) ->
 * CompletingRebalance (every member has joined: a new generation, a leader,
 * one protocol; the leader computes the assignment) -> Stable (the leader's
 * SyncGroup stored it; followers get theirs). A JoinGroup or a follower's
 * SyncGroup that must wait parks in the server loop and is run again when the
 * group moves (broker_wake) or at its deadline with final=1; to make the
 * re-run idempotent, a member remembers that its join is waiting
 * (join_waiting: joined this rebalance, not yet complete) and when its answer
 * is ready (join_ready: the generation it joined completed, the answer not yet
 * taken). A member in neither state sending JoinGroup is joining afresh.
 *
 * Invariants: a group's generation only grows; an assignment is handed out
 * only for the generation it was computed in; committed offsets are durable
 * (fdatasync'd in the offsets log) before OffsetCommit answers. */
#include "broker/groups.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "buffer/batch.h"
#include "common/logging.h"

enum {
	KERR_ILLEGAL_GENERATION = 22,
	KERR_INCONSISTENT_GROUP_PROTOCOL = 23,
	KERR_INVALID_GROUP_ID = 24,
	KERR_UNKNOWN_MEMBER_ID = 25,
	KERR_INVALID_SESSION_TIMEOUT = 26,
	KERR_REBALANCE_IN_PROGRESS = 27,
	KERR_OFFSET_METADATA_TOO_LARGE = 12,
	KERR_GROUP_ID_NOT_FOUND = 69,
	KERR_MEMBER_ID_REQUIRED = 79,
};
enum {
	KAPI_OFFSET_COMMIT = 8, KAPI_OFFSET_FETCH = 9, KAPI_JOIN_GROUP = 11, KAPI_HEARTBEAT = 12,
	KAPI_LEAVE_GROUP = 13, KAPI_SYNC_GROUP = 14, KAPI_DESCRIBE_GROUPS = 15, KAPI_LIST_GROUPS = 16,
};

#define MAX_MEMBERS 1000          /* per group */
#define MAX_GROUPS 10000
#define MAX_PROTOCOLS 16
#define MAX_PENDING 256           /* member ids handed out, not yet joined */
#define MAX_METADATA 4096         /* committed offset metadata */
#define OFFSETS_SEGMENT_BYTES (4u << 20)
#define OFFSETS_BATCH_BYTES (1u << 20)     /* flush a builder beyond this */
#define OFFSETS_COMPACT_MIN (32u << 20)    /* never compact a smaller log */
#define MIN_SESSION_MS 1000
#define MAX_SESSION_MS 1800000

enum gstate { G_EMPTY, G_PREPARING, G_COMPLETING, G_STABLE };
static const char *const gstate_name[] = { "Empty", "PreparingRebalance", "CompletingRebalance", "Stable" };

struct proto { char *name; uint8_t *meta; int32_t len; };

struct member {
	char *id, *client_id, *host, *anon_peer;
	int32_t session_ms, rebalance_ms;
	struct proto protos[MAX_PROTOCOLS];
	int nprotos;
	uint8_t *assign;
	int32_t assign_len;
	int64_t last_seen;
	int join_waiting, join_ready;
};

struct committed { char *topic; int32_t partition; int64_t offset; char *meta; };

struct group {
	char *id, *protocol_type, *protocol, *leader;
	enum gstate state;
	int32_t generation;
	int64_t rebalance_deadline;
	struct member **m;
	size_t n;
	char *pending[MAX_PENDING];
	size_t npending;
	struct committed *offs;
	size_t noffs, offs_cap;
};

struct groups {
	struct group **v;
	size_t n, cap;
	struct log *log;
	uint64_t next_id;
	uint64_t compact_at;      /* rewrite the offsets log once it is this big */
	uint64_t compact_min;     /* ... and never before it is this big */
};

/* --- small helpers ---------------------------------------------------------- */

static int keq(struct kstr s, const char *c)
{
	return c && kr_kstr_eq(s, c);
}

static void member_free(struct member *m)
{
	for (int i = 0; i < m->nprotos; i++) {
		free(m->protos[i].name);
		free(m->protos[i].meta);
	}
	free(m->id);
	free(m->client_id);
	free(m->host);
	free(m->anon_peer);
	free(m->assign);
	free(m);
}

static void group_free(struct group *g)
{
	for (size_t i = 0; i < g->n; i++)
		member_free(g->m[i]);
	for (size_t i = 0; i < g->npending; i++)
		free(g->pending[i]);
	for (size_t i = 0; i < g->noffs; i++) {
		free(g->offs[i].topic);
		free(g->offs[i].meta);
	}
	free(g->offs);
	free(g->m);
	free(g->id);
	free(g->protocol_type);
	free(g->protocol);
	free(g->leader);
	free(g);
}

static struct group *group_find(struct groups *gs, struct kstr id)
{
	for (size_t i = 0; i < gs->n; i++)
		if (keq(id, gs->v[i]->id))
			return gs->v[i];
	return NULL;
}

static struct group *group_get(struct groups *gs, struct kstr id)
{
	struct group *g = group_find(gs, id);
	if (g || id.len <= 0 || gs->n >= MAX_GROUPS)
		return g;
	if (gs->n == gs->cap) {
		size_t cap = gs->cap ? gs->cap * 2 : 16;
		struct group **v = realloc(gs->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		gs->v = v;
		gs->cap = cap;
	}
	g = calloc(1, sizeof(*g));
	if (!g || !(g->id = kr_strdup(id))) {
		free(g);
		return NULL;
	}
	gs->v[gs->n++] = g;
	return g;
}

static struct member *member_find(struct group *g, struct kstr id)
{
	for (size_t i = 0; i < g->n; i++)
		if (keq(id, g->m[i]->id))
			return g->m[i];
	return NULL;
}

static void member_remove(struct group *g, struct member *m)
{
	for (size_t i = 0; i < g->n; i++) {
		if (g->m[i] != m)
			continue;
		memmove(g->m + i, g->m + i + 1, (g->n - i - 1) * sizeof(*g->m));
		g->n--;
		break;
	}
	if (g->leader && !strcmp(g->leader, m->id)) {
		free(g->leader);
		g->leader = NULL;
	}
	member_free(m);
}

static int pending_take(struct group *g, struct kstr id)
{
	for (size_t i = 0; i < g->npending; i++) {
		if (!keq(id, g->pending[i]))
			continue;
		free(g->pending[i]);
		g->pending[i] = g->pending[--g->npending];
		return 1;
	}
	return 0;
}

static char *new_member_id(struct groups *gs, struct kstr client_id)
{
	char buf[320];
	snprintf(buf, sizeof(buf), "%.*s-%08llx-%llu", client_id.len > 0 ? (client_id.len > 200 ? 200 : client_id.len) : 6,
		 client_id.len > 0 ? client_id.p : "member", (unsigned long long)(gs->next_id * 2654435761u),
		 (unsigned long long)gs->next_id);
	gs->next_id++;
	return strdup(buf);
}

/* --- the state machine ------------------------------------------------------ */

static void prepare_rebalance(struct broker *b, struct group *g, int64_t now, const char *why)
{
	if (g->state == G_PREPARING)
		return;
	int32_t t = 0;
	for (size_t i = 0; i < g->n; i++) {
		if (g->m[i]->rebalance_ms > t)
			t = g->m[i]->rebalance_ms;
		g->m[i]->join_ready = 0;
	}
	g->state = G_PREPARING;
	g->rebalance_deadline = now + (t > 0 ? t : 60000);
	LOG_INFO("groups", "group %s: rebalancing (%s), generation %d, %zu member(s)", g->id, why, g->generation, g->n);
	broker_wake(b);
}

/* The first protocol of the leader's that every member supports. */
static const char *pick_protocol(struct group *g, struct member *leader)
{
	for (int i = 0; i < leader->nprotos; i++) {
		const char *name = leader->protos[i].name;
		size_t ok = 0;
		for (size_t j = 0; j < g->n; j++)
			for (int k = 0; k < g->m[j]->nprotos; k++)
				if (!strcmp(g->m[j]->protos[k].name, name)) {
					ok++;
					break;
				}
		if (ok == g->n)
			return name;
	}
	return NULL;
}

/* PreparingRebalance -> CompletingRebalance once every member joined (or, at
 * the deadline, without the ones that did not). */
static void try_complete(struct broker *b, struct group *g, int64_t now, int force)
{
	if (g->state != G_PREPARING)
		return;
	size_t waiting = 0;
	for (size_t i = 0; i < g->n; i++)
		waiting += g->m[i]->join_waiting != 0;
	if (waiting < g->n && !force)
		return;
	for (size_t i = 0; i < g->n;) {
		if (!g->m[i]->join_waiting) {
			LOG_INFO("groups", "group %s: member %s did not rejoin in time: removed", g->id, g->m[i]->id);
			member_remove(g, g->m[i]);
		} else {
			i++;
		}
	}
	g->generation++;
	if (g->n == 0) {
		g->state = G_EMPTY;
		free(g->protocol);
		g->protocol = NULL;
		return;
	}
	struct member *leader = NULL;
	for (size_t i = 0; i < g->n && g->leader; i++)
		if (!strcmp(g->m[i]->id, g->leader))
			leader = g->m[i];
	if (!leader) {
		leader = g->m[0];
		free(g->leader);
		g->leader = strdup(leader->id);
	}
	const char *p = pick_protocol(g, leader);
	free(g->protocol);
	g->protocol = p ? strdup(p) : NULL;
	for (size_t i = 0; i < g->n; i++) {
		/* The join is done whether or not its request is still parked: a
		 * member whose connection died meanwhile must expire like any
		 * other, so join_waiting ends here and the session clock starts. */
		g->m[i]->join_waiting = 0;
		g->m[i]->join_ready = 1;
		g->m[i]->last_seen = now;
		free(g->m[i]->assign);
		g->m[i]->assign = NULL;
		g->m[i]->assign_len = 0;
	}
	g->state = G_COMPLETING;
	LOG_INFO("groups", "group %s: generation %d with %zu member(s), leader %s, protocol %s", g->id, g->generation,
		 g->n, g->leader, g->protocol ? g->protocol : "-");
	broker_wake(b);
}

static void member_gone(struct broker *b, struct group *g, struct member *m, int64_t now, const char *why)
{
	LOG_INFO("groups", "group %s: member %s %s", g->id, m->id, why);
	member_remove(g, m);
	if (g->n == 0) {
		g->state = G_EMPTY;
		g->generation++;
		broker_wake(b);
		return;
	}
	prepare_rebalance(b, g, now, why);
	try_complete(b, g, now, 0);
}

int64_t groups_tick(struct broker *b, int64_t now)
{
	struct groups *gs = b->groups;
	int64_t next = INT64_MAX;
	for (size_t i = 0; gs && i < gs->n; i++) {
		struct group *g = gs->v[i];
		if (g->state == G_PREPARING) {
			if (now >= g->rebalance_deadline)
				try_complete(b, g, now, 1);
			else if (g->rebalance_deadline < next)
				next = g->rebalance_deadline;
		}
		for (size_t j = 0; j < g->n;) {
			struct member *m = g->m[j];
			int64_t expiry = m->last_seen + m->session_ms;
			if (!m->join_waiting && now >= expiry) {
				member_gone(b, g, m, now, "session timed out");
				j = 0;  /* the list changed */
				continue;
			}
			if (!m->join_waiting && expiry < next)
				next = expiry;
			j++;
		}
	}
	return next;
}

/* --- the offsets log -------------------------------------------------------- */

/* Record key: group \0 topic \0 partition(4 bytes BE); value: offset(8 BE) +
 * metadata; a null value is a tombstone. */
static int offsets_put_mem(struct group *g, const char *topic, int32_t part, int64_t off, const char *meta, size_t mlen)
{
	for (size_t i = 0; i < g->noffs; i++) {
		struct committed *c = &g->offs[i];
		if (c->partition == part && !strcmp(c->topic, topic)) {
			char *m = strndup(meta ? meta : "", mlen);
			if (!m)
				return -ENOMEM;
			free(c->meta);
			c->meta = m;
			c->offset = off;
			return 0;
		}
	}
	if (g->noffs == g->offs_cap) {
		size_t cap = g->offs_cap ? g->offs_cap * 2 : 8;
		struct committed *v = realloc(g->offs, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		g->offs = v;
		g->offs_cap = cap;
	}
	struct committed *c = &g->offs[g->noffs];
	c->topic = strdup(topic);
	c->meta = strndup(meta ? meta : "", mlen);
	if (!c->topic || !c->meta) {
		free(c->topic);
		free(c->meta);
		return -ENOMEM;
	}
	c->partition = part;
	c->offset = off;
	g->noffs++;
	return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int offsets_record(struct batch_builder *bb, const char *group, const char *topic, int32_t part,
			  int64_t off, const char *meta, size_t mlen, int tombstone)
{
	size_t gl = strlen(group), tl = strlen(topic);
	uint8_t key[600], val[8 + MAX_METADATA];
	if (gl + tl + 6 > sizeof(key) || mlen > MAX_METADATA)
		return -EINVAL;
	memcpy(key, group, gl + 1);
	memcpy(key + gl + 1, topic, tl + 1);
	put32(key + gl + tl + 2, (uint32_t)part);
	put32(val, (uint32_t)((uint64_t)off >> 32));
	put32(val + 4, (uint32_t)off);
	memcpy(val + 8, meta, mlen);
	return batch_builder_add(bb, 0, key, (int32_t)(gl + tl + 6), tombstone ? NULL : val,
				 tombstone ? -1 : (int32_t)(8 + mlen), NULL, 0);
}

/* Appends the builder's records and makes them durable. */
static int offsets_flush(struct groups *gs, struct batch_builder *bb)
{
	if (!bb->count)
		return 0;
	const uint8_t *out;
	size_t len;
	int rc = batch_builder_finish(bb, &out, &len);
	int64_t base;
	if (rc == 0)
		rc = log_append(gs->log, (uint8_t *)out, len, &base);
	if (rc == 0)
		rc = log_sync(gs->log);
	return rc;
}

/* offsets_record, first writing out what the builder holds once it is large
 * (a batch has a size limit, and one commit may name many partitions). */
static int offsets_add(struct groups *gs, struct batch_builder *bb, const char *group, const char *topic,
		       int32_t part, int64_t off, const char *meta, size_t mlen, int tombstone)
{
	if (batch_builder_size(bb) > OFFSETS_BATCH_BYTES) {
		int rc = offsets_flush(gs, bb);
		batch_builder_reset(bb);
		if (rc < 0)
			return rc;
	}
	return offsets_record(bb, group, topic, part, off, meta, mlen, tombstone);
}

/* Kafka compacts __consumer_offsets by key; this log holds few live keys, so
 * it is compacted by snapshot: every live committed offset is written again
 * at the end, made durable, and only then are the segments wholly before the
 * snapshot deleted. Replaying old records and then the snapshot gives the
 * snapshot's state, so a crash at any point loses nothing; a key deleted
 * (tombstoned) before the snapshot is simply not in it. Runs when the log
 * has doubled since the last compaction, so its cost is amortised. */
static void offsets_maybe_compact(struct groups *gs)
{
	uint64_t size = log_size_bytes(gs->log);
	if (size < gs->compact_at)
		return;
	int64_t from = log_end_offset(gs->log);
	struct batch_builder bb;
	batch_builder_init(&bb, BATCH_COMPRESSION_NONE);
	size_t n = 0;
	int rc = 0;
	for (size_t i = 0; i < gs->n && !rc; i++) {
		const struct group *g = gs->v[i];
		for (size_t k = 0; k < g->noffs && !rc; k++, n++)
			rc = offsets_add(gs, &bb, g->id, g->offs[k].topic, g->offs[k].partition, g->offs[k].offset,
					 g->offs[k].meta, strlen(g->offs[k].meta), 0);
	}
	if (!rc)
		rc = offsets_flush(gs, &bb);
	batch_builder_free(&bb);
	if (rc < 0) {
		LOG_WARN("groups", "offsets log compaction failed (%s): the log keeps its old records", strerror(-rc));
		gs->compact_at = size + gs->compact_min;  /* try again later, not on every commit */
		return;
	}
	int dropped = log_trim_before(gs->log, from);
	uint64_t after = log_size_bytes(gs->log);
	gs->compact_at = after * 2 > gs->compact_min ? after * 2 : gs->compact_min;
	LOG_INFO("groups", "offsets log compacted: %zu live offset(s) rewritten, %d segment(s) dropped, "
		 "%llu -> %llu bytes", n, dropped, (unsigned long long)size, (unsigned long long)after);
}

void groups_set_compact_bytes(struct broker *b, uint64_t bytes)
{
	if (b->groups)
		b->groups->compact_at = b->groups->compact_min = bytes;
}

static void offsets_apply(struct groups *gs, const struct batch_record *r)
{
	if (r->key_len < 6)
		return;
	const char *k = (const char *)r->key;
	size_t gl = strnlen(k, (size_t)r->key_len);
	if (gl + 6 > (size_t)r->key_len)
		return;
	const char *topic = k + gl + 1;
	size_t tl = strnlen(topic, (size_t)r->key_len - gl - 1);
	if (gl + tl + 6 != (size_t)r->key_len)
		return;
	struct kstr gid = { k, (int32_t)gl };
	struct group *g = group_get(gs, gid);
	if (!g)
		return;
	int32_t part = (int32_t)get32(r->key + gl + tl + 2);
	if (r->value_len < 0) {  /* tombstone: forget it */
		for (size_t i = 0; i < g->noffs; i++)
			if (g->offs[i].partition == part && !strcmp(g->offs[i].topic, topic)) {
				free(g->offs[i].topic);
				free(g->offs[i].meta);
				g->offs[i] = g->offs[--g->noffs];
				break;
			}
		return;
	}
	if (r->value_len < 8)
		return;
	int64_t off = (int64_t)((uint64_t)get32(r->value) << 32 | get32(r->value + 4));
	offsets_put_mem(g, topic, part, off, (const char *)r->value + 8, (size_t)r->value_len - 8);
}

static int offsets_replay(struct groups *gs)
{
	struct log_buf buf = { 0 };
	int64_t off = log_start_offset(gs->log), next;
	size_t n = 0;
	ssize_t got;
	while ((got = log_read(gs->log, off, 1 << 20, &buf, &next)) > 0) {
		size_t pos = 0;
		while (pos < (size_t)got) {
			long bs = batch_size(buf.data + pos, (size_t)got - pos);
			struct batch_iter it;
			if (bs < 0 || batch_iter_init(&it, buf.data + pos, (size_t)bs) < 0)
				break;
			struct batch_record r;
			while (batch_iter_next(&it, &r) == 1) {
				offsets_apply(gs, &r);
				n++;
			}
			batch_iter_free(&it);
			pos += (size_t)bs;
		}
		off = next;
	}
	log_buf_free(&buf);
	if (n)
		LOG_INFO("groups", "%zu committed offset record(s) replayed, %zu group(s)", n, gs->n);
	return got < 0 && got != -ERANGE ? (int)got : 0;
}

int groups_open(struct broker *b)
{
	struct groups *gs = calloc(1, sizeof(*gs));
	if (!gs)
		return -ENOMEM;
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/__consumer_offsets", b->cfg.data_dir);
	struct log_config lc;
	broker_log_config(b, &lc);
	/* Small segments, so that compaction can drop them (never more than the
	 * broker's own segment size). */
	if (!lc.segment_bytes || lc.segment_bytes > OFFSETS_SEGMENT_BYTES)
		lc.segment_bytes = OFFSETS_SEGMENT_BYTES;
	int rc = log_open(dir, &lc, &gs->log);
	if (rc < 0) {
		LOG_ERROR("groups", "cannot open the offsets log %s: %s", dir, strerror(-rc));
		free(gs);
		return rc;
	}
	gs->next_id = 1;
	b->groups = gs;
	rc = offsets_replay(gs);
	uint64_t size = log_size_bytes(gs->log);
	gs->compact_min = OFFSETS_COMPACT_MIN;
	gs->compact_at = size * 2 > gs->compact_min ? size * 2 : gs->compact_min;
	return rc;
}

void groups_close(struct broker *b)
{
	struct groups *gs = b->groups;
	if (!gs)
		return;
	for (size_t i = 0; i < gs->n; i++)
		group_free(gs->v[i]);
	free(gs->v);
	if (gs->log)
		log_close(gs->log);
	free(gs);
	b->groups = NULL;
}

void groups_topic_deleted(struct broker *b, const char *topic)
{
	struct groups *gs = b->groups;
	if (!gs)
		return;
	struct batch_builder bb;
	batch_builder_init(&bb, BATCH_COMPRESSION_NONE);
	for (size_t i = 0; i < gs->n; i++) {
		struct group *g = gs->v[i];
		for (size_t j = 0; j < g->noffs;) {
			if (strcmp(g->offs[j].topic, topic)) {
				j++;
				continue;
			}
			offsets_add(gs, &bb, g->id, topic, g->offs[j].partition, -1, "", 0, 1);
			free(g->offs[j].topic);
			free(g->offs[j].meta);
			g->offs[j] = g->offs[--g->noffs];
		}
	}
	if (offsets_flush(gs, &bb) < 0)
		LOG_WARN("groups", "cannot record that offsets of deleted topic %s are gone", topic);
	else
		offsets_maybe_compact(gs);
	batch_builder_free(&bb);
}

/* --- authorization ------------------------------------------------------------ */

static int group_allowed(struct broker *b, enum acl_op op, struct kstr gid)
{
	return broker_authorized(b, op, ACL_GROUP, gid.p, gid.len > 0 ? (size_t)gid.len : 0);
}

/* --- FindCoordinator -------------------------------------------------------- */

static int find_coordinator(struct broker *b, int16_t v, struct kreader *r, struct kwriter *w)
{
	struct kstr key = kr_string(r);
	int8_t type = v >= 1 ? kr_i8(r) : 0;
	if (r->err)
		return REQ_CLOSE;
	if (v >= 1)
		kw_i32(w, 0);
	int16_t err = type != 0 ? KERR_COORDINATOR_NOT_AVAILABLE  /* no transactions */
		    : !group_allowed(b, ACL_DESCRIBE, key) ? KERR_GROUP_AUTHORIZATION_FAILED : KERR_NONE;
	kw_i16(w, err);
	if (v >= 1)
		kw_cstring(w, err == KERR_COORDINATOR_NOT_AVAILABLE ? "logship-broker has no transaction coordinator"
			      : err ? "not authorized for this group (ACL)" : NULL);
	/* The coordinator is this broker, as the client's listener names it. */
	const struct broker_listener *lst = b->ses ? b->ses->lst : NULL;
	kw_i32(w, err ? -1 : b->node_id);
	kw_cstring(w, err ? "" : lst ? lst->adv_host : b->adv_host);
	kw_i32(w, err ? -1 : lst ? lst->adv_port : b->adv_port);
	return REQ_RESPOND;
}

/* --- JoinGroup -------------------------------------------------------------- */

struct join_req {
	struct kstr group, member, instance, ptype;
	int32_t session, rebalance;
	int nprotos;
	struct kstr pname[MAX_PROTOCOLS], pmeta[MAX_PROTOCOLS];
};

static void join_response(int16_t v, struct kwriter *w, int16_t err, struct group *g, const char *member_id)
{
	if (v >= 2)
		kw_i32(w, 0);
	kw_i16(w, err);
	kw_i32(w, g && !err ? g->generation : -1);
	kw_cstring(w, g && !err && g->protocol ? g->protocol : "");
	kw_cstring(w, g && !err && g->leader ? g->leader : "");
	kw_cstring(w, member_id ? member_id : "");
	int leader = g && !err && g->leader && member_id && !strcmp(g->leader, member_id);
	kw_i32(w, leader ? (int32_t)g->n : 0);
	for (size_t i = 0; leader && i < g->n; i++) {
		struct member *m = g->m[i];
		kw_cstring(w, m->id);
		if (v >= 5)
			kw_string(w, NULL, -1);
		const struct proto *p = NULL;
		for (int k = 0; k < m->nprotos; k++)
			if (g->protocol && !strcmp(m->protos[k].name, g->protocol))
				p = &m->protos[k];
		kw_bytes(w, p ? p->meta : NULL, p ? p->len : 0);
	}
}

static int join_parse(int16_t v, struct kreader *r, struct join_req *j)
{
	memset(j, 0, sizeof(*j));
	j->group = kr_string(r);
	j->session = kr_i32(r);
	j->rebalance = v >= 1 ? kr_i32(r) : j->session;
	j->member = kr_string(r);
	if (v >= 5)
		j->instance = kr_string(r);
	j->ptype = kr_string(r);
	int32_t n = kr_array(r, 6, NULL);
	if (r->err || n > MAX_PROTOCOLS)
		return -1;
	j->nprotos = n;
	for (int32_t i = 0; i < n; i++) {
		j->pname[i] = kr_string(r);
		j->pmeta[i] = kr_bytes(r);
	}
	return r->err || j->member.len < 0 ? -1 : 0;
}

/* The member's protocols are compatible with the group's members'. */
static int join_compatible(struct group *g, const struct join_req *j, struct member *self)
{
	if (g->protocol_type && g->n && !(g->n == 1 && self) && !keq(j->ptype, g->protocol_type))
		return 0;
	for (size_t i = 0; i < g->n; i++) {
		if (g->m[i] == self)
			continue;
		int common = 0;
		for (int k = 0; k < g->m[i]->nprotos && !common; k++)
			for (int q = 0; q < j->nprotos && !common; q++)
				common = keq(j->pname[q], g->m[i]->protos[k].name);
		if (!common)
			return 0;
	}
	return j->nprotos > 0;
}

static int member_update(struct member *m, const struct join_req *j, struct kstr client, const char *peer)
{
	for (int i = 0; i < m->nprotos; i++) {
		free(m->protos[i].name);
		free(m->protos[i].meta);
	}
	m->nprotos = 0;
	for (int i = 0; i < j->nprotos; i++) {
		struct proto *p = &m->protos[m->nprotos];
		p->name = kr_strdup(j->pname[i]);
		p->len = j->pmeta[i].len < 0 ? 0 : j->pmeta[i].len;
		p->meta = malloc((size_t)p->len + 1);
		if (!p->name || !p->meta) {
			free(p->name);
			free(p->meta);
			return -ENOMEM;
		}
		if (p->len)
			memcpy(p->meta, j->pmeta[i].p, (size_t)p->len);
		m->nprotos++;
	}
	m->session_ms = j->session;
	m->rebalance_ms = j->rebalance;
	free(m->client_id);
	m->client_id = kr_strdup(client.len >= 0 ? client : (struct kstr){ "", 0 });
	free(m->host);
	m->host = strdup(peer);
	return 0;
}

static struct member *member_add(struct group *g, char *id)
{
	if (g->n >= MAX_MEMBERS)
		return NULL;
	struct member **v = realloc(g->m, (g->n + 1) * sizeof(*v));
	struct member *m = calloc(1, sizeof(*m));
	if (!v || !m) {
		free(m);
		if (v)
			g->m = v;
		return NULL;
	}
	g->m = v;
	m->id = id;
	g->m[g->n++] = m;
	return m;
}

static int join_group(struct broker *b, int16_t v, struct kreader *r, struct kwriter *w, int final, int64_t now,
		      const char *peer, struct kstr client, struct req_wait *wait)
{
	struct groups *gs = b->groups;
	struct join_req j;
	if (join_parse(v, r, &j) < 0)
		return REQ_CLOSE;
	if (j.group.len <= 0) {
		join_response(v, w, KERR_INVALID_GROUP_ID, NULL, NULL);
		return REQ_RESPOND;
	}
	if (j.session < MIN_SESSION_MS || j.session > MAX_SESSION_MS) {
		join_response(v, w, KERR_INVALID_SESSION_TIMEOUT, NULL, NULL);
		return REQ_RESPOND;
	}
	struct group *g = group_get(gs, j.group);
	if (!g) {
		join_response(v, w, KERR_COORDINATOR_NOT_AVAILABLE, NULL, NULL);
		return REQ_RESPOND;
	}
	struct member *m = NULL;
	if (j.member.len == 0) {
		/* v0-v3: the member id is made here; a re-run of the same parked
		 * request finds it again by the connection it came from. */
		for (size_t i = 0; i < g->n && !m; i++)
			if (g->m[i]->anon_peer && !strcmp(g->m[i]->anon_peer, peer) &&
			    (g->m[i]->join_waiting || g->m[i]->join_ready))
				m = g->m[i];
		if (!m && v >= 4) {  /* KIP-394: hand out an id, the client joins again with it */
			char *id = new_member_id(gs, client);
			if (!id)
				return REQ_CLOSE;
			if (g->npending == MAX_PENDING) {
				free(g->pending[0]);
				g->pending[0] = g->pending[--g->npending];
			}
			g->pending[g->npending++] = id;
			join_response(v, w, KERR_MEMBER_ID_REQUIRED, NULL, id);
			return REQ_RESPOND;
		}
	} else {
		m = member_find(g, j.member);
		if (!m && !pending_take(g, j.member)) {
			join_response(v, w, KERR_UNKNOWN_MEMBER_ID, NULL, NULL);
			return REQ_RESPOND;
		}
	}
	if (!m || (!m->join_waiting && !m->join_ready)) {
		/* A fresh join (not a re-run of a parked one). */
		if (!join_compatible(g, &j, m)) {
			join_response(v, w, KERR_INCONSISTENT_GROUP_PROTOCOL, NULL, NULL);
			return REQ_RESPOND;
		}
		if (!m) {
			char *id = j.member.len > 0 ? kr_strdup(j.member) : new_member_id(gs, client);
			if (!id || !(m = member_add(g, id))) {
				free(id);
				join_response(v, w, KERR_COORDINATOR_NOT_AVAILABLE, NULL, NULL);
				return REQ_RESPOND;
			}
			if (j.member.len == 0)
				m->anon_peer = strdup(peer);
		}
		if (member_update(m, &j, client, peer) < 0)
			return REQ_CLOSE;
		if (!g->protocol_type || g->n == 1) {
			free(g->protocol_type);
			g->protocol_type = kr_strdup(j.ptype);
		}
		m->join_waiting = 1;
		m->last_seen = now;
		prepare_rebalance(b, g, now, "a member joined");
		try_complete(b, g, now, 0);
	}
	if (!m->join_ready && final)
		try_complete(b, g, now, 1);
	if (m->join_ready) {
		m->join_ready = m->join_waiting = 0;
		free(m->anon_peer);
		m->anon_peer = NULL;
		join_response(v, w, KERR_NONE, g, m->id);
		return REQ_RESPOND;
	}
	if (final) {  /* removed at the deadline, or the group went away */
		join_response(v, w, KERR_UNKNOWN_MEMBER_ID, NULL, NULL);
		return REQ_RESPOND;
	}
	wait->kind = WAIT_FETCH;
	wait->deadline_ms = g->rebalance_deadline;
	return REQ_WAIT;
}

/* --- SyncGroup, Heartbeat, LeaveGroup --------------------------------------- */

/* Checks group, member and generation; returns an error code or 0. */
static int16_t member_check(struct groups *gs, struct kstr gid, struct kstr mid, int32_t gen, struct group **gp,
			    struct member **mp, int64_t now)
{
	struct group *g = group_find(gs, gid);
	struct member *m = g ? member_find(g, mid) : NULL;
	*gp = g;
	*mp = m;
	if (!g)
		return gid.len <= 0 ? KERR_INVALID_GROUP_ID : KERR_UNKNOWN_MEMBER_ID;
	if (!m)
		return KERR_UNKNOWN_MEMBER_ID;
	m->last_seen = now;
	if (gen != g->generation)
		return KERR_ILLEGAL_GENERATION;
	return 0;
}

static void sync_response(int16_t v, struct kwriter *w, int16_t err, const struct member *m)
{
	if (v >= 1)
		kw_i32(w, 0);
	kw_i16(w, err);
	kw_bytes(w, !err && m && m->assign ? m->assign : NULL, !err && m && m->assign ? m->assign_len : 0);
}

static int sync_group(struct broker *b, int16_t v, struct kreader *r, struct kwriter *w, int final, int64_t now,
		      struct req_wait *wait)
{
	struct kstr gid = kr_string(r);
	int32_t gen = kr_i32(r);
	struct kstr mid = kr_string(r);
	if (v >= 3)
		kr_string(r);
	int32_t n = kr_array(r, 6, NULL);
	if (r->err)
		return REQ_CLOSE;
	struct group *g;
	struct member *m;
	int16_t err = member_check(b->groups, gid, mid, gen, &g, &m, now);
	if (!err && g->state == G_PREPARING)
		err = KERR_REBALANCE_IN_PROGRESS;
	int is_leader = !err && g->leader && !strcmp(g->leader, m->id);
	for (int32_t i = 0; i < n; i++) {
		struct kstr who = kr_string(r);
		struct kstr a = kr_bytes(r);
		if (r->err)
			return REQ_CLOSE;
		if (!is_leader || g->state != G_COMPLETING)
			continue;
		struct member *t = member_find(g, who);
		if (!t || a.len < 0)
			continue;
		free(t->assign);
		t->assign = malloc((size_t)a.len + 1);
		t->assign_len = t->assign ? a.len : 0;
		if (t->assign && a.len)
			memcpy(t->assign, a.p, (size_t)a.len);
	}
	if (!err && is_leader && g->state == G_COMPLETING) {
		g->state = G_STABLE;
		LOG_INFO("groups", "group %s: generation %d is stable", g->id, g->generation);
		broker_wake(b);
	}
	if (!err && g->state == G_COMPLETING) {
		if (final) {
			err = KERR_REBALANCE_IN_PROGRESS;
		} else {
			wait->kind = WAIT_FETCH;
			wait->deadline_ms = now + m->session_ms;
			return REQ_WAIT;
		}
	}
	sync_response(v, w, err, m);
	return REQ_RESPOND;
}

static int heartbeat(struct broker *b, int16_t v, struct kreader *r, struct kwriter *w, int64_t now)
{
	struct kstr gid = kr_string(r);
	int32_t gen = kr_i32(r);
	struct kstr mid = kr_string(r);
	if (v >= 3)
		kr_string(r);
	if (r->err)
		return REQ_CLOSE;
	struct group *g;
	struct member *m;
	int16_t err = member_check(b->groups, gid, mid, gen, &g, &m, now);
	if (!err && g->state == G_PREPARING)
		err = KERR_REBALANCE_IN_PROGRESS;
	if (v >= 1)
		kw_i32(w, 0);
	kw_i16(w, err);
	return REQ_RESPOND;
}

static int16_t leave_one(struct broker *b, struct group *g, struct kstr mid, int64_t now)
{
	struct member *m = g ? member_find(g, mid) : NULL;
	if (!m)
		return KERR_UNKNOWN_MEMBER_ID;
	member_gone(b, g, m, now, "left the group");
	return 0;
}

static int leave_group(struct broker *b, int16_t v, struct kreader *r, struct kwriter *w, int64_t now)
{
	struct kstr gid = kr_string(r);
	struct group *g = group_find(b->groups, gid);
	if (v >= 1)
		kw_i32(w, 0);
	if (v <= 2) {
		struct kstr mid = kr_string(r);
		if (r->err)
			return REQ_CLOSE;
		kw_i16(w, leave_one(b, g, mid, now));
		return REQ_RESPOND;
	}
	int32_t n = kr_array(r, 4, NULL);
	if (r->err)
		return REQ_CLOSE;
	kw_i16(w, g ? KERR_NONE : KERR_UNKNOWN_MEMBER_ID);
	kw_i32(w, n);
	for (int32_t i = 0; i < n; i++) {
		struct kstr mid = kr_string(r), inst = kr_string(r);
		if (r->err)
			return REQ_CLOSE;
		kw_string(w, mid.p, mid.len);
		kw_string(w, inst.p, inst.len);
		kw_i16(w, leave_one(b, g, mid, now));
	}
	return REQ_RESPOND;
}

/* --- OffsetCommit / OffsetFetch --------------------------------------------- */

static int offset_commit(struct broker *b, int16_t v, struct kreader *r, struct kwriter *w, int64_t now)
{
	struct groups *gs = b->groups;
	struct kstr gid = kr_string(r);
	int32_t gen = kr_i32(r);
	struct kstr mid = kr_string(r);
	if (v >= 7)
		kr_string(r);
	if (v >= 2 && v <= 4)
		kr_i64(r);  /* retention_time_ms: offsets are kept until the topic goes */
	int32_t nt = kr_array(r, 6, NULL);
	if (r->err)
		return REQ_CLOSE;
	int16_t err = 0;
	struct group *g = group_find(gs, gid);
	if (gid.len <= 0) {
		err = KERR_INVALID_GROUP_ID;
	} else if (!group_allowed(b, ACL_CONSUME, gid)) {
		err = KERR_GROUP_AUTHORIZATION_FAILED;
	} else if (gen >= 0 || mid.len > 0) {
		struct member *m;
		err = member_check(gs, gid, mid, gen, &g, &m, now);
		if (!err && g->state == G_PREPARING)
			err = KERR_REBALANCE_IN_PROGRESS;
	} else if (g && g->n > 0) {
		err = KERR_UNKNOWN_MEMBER_ID;  /* an admin commit into a group with members */
	}
	if (!err && !(g = group_get(gs, gid)))
		err = KERR_COORDINATOR_NOT_AVAILABLE;
	struct batch_builder bb;
	batch_builder_init(&bb, BATCH_COMPRESSION_NONE);
	if (v >= 3)
		kw_i32(w, 0);
	kw_i32(w, nt);
	size_t errpos[4096];
	size_t nerrpos = 0;
	for (int32_t t = 0; t < nt; t++) {
		struct kstr name = kr_string(r);
		int32_t np = kr_array(r, 14, NULL);
		if (r->err)
			goto close;
		kw_string(w, name.p, name.len);
		kw_i32(w, np);
		int topic_ok = err || broker_authorized(b, ACL_CONSUME, ACL_TOPIC, name.p, name.len > 0 ? (size_t)name.len : 0);
		for (int32_t i = 0; i < np; i++) {
			int32_t p = kr_i32(r);
			int64_t off = kr_i64(r);
			if (v >= 6)
				kr_i32(r);  /* leader epoch */
			if (v == 1)
				kr_i64(r);
			struct kstr meta = kr_string(r);
			if (r->err)
				goto close;
			int16_t e = err ? err : topic_ok ? KERR_NONE : KERR_TOPIC_AUTHORIZATION_FAILED;
			char topic[TOPIC_NAME_MAX + 1];
			/* As Kafka: only partitions that exist (a lagging member must
			 * not bring back offsets of a topic just deleted). */
			struct topic *tp = name.len > 0 && name.len <= TOPIC_NAME_MAX
				? topics_find(&b->topics, name.p, (size_t)name.len) : NULL;
			if (!e && (!tp || p < 0 || p >= tp->nparts))
				e = KERR_UNKNOWN_TOPIC_OR_PARTITION;
			if (!e && meta.len > MAX_METADATA)
				e = KERR_OFFSET_METADATA_TOO_LARGE;
			if (!e) {
				snprintf(topic, sizeof(topic), "%.*s", name.len, name.p);
				size_t ml = meta.len > 0 ? (size_t)meta.len : 0;
				if (offsets_add(gs, &bb, g->id, topic, p, off, meta.p, ml, 0) < 0 ||
				    offsets_put_mem(g, topic, p, off, meta.p, ml) < 0)
					e = KERR_COORDINATOR_NOT_AVAILABLE;
			}
			kw_i32(w, p);
			if (nerrpos < sizeof(errpos) / sizeof(errpos[0]) && !e)
				errpos[nerrpos++] = w->len;
			kw_i16(w, e);
		}
	}
	if (offsets_flush(gs, &bb) < 0) {
		LOG_ERROR("groups", "group %s: cannot make committed offsets durable", g ? g->id : "?");
		for (size_t i = 0; i < nerrpos && !w->err; i++) {
			w->buf[errpos[i]] = 0;
			w->buf[errpos[i] + 1] = KERR_KAFKA_STORAGE_ERROR;
		}
	} else {
		offsets_maybe_compact(gs);
	}
	batch_builder_free(&bb);
	return REQ_RESPOND;
close:
	batch_builder_free(&bb);
	return REQ_CLOSE;
}

static const struct committed *committed_find(const struct group *g, struct kstr topic, int32_t p)
{
	for (size_t i = 0; g && i < g->noffs; i++)
		if (g->offs[i].partition == p && keq(topic, g->offs[i].topic))
			return &g->offs[i];
	return NULL;
}

static void fetch_one(int16_t v, struct kwriter *w, int32_t p, const struct committed *c, int16_t err)
{
	kw_i32(w, p);
	kw_i64(w, c && !err ? c->offset : -1);
	if (v >= 5)
		kw_i32(w, -1);
	kw_cstring(w, c && !err ? c->meta : "");
	kw_i16(w, err);
}

static int offset_fetch(struct broker *b, int16_t v, struct kreader *r, struct kwriter *w)
{
	struct kstr gid = kr_string(r);
	int is_null = 0;
	int32_t nt = kr_array(r, 6, &is_null);
	if (r->err)
		return REQ_CLOSE;
	int16_t gerr = group_allowed(b, ACL_DESCRIBE, gid) ? KERR_NONE : KERR_GROUP_AUTHORIZATION_FAILED;
	struct group *g = gerr ? NULL : group_find(b->groups, gid);
	if (v >= 3)
		kw_i32(w, 0);
	if (is_null && v >= 2) {  /* every committed offset of the group (topics it may describe) */
		size_t ntopics = 0;
		size_t count_pos = w->len;
		kw_i32(w, 0);
		for (size_t i = 0; g && i < g->noffs; i++) {
			int seen = 0;
			for (size_t k = 0; k < i && !seen; k++)
				seen = !strcmp(g->offs[k].topic, g->offs[i].topic);
			if (seen || (b->acl && b->ses &&
				     !acl_allowed(b->acl, b->ses->principal, ACL_DESCRIBE, ACL_TOPIC, g->offs[i].topic,
						  strlen(g->offs[i].topic))))
				continue;
			ntopics++;
			kw_cstring(w, g->offs[i].topic);
			size_t np = 0;
			for (size_t k = i; k < g->noffs; k++)
				np += !strcmp(g->offs[k].topic, g->offs[i].topic);
			kw_i32(w, (int32_t)np);
			for (size_t k = i; k < g->noffs; k++)
				if (!strcmp(g->offs[k].topic, g->offs[i].topic))
					fetch_one(v, w, g->offs[k].partition, &g->offs[k], KERR_NONE);
		}
		kw_put_i32_at(w, count_pos, (int32_t)ntopics);
	} else {
		kw_i32(w, nt);
		for (int32_t t = 0; t < nt; t++) {
			struct kstr name = kr_string(r);
			int32_t np = kr_array(r, 4, NULL);
			if (r->err)
				return REQ_CLOSE;
			kw_string(w, name.p, name.len);
			kw_i32(w, np);
			int16_t terr = gerr ? gerr
				     : broker_authorized(b, ACL_DESCRIBE, ACL_TOPIC, name.p, name.len > 0 ? (size_t)name.len : 0)
				     ? KERR_NONE : KERR_TOPIC_AUTHORIZATION_FAILED;
			for (int32_t i = 0; i < np; i++) {
				int32_t p = kr_i32(r);
				if (r->err)
					return REQ_CLOSE;
				fetch_one(v, w, p, committed_find(g, name, p), terr);
			}
		}
	}
	if (v >= 2)
		kw_i16(w, gerr);
	return REQ_RESPOND;
}

/* --- DescribeGroups / ListGroups -------------------------------------------- */

static int describe_groups(struct broker *b, int16_t v, struct kreader *r, struct kwriter *w)
{
	int32_t n = kr_array(r, 2, NULL);
	if (r->err)
		return REQ_CLOSE;
	if (v >= 1)
		kw_i32(w, 0);
	kw_i32(w, n);
	for (int32_t i = 0; i < n; i++) {
		struct kstr gid = kr_string(r);
		if (r->err)
			return REQ_CLOSE;
		int allowed = gid.len > 0 && group_allowed(b, ACL_DESCRIBE, gid);
		struct group *g = allowed ? group_find(b->groups, gid) : NULL;
		kw_i16(w, gid.len <= 0 ? KERR_INVALID_GROUP_ID : !allowed ? KERR_GROUP_AUTHORIZATION_FAILED : KERR_NONE);
		kw_string(w, gid.p, gid.len);
		/* Kafka describes an unknown group as Dead with no members. */
		kw_cstring(w, g ? gstate_name[g->state] : "Dead");
		kw_cstring(w, g && g->protocol_type ? g->protocol_type : "");
		kw_cstring(w, g && g->protocol && g->state != G_PREPARING ? g->protocol : "");
		size_t nm = g ? g->n : 0;
		kw_i32(w, (int32_t)nm);
		for (size_t k = 0; k < nm; k++) {
			struct member *m = g->m[k];
			kw_cstring(w, m->id);
			if (v >= 4)
				kw_string(w, NULL, -1);
			kw_cstring(w, m->client_id ? m->client_id : "");
			kw_cstring(w, m->host ? m->host : "");
			const struct proto *p = NULL;
			for (int q = 0; q < m->nprotos; q++)
				if (g->protocol && !strcmp(m->protos[q].name, g->protocol))
					p = &m->protos[q];
			kw_bytes(w, p ? p->meta : NULL, p ? p->len : 0);
			kw_bytes(w, g->state == G_STABLE && m->assign ? m->assign : NULL,
				 g->state == G_STABLE && m->assign ? m->assign_len : 0);
		}
		if (v >= 3)
			kw_i32(w, -2147483648);
	}
	if (v >= 3)
		kr_i8(r);
	return REQ_RESPOND;
}

static int list_groups(struct broker *b, int16_t v, struct kwriter *w)
{
	struct groups *gs = b->groups;
	if (v >= 1)
		kw_i32(w, 0);
	kw_i16(w, KERR_NONE);
	size_t pos = w->len;
	int32_t shown = 0;
	kw_i32(w, 0);
	/* The groups the principal may describe (as Kafka filters them). */
	for (size_t i = 0; i < gs->n; i++) {
		if (b->acl && b->ses &&
		    !acl_allowed(b->acl, b->ses->principal, ACL_DESCRIBE, ACL_GROUP, gs->v[i]->id, strlen(gs->v[i]->id)))
			continue;
		shown++;
		kw_cstring(w, gs->v[i]->id);
		kw_cstring(w, gs->v[i]->protocol_type ? gs->v[i]->protocol_type : "consumer");
	}
	kw_put_i32_at(w, pos, shown);
	return REQ_RESPOND;
}

/* JoinGroup, SyncGroup, Heartbeat and LeaveGroup of a group the principal
 * may not consume from: the API's response with GROUP_AUTHORIZATION_FAILED
 * (the request's body is not needed for it). */
static int group_denied(int16_t key, int16_t v, struct kwriter *w)
{
	switch (key) {
	case KAPI_JOIN_GROUP: join_response(v, w, KERR_GROUP_AUTHORIZATION_FAILED, NULL, ""); break;
	case KAPI_SYNC_GROUP: sync_response(v, w, KERR_GROUP_AUTHORIZATION_FAILED, NULL); break;
	case KAPI_HEARTBEAT:
		if (v >= 1)
			kw_i32(w, 0);
		kw_i16(w, KERR_GROUP_AUTHORIZATION_FAILED);
		break;
	default:  /* LeaveGroup */
		if (v >= 1)
			kw_i32(w, 0);
		kw_i16(w, KERR_GROUP_AUTHORIZATION_FAILED);
		if (v >= 3)
			kw_i32(w, 0);
		break;
	}
	return REQ_RESPOND;
}

/* --- dispatch --------------------------------------------------------------- */

int groups_api(int16_t key)
{
	return key == KAPI_FIND_COORDINATOR || (key >= KAPI_OFFSET_COMMIT && key <= KAPI_LIST_GROUPS && key != 10);
}

int groups_handle(struct broker *b, int16_t key, int16_t v, struct kreader *r, struct kwriter *w, int final,
		  int64_t now, const char *peer, struct kstr client, struct req_wait *wait)
{
	if (!b->groups)
		return REQ_CLOSE;
	if (key == KAPI_JOIN_GROUP || key == KAPI_SYNC_GROUP || key == KAPI_HEARTBEAT || key == KAPI_LEAVE_GROUP) {
		struct kreader peek = *r;  /* each starts with the group id */
		struct kstr gid = kr_string(&peek);
		if (peek.err)
			return REQ_CLOSE;
		if (!group_allowed(b, ACL_CONSUME, gid))
			return group_denied(key, v, w);
	}
	switch (key) {
	case KAPI_FIND_COORDINATOR: return find_coordinator(b, v, r, w);
	case KAPI_JOIN_GROUP: return join_group(b, v, r, w, final, now, peer, client, wait);
	case KAPI_SYNC_GROUP: return sync_group(b, v, r, w, final, now, wait);
	case KAPI_HEARTBEAT: return heartbeat(b, v, r, w, now);
	case KAPI_LEAVE_GROUP: return leave_group(b, v, r, w, now);
	case KAPI_OFFSET_COMMIT: return offset_commit(b, v, r, w, now);
	case KAPI_OFFSET_FETCH: return offset_fetch(b, v, r, w);
	case KAPI_DESCRIBE_GROUPS: return describe_groups(b, v, r, w);
	case KAPI_LIST_GROUPS: return list_groups(b, v, w);
	}
	return REQ_CLOSE;
}
