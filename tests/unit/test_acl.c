/* The ACL file and matcher (broker/acl.c): the glob, the decision rule
 * (deny wins, allow needed, produce/consume/admin imply describe), the
 * resource kinds, ANONYMOUS matched only by name, no file allowing all, and
 * file errors with their line numbers. Also the per-address connection
 * counter (connlimit.c) the listener limits rest on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/acl.h"
#include "broker/connlimit.h"
#include "tests/unit/testutil.h"

static int glob(const char *p, const char *s)
{
	return acl_glob(p, s, strlen(s));
}

static void test_glob(void **state)
{
	(void)state;
	assert_true(glob("*", ""));
	assert_true(glob("*", "anything"));
	assert_true(glob("logs-*", "logs-app"));
	assert_true(glob("logs-*", "logs-"));
	assert_false(glob("logs-*", "logs"));
	assert_true(glob("*-prod", "web-prod"));
	assert_false(glob("*-prod", "web-prod2"));
	assert_true(glob("a*b*c", "aXXbYYc"));
	assert_true(glob("a*b*c", "abc"));
	assert_false(glob("a*b*c", "acb"));
	assert_true(glob("exact", "exact"));
	assert_false(glob("exact", "exact2"));
	assert_false(glob("", "x"));
	assert_true(glob("**a", "ba"));
	/* worst case for a naive recursive matcher: returns, and quickly */
	char s[4001];
	memset(s, 'a', 4000);
	s[4000] = 0;
	assert_false(glob("*a*a*a*a*a*a*a*a*b", s));
}

static struct acl *parse(const char *text)
{
	struct acl *a = NULL;
	char err[300];
	int rc = acl_parse("t", text, strlen(text), &a, err, sizeof(err));
	if (rc)
		fail_msg("parse: %s", err);
	return a;
}

#define T(a, who, op, name) acl_allowed(a, who, op, ACL_TOPIC, name, strlen(name))
#define G(a, who, op, name) acl_allowed(a, who, op, ACL_GROUP, name, strlen(name))

static void test_decisions(void **state)
{
	(void)state;
	struct acl *a = parse("# rules\n"
			      "allow alice produce logs-*\n"
			      "deny  alice produce logs-secret\n"
			      "allow bob   consume topic:logs-*\n"
			      "allow bob   consume group:bobs-*\n"
			      "allow svc-* describe *\n"
			      "allow *     consume public\n"
			      "allow ops   admin   *\n"
			      "allow ops   describe cluster\n"
			      "allow ANONYMOUS produce anon\n"
			      "\n   \t\n");
	assert_int_equal(a->n, 9);
	assert_true(T(a, "alice", ACL_PRODUCE, "logs-app"));
	assert_false(T(a, "alice", ACL_PRODUCE, "logs-secret"));   /* deny wins */
	assert_true(T(a, "alice", ACL_DESCRIBE, "logs-secret"));   /* the deny is for produce only */
	assert_false(T(a, "alice", ACL_CONSUME, "logs-app"));      /* nothing allows it */
	assert_true(T(a, "alice", ACL_DESCRIBE, "logs-app"));      /* implied by produce */
	assert_false(T(a, "alice", ACL_PRODUCE, "metrics"));
	assert_true(T(a, "bob", ACL_CONSUME, "logs-app"));
	assert_false(T(a, "bob", ACL_PRODUCE, "logs-app"));
	assert_true(G(a, "bob", ACL_CONSUME, "bobs-1"));
	assert_true(G(a, "bob", ACL_DESCRIBE, "bobs-1"));
	assert_false(G(a, "bob", ACL_CONSUME, "alices"));
	assert_false(G(a, "bob", ACL_CONSUME, "logs-app"));       /* a topic rule is not a group rule */
	assert_true(T(a, "svc-x", ACL_DESCRIBE, "anything"));
	assert_false(T(a, "svc-x", ACL_CONSUME, "anything"));
	assert_true(T(a, "zed", ACL_CONSUME, "public"));
	assert_false(T(a, ACL_ANONYMOUS, ACL_CONSUME, "public"));  /* '*' is not ANONYMOUS */
	assert_true(T(a, ACL_ANONYMOUS, ACL_PRODUCE, "anon"));
	assert_true(T(a, "ops", ACL_ADMIN, "x"));
	assert_true(T(a, "ops", ACL_DESCRIBE, "x"));               /* implied by admin */
	assert_true(acl_allowed(a, "ops", ACL_DESCRIBE, ACL_CLUSTER, NULL, 0));
	assert_false(acl_allowed(a, "alice", ACL_DESCRIBE, ACL_CLUSTER, NULL, 0));
	acl_free(a);
	/* no ACL: everything, for everyone */
	assert_true(acl_allowed(NULL, ACL_ANONYMOUS, ACL_ADMIN, ACL_TOPIC, "x", 1));
	/* an empty file: nothing */
	a = parse("# nobody may do anything\n");
	assert_false(T(a, "alice", ACL_DESCRIBE, "x"));
	acl_free(a);
}

