/* Filter `parse`: turns one text field (default `message`) into fields.
 *   format: json    the field holds a JSON object (or is one already)
 *   format: logfmt  key=value key2="quoted value" (a bare key is true)
 *   format: regex   a PCRE2 pattern whose named groups (?<name>...) become
 *                   string fields; unmatched optional groups are left out
 * The fields land in the event's root (a parsed key replaces the same key)
 * or under `target`. Without keep_original the source field is removed once
 * it parsed. With time_field, that parsed field read with time_format
 * becomes @timestamp and the record's event time.
 *
 * A value that does not parse leaves the event as it was, plus a short
 * reason in `error_field` (default event.parse_error); it is never dropped.
 * Counted per instance: parse_failed, parse_time_failed, parse_missing (no
 * such field, which is not flagged).
 *
 * Cost: the field is decoded as the event is first indexed
 * (event_get_decoded: its text is scanned once); for json, that same pass
 * checks the decoded text and collects its members when it is a plain
 * object (else event_merge_checked checks it in a pass of its own), and one
 * more merges them, with the field's removal (event_merge_checked); buffers
 * are kept from one event to the next: no allocation per event. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/event.h"
#include "agent/module.h"
#include "common/json.h"
#include "filters/filter_util.h"

enum { P_JSON, P_LOGFMT, P_REGEX };
static const char *const format_choices[] = { "json", "logfmt", "regex", NULL };

struct parse_conf {
	char *field, *pattern, *target, *time_field, *time_format, *error_field;
	int format, keep_original, time_keep;
};

#define KP(f) offsetof(struct parse_conf, f)
static const struct cfg_key parse_keys[] = {
	{ "field", CFG_T_STRING, KP(field), "message", 0, NULL, 0, 0, NULL,
	  "The field to parse (a dotted path)." },
	{ "format", CFG_T_ENUM, KP(format), "json", 0, format_choices, 0, 0, NULL,
	  "json: a JSON object; logfmt: key=value pairs; regex: `pattern`'s named groups." },
	{ "pattern", CFG_T_STRING, KP(pattern), NULL, 0, NULL, 0, 0, NULL,
	  "format: regex only: a PCRE2 pattern with named groups, e.g. '^(?<client>\\S+) (?<method>[A-Z]+) (?<path>\\S+)$'." },
	{ "target", CFG_T_STRING, KP(target), NULL, 0, NULL, 0, 0, NULL,
	  "Where the parsed fields go: a field path (an object, made if absent); default: the event's root." },
	{ "keep_original", CFG_T_BOOL, KP(keep_original), "false", 0, NULL, 0, 0, NULL,
	  "Keep the source field after a successful parse (unless a parsed field of the same name replaced it)." },
	{ "time_field", CFG_T_STRING, KP(time_field), NULL, 0, NULL, 0, 0, NULL,
	  "A parsed field (relative to target) holding the event's time: it becomes @timestamp and the record time." },
	{ "time_format", CFG_T_STRING, KP(time_format), "\"%Y-%m-%dT%H:%M:%S%L%z\"", 0, NULL, 0, 0, NULL,
	  "strptime(3) format of time_field, plus %L: optional fractional seconds (.123); without %z the time is UTC. "
	  "Or `unix` (seconds, fraction allowed) or `unix_ms`." },
	{ "time_keep", CFG_T_BOOL, KP(time_keep), "true", 0, NULL, 0, 0, NULL,
	  "Keep time_field after it was read into @timestamp." },
	{ "error_field", CFG_T_STRING, KP(error_field), "event.parse_error", 0, NULL, 0, 0, NULL,
	  "Where the reason goes when the field does not parse (the event is kept as it was)." },
	{ .name = NULL },
};
#undef KP

struct parse {
	const struct parse_conf *c;
	struct fre re;
	char **names;                  /* regex: group number -> name (NULL: unnamed) */
	uint32_t ngroups;
	char *time_path;               /* target + "." + time_field */
	struct sbuf raw, obj;          /* decoded field, parsed object */
	char why[160];
	_Atomic uint64_t *failed, *time_failed, *missing;
};

