/* Shared by agent/event.c and agent/event_batch.c only: the event's text
 * builders and its root index (struct event's private part, event.h). */
#ifndef LOGSHIP_AGENT_EVENT_INTERNAL_H
#define LOGSHIP_AGENT_EVENT_INTERNAL_H
#include <string.h>

#include "agent/event.h"

/* sbuf_put inline for the room a builder reserved up front (falls back
 * to sbuf_put, which grows the buffer, when it is short). */
static inline __attribute__((always_inline)) void ev_put(struct sbuf *t, const void *s, size_t n)
{
	if (t->len + n <= t->cap && !t->err) {
		if (n)
			memcpy(t->p + t->len, s, n);   /* s may be NULL when n is 0 */
		t->len += n;
		return;
	}
	sbuf_put(t, s, n);
}

/* Writes a line event's text out (event_begin_line); see ev_ready. */
void ev_write_line(struct event *ev);
/* Every function of event.h that reads or changes the text calls this
 * first: a line event gets its text then. Through a const event too: the
 * text is what the event is, written out late. */
static inline void ev_ready(const struct event *ev)
{
	if (ev->ln_lazy)
		ev_write_line((struct event *)ev);
}

/* 1 if the root's member index (ev->ridx, ev->nridx) is valid, building it
 * if need be; 0 if the text is not an object it can index. */
int ev_root_index(const struct event *ev);
/* Appends "a":{"b":{"c":json}} for path "a.b.c" (path_ok) to t. */
void ev_put_path(struct sbuf *t, const char *path, size_t plen, const char *json, size_t len);
/* Makes ev->tmp the text (buffers swap; the index is the caller's to fix).
 * 0, or -ENOMEM if tmp's build failed. */
int ev_take_tmp(struct event *ev);

#endif
