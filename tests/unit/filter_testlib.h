/* Shared by tests/unit/test_filter_*.c: a filter instance made from one
 * YAML item through the real config loader (so declared keys, defaults and
 * checks apply), and a table runner: input event -> expected rc and text. */
#ifndef LOGSHIP_TESTS_FILTER_TESTLIB_H
#define LOGSHIP_TESTS_FILTER_TESTLIB_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "agent/event.h"
#include "agent/filter.h"
#include "common/logging.h"

struct ftest {
	struct agent_config *cfg;
	struct filter *f;
	struct event ev;
};

/* item: one flow-style YAML map, e.g. "{type: grep, include: {a: x}}". */
static inline int ftest_load(struct ftest *t, const char *item, struct cfg_error *err)
{
	char text[8192];
	snprintf(text, sizeof(text), "data_dir: /tmp\ninputs:\n  - {type: stdin, name: in, tag: t}\n"
		 "filters:\n  - %s\n", item);
	memset(t, 0, sizeof(*t));
	logging_set_level(LOG_LEVEL_ERROR);
	return agent_config_parse("test.yaml", text, &t->cfg, err);
}

static inline void ftest_new(struct ftest *t, const char *item)
{
	struct cfg_error err;
	if (ftest_load(t, item, &err) < 0)
		fail_msg("config %s: %s", item, err.msg);
	assert_int_equal(filter_instance_new(&t->cfg->filters[0], &t->f), 0);
}

static inline void ftest_free(struct ftest *t)
{
	filter_instance_free(t->f);
	agent_config_free(t->cfg);
	event_free(&t->ev);
}

/* Applies the filter to in; returns the rc and leaves the text in out. */
static inline int ftest_run(struct ftest *t, const char *in, char **out)
{
	event_begin(&t->ev, "in", "t", 1000, in, strlen(in));
	int rc = filter_instance_apply(t->f, &t->ev);
	size_t len;
	const char *j = event_json(&t->ev, &len);
	*out = strndup(j, len);
	return rc;
}

struct fcase {
	const char *in;
	int rc;
	const char *out;   /* NULL: unchanged */
};

static inline void ftest_table(const char *item, const struct fcase *c, size_t n)
{
	struct ftest t;
	ftest_new(&t, item);
	for (size_t i = 0; i < n; i++) {
		char *got;
		int rc = ftest_run(&t, c[i].in, &got);
		const char *want = c[i].out ? c[i].out : c[i].in;
		if (rc != c[i].rc || strcmp(got, want) != 0)
			fail_msg("%s\ncase %zu: %s\n rc %d (want %d)\n got  %s\n want %s", item, i, c[i].in, rc,
				 c[i].rc, got, want);
		if (event_json_valid(c[i].in, strlen(c[i].in)) && !event_json_valid(got, strlen(got)))
			fail_msg("case %zu: output is not valid JSON: %s", i, got);
		free(got);
	}
	ftest_free(&t);
}

/* The config must be refused with an error containing want (and the
 * position test.yaml:line:col). */
static inline void ftest_bad(const char *item, const char *want)
{
	struct ftest t;
	struct cfg_error err;
	if (ftest_load(&t, item, &err) == 0)
		fail_msg("accepted: %s", item);
	if (!strstr(err.msg, want) || strncmp(err.msg, "test.yaml:5:", 12) != 0)
		fail_msg("%s\n error: %s\n want: test.yaml:5:...%s", item, err.msg, want);
}

#endif
