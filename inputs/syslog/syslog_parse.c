/* RFC 5424 and RFC 3164 parsing; see syslog_parse.h.
 *
 * Every read is bounds-checked against `end`; the parser only ever moves
 * forwards, so its cost is linear in the message and it cannot loop. RFC 3164
 * ("BSD syslog") is less a format than a family of habits, so that parser is
 * deliberately lenient: it accepts the timestamp forms real senders use
 * (classic "Mmm dd hh:mm:ss", with fractions or a year, Cisco's sequence
 * number and '*' prefix, RFC 3339 from rsyslog's forwarding format), a missing
 * hostname (local senders via /dev/log), and TAG[PID]: or TAG: before the
 * message. What it cannot place stays in the message. */
#include "inputs/syslog/syslog_parse.h"

#include <string.h>

struct cur { const char *p, *end; };

static int at_end(const struct cur *c) { return c->p >= c->end; }
static int peek(const struct cur *c) { return c->p < c->end ? (unsigned char)*c->p : -1; }
static int is_digit(int ch) { return ch >= '0' && ch <= '9'; }

/* Reads exactly n digits. */
static int digits(struct cur *c, int n, int *out)
{
	int v = 0;
	if (c->end - c->p < n)
		return -1;
	for (int i = 0; i < n; i++) {
		if (!is_digit((unsigned char)c->p[i]))
			return -1;
		v = v * 10 + (c->p[i] - '0');
	}
	c->p += n;
	*out = v;
	return 0;
}

