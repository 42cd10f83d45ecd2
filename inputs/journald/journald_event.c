/* ECS events from journal entries; see journald_event.h. The shape:
 *
 *   {"@timestamp":"<realtime>","message":"<MESSAGE>","host":{"name":"<_HOSTNAME>"},
 *    "log":{"syslog":{"priority":6,"severity":{"code":6,"name":"Informational"},
 *           "facility":{"code":3,"name":"daemon"}}},
 *    "journald":{"SYSLOG_IDENTIFIER":"nginx","_PID":"42","_SYSTEMD_UNIT":"nginx.service",...,
 *                "binary_fields":["BLOB"],"BLOB":"<base64>"}}
 *
 * MESSAGE, _HOSTNAME and PRIORITY become the ECS fields; every other field
 * goes under journald.* with its journal name (names are upper case, digits
 * and '_', so the lower-case "binary_fields" cannot collide with one). As in
 * Filebeat, log.syslog.priority is the journal's PRIORITY (the severity) and
 * SYSLOG_FACILITY, when there, also fills log.syslog.facility.
 *
 * A field may appear more than once in an entry: its values become a JSON
 * array, in entry order. A value that is not text (invalid UTF-8, control
 * characters) is base64-encoded and its name listed in journald.binary_fields;
 * a binary MESSAGE is still written to `message` as text (escaped, invalid
 * bytes as U+FFFD) so that it can be read, and also kept exactly in
 * journald.MESSAGE. */
#include "inputs/journald/journald_event.h"

#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "inputs/syslog/syslog_parse.h"

static int name_is(const struct jd_field *f, const char *s)
{
	size_t n = strlen(s);
	return f->name_len == n && memcmp(f->name, s, n) == 0;
}

int jd_is_text(const char *v, size_t n)
{
	const unsigned char *s = (const unsigned char *)v;
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c < 0x80) {
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
				return 0;
			if (c == 0x7f)
				return 0;
			i++;
			continue;
		}
		size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
		if (!len || c > 0xf4 || i + len > n)
			return 0;
		for (size_t k = 1; k < len; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
		if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] > 0x9f) ||
		    (c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] > 0x8f))
			return 0;
		i += len;
	}
	return 1;
}

