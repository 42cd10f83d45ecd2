/* One event on its way through the filters (agent/module.h, docs/filters.md).
 *
 * An event is its input's name and tag, its time (ms, the ring record's
 * timestamp) and its ECS JSON text, one object. The text stays text: fields
 * are read and written by scanning it (the paths of common/json_path.h:
 * "a.b.c" matches nested objects, a flat ECS key "a.b.c", or any mix), and a
 * write splices the new value into the text. Nothing is parsed into a tree,
 * so a chain of filters costs a few scans of a few hundred bytes per event.
 *
 * Memory: the event starts by borrowing the input's text (no copy); the
 * first change copies it into the event's own buffer, which is reused from
 * one event to the next (no allocation per event once warm). Pointers from
 * event_json() and event_get_raw() are valid until the next change. A line
 * event (event_begin_line: the filter thread's jobs from stdin and tail)
 * has no text until a function here needs it.
 *
 * Errors are negative errno values: -ENOENT (no such field), -EINVAL (bad
 * path, or the text is not a JSON object), -ENOSPC (does not fit), -ENOMEM. */
#ifndef LOGSHIP_AGENT_EVENT_H
#define LOGSHIP_AGENT_EVENT_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/sbuf.h"

struct event_member { size_t k, ke, v, ve; int esc; };

struct event {
	const char *input, *tag;       /* the input's name; tag or NULL */
	int64_t ts_ms;                 /* event time */
	const char *json;              /* the current text: borrowed, or buf.p */
	size_t len;
	struct sbuf buf, tmp;          /* own text once changed; scratch for splices */
	struct sbuf scratch;           /* for filters: reset by event_begin */
	/* private to event.c: a value being written, member indexes, and the
	 * root's members (offsets), kept across changes so that a chain of
	 * filters does not rescan the text for every field */
	struct sbuf val;
	void *madd, *mhave;
	size_t madd_cap, mhave_cap;
	struct event_member *ridx;
	size_t nridx, ridx_cap;
	int ridx_state;                /* 0 not built, 1 valid, -1 text not an object */
	/* a root string event_get_decoded decoded and found to be a valid
	 * JSON object in the same pass: its text (fz_obj, fz_len), the object
	 * within it and its fz_na members in madd, for event_merge_checked;
	 * fz_obj NULL: none */
	const char *fz_obj, *fz_o, *fz_oe;
	size_t fz_len, fz_na;
	/* a line event (event_begin_line) not written out yet (ln_lazy): its
	 * text is ln_head + the JSON string of ln_msg + ln_tail; json is NULL
	 * and len 0 until something needs the text */
	const char *ln_head, *ln_msg, *ln_tail;
	size_t ln_hlen, ln_mlen, ln_tlen;
	int ln_lazy;
};

/* Begins an event borrowing json[0..len) (valid while it is processed). */
void event_begin(struct event *ev, const char *input, const char *tag, int64_t ts_ms,
		 const char *json, size_t len);
/* Begins an event given as its input's line, all three parts borrowed:
 * head, the text up to and with the key "message" and its colon; msg, the
 * line's raw bytes (the value is their JSON string, json_put_string); tail,
 * what follows the value, the closing brace included. The text is written
 * out when first needed, and event_parse_line may merge a JSON line without
 * ever escaping it. */
void event_begin_line(struct event *ev, const char *input, const char *tag, int64_t ts_ms, const char *head,
		      size_t hlen, const char *msg, size_t mlen, const char *tail, size_t tlen);
/* Frees the buffers (the event can begin again after). */
void event_free(struct event *ev);

const char *event_input(const struct event *ev);
const char *event_tag(const struct event *ev);    /* NULL: none */
int64_t event_time(const struct event *ev);
void event_set_time(struct event *ev, int64_t ts_ms);
/* The current JSON text and its length. */
const char *event_json(const struct event *ev, size_t *len);
/* Replaces the whole text (must be one JSON object; not checked here). */
int event_set_text(struct event *ev, const char *json, size_t len);

/* Decoded string value at a dotted path (nested objects or flat ECS keys, as
 * common/json_path.c reads them): a string unescaped, a number, true or false
 * as written, NUL-terminated in buf. Its length; -ENOENT if absent or not a
 * string/number/bool (null, object, array), -ENOSPC if longer than cap-1. */
ssize_t event_get_str(const struct event *ev, const char *path, char *buf, size_t cap);
/* The same, appended to an sbuf (no length limit). 1 found, 0 absent. */
int event_get_sbuf(const struct event *ev, const char *path, struct sbuf *out);
/* The raw JSON value at path, any kind (object, array, string with its
 * quotes, number, null): points into the text. 0 or -ENOENT. */
int event_get_raw(const struct event *ev, const char *path, const char **val, size_t *len);
/* Appends the decoded text of a raw JSON string value (quotes included, as
 * event_get_raw gives it) to out. 1, or 0 if it is not a valid string. */
int event_decode_str(const char *val, size_t len, struct sbuf *out);
/* event_get_raw and, for a string, event_decode_str into out (*decoded 1;
 * 0 if the value is not a string or not a valid one), in one go: a root
 * field's text is scanned once when the event was not indexed yet (the
 * decode finds the string's end, and checks whether the decoded text is a
 * JSON object, collecting its members for event_merge_checked: out must
 * then stay as it is until that call). 0 or -ENOENT. */
int event_get_decoded(struct event *ev, const char *path, const char **val, size_t *len, struct sbuf *out,
		      int *decoded);
/* Whether path is present (any value, null included). */
int event_has(const struct event *ev, const char *path);
/* 1 if no root key is `prefix` or starts with "prefix." (so a write to
 * "prefix.x" builds a new root member at the end); 0 if one is, or the
 * root cannot tell cheaply (an escaped key, text not an object). */
