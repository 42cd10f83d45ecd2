/* Filter modify: rename, copy, set, add, remove in that order, typed YAML
 * values, ${ENV} (at load) and ${field} templates (per event), nested and
 * flat paths, writes that cannot happen (counted), bad configs. */
#include "tests/unit/filter_testlib.h"

static void test_ops(void **state)
{
	(void)state;
	static const struct fcase c[] = {
		{ "{\"a\":1,\"lvl\":\"info\",\"junk\":{\"x\":1},\"msg\":\"m\"}", FILTER_KEEP,
		  "{\"a\":1,\"msg\":\"m\",\"log\":{\"level\":\"info\"},\"message\":\"m\",\"env\":\"prod\",\"n\":42,"
		  "\"f\":1.5,\"b\":false,\"s\":\"42\",\"nul\":null,\"list\":[1,\"x\"],\"added\":\"yes\"}" },
		/* add does not overwrite; set does; absent sources do nothing */
		{ "{\"env\":\"dev\",\"added\":\"no\",\"n\":0}", FILTER_KEEP,
		  "{\"env\":\"prod\",\"added\":\"no\",\"n\":42,\"f\":1.5,\"b\":false,\"s\":\"42\",\"nul\":null,\"list\":[1,\"x\"]}" },
		/* rename onto an existing field replaces it */
		{ "{\"lvl\":\"e\",\"log\":{\"level\":\"old\",\"k\":1}}", FILTER_KEEP,
		  "{\"log\":{\"level\":\"e\",\"k\":1},\"env\":\"prod\",\"n\":42,\"f\":1.5,\"b\":false,\"s\":\"42\","
		  "\"nul\":null,\"list\":[1,\"x\"],\"added\":\"yes\"}" },
		/* invalid JSON: nothing can be changed; the event goes on as it is */
		{ "{\"a\":", FILTER_KEEP, NULL },
	};
	ftest_table("{type: modify, rename: {lvl: log.level}, copy: {msg: message}, "
		    "set: {env: prod, n: 42, f: 1.5, b: false, s: '42', nul: ~, list: [1, x]}, "
		    "add: {added: 'yes'}, remove: [junk, nothere]}", c, sizeof(c) / sizeof(c[0]));
}

static void test_templates_and_env(void **state)
{
	(void)state;
	setenv("LOGSHIP_TEST_CLUSTER", "eu-1", 1);
	static const struct fcase c[] = {
		{ "{\"kubernetes\":{\"namespace\":\"ns\",\"pod\":{\"name\":\"p\"}}}", FILTER_KEEP,
		  "{\"kubernetes\":{\"namespace\":\"ns\",\"pod\":{\"name\":\"p\"}},\"cluster\":\"eu-1\",\"id\":\"ns/p\"}" },
		{ "{}", FILTER_KEEP, "{\"cluster\":\"eu-1\",\"id\":\"/\"}" },
		{ "{\"kubernetes.namespace\":\"a\\\"b\"}", FILTER_KEEP,
		  "{\"kubernetes.namespace\":\"a\\\"b\",\"cluster\":\"eu-1\",\"id\":\"a\\\"b/\"}" },
	};
	ftest_table("{type: modify, set: {cluster: '${LOGSHIP_TEST_CLUSTER}', "
		    "id: '${kubernetes.namespace}/${kubernetes.pod.name}'}}", c, sizeof(c) / sizeof(c[0]));
}

/* Sets under one parent the event lacks are written as one object: the
 * result must be what the sets one by one give, whatever the event holds. */
static void test_grouped_sets(void **state)
{
	(void)state;
	static const struct fcase c[] = {
		{ "{\"a\":1}", FILTER_KEEP,
		  "{\"a\":1,\"service\":{\"name\":\"shop\",\"environment\":\"prod\"},\"x\":1}" },
		{ "{}", FILTER_KEEP, "{\"service\":{\"name\":\"shop\",\"environment\":\"prod\"},\"x\":1}" },
		/* the parent exists: both join it */
		{ "{\"service\":{\"id\":7},\"b\":2}", FILTER_KEEP,
		  "{\"service\":{\"id\":7,\"name\":\"shop\",\"environment\":\"prod\"},\"b\":2,\"x\":1}" },
		/* a flat ECS key takes its own value; the other is built */
		{ "{\"service.name\":\"old\"}", FILTER_KEEP,
		  "{\"service.name\":\"shop\",\"service\":{\"environment\":\"prod\"},\"x\":1}" },
		/* an unrelated flat key under the same parent */
		{ "{\"service.id\":3}", FILTER_KEEP,
		  "{\"service.id\":3,\"service\":{\"name\":\"shop\",\"environment\":\"prod\"},\"x\":1}" },
		/* a key written with escapes is the same key */
		{ "{\"se\\u0072vice\":{\"id\":1}}", FILTER_KEEP,
		  "{\"se\\u0072vice\":{\"id\":1,\"name\":\"shop\",\"environment\":\"prod\"},\"x\":1}" },
		/* a longer key that only starts like the parent */
		{ "{\"services\":1}", FILTER_KEEP,
		  "{\"services\":1,\"service\":{\"name\":\"shop\",\"environment\":\"prod\"},\"x\":1}" },
		/* a scalar in the way: both writes fail, the rest goes on */
		{ "{\"service\":\"s\"}", FILTER_KEEP, "{\"service\":\"s\",\"x\":1}" },
	};
	ftest_table("{type: modify, set: {service.name: shop, service.environment: prod, x: 1}}", c,
		    sizeof(c) / sizeof(c[0]));
	struct ftest t;
	ftest_new(&t, "{type: modify, set: {service.name: shop, service.environment: prod}}");
	char *out;
	assert_int_equal(ftest_run(&t, "{\"service\":\"s\"}", &out), FILTER_KEEP);
	free(out);
	assert_int_equal(filter_instance_stat(t.f, "modify_failed"), 2);
	ftest_free(&t);
}

