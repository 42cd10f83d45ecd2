/* Writing events as NDJSON (one JSON object per line) to a file descriptor,
 * shared by the `file` and `stdout` outputs. The event bytes are the record
 * values as they are in the ring; the agent's inputs never put a raw newline
 * in an event (JSON escapes it), so one event is one line. */
#ifndef LOGSHIP_OUTPUTS_NDJSON_H
#define LOGSHIP_OUTPUTS_NDJSON_H
#include <stddef.h>
#include <sys/types.h>

#include "agent/module.h"
#include "common/sbuf.h"

#define NDJSON_CHUNK (1u << 20)    /* bytes gathered per write(2) */

/* Writes all of buf[0..n) (retrying short writes and EINTR); 0 or -errno. */
int ndjson_write_all(int fd, const char *buf, size_t n);
/* Appends one event line (value + '\n') to b. */
void ndjson_line(struct sbuf *b, const struct out_record *r);

#endif