int event_root_lacks(const struct event *ev, const char *prefix);

/* Sets path to a raw JSON value (object, string, number...), creating
 * intermediate objects, replacing an existing value. 0 or -errno. The value
 * is not validated: callers pass JSON they wrote or read from the event. */
int event_set_json(struct event *ev, const char *path, const char *json, size_t len);
/* Sets path to the JSON string s[0..n) (escaped here). */
int event_set_str(struct event *ev, const char *path, const char *s, size_t n);
/* Moves the value at from to to, as event_get_raw, event_remove and
 * event_set_json of the value would (the same text): -ENOENT if from is
 * absent (nothing changes), else as event_set_json (from is removed even
 * when the write fails). One new text instead of two when from is a root
 * member and to is absent with no root key on its way. */
int event_move(struct event *ev, const char *from, const char *to);
/* Removes path (key and value). 0, or -ENOENT if it was not there. */
int event_remove(struct event *ev, const char *path);
/* Merges every member of the JSON object obj[0..len) into the object at
 * path (NULL or "": the root), each like event_set_json (a member replaces
 * the value of the same key). 0, -EINVAL if obj is not a valid object. */
int event_merge(struct event *ev, const char *path, const char *obj, size_t len);
/* event_merge for text nobody checked yet (a field just parsed): validates
 * obj[0..len) as event_json_valid does (blanks spanning lines squeezed as
 * event_json_compact does) while collecting its members, in one pass; if it
 * is a valid object, removes `remove` (a path; NULL: none; absent: fine) and
 * merges. Nothing changes unless obj is valid: -EBADMSG not valid JSON,
 * -EDOM valid JSON but not an object; else as event_merge. obj must not
 * point into the event's own buffers. */
int event_merge_checked(struct event *ev, const char *path, const char *obj, size_t len, const char *remove);

/* parse json's shortcut for a line event nothing changed yet, when field
 * is its "message" and the line is valid UTF-8 (so the string's decoded
 * text is the line itself): the same as event_merge_checked(ev, target,
 * <the decoded message>, field) on the written-out text, from the line
 * itself, without escaping it nor decoding it back. 1: not such an event
 * (nothing changed: go the usual way); else event_merge_checked's result
 * (on -EBADMSG, -EDOM or -ENOMEM nothing changed either). */
int event_parse_line(struct event *ev, const char *field, const char *target);

/* A batch of changes to root members made in one new text, for a config
 * whose operations touch distinct root names (filters/modify.c's plan):
 *   EVENT_OP_REMOVE path        removes the root member keyed path;
 *   EVENT_OP_MOVE   path -> to  moves that member's value to `to`;
 *   EVENT_OP_PUT    path = json writes json at path;
 * a dotted to or PUT path is written as nested objects, at the end of the
 * root. The text is then exactly what event_move, event_set_json and
 * event_remove give, called one after the other in the order of ops: the
 * caller makes sure that every path and to is valid (a.b.c, no empty
 * segment), event_plan_add that their first segments (up to the first
 * dot) all differ; the batch checks, per event, that the root is compact
 * (no blank between members, nothing around the braces, no escaped key)
 * and that no root key shares a first segment with an op except a REMOVE
 * or MOVE path's single exact key. 1 done; 0 the event does not fit (nothing changed: run the
 * ops one by one); -ENOMEM. At most EVENT_OPS_MAX ops. */
enum event_op_kind { EVENT_OP_REMOVE, EVENT_OP_MOVE, EVENT_OP_PUT };
struct event_op {
	enum event_op_kind kind;
	const char *path, *to;            /* REMOVE, MOVE: the root key; PUT: where; MOVE: to */
	size_t plen, pseg, tseg;          /* pseg, tseg: first segments' lengths */
	/* PUT: the whole new member, "a":{"b":json}; MOVE: the new member's
	 * text before the value, "a":{"b":, and `close` braces after it */
	struct sbuf text;
	size_t close;
};
#define EVENT_OPS_MAX 32
/* The ops of one batch, with what event_batch would otherwise work out per
 * event: which op a root key may concern, by its first byte. */
struct event_plan {
	struct event_op op[EVENT_OPS_MAX];
	size_t n;
	size_t room;                      /* bytes the writes add at most */
	size_t puts;                      /* PUT ops */
	uint8_t by_first[256];            /* 1 + the one op with a name starting so; 0 none; 255 several */
};
/* A plan starts zeroed ({0}). Adds an op: path, and for MOVE the path to
 * (both kept by reference: they must outlive the plan), for PUT the value
 * json[0..jlen). 0, -ENOMEM, -E2BIG past EVENT_OPS_MAX, or -EEXIST when a
 * name's first segment is one the plan has (the ops must then run one by
 * one); the plan is unchanged on error. */
int event_plan_add(struct event_plan *pl, enum event_op_kind kind, const char *path, const char *to,
		   const char *json, size_t jlen);
void event_plan_free(struct event_plan *pl);
int event_batch(struct event *ev, const struct event_plan *pl);

/* Validates that json[0..len) is one JSON value (RFC 8259) with nesting no
 * deeper than 64: 1 if so. Used before splicing text a filter did not write. */
int event_json_valid(const char *json, size_t len);
/* Validates json[0..len) as above and appends it to out on one line (the
 * blanks between tokens removed when it spans lines: the ring's events are
 * NDJSON lines for some outputs). 1 if valid, 0 if not (out unchanged in
 * length only on success). */
int event_json_compact(const char *json, size_t len, struct sbuf *out);

#endif