/* A modify whose ops touch distinct root names runs as one event_batch
 * (agent/event_batch.c); a `copy` turns that plan off. So each config runs
 * twice, as it is and with a copy of an absent field (which does nothing),
 * and the two must give the same text for every event, whether or not the
 * event fits the batch: compact or spaced, flat or nested keys, escaped or
 * repeated keys, an empty root, a member renamed or removed first, last or
 * alone, a target already there, text that is not an object. */
static void test_batch_equals_ops(void **state)
{
	(void)state;
	static const char *const confs[] = {
		"rename: {msg: message}, set: {service.name: shop, service.environment: prod}, remove: [logger]",
		"rename: {a: x.y.z}, add: {b: 1, c.d: [1, 2]}, remove: [e, f]",
		"rename: {a: b}",
		"rename: {a.b: c}, set: {k: v}",
		"set: {k: 'v\"q'}, remove: [k2, a.b]",
		"remove: [a]",
		"set: {s.a: 1, s.b: 2, t: 3}, add: {u.v: 4}, rename: {w: x}",
	};
	static const char *const evs[] = {
		"{\"@timestamp\":\"t\",\"level\":\"info\",\"logger\":\"http\",\"msg\":\"GET /\",\"trace\":{\"id\":\"1\"}}",
		"{\"msg\":\"m\"}", "{\"logger\":\"l\"}", "{}", "{ }", "{\"a\":1}", "{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1}",
		"{\"a\":{\"b\":1},\"c\":3}", "{\"a.b\":1,\"z\":0}", "{\"a\":1,\"a\":2}", "{\"x\":{\"y\":1}}", "{\"x.y\":0,\"a\":9}",
		"{\"k\":\"old\",\"k2\":1,\"e\":[1],\"f\":null,\"a\":\"s\"}", "{\"a\": 1, \"e\": 2}", "{\"a\":1 ,\"e\":2}",
		" {\"a\":1}", "{\"a\":1}\n", "{\"\\u0061\":1,\"e\":2}", "{\"service\":{\"id\":7},\"msg\":\"m\"}",
		"{\"service.name\":\"old\",\"logger\":\"x\"}", "{\"s\":1,\"t\":2,\"u\":{},\"w\":\"w\"}", "{\"\":1,\"a\":2}",
		"{\"w\":{\"deep\":[{\"x\":1}]},\"t\":null}", "[1,2]", "{\"a\":", "not json", "",
	};
	for (size_t i = 0; i < sizeof(confs) / sizeof(confs[0]); i++) {
		char item[512];
		struct ftest a, b;
		snprintf(item, sizeof(item), "{type: modify, %s}", confs[i]);
		ftest_new(&a, item);
		snprintf(item, sizeof(item), "{type: modify, %s, copy: {zz_absent: zz_also_absent}}", confs[i]);
		ftest_new(&b, item);
		for (size_t j = 0; j < sizeof(evs) / sizeof(evs[0]); j++) {
			char *ga, *gb;
			ftest_run(&a, evs[j], &ga);
			ftest_run(&b, evs[j], &gb);
			if (strcmp(ga, gb) != 0)
				fail_msg("modify %s\nevent %s\n batch %s\n ops   %s", confs[i], evs[j], ga, gb);
			free(ga);
			free(gb);
		}
		assert_int_equal(filter_instance_stat(a.f, "modify_failed"), filter_instance_stat(b.f, "modify_failed"));
		ftest_free(&a);
		ftest_free(&b);
	}
}

static void test_cannot_write(void **state)
{
	(void)state;
	struct ftest t;
	ftest_new(&t, "{type: modify, set: {a.b: 1}}");
	char *out;
	assert_int_equal(ftest_run(&t, "{\"a\":\"scalar\"}", &out), FILTER_KEEP);
	assert_string_equal(out, "{\"a\":\"scalar\"}");
	free(out);
	assert_int_equal(filter_instance_stat(t.f, "modify_failed"), 1);
	/* deep: creates the whole path */
	assert_int_equal(ftest_run(&t, "{\"z\":[{\"a\":1}]}", &out), FILTER_KEEP);
	assert_string_equal(out, "{\"z\":[{\"a\":1}],\"a\":{\"b\":1}}");
	free(out);
	ftest_free(&t);
}

static void test_bad_configs(void **state)
{
	(void)state;
	ftest_bad("{type: modify}", "modify needs at least one of");
	ftest_bad("{type: modify, set: [a]}", "'set' must be a map");
	ftest_bad("{type: modify, rename: {a: {b: c}}}", "rename: the value of 'a' must be a single value");
	ftest_bad("{type: modify, copy: {a: 'b..c'}}", "copy: 'b..c' is not a field path");
	ftest_bad("{type: modify, remove: ['.x']}", "remove: '.x' is not a field path");
	struct ftest t;
	struct cfg_error err;
	unsetenv("LOGSHIP_TEST_UNSET");
	assert_true(ftest_load(&t, "{type: modify, set: {a: '${LOGSHIP_TEST_UNSET}'}}", &err) < 0);
	assert_non_null(strstr(err.msg, "LOGSHIP_TEST_UNSET"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ops),
		cmocka_unit_test(test_templates_and_env),
		cmocka_unit_test(test_grouped_sets),
		cmocka_unit_test(test_batch_equals_ops),
		cmocka_unit_test(test_cannot_write),
		cmocka_unit_test(test_bad_configs),
	};
	return cmocka_run_group_tests_name("filter_modify", tests, NULL, NULL);
}