static void put_base64(struct sbuf *b, const char *v, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = (const unsigned char *)v;
	if (sbuf_reserve(b, (n + 2) / 3 * 4 + 2) < 0)
		return;
	char *o = b->p + b->len;
	*o++ = '"';
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t x = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		*o++ = tab[x >> 18];
		*o++ = tab[(x >> 12) & 63];
		*o++ = tab[(x >> 6) & 63];
		*o++ = tab[x & 63];
	}
	if (i < n) {
		uint32_t x = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
		*o++ = tab[x >> 18];
		*o++ = tab[(x >> 12) & 63];
		*o++ = i + 1 < n ? tab[(x >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o++ = '"';
	b->len = (size_t)(o - b->p);
}

static int cmp_name(const void *a, const void *b)
{
	const struct jd_field *x = a, *y = b;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->name, y->name, n);
	if (c)
		return c;
	if (x->name_len != y->name_len)
		return x->name_len < y->name_len ? -1 : 1;
	/* equal names keep entry order (qsort is not stable) */
	return x->value < y->value ? -1 : x->value > y->value;
}

/* A small decimal 0..999, or -1. */
static int small_int(const struct jd_field *f)
{
	if (!f || f->value_len == 0 || f->value_len > 3)
		return -1;
	int v = 0;
	for (size_t i = 0; i < f->value_len; i++) {
		if (f->value[i] < '0' || f->value[i] > '9')
			return -1;
		v = v * 10 + (f->value[i] - '0');
	}
	return v;
}

static void put_value(struct sbuf *b, const struct jd_field *f)
{
	if (jd_is_text(f->value, f->value_len))
		json_put_string(b, f->value, f->value_len);
	else
		put_base64(b, f->value, f->value_len);
}

int64_t jd_event_build(struct sbuf *b, struct jd_field *f, size_t n, uint64_t realtime_us)
{
	/* Entry order for equal names relies on the values' addresses growing
	 * in entry order: the caller copies them into one arena in order. */
	if (n > 1)
		qsort(f, n, sizeof(*f), cmp_name);
	const struct jd_field *msg = NULL, *host = NULL, *prio = NULL, *fac = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!msg && name_is(&f[i], "MESSAGE"))
			msg = &f[i];
		else if (!host && name_is(&f[i], "_HOSTNAME"))
			host = &f[i];
		else if (!prio && name_is(&f[i], "PRIORITY"))
			prio = &f[i];
		else if (!fac && name_is(&f[i], "SYSLOG_FACILITY"))
			fac = &f[i];
	}
	int64_t ts = (int64_t)(realtime_us / 1000);
	char t[32];
	json_format_time(t, ts);
	sbuf_reset(b);
	sbuf_puts(b, "{\"@timestamp\":\"");
	sbuf_put(b, t, 24);
	sbuf_putc(b, '"');
	if (msg) {
		sbuf_puts(b, ",\"message\":");
		json_put_string(b, msg->value, msg->value_len);
	}
	if (host) {
		sbuf_puts(b, ",\"host\":{\"name\":");
		json_put_string(b, host->value, host->value_len);
		sbuf_putc(b, '}');
	}
	int sev = small_int(prio), fc = small_int(fac);
	if (sev > 7)
		sev = -1;
	if (fc > 23)
		fc = -1;
	if (sev >= 0 || fc >= 0) {
		sbuf_puts(b, ",\"log\":{\"syslog\":{");
		if (sev >= 0)
			sbuf_printf(b, "\"priority\":%d,\"severity\":{\"code\":%d,\"name\":\"%s\"}", sev, sev,
				    syslog_severity_name(sev));
		if (fc >= 0)
			sbuf_printf(b, "%s\"facility\":{\"code\":%d,\"name\":\"%s\"}", sev >= 0 ? "," : "", fc,
				    syslog_facility_name(fc));
		sbuf_puts(b, "}}");
	}
	/* journald.*: everything else, repeated names as arrays */
	int any = 0, nbin = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && f[j].name_len == f[i].name_len && memcmp(f[j].name, f[i].name, f[i].name_len) == 0)
			j++;
		const struct jd_field *x = &f[i];
		int mapped = x == host || (x == prio && sev >= 0);
		if (x == msg)
			mapped = j == i + 1 && jd_is_text(x->value, x->value_len);
		for (size_t k = i; k < j; k++)
			nbin += !jd_is_text(f[k].value, f[k].value_len);
		if (!mapped) {
			sbuf_puts(b, any++ ? "," : ",\"journald\":{");
			json_put_string(b, x->name, x->name_len);
			sbuf_putc(b, ':');
			if (j == i + 1) {
				put_value(b, x);
			} else {
				sbuf_putc(b, '[');
				for (size_t k = i; k < j; k++) {
					if (k > i)
						sbuf_putc(b, ',');
					put_value(b, &f[k]);
				}
				sbuf_putc(b, ']');
			}
		}
		i = j;
	}
	if (nbin) {
		sbuf_puts(b, any++ ? ",\"binary_fields\":[" : ",\"journald\":{\"binary_fields\":[");
		const struct jd_field *last = NULL;
		for (size_t i = 0; i < n; i++) {
			if (jd_is_text(f[i].value, f[i].value_len))
				continue;
			if (last && last->name_len == f[i].name_len &&
			    memcmp(last->name, f[i].name, f[i].name_len) == 0)
				continue;  /* listed once */
			if (last)
				sbuf_putc(b, ',');
			last = &f[i];
			json_put_string(b, f[i].name, f[i].name_len);
		}
		sbuf_putc(b, ']');
	}
	if (any)
		sbuf_putc(b, '}');
	sbuf_putc(b, '}');
	return ts;
}
