/* The agent's config: a table of bad configs, each refused with its exact
 * "file:line:column: message"; good configs bound with their defaults,
 * default names made unique, routes (match) by name, tag and wildcard;
 * conf.d merging (lists concatenate, later scalars win, errors name the
 * conf.d file) and ${VAR} / ${VAR:-default} substitution at the agent level. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/config.h"
#include "tests/unit/testutil.h"

struct bad { const char *what, *yaml, *msg; };

static const struct bad bad_configs[] = {
	/* YAML itself */
	{ "bad indentation", "data_dir: /x\n  buffer: 1\n",
	  "c.yaml:2:9: mapping values are not allowed in this context" },
	{ "unclosed flow sequence", "inputs: [\n",
	  "c.yaml:2:1: did not find expected node content" },
	{ "tab indentation", "data_dir: /x\n\tbuffer: {}\n",
	  "c.yaml:2:1: found a tab character that violates indentation" },
	{ "duplicate key", "data_dir: /a\ndata_dir: /b\n",
	  "c.yaml:2:1: duplicate key \"data_dir\" (first at line 1, column 1)" },
	{ "document is a scalar", "hello\n",
	  "c.yaml:1:1: the config must be a map of keys (data_dir, buffer, inputs, outputs, ...)" },
	/* unknown keys */
	{ "misspelt core key", "data_dri: /x\n",
	  "c.yaml:1:1: unknown key \"data_dri\" (did you mean \"data_dir\"?)" },
	{ "unknown core key", "zzz: 1\n",
	  "c.yaml:1:1: unknown key \"zzz\"; valid keys: data_dir, log_level, shutdown_timeout, user, filter_thread, buffer, http, inputs, outputs, filters" },
	{ "misspelt buffer key", "buffer:\n  max_byte: 1GiB\n",
	  "c.yaml:2:3: unknown key \"buffer.max_byte\" (did you mean \"buffer.max_bytes\"?)" },
	{ "misspelt input key", "inputs:\n  - type: generate\n    cuont: 5\n",
	  "c.yaml:3:5: unknown key \"cuont\" (did you mean \"count\"?)" },
	{ "unknown output key", "outputs:\n  - type: file\n    path: /tmp/x\n    rotate: 5\n",
	  "c.yaml:4:5: unknown key \"rotate\"; valid keys: name, match, retry_initial, retry_max, commit_interval, read_bytes, in_flight_bytes, type, path, rotate_bytes, rotate_keep, fsync" },
	/* wrong types */
	{ "section is a scalar", "buffer: 5\n", "c.yaml:1:9: buffer: expected a map of keys, got \"5\"" },
	{ "string is a list", "data_dir: [a, b]\n", "c.yaml:1:11: data_dir: expected a string, got a sequence" },
	{ "integer is a word", "inputs:\n  - type: generate\n    count: many\n",
	  "c.yaml:3:12: count: expected an integer, got \"many\"" },
	{ "integer out of range", "inputs:\n  - type: generate\n    rate: -1\n",
	  "c.yaml:3:11: rate: must be between 0 and 100000000, got \"-1\"" },
	{ "bool is maybe", "inputs:\n  - type: stdin\n    exit_on_eof: maybe\n",
	  "c.yaml:3:18: exit_on_eof: expected true or false, got \"maybe\"" },
	{ "match item is a map", "outputs:\n  - type: stdout\n    match: [{a: b}]\n",
	  "c.yaml:3:13: match[0]: expected a string, got a map" },
	{ "bad enum fsync", "buffer: { fsync: sometimes }\n",
	  "c.yaml:1:18: buffer.fsync: expected one of interval, always, never, got \"sometimes\"" },
	{ "bad enum when_full", "buffer: { when_full: panic }\n",
	  "c.yaml:1:22: buffer.when_full: expected one of block, drop_oldest, got \"panic\"" },
	{ "bad log level", "log_level: verbose\n",
	  "c.yaml:1:12: log_level: expected one of error, warn, info, debug, got \"verbose\"" },
	/* sizes and durations */
	{ "size is a word", "buffer:\n  max_bytes: lots\n",
	  "c.yaml:2:14: buffer.max_bytes: expected a size like 512MiB or 1GiB, got \"lots\"" },
	{ "size with a bad unit", "buffer:\n  max_bytes: 10XB\n",
	  "c.yaml:2:14: buffer.max_bytes: expected a size like 512MiB or 1GiB, got \"10XB\"" },
	{ "size too small", "buffer:\n  max_bytes: 1KiB\n",
	  "c.yaml:2:14: buffer.max_bytes: must be between 1MiB and 1024TiB, got \"1KiB\"" },
	{ "module size too small", "inputs:\n  - type: stdin\n    max_line_bytes: 1\n",
	  "c.yaml:3:21: max_line_bytes: must be between 16 and 16MiB, got \"1\"" },
	{ "duration is a word", "shutdown_timeout: soon\n",
	  "c.yaml:1:19: shutdown_timeout: expected a duration like 250ms, 30s or 5m, got \"soon\"" },
	{ "negative duration", "shutdown_timeout: -5s\n",
	  "c.yaml:1:19: shutdown_timeout: a duration cannot be negative, got \"-5s\"" },
	{ "duration with a bad unit", "outputs:\n  - type: stdout\n    retry_initial: 5 parsecs\n",
	  "c.yaml:3:20: retry_initial: expected a duration like 250ms, 30s or 5m, got \"5 parsecs\"" },
	{ "retry_max below retry_initial", "outputs:\n  - type: stdout\n    retry_initial: 10s\n    retry_max: 1s\n",
	  "c.yaml:4:16: retry_max (1000ms) is below retry_initial (10000ms)" },
	{ "batch larger than a segment", "buffer:\n  segment_bytes: 1MiB\n  batch_max_bytes: 2MiB\n",
	  "c.yaml:3:20: buffer.batch_max_bytes is larger than buffer.segment_bytes" },
	/* addresses */
	{ "port out of range", "http: { listen: 127.0.0.1:99999 }\n",
	  "c.yaml:1:17: http.listen: port must be 0..65535, got \"127.0.0.1:99999\"" },
	{ "listen without port", "http: { listen: localhost }\n",
	  "c.yaml:1:17: http.listen: expected host:port like 127.0.0.1:2020 or [::1]:2020, got \"localhost\"" },
	/* environment */
	{ "unset variable without default", "data_dir: ${LOGSHIP_TEST_UNSET_VAR}\n",
	  "c.yaml:1:11: environment variable LOGSHIP_TEST_UNSET_VAR is not set (use ${LOGSHIP_TEST_UNSET_VAR:-default})" },
	{ "bad variable name", "data_dir: ${1BAD}\n",
	  "c.yaml:1:11: bad variable reference \"${1BAD}\" (expected ${NAME} or ${NAME:-default})" },
	{ "unset variable in a module", "outputs:\n  - type: file\n    path: ${LOGSHIP_TEST_UNSET_VAR}/x\n",
	  "c.yaml:3:11: environment variable LOGSHIP_TEST_UNSET_VAR is not set (use ${LOGSHIP_TEST_UNSET_VAR:-default})" },
	/* modules */
	{ "inputs is a map", "inputs: { type: generate }\n",
	  "c.yaml:1:9: 'inputs' must be a list (\"- type: ...\" items)" },
	{ "input is a scalar", "inputs:\n  - generate\n",
	  "c.yaml:2:5: an input must be a map with a 'type' (one of: @IN@)" },
	{ "input without type", "inputs:\n  - name: a\n    count: 1\n",
	  "c.yaml:2:5: input has no 'type' (one of: @IN@)" },
	{ "unknown input type", "inputs:\n  - type: tail2\n",
	  "c.yaml:2:11: unknown input type 'tail2' (known: @IN@)" },
	{ "unknown output type", "outputs:\n  - type: kafkaa\n",
	  "c.yaml:2:11: unknown output type 'kafkaa' (known: @OUT@)" },
	{ "type is a list", "inputs:\n  - type: [generate]\n",
	  "c.yaml:2:11: 'type' must be a module name (one of: @IN@)" },
	{ "missing required key", "outputs:\n  - type: file\n    name: f\n",
	  "c.yaml:2:5: path: required key is missing" },
	{ "required key without value", "outputs:\n  - type: file\n    path:\n",
	  "c.yaml:3:10: path: required key has no value" },
	{ "empty path", "outputs:\n  - type: file\n    path: \"\"\n",
	  "c.yaml:3:11: path must not be empty" },
	{ "name with a slash", "inputs:\n  - type: generate\n    name: a/b\n",
	  "c.yaml:3:11: input name 'a/b' may only hold letters, digits, '.', '_' and '-'" },
	{ "duplicate input name", "inputs:\n  - type: generate\n    name: g\n  - type: stdin\n    name: g\n",
	  "c.yaml:5:11: duplicate input name 'g'" },
	{ "duplicate output name", "outputs:\n  - type: stdout\n    name: o\n  - type: file\n    name: o\n    path: /x\n",
	  "c.yaml:5:11: duplicate output name 'o'" },
	/* routes */
	{ "match names a missing input", "inputs:\n  - type: generate\n    name: g\noutputs:\n  - type: stdout\n    match: [g, nosuch]\n",
	  "c.yaml:6:16: match: no input is named or tagged 'nosuch'" },
	{ "match (one string) names a missing input", "inputs:\n  - type: generate\noutputs:\n  - type: stdout\n    match: other\n",
	  "c.yaml:5:12: match: no input is named or tagged 'other'" },
	{ "match with no inputs at all", "outputs:\n  - type: stdout\n    match: [app]\n",
	  "c.yaml:3:13: match: no input is named or tagged 'app'" },
	{ "match an empty pattern", "inputs:\n  - type: generate\noutputs:\n  - type: stdout\n    match: [\"\"]\n",
	  "c.yaml:5:13: match: an empty pattern matches nothing" },
};