static int expect(struct cur *c, char ch)
{
	if (peek(c) != (unsigned char)ch)
		return -1;
	c->p++;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

static int64_t to_ns(int y, int mo, int d, int h, int mi, int s, int64_t frac_ns)
{
	int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
	return secs * 1000000000 + frac_ns;
}

static int valid_clock(int y, int mo, int d, int h, int mi, int s)
{
	return mo >= 1 && mo <= 12 && d >= 1 && d <= days_in_month(y, mo) && h <= 23 && mi <= 59 &&
	       s <= 60;  /* 60: a leap second, as RFC 3339 allows */
}

/* ".ddd..." -> ns; up to 9 digits kept, more accepted and ignored. */
static int64_t fraction(struct cur *c)
{
	int64_t ns = 0;
	int n = 0;
	if (peek(c) != '.' || c->p + 1 >= c->end || !is_digit((unsigned char)c->p[1]))
		return 0;
	c->p++;
	while (is_digit(peek(c))) {
		if (n < 9) {
			ns = ns * 10 + (*c->p - '0');
			n++;
		}
		c->p++;
	}
	while (n++ < 9)
		ns *= 10;
	return ns;
}

/* RFC 3339 full date-time with offset (Z or +hh:mm). */
static int rfc3339(struct cur *c, struct syslog_msg *m)
{
	int y, mo, d, h, mi, s, oh = 0, om = 0;
	struct cur t = *c;
	if (digits(&t, 4, &y) || expect(&t, '-') || digits(&t, 2, &mo) || expect(&t, '-') ||
	    digits(&t, 2, &d))
		return -1;
	if (peek(&t) != 'T' && peek(&t) != 't')
		return -1;
	t.p++;
	if (digits(&t, 2, &h) || expect(&t, ':') || digits(&t, 2, &mi) || expect(&t, ':') || digits(&t, 2, &s))
		return -1;
	int64_t frac = fraction(&t);
	int ch = peek(&t);
	if (ch == 'Z' || ch == 'z') {
		t.p++;
	} else if (ch == '+' || ch == '-') {
		t.p++;
		if (digits(&t, 2, &oh) || expect(&t, ':') || digits(&t, 2, &om) || oh > 23 || om > 59)
			return -1;
		if (ch == '-') {
			oh = -oh;
			om = -om;
		}
	} else {
		return -1;
	}
	if (!valid_clock(y, mo, d, h, mi, s))
		return -1;
	m->has_time = 1;
	m->tz_known = 1;
	m->tz_offset_min = oh * 60 + om;
	m->time_ns = to_ns(y, mo, d, h, mi, s, frac) - (int64_t)m->tz_offset_min * 60 * 1000000000;
	*c = t;
	return 0;
}

/* "<PRI>": 1-3 digits, 0..191, no leading zero but in "<0>". */
static int pri(struct cur *c, int *out)
{
	struct cur t = *c;
	int v = 0, n = 0;
	if (expect(&t, '<'))
		return -1;
	while (is_digit(peek(&t)) && n < 4) {
		v = v * 10 + (*t.p++ - '0');
		n++;
	}
	if (n == 0 || n > 3 || (n > 1 && c->p[1] == '0') || v > 191 || expect(&t, '>'))
		return -1;
	*out = v;
	*c = t;
	return 0;
}

/* A run of PRINTUSASCII (33..126) of at most max bytes, ended by SP or the end. */
static int token(struct cur *c, size_t max, struct syslog_str *out)
{
	const char *s = c->p;
	while (c->p < c->end && *c->p != ' ') {
		unsigned char ch = (unsigned char)*c->p;
		if (ch < 33 || ch > 126)
			return -1;
		c->p++;
	}
	size_t n = (size_t)(c->p - s);
	if (n == 0 || n > max)
		return -1;
	/* NILVALUE "-" reads as empty. */
	out->p = s;
	out->len = (n == 1 && *s == '-') ? 0 : n;
	return 0;
}

static int sd_name(struct cur *c, struct syslog_str *out)
{
	const char *s = c->p;
	while (c->p < c->end) {
		unsigned char ch = (unsigned char)*c->p;
		if (ch < 33 || ch > 126 || ch == '=' || ch == ']' || ch == '"' || ch == ' ')
			break;
		c->p++;
	}
	out->p = s;
	out->len = (size_t)(c->p - s);
	return out->len >= 1 && out->len <= 32 ? 0 : -1;
}

/* One SD-ELEMENT starting at '['; calls the visitor if given. */
static int sd_element(struct cur *c, const struct syslog_sd_visitor *v)
{
	struct syslog_str id, name, value;
	if (expect(c, '[') || sd_name(c, &id))
		return -1;
	if (v && v->elem)
		v->elem(v->arg, id);
	while (peek(c) == ' ') {
		c->p++;
		if (sd_name(c, &name) || expect(c, '=') || expect(c, '"'))
			return -1;
		value.p = c->p;
		while (c->p < c->end && *c->p != '"') {
			if (*c->p == '\\' && c->p + 1 < c->end)
				c->p++;
			c->p++;
		}
		value.len = (size_t)(c->p - value.p);
		if (expect(c, '"'))
			return -1;
		if (v && v->param)
			v->param(v->arg, name, value);
	}
	return expect(c, ']');
}

int syslog_sd_walk(struct syslog_str sd, const struct syslog_sd_visitor *v)
{
	struct cur c = { sd.p, sd.p + sd.len };
	/* Validate first so that a visitor never sees half of a bad SD. */
	while (!at_end(&c))
		if (sd_element(&c, NULL))
			return -1;
	c.p = sd.p;
	while (!at_end(&c))
		sd_element(&c, v);
	return 0;
}

size_t syslog_sd_unescape(struct syslog_str value, char *out)
{
	size_t n = 0;
	for (size_t i = 0; i < value.len; i++) {
		char ch = value.p[i];
		if (ch == '\\' && i + 1 < value.len &&
		    (value.p[i + 1] == '"' || value.p[i + 1] == '\\' || value.p[i + 1] == ']'))
			ch = value.p[++i];
		out[n++] = ch;
	}
	return n;
}

static void set_msg(struct syslog_msg *m, const char *p, const char *end)
{
	m->msg.p = p;
	m->msg.len = (size_t)(end - p);
}

static int parse_5424(struct cur c, struct syslog_msg *m)
{
	int version = 0, n = 0;
	while (is_digit(peek(&c)) && n < 3) {
		version = version * 10 + (*c.p++ - '0');
		n++;
	}
	if (version != 1 || expect(&c, ' '))
		return -1;
	if (peek(&c) == '-' && (c.p + 1 == c.end || c.p[1] == ' ')) {
		c.p++;
	} else if (rfc3339(&c, m)) {
		m->error = "RFC 5424: bad TIMESTAMP";
		return -1;
	}
	if (expect(&c, ' ') || token(&c, 255, &m->hostname) || expect(&c, ' ') ||
	    token(&c, 48, &m->appname) || expect(&c, ' ') || token(&c, 128, &m->procid) ||
	    expect(&c, ' ') || token(&c, 32, &m->msgid) || expect(&c, ' ')) {
		m->error = "RFC 5424: bad HOSTNAME, APP-NAME, PROCID or MSGID";
		return -1;
	}
	if (peek(&c) == '-') {
		c.p++;
		m->structured_data.p = c.p;
		m->structured_data.len = 0;
	} else {
		const char *s = c.p;
		if (peek(&c) != '[') {
			m->error = "RFC 5424: bad STRUCTURED-DATA";
			return -1;
		}
		while (peek(&c) == '[')
			if (sd_element(&c, NULL)) {
				m->error = "RFC 5424: bad STRUCTURED-DATA";
				return -1;
			}
		m->structured_data.p = s;
		m->structured_data.len = (size_t)(c.p - s);
	}
	if (!at_end(&c) && expect(&c, ' ')) {
		m->error = "RFC 5424: no space after STRUCTURED-DATA";
		return -1;
	}
	if (c.end - c.p >= 3 && memcmp(c.p, "\xEF\xBB\xBF", 3) == 0) {
		m->bom = 1;
		c.p += 3;
	}
	set_msg(m, c.p, c.end);
	m->format = SYSLOG_FMT_RFC5424;
	return 0;
}

static int month_of(const char *p)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	for (int i = 0; i < 12; i++)
		if (memcmp(p, names + 3 * i, 3) == 0)
			return i + 1;
	return 0;
}

