/* A tiny bounded pull reader for JSON, enough to walk an Elasticsearch
 * `_bulk` response without building a tree: a cursor over a buffer, with
 * "expect this character", "read a string into a fixed buffer", "read an
 * integer", "skip any value". It never reads past the end, never allocates,
 * and gives up (error set, sticky) on malformed or truncated input and on
 * nesting deeper than ESJ_MAX_DEPTH, so a garbled response is detected, not
 * misread. The agent's events are written by us and never parsed; this reads
 * only what a server sends back. */
#ifndef LOGSHIP_OUTPUTS_ES_JSON_H
#define LOGSHIP_OUTPUTS_ES_JSON_H
#include <stddef.h>
#include <stdint.h>

#define ESJ_MAX_DEPTH 64

struct esj {
	const char *p, *end;
	int err;                 /* sticky: once set, every call fails */
};

static inline void esj_init(struct esj *j, const char *buf, size_t len)
{
	j->p = buf;
	j->end = buf + len;
	j->err = 0;
}

/* The next non-blank character without consuming it; 0 at the end. */
char esj_peek(struct esj *j);
/* Consumes c (after blanks); 0, or -1 (and err) if something else is there. */
int esj_expect(struct esj *j, char c);
/* Consumes c if it is next: 1, else 0 (no error). */
int esj_accept(struct esj *j, char c);
/* Reads a string; its decoded text, cut to cap - 1 bytes, NUL-terminated
 * into out (out may be NULL to skip it). 0 or -1. */
int esj_string(struct esj *j, char *out, size_t cap);
/* Reads an integer (a number with no fraction), into *v. 0 or -1. */
int esj_int(struct esj *j, int64_t *v);
/* Reads true or false. 0 or -1. */
int esj_bool(struct esj *j, int *v);
/* Skips one value of any kind. 0 or -1. */
int esj_skip(struct esj *j);

/* Walking an object: call esj_expect(j, '{'), then esj_next_key until it
 * returns 0 (the closing '}' consumed) or -1; after each 1 the value of key
 * is next and must be consumed (read or esj_skip). */
int esj_next_key(struct esj *j, int *first, char *key, size_t cap);
/* The same for arrays: 1 = an element is next, 0 = ']' consumed, -1. */
int esj_next_elem(struct esj *j, int *first);

#endif