/* The module lists in messages come from the registry, which grows as
 * modules land: "@IN@" / "@OUT@" in a message stand for them. */
static void expected(const char *msg, char *out, size_t cap)
{
	char in[512] = "", outs[512] = "";
	for (size_t i = 0; registry_inputs[i]; i++)
		snprintf(in + strlen(in), sizeof(in) - strlen(in), "%s%s", i ? ", " : "", registry_inputs[i]->type);
	for (size_t i = 0; registry_outputs[i]; i++)
		snprintf(outs + strlen(outs), sizeof(outs) - strlen(outs), "%s%s", i ? ", " : "",
			 registry_outputs[i]->type);
	size_t n = 0;
	while (*msg && n + 1 < cap) {
		const char *rep = !strncmp(msg, "@IN@", 4) ? in : !strncmp(msg, "@OUT@", 5) ? outs : NULL;
		if (rep) {
			n += (size_t)snprintf(out + n, cap - n, "%s", rep);
			if (n >= cap)
				n = cap - 1;
			msg += rep == in ? 4 : 5;
		} else {
			out[n++] = *msg++;
		}
	}
	out[n] = '\0';
}

static void test_bad_configs(void **state)
{
	(void)state;
	unsetenv("LOGSHIP_TEST_UNSET_VAR");
	size_t n = sizeof(bad_configs) / sizeof(bad_configs[0]);
	assert_true(n >= 30);
	int failures = 0;
	for (size_t i = 0; i < n; i++) {
		struct agent_config *c = NULL;
		struct cfg_error err;
		int rc = agent_config_parse("c.yaml", bad_configs[i].yaml, &c, &err);
		if (rc == 0) {
			printf("not refused: %s\n", bad_configs[i].what);
			agent_config_free(c);
			failures++;
			continue;
		}
		char want[1024];
		expected(bad_configs[i].msg, want, sizeof(want));
		if (strcmp(err.msg, want) != 0) {
			printf("%s:\n  want: %s\n  got:  %s\n", bad_configs[i].what, want, err.msg);
			failures++;
		}
	}
	printf("%zu bad configs checked\n", n);
	assert_int_equal(failures, 0);
}