/* RFC 3164 timestamps carry no year. Take the latest of (year of now - 1,
 * year of now, + 1) that is not more than a week ahead of now: a December line
 * read in January lands in the old year, a line stamped just after midnight on
 * New Year by a sender whose clock runs ahead lands in the new one, and a line
 * from March read in November stays in this year. */
static int nearest_year(int64_t now_ns, int mo, int d, int h, int mi, int s)
{
	int64_t days = now_ns / 1000000000 / 86400;
	/* civil_from_days (Hinnant), for the year only */
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	int cm = (int)(mp < 10 ? mp + 3 : mp - 9);
	int cy = (int)(yoe + era * 400 + (cm <= 2));
	const int64_t week = 7LL * 86400 * 1000000000;
	for (int y = cy + 1; y >= cy - 1; y--) {
		if (d > days_in_month(y, mo))
			continue;  /* Feb 29 outside a leap year */
		if (to_ns(y, mo, d, h, mi, s, 0) <= now_ns + week)
			return y;
	}
	return cy;
}

/* "Mmm dd hh:mm:ss" with optional ".frac" and optional year, or RFC 3339. */
static int bsd_time(struct cur *c, int64_t now_ns, struct syslog_msg *m)
{
	if (rfc3339(c, m) == 0)
		return 0;
	struct cur t = *c;
	int mo, d = 0, h, mi, s, y = 0;
	if (t.end - t.p < 15 || !(mo = month_of(t.p)) || t.p[3] != ' ')
		return -1;
	t.p += 4;
	if (peek(&t) == ' ')    /* "Feb  5": the day is space-padded */
		t.p++;
	if (!is_digit(peek(&t)))
		return -1;
	d = *t.p++ - '0';
	if (is_digit(peek(&t)))
		d = d * 10 + (*t.p++ - '0');
	if (expect(&t, ' '))
		return -1;
	/* Some senders put the year here: "Oct 11 2023 22:14:15". */
	struct cur ty = t;
	if (digits(&ty, 4, &y) == 0 && expect(&ty, ' ') == 0)
		t = ty;
	else
		y = 0;
	if (digits(&t, 2, &h) || expect(&t, ':') || digits(&t, 2, &mi) || expect(&t, ':') || digits(&t, 2, &s))
		return -1;
	int64_t frac = fraction(&t);
	if (!y)
		y = nearest_year(now_ns, mo, d, h, mi, s);
	if (!valid_clock(y, mo, d, h, mi, s))
		return -1;
	m->has_time = 1;
	m->tz_known = 0;
	m->tz_offset_min = 0;
	m->time_ns = to_ns(y, mo, d, h, mi, s, frac);
	*c = t;
	return 0;
}

static int tag_char(int ch)
{
	return ch > 32 && ch < 127 && ch != '[' && ch != ':' && ch != ']';
}

/* TAG, TAG[PID] followed by ':' (or TAG[PID] and a space); on success the
 * cursor is past the ': '. */
static int bsd_tag(struct cur *c, struct syslog_msg *m)
{
	struct cur t = *c;
	const char *s = t.p;
	while (tag_char(peek(&t)) && t.p - s < 128)
		t.p++;
	if (t.p == s)
		return -1;
	struct syslog_str tag = { s, (size_t)(t.p - s) }, pid = { NULL, 0 };
	if (peek(&t) == '[') {
		t.p++;
		pid.p = t.p;
		while (peek(&t) >= 0 && peek(&t) != ']' && t.p - pid.p < 128)
			t.p++;
		if (expect(&t, ']'))
			return -1;
		pid.len = (size_t)(t.p - pid.p - 1);
		if (peek(&t) == ':')
			t.p++;
		else if (peek(&t) != ' ')
			return -1;
	} else if (expect(&t, ':')) {
		return -1;
	} else if (!at_end(&t) && peek(&t) != ' ') {
		return -1;  /* "CEF:0|...", "LEEF:1.0|...": a payload, not a tag */
	}
	if (peek(&t) == ' ')
		t.p++;
	m->appname = tag;
	m->procid = pid;
	*c = t;
	return 0;
}

