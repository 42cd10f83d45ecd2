/* See topics.h. */
#include "broker/topics.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/logging.h"

int topics_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > TOPIC_NAME_MAX)
		return 0;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

struct topic *topics_find(struct topics *t, const char *name, size_t len)
{
	for (size_t i = 0; i < t->n; i++)
		if (strlen(t->v[i]->name) == len && memcmp(t->v[i]->name, name, len) == 0)
			return t->v[i];
	return NULL;
}

static int part_dir(struct topics *t, const char *topic, int32_t p, char *buf, size_t n)
{
	int k = snprintf(buf, n, "%s/%s-%d", t->data_dir, topic, p);
	return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

static struct topic *topic_new(const char *name, size_t len)
{
	struct topic *tp = calloc(1, sizeof(*tp));
	if (!tp)
		return NULL;
	memcpy(tp->name, name, len);
	tp->name[len] = 0;
	return tp;
}

static void topic_free(struct topic *tp)
{
	for (int32_t i = 0; i < tp->nparts; i++)
		if (tp->parts[i])
			log_close(tp->parts[i]);
	free(tp->parts);
	free(tp);
}

static int push(struct topics *t, struct topic *tp)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct topic **v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = tp;
	return 0;
}

/* Opens partitions 0..nparts-1 of tp (creating their directories). */
static int open_parts(struct topics *t, struct topic *tp, int32_t nparts)
{
	char dir[4096];
	tp->parts = calloc((size_t)nparts, sizeof(*tp->parts));
	if (!tp->parts)
		return -ENOMEM;
	tp->nparts = nparts;
	for (int32_t i = 0; i < nparts; i++) {
		int rc = part_dir(t, tp->name, i, dir, sizeof(dir));
		struct log_config c = t->log_cfg;
		if (rc == 0)
			rc = log_open(dir, &c, &tp->parts[i]);
		if (rc < 0) {
			LOG_ERROR("broker", "cannot open partition %s-%d: %s", tp->name, i, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

int topics_open(struct topics *t, const char *data_dir, const struct log_config *cfg)
{
	memset(t, 0, sizeof(*t));
	t->data_dir = strdup(data_dir);
	t->log_cfg = *cfg;
	if (!t->data_dir)
		return -ENOMEM;
	if (mkdir(data_dir, 0755) < 0 && errno != EEXIST) {
		LOG_ERROR("broker", "cannot create data_dir %s: %s", data_dir, strerror(errno));
		return -errno;
	}
	DIR *d = opendir(data_dir);
	if (!d) {
		LOG_ERROR("broker", "cannot read data_dir %s: %s", data_dir, strerror(errno));
		return -errno;
	}
	/* Count partitions per topic: directories "<topic>-<n>". */
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d))) {
		char *dash = strrchr(e->d_name, '-');
		if (!dash || dash == e->d_name || !dash[1] || strspn(dash + 1, "0123456789") != strlen(dash + 1))
			continue;
		size_t len = (size_t)(dash - e->d_name);
		long p = strtol(dash + 1, NULL, 10);
		if (!topics_name_ok(e->d_name, len) || p < 0 || p >= TOPIC_PARTITIONS_MAX)
			continue;
		struct topic *tp = topics_find(t, e->d_name, len);
		if (!tp) {
			tp = topic_new(e->d_name, len);
			if (!tp || push(t, tp) < 0) {
				free(tp);
				rc = -ENOMEM;
				break;
			}
		}
		if (p + 1 > tp->nparts)
			tp->nparts = (int32_t)(p + 1);
	}
	closedir(d);
	for (size_t i = 0; rc == 0 && i < t->n; i++) {
		int32_t n = t->v[i]->nparts;
		t->v[i]->nparts = 0;
		rc = open_parts(t, t->v[i], n);
		if (rc == 0)
			LOG_INFO("broker", "topic %s: %d partition(s) opened", t->v[i]->name, n);
	}
	return rc;
}

void topics_close(struct topics *t)
{
	for (size_t i = 0; i < t->n; i++)
		topic_free(t->v[i]);
	free(t->v);
	free(t->data_dir);
	memset(t, 0, sizeof(*t));
}

int topics_create(struct topics *t, const char *name, size_t len, int32_t nparts, struct topic **out)
{
	if (!topics_name_ok(name, len) || nparts < 1 || nparts > TOPIC_PARTITIONS_MAX)
		return -EINVAL;
	if (topics_find(t, name, len))
		return -EEXIST;
	struct topic *tp = topic_new(name, len);
	if (!tp)
		return -ENOMEM;
	int rc = open_parts(t, tp, nparts);
	if (rc == 0)
		rc = push(t, tp);
	if (rc < 0) {
		topic_free(tp);
		return rc;
	}
	LOG_INFO("broker", "topic %s created with %d partition(s)", tp->name, nparts);
	if (out)
		*out = tp;
	return 0;
}

static int rm_dir(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	struct dirent *e;
	int dfd = dirfd(d);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		unlinkat(dfd, e->d_name, 0);
	}
	closedir(d);
	return rmdir(path) < 0 ? -errno : 0;
}

int topics_delete(struct topics *t, const char *name, size_t len)
{
	for (size_t i = 0; i < t->n; i++) {
		struct topic *tp = t->v[i];
		if (strlen(tp->name) != len || memcmp(tp->name, name, len))
			continue;
		char dir[4096];
		int32_t n = tp->nparts;
		char nm[TOPIC_NAME_MAX + 1];
		memcpy(nm, tp->name, sizeof(nm));
		topic_free(tp);
		memmove(t->v + i, t->v + i + 1, (t->n - i - 1) * sizeof(*t->v));
		t->n--;
		for (int32_t p = 0; p < n; p++)
			if (part_dir(t, nm, p, dir, sizeof(dir)) == 0)
				rm_dir(dir);
		LOG_INFO("broker", "topic %s deleted", nm);
		return 0;
	}
	return -ENOENT;
}

int topics_retain(struct topics *t, int64_t now_ms, int64_t max_age_ms, uint64_t max_bytes)
{
	int n = 0;
	for (size_t i = 0; i < t->n; i++)
		for (int32_t p = 0; p < t->v[i]->nparts; p++)
			n += log_retain(t->v[i]->parts[p], now_ms, max_age_ms, max_bytes);
	return n;
}

void topics_sync_all(struct topics *t)
{
	for (size_t i = 0; i < t->n; i++)
		for (int32_t p = 0; p < t->v[i]->nparts; p++)
			log_sync(t->v[i]->parts[p]);
}
