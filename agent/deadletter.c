/* See deadletter.h. */
#include "agent/deadletter.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/json.h"
#include "common/sbuf.h"

void deadletter_init(struct deadletter *d, const char *data_dir, const char *output_name)
{
	d->fd = -1;
	d->dirty = 0;
	snprintf(d->path, sizeof(d->path), "%s/deadletter/%s.ndjson", data_dir, output_name);
}

static int dl_open(struct deadletter *d)
{
	char dir[sizeof(d->path)];
	snprintf(dir, sizeof(dir), "%s", d->path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return -errno;
	/* O_NOFOLLOW: a symlink planted in the data dir is not followed. */
	d->fd = open(d->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
	return d->fd < 0 ? -errno : 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int deadletter_write(struct deadletter *d, const char *output_name, const struct out_record *r, const char *reason)
{
	if (d->fd < 0) {
		int rc = dl_open(d);
		if (rc < 0)
			return rc;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char when[32];
	size_t wl = json_format_time(when, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	struct sbuf b = { 0 };
	sbuf_puts(&b, "{\"@timestamp\":\"");
	sbuf_put(&b, when, wl);
	sbuf_puts(&b, "\",\"output\":");
	json_put_string(&b, output_name, strlen(output_name));
	sbuf_puts(&b, ",\"reason\":");
	reason = reason ? reason : "rejected by the destination (no reason given)";
	json_put_string(&b, reason, strlen(reason));
	sbuf_printf(&b, ",\"ring_offset\":%lld,\"source\":", (long long)r->offset);
	json_put_string(&b, r->key ? r->key : "", r->key && r->key_len > 0 ? (size_t)r->key_len : 0);
	sbuf_puts(&b, ",\"event\":");
	/* The event is our own ECS JSON object; anything else is kept as a string. */
	if (r->value && r->value_len > 1 && r->value[0] == '{' && r->value[r->value_len - 1] == '}')
		sbuf_put(&b, r->value, (size_t)r->value_len);
	else
		json_put_string(&b, r->value ? r->value : "", r->value && r->value_len > 0 ? (size_t)r->value_len : 0);
	sbuf_puts(&b, "}\n");
	int rc = b.err ? b.err : write_all(d->fd, b.p, b.len);
	sbuf_free(&b);
	if (rc == 0)
		d->dirty = 1;
	return rc;
}

int deadletter_sync(struct deadletter *d)
{
	if (d->fd < 0 || !d->dirty)
		return 0;
	if (fdatasync(d->fd) < 0)
		return -errno;
	d->dirty = 0;
	return 0;
}

void deadletter_close(struct deadletter *d)
{
	if (d->fd >= 0) {
		deadletter_sync(d);
		close(d->fd);
	}
	d->fd = -1;
}