static int parse_3164(struct cur c, int64_t now_ns, struct syslog_msg *m)
{
	/* Cisco IOS: "<189>123: *Mar  1 00:00:00.000: %SYS-5-...": a sequence
	 * number, then the time marked '*' (unsynchronised) or '.'. */
	struct cur t = c;
	while (is_digit(peek(&t)))
		t.p++;
	if (t.p > c.p && peek(&t) == ':' && t.p + 1 < t.end && t.p[1] == ' ')
		c.p = t.p + 2;
	if (peek(&c) == '*' || peek(&c) == '.')
		c.p++;
	if (bsd_time(&c, now_ns, m) == 0) {
		int cisco = peek(&c) == ':';
		if (cisco)
			c.p++;
		if (expect(&c, ' ') && !at_end(&c)) {
			m->has_time = 0;
			m->error = "RFC 3164: no space after TIMESTAMP";
			return -1;
		}
		if (cisco) {  /* Cisco puts no hostname and no tag: the rest is the message */
			set_msg(m, c.p, c.end);
			m->format = SYSLOG_FMT_RFC3164;
			return 0;
		}
		/* A hostname unless the next word is already the tag (local senders). */
		struct cur h = c;
		struct syslog_str host;
		const char *s = h.p;
		while (h.p < h.end && *h.p != ' ')
			h.p++;
		host.p = s;
		host.len = (size_t)(h.p - s);
		int looks_like_tag = host.len && (s[host.len - 1] == ':' || memchr(s, '[', host.len));
		if (host.len && host.len <= 255 && !looks_like_tag && peek(&h) == ' ') {
			m->hostname = host;
			c.p = h.p + 1;
		}
	}
	if (bsd_tag(&c, m) != 0) {
		m->appname.len = 0;
		m->procid.len = 0;
	}
	set_msg(m, c.p, c.end);
	m->format = SYSLOG_FMT_RFC3164;
	return 0;
}

/* Neither format fits: keep the PRI (if any), the whole body as the message. */
static enum syslog_format fallback(struct syslog_msg *m, const char *body, const char *end, const char *why)
{
	int p = m->pri;
	memset(m, 0, sizeof(*m));
	m->pri = p;
	m->facility = p < 0 ? -1 : p / 8;
	m->severity = p < 0 ? -1 : p % 8;
	m->error = why;
	set_msg(m, body, end);
	return m->format = SYSLOG_FMT_NONE;
}

enum syslog_format syslog_parse(const char *buf, size_t len, enum syslog_mode mode,
				int64_t now_ns, struct syslog_msg *m)
{
	struct cur c = { buf, buf + len };
	memset(m, 0, sizeof(*m));
	m->pri = m->facility = m->severity = -1;
	/* Trailing line ends and NULs are framing, not message. */
	while (c.end > c.p && (c.end[-1] == '\n' || c.end[-1] == '\r' || c.end[-1] == '\0'))
		c.end--;
	if (pri(&c, &m->pri) == 0) {
		m->facility = m->pri / 8;
		m->severity = m->pri % 8;
	} else {
		return fallback(m, c.p, c.end, "no valid PRI");
	}
	const char *body = c.p;
	if (mode != SYSLOG_MODE_RFC3164 && is_digit(peek(&c))) {
		struct syslog_msg try = *m;
		if (parse_5424(c, &try) == 0) {
			*m = try;
			return m->format;
		}
		if (mode == SYSLOG_MODE_RFC5424)
			return fallback(m, body, c.end, try.error ? try.error : "not RFC 5424");
	}
	if (mode == SYSLOG_MODE_RFC5424)
		return fallback(m, body, c.end, "not RFC 5424");
	if (parse_3164(c, now_ns, m) != 0)
		return fallback(m, body, c.end, m->error);
	return m->format;
}

const char *syslog_facility_name(int f)
{
	static const char *const names[] = {
		"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
		"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
		"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
	};
	return f >= 0 && f < 24 ? names[f] : "unknown";
}

const char *syslog_severity_name(int s)
{
	static const char *const names[] = {
		"Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug",
	};
	return s >= 0 && s < 8 ? names[s] : "unknown";
}
