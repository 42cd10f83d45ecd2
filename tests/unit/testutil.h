/* Small helpers shared by the C unit tests: temp dirs that are removed again,
 * a log reporter that keeps quiet unless LOGSHIP_TEST_VERBOSE is set, and
 * whether a library is mapped (the tests of the libraries loaded on first
 * use). */
#ifndef LOGSHIP_TESTS_TESTUTIL_H
#define LOGSHIP_TESTS_TESTUTIL_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer/log.h"

/* A fresh directory under $TMPDIR (or /tmp); caller frees with tu_rmrf. */
static inline char *tu_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	char *p = malloc(4096);
	snprintf(p, 4096, "%s/logship-unit.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(p)) {
		perror("mkdtemp");
		abort();
	}
	return p;
}

/* Removes dir and what is in it (one level of files: what logs make). */
static inline void tu_rmrf(char *dir)
{
	char cmd[4200];
	if (!getenv("LOGSHIP_KEEP_TMP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
	}
	free(dir);
}

/* 1 when a mapping of this process has lib ("/libssl.so") in its path. */
static inline int tu_mapped(const char *lib)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[1024];
	int found = 0;
	if (!f) {
		perror("/proc/self/maps");
		abort();
	}
	while (fgets(line, sizeof(line), f))
		found |= strstr(line, lib) != NULL;
	fclose(f);
	return found;
}

static inline void tu_report(void *arg, enum log_level level, const char *msg)
{
	(void)arg;
	if (getenv("LOGSHIP_TEST_VERBOSE"))
		fprintf(stderr, "[%d] %s\n", (int)level, msg);
}

#endif
