/* The tail input's pure pieces, with no I/O and no agent state, so that unit
 * tests drive them directly: the position encoding (tail_pos.c), the
 * container runtime line parsers (tail_cri.c, tail_docker.c), Kubernetes
 * metadata from a log path (tail_k8s.c) and multiline joining
 * (tail_multiline.c). */
#ifndef LOGSHIP_INPUTS_TAIL_PARSE_H
#define LOGSHIP_INPUTS_TAIL_PARSE_H
#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "common/sbuf.h"

/* --- identity and position (tail_pos.c) ----------------------------------- */

/* A file is known by device + inode + a fingerprint of its first bytes:
 * fp_hash is CRC-32C of bytes [0, fp_len), fp_len <= TAIL_FP_MAX. The inode
 * alone is not enough: a deleted file's inode is soon reused for a new one,
 * and resuming the new file at the old offset would skip its head. */
#define TAIL_FP_MAX 1024
struct tail_id {
	uint64_t dev, ino;
	uint32_t fp_len, fp_hash;
};

/* One tracked file in the position blob: its identity, the offset before
 * which every byte is covered by events already handed over, and flags. */
#define TAIL_POS_SKIPPING 1u   /* inside an over-long line being truncated */
#define TAIL_POS_COPY     2u   /* a copy (copytruncate) picked up at the offset read in
				* its original: it may still be shorter while being copied */
struct tail_pos_entry {
	struct tail_id id;
	uint64_t off;
	unsigned flags;
};

/* Encoding, designed to be small (a position is at most INPUT_POSITION_MAX,
 * 64 KiB):
 *   "T1" varint(count) then per entry, sorted by (dev, ino):
 *   varint(dev delta) varint(ino, delta when dev is unchanged) varint(fp_len)
 *   u32le(fp_hash) varint(off) varint(flags)
 * Typically 12-16 bytes an entry. Sorts e[] in place. Returns the length
 * written, or -ENOBUFS when it does not fit in cap (nothing usable then). */
int tail_pos_encode(struct tail_pos_entry *e, size_t n, uint8_t *out, size_t cap);
/* Decodes into e[0..max); returns the count or -EINVAL (bad or foreign blob:
 * the caller starts as without a checkpoint). */
int tail_pos_decode(const uint8_t *p, size_t len, struct tail_pos_entry *e, size_t max);

/* --- container runtime lines (tail_cri.c, tail_docker.c) ---------------------- */

enum tail_stream { TAIL_STREAM_NONE = 0, TAIL_STREAM_STDOUT, TAIL_STREAM_STDERR };

struct tail_rt_line {
	const char *msg;       /* into the input line (CRI) or the scratch buffer (docker) */
	size_t len;
	int64_t ts_ms;         /* the runtime's timestamp */
	int stream;            /* enum tail_stream */
	int partial;           /* more of this line follows in the next one(s) */
};

/* RFC 3339 with optional fraction and Z or +hh:mm; 0 or -EINVAL. */
int tail_parse_rfc3339(const char *s, size_t n, int64_t *ms);
/* containerd / CRI-O: "2024-01-01T00:00:00.123456789Z stdout F message".
 * 0 or -EINVAL (not a CRI line). */
int tail_cri_parse(const char *line, size_t n, struct tail_rt_line *out);
/* docker json-file: {"log":"message\n","stream":"stdout","time":"..."}.
 * The unescaped message goes into scratch (reset first); a "log" value
 * without its final newline is partial. 0 or -EINVAL. */
int tail_docker_parse(const char *line, size_t n, struct sbuf *scratch, struct tail_rt_line *out);

/* --- Kubernetes metadata (tail_k8s.c) ----------------------------------------- */

/* From /var/log/containers/<pod>_<namespace>_<container>-<64 hex id>.log.
 * Fields point into path (not NUL-terminated). 0 or -EINVAL (not that form). */
struct tail_k8s {
	const char *pod, *ns, *container, *id;
	size_t pod_len, ns_len, container_len, id_len;
};
int tail_k8s_parse(const char *path, struct tail_k8s *out);

/* --- multiline (tail_multiline.c) ----------------------------------------------- */

enum tail_ml_mode { TAIL_ML_NONE = 0, TAIL_ML_PATTERN, TAIL_ML_JAVA, TAIL_ML_PYTHON, TAIL_ML_GO };

/* The rules (shared, read-only). */
struct tail_ml_rules {
	enum tail_ml_mode mode;
	regex_t start;         /* TAIL_ML_PATTERN: a line matching it starts an event */
	int compiled;
};
int tail_ml_rules_init(struct tail_ml_rules *r, enum tail_ml_mode mode, const char *pattern,
		       char *err, size_t errsz);
void tail_ml_rules_free(struct tail_ml_rules *r);

/* Per-file state of the presets (Python traceback, Go panic). */
struct tail_ml_state {
	int in_trace;
};
/* 1 when line continues the event in progress (join it), 0 when it starts a
 * new one. have_event: an event is in progress. The state after this line
 * goes to *next (the caller keeps it only if it takes the line: a line the
 * ring refuses is offered again later, from the same state). */
int tail_ml_continues(const struct tail_ml_rules *r, const struct tail_ml_state *st, int have_event,
		      const char *line, size_t n, struct tail_ml_state *next);

#endif