static int parse_check(const void *conf, const struct cfg_node *map, struct cfg_error *err)
{
	const struct parse_conf *c = conf;
	int rc;
	char why[256];
	if ((rc = fcheck_path(cfg_at(map, "field"), c->field, "field", err)) < 0 ||
	    (rc = fcheck_path(cfg_at(map, "error_field"), c->error_field, "error_field", err)) < 0)
		return rc;
	if (c->target && (rc = fcheck_path(cfg_at(map, "target"), c->target, "target", err)) < 0)
		return rc;
	if (c->time_field && (rc = fcheck_path(cfg_at(map, "time_field"), c->time_field, "time_field", err)) < 0)
		return rc;
	if (c->format == P_REGEX) {
		if (!c->pattern)
			return cfg_fail(err, cfg_at(map, "format"), "format: regex needs a 'pattern'");
		if ((rc = fre_check(cfg_get(map, "pattern"), why, sizeof(why), err)) < 0)
			return rc;
		struct fre re;
		fre_compile(&re, c->pattern, why, sizeof(why));
		uint32_t n = 0;
		pcre2_pattern_info(re.code, PCRE2_INFO_NAMECOUNT, &n);
		fre_free(&re);
		if (!n)
			return cfg_fail(err, cfg_get(map, "pattern"),
					"pattern has no named group: name the parts to keep, (?<name>...)");
	} else if (c->pattern) {
		return cfg_fail(err, cfg_get(map, "pattern"), "'pattern' is for format: regex only");
	}
	if (!c->time_field && cfg_get(map, "time_format"))
		return cfg_fail(err, cfg_get(map, "time_format"), "time_format needs time_field");
	if (c->time_field && strcmp(c->time_format, "unix") && strcmp(c->time_format, "unix_ms") &&
	    !strstr(c->time_format, "%"))
		return cfg_fail(err, cfg_get(map, "time_format"),
				"time_format '%s' has no %% directive (strptime(3) format, unix or unix_ms)", c->time_format);
	return 0;
}

static void parse_destroy(void *state)
{
	struct parse *p = state;
	if (!p)
		return;
	for (uint32_t i = 0; p->names && i <= p->ngroups; i++)
		free(p->names[i]);
	free(p->names);
	fre_free(&p->re);
	free(p->time_path);
	sbuf_free(&p->raw);
	sbuf_free(&p->obj);
	free(p);
}

static int names_load(struct parse *p)
{
	uint32_t count = 0, size = 0;
	PCRE2_SPTR table;
	pcre2_pattern_info(p->re.code, PCRE2_INFO_CAPTURECOUNT, &p->ngroups);
	pcre2_pattern_info(p->re.code, PCRE2_INFO_NAMECOUNT, &count);
	pcre2_pattern_info(p->re.code, PCRE2_INFO_NAMEENTRYSIZE, &size);
	pcre2_pattern_info(p->re.code, PCRE2_INFO_NAMETABLE, &table);
	p->names = calloc(p->ngroups + 1, sizeof(*p->names));
	if (!p->names)
		return -ENOMEM;
	for (uint32_t i = 0; i < count; i++) {
		const unsigned char *e = table + (size_t)i * size;
		uint32_t g = ((uint32_t)e[0] << 8) | e[1];
		if (g <= p->ngroups && !(p->names[g] = strdup((const char *)e + 2)))
			return -ENOMEM;
	}
	return 0;
}