static void test_parse_errors(void **state)
{
	(void)state;
	struct { const char *text, *err; } bad[] = {
		{ "allow alice produce\n", "t:1: expected 'allow|deny" },
		{ "\nallow alice produce x y\n", "t:2: expected" },
		{ "permit alice produce x\n", "t:1: 'permit': expected allow or deny" },
		{ "allow alice write x\n", "operation 'write'" },
		{ "allow alice produce group:g\n", "a group takes consume or describe" },
		{ "allow alice consume cluster\n", "the cluster takes describe or admin" },
		{ "allow alice produce topic:\n", "empty resource pattern" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct acl *a = NULL;
		char err[300] = "";
		assert_int_equal(acl_parse("t", bad[i].text, strlen(bad[i].text), &a, err, sizeof(err)), -EINVAL);
		assert_null(a);
		if (!strstr(err, bad[i].err))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].err);
	}
	char nul[] = "allow a produce x\nallow b\0 produce y\n";
	struct acl *a = NULL;
	char err[300];
	assert_int_equal(acl_parse("t", nul, sizeof(nul) - 1, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "t:2: NUL"));
	assert_true(acl_load("/nonexistent/acl", &a, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "/nonexistent/acl"));
}

static void test_connlimit(void **state)
{
	(void)state;
	struct connlimit *t = connlimit_new();
	assert_non_null(t);
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	inet_pton(AF_INET, "10.0.0.1", &a4.sin_addr);
	struct sockaddr_in6 m6 = { .sin6_family = AF_INET6 };
	inet_pton(AF_INET6, "::ffff:10.0.0.1", &m6.sin6_addr);
	struct sockaddr_in b4 = { .sin_family = AF_INET };
	inet_pton(AF_INET, "10.0.0.2", &b4.sin_addr);
	struct connlimit_key ka = connlimit_key_of((struct sockaddr *)&a4);
	struct connlimit_key km = connlimit_key_of((struct sockaddr *)&m6);
	struct connlimit_key kb = connlimit_key_of((struct sockaddr *)&b4);
	assert_memory_equal(&ka, &km, sizeof(ka));  /* v4-mapped v6 is the v4 address */
	assert_int_equal(connlimit_take(t, &ka, 2), 1);
	assert_int_equal(connlimit_take(t, &km, 2), 1);
	assert_int_equal(connlimit_take(t, &ka, 2), 0);
	assert_int_equal(connlimit_take(t, &kb, 2), 1);
	assert_int_equal(connlimit_count(t, &ka), 2);
	connlimit_put(t, &ka);
	assert_int_equal(connlimit_take(t, &ka, 2), 1);
	connlimit_put(t, &ka);
	connlimit_put(t, &ka);
	connlimit_put(t, &ka);  /* one too many: harmless */
	assert_int_equal(connlimit_count(t, &ka), 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(connlimit_take(t, &kb, 0), 1);  /* 0: no limit */
	assert_int_equal(connlimit_count(t, &kb), 1001);
	connlimit_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob),
		cmocka_unit_test(test_decisions),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_connlimit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
