/* Splitting a syslog TCP stream into messages (RFC 6587): octet counting
 * ("LEN SP MSG") or non-transparent framing (MSG LF), detected per connection
 * from its first byte as rsyslog does (a digit means octet counting: a syslog
 * message itself starts with '<'), and re-detected per frame so that a sender
 * that mixes them is still read.
 *
 * The framer owns a bounded buffer (max_msg bytes plus a little): memory per
 * connection never grows past it, whatever arrives. An over-long LF-framed
 * message is cut at max_msg and the cut is flagged; an octet count above
 * max_msg (or one that is not a number, or absurd like 2^40) is a framing
 * error: the connection cannot be resynchronised and must be closed. */
#ifndef LOGSHIP_INPUTS_SYSLOG_FRAME_H
#define LOGSHIP_INPUTS_SYSLOG_FRAME_H
#include <stddef.h>
#include <stdint.h>

enum syslog_framing { SYSLOG_FRAMING_UNKNOWN = 0, SYSLOG_FRAMING_OCTET, SYSLOG_FRAMING_LF };

struct syslog_framer {
	char *buf;
	size_t start, len, cap, max_msg;  /* buf[start..len): received, not handed out */
	enum syslog_framing last;  /* framing of the last message, for metrics */
	uint64_t truncated;        /* LF messages cut at max_msg */
	int skipping;              /* discarding the rest of an over-long LF message */
	const char *error;         /* set when the stream is broken */
};

/* 0 or -ENOMEM. */
int syslog_framer_init(struct syslog_framer *f, size_t max_msg);
void syslog_framer_free(struct syslog_framer *f);

/* Where the caller reads into: returns room (>= 1 unless the framer holds a
 * whole message it has not handed out yet; call next until it says 0). */
char *syslog_framer_space(struct syslog_framer *f, size_t *room);
void syslog_framer_commit(struct syslog_framer *f, size_t n);

/* The next whole message: 1 and (msg, len, truncated flag) valid until the next
 * call; 0 when more bytes are needed; -EPROTO on a broken stream (f->error says
 * why: close the connection). */
int syslog_framer_next(struct syslog_framer *f, const char **msg, size_t *len, int *truncated);

/* At EOF: what is left as one last message (a sender that did not end its last
 * line); 1 if there was something, 0 otherwise. */
int syslog_framer_flush(struct syslog_framer *f, const char **msg, size_t *len);

#endif