static void test_defaults_names_routes(void **state)
{
	(void)state;
	const char *yaml =
		"data_dir: /d\n"
		"inputs:\n"
		"  - type: generate\n"
		"  - type: generate\n"
		"    tag: app\n"
		"  - type: generate\n"
		"    name: generate-2\n"
		"  - type: stdin\n"
		"outputs:\n"
		"  - type: file\n"
		"    path: /tmp/x\n"
		"    match: [app]\n"
		"  - type: stdout\n"
		"  - type: stdout\n"
		"    match: [\"std*\"]\n";
	struct agent_config *c;
	struct cfg_error err;
	int rc = agent_config_parse("ok.yaml", yaml, &c, &err);
	if (rc)
		printf("%s\n", err.msg);
	assert_int_equal(rc, 0);
	assert_int_equal(c->ninputs, 4);
	assert_string_equal(c->inputs[0].name, "generate");
	assert_string_equal(c->inputs[1].name, "generate-3");  /* generate-2 is taken explicitly */
	assert_string_equal(c->inputs[2].name, "generate-2");
	assert_string_equal(c->inputs[3].name, "stdin");
	assert_string_equal(c->outputs[0].name, "file");
	assert_string_equal(c->outputs[1].name, "stdout");
	assert_string_equal(c->outputs[2].name, "stdout-2");
	/* defaults */
	assert_int_equal(c->max_bytes, 1ull << 30);
	assert_int_equal(c->shutdown_timeout_ms, 10000);
	assert_int_equal(c->batch_timeout_ms, 200);
	assert_null(c->http_listen);
	assert_int_equal(c->outputs[1].match.n, 1);
	assert_string_equal(c->outputs[1].match.v[0], "*");
	/* routes: by tag, by default "*", by wildcard */
	assert_true(agent_output_matches(&c->outputs[0], "generate-3", "app"));
	assert_false(agent_output_matches(&c->outputs[0], "generate", NULL));
	assert_true(agent_output_matches(&c->outputs[1], "anything", NULL));
	assert_true(agent_output_matches(&c->outputs[2], "stdin", NULL));
	assert_false(agent_output_matches(&c->outputs[2], "generate", NULL));
	/* identical items have identical fingerprints; different ones differ */
	assert_string_not_equal(c->inputs[0].fingerprint, c->inputs[1].fingerprint);
	agent_config_free(c);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_conf_d_and_env(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	char confd[4200], main_file[4200];
	snprintf(confd, sizeof(confd), "%s/conf.d", dir);
	snprintf(main_file, sizeof(main_file), "%s/logship.yaml", dir);
	assert_int_equal(mkdir(confd, 0755), 0);
	setenv("LOGSHIP_TEST_DIR", "/srv/logship", 1);
	unsetenv("LOGSHIP_TEST_UNSET_VAR");
	write_file(dir, "logship.yaml",
		   "data_dir: ${LOGSHIP_TEST_DIR}/data\n"
		   "log_level: ${LOGSHIP_TEST_UNSET_VAR:-warn}\n"
		   "buffer: { max_bytes: 2GiB, fsync: always }\n"
		   "inputs:\n  - type: generate\n    name: main-gen\n"
		   "outputs:\n  - type: stdout\n");
	write_file(confd, "20-later.yaml",
		   "buffer: { max_bytes: 3GiB }\n"
		   "inputs:\n  - type: stdin\n    name: later\n");
	write_file(confd, "10-first.yaml",
		   "shutdown_timeout: 3s\n"
		   "buffer: { max_bytes: 512MiB }\n"
		   "inputs:\n  - type: generate\n    name: first\n    rate: ${LOGSHIP_TEST_RATE:-25}\n");
	write_file(confd, "README.txt", "not yaml: [\n");  /* ignored: not *.yaml */
	struct agent_config *c;
	struct cfg_error err;
	int rc = agent_config_load(main_file, NULL, &c, &err);
	if (rc)
		printf("%s\n", err.msg);
	assert_int_equal(rc, 0);
	assert_string_equal(c->data_dir, "/srv/logship/data");
	assert_int_equal(c->log_level, 1);              /* warn, from the default */
	assert_int_equal(c->shutdown_timeout_ms, 3000);
	assert_int_equal(c->max_bytes, 3ull << 30);     /* 20-later.yaml wins */
	assert_int_equal(c->fsync, 1);                  /* kept from the main file */
	assert_int_equal(c->ninputs, 3);                /* lists concatenate in name order */
	assert_string_equal(c->inputs[0].name, "main-gen");
	assert_string_equal(c->inputs[1].name, "first");
	assert_string_equal(c->inputs[2].name, "later");
	agent_config_free(c);

	/* -d elsewhere: conf.d beside the main file is then not read */
	char other[4300];
	snprintf(other, sizeof(other), "%s/other.d", dir);
	assert_int_equal(mkdir(other, 0755), 0);
	write_file(other, "x.yaml", "log_level: debug\n");
	rc = agent_config_load(main_file, other, &c, &err);
	assert_int_equal(rc, 0);
	assert_int_equal(c->log_level, 3);
	assert_int_equal(c->ninputs, 1);
	agent_config_free(c);

	/* an error in a conf.d file names that file and its position */
	write_file(confd, "30-bad.yaml", "outputs:\n  - type: file\n    path: /x\n    rotate_keep: lots\n");
	rc = agent_config_load(main_file, NULL, &c, &err);
	assert_int_not_equal(rc, 0);
	char want[8400];
	snprintf(want, sizeof(want), "%s/30-bad.yaml:4:18: rotate_keep: expected an integer, got \"lots\"", confd);
	assert_string_equal(err.msg, want);

	/* a route to an input defined in another file works across files */
	write_file(confd, "30-bad.yaml", "outputs:\n  - type: stdout\n    name: s2\n    match: [first, later]\n");
	rc = agent_config_load(main_file, NULL, &c, &err);
	if (rc)
		printf("%s\n", err.msg);
	assert_int_equal(rc, 0);
	assert_int_equal(c->noutputs, 2);
	agent_config_free(c);
	unsetenv("LOGSHIP_TEST_DIR");
	tu_rmrf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_defaults_names_routes),
		cmocka_unit_test(test_conf_d_and_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