static int parse_init(struct filter *f, const void *conf, void **state)
{
	const struct parse_conf *c = conf;
	struct parse *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->c = c;
	int rc = 0;
	if (c->format == P_REGEX) {
		char why[256];
		if ((rc = fre_compile(&p->re, c->pattern, why, sizeof(why))) < 0 || (rc = names_load(p)) < 0)
			goto fail;
	}
	if (c->time_field) {
		if (c->target && asprintf(&p->time_path, "%s.%s", c->target, c->time_field) < 0)
			p->time_path = NULL;
		else if (!c->target)
			p->time_path = strdup(c->time_field);
		if (!p->time_path) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	p->failed = filter_counter(f, "parse_failed");
	p->time_failed = filter_counter(f, "parse_time_failed");
	p->missing = filter_counter(f, "parse_missing");
	*state = p;
	return 0;
fail:
	parse_destroy(p);
	return rc;
}

static void count(_Atomic uint64_t *c)
{
	if (c)
		atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* --- the formats: each builds a JSON object in p->obj, or says why not ----------- */
/* (json needs no builder: event_merge_checked takes the decoded text as is) */

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int parse_logfmt(struct parse *p, const char *s, size_t n)
{
	const char *e = s + n;
	size_t pairs = 0;
	sbuf_putc(&p->obj, '{');
	while (s < e) {
		while (s < e && is_blank(*s))
			s++;
		if (s >= e)
			break;
		const char *k = s;
		while (s < e && !is_blank(*s) && *s != '=' && *s != '"')
			s++;
		if (s == k) {
			snprintf(p->why, sizeof(p->why), "%s: logfmt: expected a key at column %zu", p->c->field,
				 (size_t)(k - (e - n)) + 1);
			return -EINVAL;
		}
		if (p->obj.len > 1)
			sbuf_putc(&p->obj, ',');
		json_put_string(&p->obj, k, (size_t)(s - k));
		sbuf_putc(&p->obj, ':');
		if (s >= e || *s != '=') {
			sbuf_puts(&p->obj, "true");   /* a bare key: a flag */
			continue;
		}
		s++;
		pairs++;
		if (s < e && *s == '"') {
			sbuf_putc(&p->obj, '"');
			for (s++;; s++) {
				if (s >= e) {
					snprintf(p->why, sizeof(p->why), "%s: logfmt: unterminated quoted value", p->c->field);
					return -EINVAL;
				}
				if (*s == '"')
					break;
				const char *run = s;
				if (*s == '\\' && s + 1 < e)
					s++;       /* \" \\ \n ...: the escapes JSON shares */
				if (run != s && !strchr("\"\\/bfnrt", *s)) {
					json_put_escaped(&p->obj, s, 1);   /* \x: x itself */
					continue;
				}
				if (run != s) {
					sbuf_put(&p->obj, run, 2);
					continue;
				}
				json_put_escaped(&p->obj, s, 1);
			}
			s++;
			sbuf_putc(&p->obj, '"');
		} else {
			const char *v = s;
			while (s < e && !is_blank(*s))
				s++;
			json_put_string(&p->obj, v, (size_t)(s - v));
		}
	}
	sbuf_putc(&p->obj, '}');
	if (!pairs) {
		snprintf(p->why, sizeof(p->why), "%s: logfmt: no key=value pair", p->c->field);
		return -EINVAL;
	}
	return 0;
}

static int parse_regex(struct parse *p, const char *s, size_t n)
{
	int rc = fre_match(&p->re, s, n);
	if (rc != 1) {
		snprintf(p->why, sizeof(p->why), "%s: %s", p->c->field,
			 rc == 0 ? "pattern did not match" : "pattern too complex for this value");
		return -EINVAL;
	}
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(p->re.md);
	sbuf_putc(&p->obj, '{');
	for (uint32_t g = 1; g <= p->ngroups; g++) {
		if (!p->names[g] || ov[2 * g] == PCRE2_UNSET)
			continue;
		if (p->obj.len > 1)
			sbuf_putc(&p->obj, ',');
		json_put_string(&p->obj, p->names[g], strlen(p->names[g]));
		sbuf_putc(&p->obj, ':');
		json_put_string(&p->obj, s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
	}
	sbuf_putc(&p->obj, '}');
	return 0;
}

/* --- time --------------------------------------------------------------------------- */

/* Parses s with fmt (strptime plus %L, optional fractional seconds) into
 * ms since the epoch. 0 or -EINVAL. */
int parse_time(const char *s, const char *fmt, int64_t *ms)
{
	char *end;
	if (!strcmp(fmt, "unix") || !strcmp(fmt, "unix_ms")) {
		errno = 0;
		double v = strtod(s, &end);
		if (end == s || *end || errno || v != v)
			return -EINVAL;
		v = !strcmp(fmt, "unix") ? v * 1000.0 : v;
		if (v < -1e15 || v > 1e15)
			return -EINVAL;
		*ms = (int64_t)v;
		return 0;
	}
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	long frac_ms = 0;
	char part[128];
	const char *f = fmt;
	while (*f) {
		const char *L = strstr(f, "%L");
		size_t n = L ? (size_t)(L - f) : strlen(f);
		if (n >= sizeof(part))
			return -EINVAL;
		memcpy(part, f, n);
		part[n] = 0;
		if (n) {
			s = strptime(s, part, &tm);
			if (!s)
				return -EINVAL;
		}
		if (!L)
			break;
		if (*s == '.' || *s == ',') {   /* %L: .1 to .999999999 */
			s++;
			int digits = 0;
			long scale = 100;
			while (*s >= '0' && *s <= '9') {
				if (digits++ < 3) {
					frac_ms += (*s - '0') * scale;
					scale /= 10;
				}
				s++;
			}
			if (!digits)
				return -EINVAL;
		}
		f = L + 2;
	}
	if (*s)
		return -EINVAL;   /* trailing text: the format does not describe the value */
	long off = tm.tm_gmtoff;  /* set by %z; 0 otherwise: UTC */
	time_t t = timegm(&tm);
	if (t == (time_t)-1 && tm.tm_year != 69)
		return -EINVAL;
	*ms = ((int64_t)t - off) * 1000 + frac_ms;
	return 0;
}

static void apply_time(struct parse *p, struct event *ev)
{
	char buf[128];
	ssize_t n = event_get_str(ev, p->time_path, buf, sizeof(buf));
	int64_t ms;
	if (n < 0 || parse_time(buf, p->c->time_format, &ms) < 0) {
		count(p->time_failed);
		if (n >= 0)
			snprintf(p->why, sizeof(p->why), "%s: '%.60s' does not match time_format", p->time_path, buf);
		else
			snprintf(p->why, sizeof(p->why), "%s: %s", p->time_path, n == -ENOSPC ? "too long for a time" : "absent");
		event_set_str(ev, p->c->error_field, p->why, strlen(p->why));
		return;
	}
	char ts[32];
	size_t tl = json_format_time(ts, ms);
	char q[40];
	q[0] = '"';
	memcpy(q + 1, ts, tl);
	q[tl + 1] = '"';
	event_set_json(ev, "@timestamp", q, tl + 2);
	event_set_time(ev, ms);
	if (!p->c->time_keep)
		event_remove(ev, p->time_path);
}

/* --- apply ---------------------------------------------------------------------------- */

/* After the parsed fields were merged (event_merge, event_merge_checked or
 * event_parse_line; only the last two tell invalid JSON by -EBADMSG and
 * -EDOM): the time read, or the failure flagged. */
static int merged(struct parse *p, struct event *ev, int rc)
{
	const struct parse_conf *c = p->c;
	if (rc < 0) {
		count(p->failed);
		if (rc == -EBADMSG || rc == -EDOM)
			snprintf(p->why, sizeof(p->why), "%s: %s", c->field,
				 rc == -EBADMSG ? "not valid JSON" : "JSON but not an object");
		else
			snprintf(p->why, sizeof(p->why), "%s: parsed fields could not be added (%s)", c->field,
				 strerror(-rc));
		event_set_str(ev, c->error_field, p->why, strlen(p->why));
		return FILTER_KEEP;
	}
	if (p->time_path)
		apply_time(p, ev);
	return FILTER_KEEP;
}

static int parse_apply(void *state, struct event *ev)
{
	struct parse *p = state;
	const struct parse_conf *c = p->c;
	const char *v;
	size_t vn;
	int decoded;
	p->raw.len = p->obj.len = 0;
	p->raw.err = p->obj.err = 0;
	int rc;
	/* a line straight from its input: merged from the raw line */
	if (c->format == P_JSON && !c->keep_original && (rc = event_parse_line(ev, c->field, c->target)) <= 0)
		return merged(p, ev, rc);
	if (event_get_decoded(ev, c->field, &v, &vn, &p->raw, &decoded) < 0) {
		count(p->missing);
		return FILTER_KEEP;
	}
	if (*v == '{' && c->format == P_JSON) {
		sbuf_put(&p->obj, v, vn);    /* already an object: merge it as is */
		rc = p->obj.err ? -ENOMEM : 0;
	} else if (*v != '"') {
		snprintf(p->why, sizeof(p->why), "%s: not a string", c->field);
		rc = -EINVAL;
	} else if (!decoded || p->raw.err) {
		snprintf(p->why, sizeof(p->why), "%s: not a valid JSON string", c->field);
		rc = -EINVAL;
	} else if (c->format == P_JSON) {
		/* the common case: the decoded text is checked and merged in
		 * one pass, with the removal of the field, straight into the
		 * event (no intermediate copy, no second scan) */
		rc = event_merge_checked(ev, c->target, p->raw.p ? p->raw.p : "", p->raw.len,
					 c->keep_original ? NULL : c->field);
		return merged(p, ev, rc);
	} else {
		const char *s = p->raw.p ? p->raw.p : "";
		rc = c->format == P_LOGFMT ? parse_logfmt(p, s, p->raw.len) : parse_regex(p, s, p->raw.len);
		if (rc == 0 && p->obj.err)
			rc = -ENOMEM;
	}
	if (rc < 0) {
		count(p->failed);
		if (rc == -ENOMEM)
			snprintf(p->why, sizeof(p->why), "%s: out of memory", c->field);
		event_set_str(ev, c->error_field, p->why, strlen(p->why));
		return FILTER_KEEP;
	}
	if (!c->keep_original)
		event_remove(ev, c->field);
	return merged(p, ev, event_merge(ev, c->target, p->obj.p, p->obj.len));
}

const struct filter_module filter_parse = {
	.type = "parse",
	.doc = "Parses a text field (default `message`) as `json`, `logfmt` or a PCRE2 `regex` with "
	       "named groups, into the event's root or under `target`; optionally reads a time field "
	       "into @timestamp. A value that does not parse leaves the event unchanged but for the "
	       "reason in `error_field`; it is never dropped.",
	.keys = parse_keys,
	.conf_size = sizeof(struct parse_conf),
	.check = parse_check,
	.init = parse_init,
	.apply = parse_apply,
	.destroy = parse_destroy,
};
