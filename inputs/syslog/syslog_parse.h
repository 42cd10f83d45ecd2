/* Parsing syslog messages: RFC 5424 and RFC 3164 in the forms real senders use.
 *
 * The parser never allocates and never fails hard: it fills a struct of
 * (pointer, length) views into the caller's buffer. A message that parses in
 * neither format comes back with format SYSLOG_FMT_NONE and the whole input
 * (minus a PRI if one was there) in `msg`, so nothing is ever dropped for its
 * shape. Strings that were "-" (RFC 5424 NILVALUE) come back empty. */
#ifndef LOGSHIP_INPUTS_SYSLOG_PARSE_H
#define LOGSHIP_INPUTS_SYSLOG_PARSE_H
#include <stddef.h>
#include <stdint.h>

enum syslog_format {
	SYSLOG_FMT_NONE = 0,     /* parsed in neither format: msg holds it whole */
	SYSLOG_FMT_RFC3164,
	SYSLOG_FMT_RFC5424,
};

/* What the caller will accept. AUTO tries 5424 first ("<PRI>1 "), then 3164. */
enum syslog_mode { SYSLOG_MODE_AUTO = 0, SYSLOG_MODE_RFC5424, SYSLOG_MODE_RFC3164 };

struct syslog_str { const char *p; size_t len; };

struct syslog_msg {
	enum syslog_format format;
	int pri;                   /* 0..191, or -1 when the message had none */
	int facility, severity;    /* pri / 8, pri % 8 (-1 when no pri) */
	int has_time;              /* 0: the sender gave no usable time */
	int64_t time_ns;           /* UTC, ns since the epoch */
	int tz_known;              /* 5424 always; 3164 has no zone: read as UTC */
	int tz_offset_min;         /* the sender's offset from UTC, minutes */
	struct syslog_str hostname, appname, procid, msgid;
	struct syslog_str structured_data;  /* raw "[id k="v"]..." or empty */
	struct syslog_str msg;     /* the message, BOM removed */
	int bom;                   /* 5424 MSG began with a UTF-8 BOM */
	const char *error;         /* why parsing fell back (static text), or NULL */
};

/* now_ns: the receive time, used for the year of RFC 3164 timestamps (the year
 * that puts the timestamp nearest to now, so December lines read in January
 * land in the old year) and nothing else. Returns the format parsed. */
enum syslog_format syslog_parse(const char *buf, size_t len, enum syslog_mode mode,
				int64_t now_ns, struct syslog_msg *out);

/* Iterates the SD-ELEMENTs of structured data (as syslog_parse validated it).
 * For each element calls elem(id) then param(name, value) per SD-PARAM, value
 * with its escapes (\" \\ \]) still in: use syslog_sd_unescape to copy it.
 * Returns 0, or -1 if sd is malformed (then nothing is called). */
struct syslog_sd_visitor {
	void (*elem)(void *arg, struct syslog_str id);
	void (*param)(void *arg, struct syslog_str name, struct syslog_str value);
	void *arg;
};
int syslog_sd_walk(struct syslog_str sd, const struct syslog_sd_visitor *v);
/* Copies value into out (room for value.len bytes) without the backslashes of
 * \" \\ \] escapes; returns the length written. */
size_t syslog_sd_unescape(struct syslog_str value, char *out);

/* "kern", "user", ... "local7" for 0..23; "unknown" otherwise. */
const char *syslog_facility_name(int facility);
/* "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug". */
const char *syslog_severity_name(int severity);

#endif
