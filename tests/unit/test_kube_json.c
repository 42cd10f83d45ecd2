/* kubernetes filter, reading the API server's objects (filters/kubernetes/
 * kube_json.c): recorded Pod and Namespace responses in the shape of the
 * Kubernetes API reference (tests/unit/data/kube_*.json) become the event
 * fields Filebeat's add_kubernetes_metadata names; owner heuristics; dedot;
 * annotations opt-in; bad input (not JSON, a Status object, wrong types,
 * huge and deep documents) is refused with a reason or read without crash. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/kubernetes/kube.h"

static char *load(const char *name, size_t *len)
{
	char path[4096];
	const char *root = getenv("LOGSHIP_ROOT");
	snprintf(path, sizeof(path), "%s/tests/unit/data/%s", root ? root : ".", name);
	FILE *f = fopen(path, "rb");
	if (!f) {
		print_error("cannot open %s (run from the repo root or set LOGSHIP_ROOT)\n", path);
		fail();
	}
	static char buf[65536];
	*len = fread(buf, 1, sizeof(buf) - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* The field's JSON text, or NULL. */
static const char *field(const struct kube_meta *m, const char *path)
{
	const struct kube_field *f = kube_meta_get(m, path);
	return f ? f->json : NULL;
}

static void test_deployment_pod(void **state)
{
	(void)state;
	size_t len;
	char *body = load("kube_pod_deployment.json", &len);
	char err[256] = "";
	struct kube_json_opts o = { .annotations = 0, .dedot = 1 };
	struct kube_meta *m = kube_json_pod(body, len, &o, err, sizeof(err));
	assert_non_null(m);
	assert_string_equal(field(m, "kubernetes.pod.uid"), "\"5f0c3e2a-8a57-4bd4-9a1e-2f6b1c1d9e01\"");
	assert_string_equal(field(m, "kubernetes.pod.ip"), "\"10.244.3.41\"");
	assert_string_equal(field(m, "kubernetes.node.name"), "\"node-a3\"");
	assert_string_equal(field(m, "kubernetes.labels"),
			    "{\"app\":\"web\",\"app_kubernetes_io/name\":\"web\",\"app_kubernetes_io/version\":"
			    "\"1.25.3\",\"pod-template-hash\":\"7d4b9c8f5\",\"tier\":\"front \\\"end\\\"\"}");
	assert_null(field(m, "kubernetes.annotations"));        /* opt-in */
	assert_string_equal(field(m, "kubernetes.replicaset.name"), "\"web-7d4b9c8f5\"");
	assert_string_equal(field(m, "kubernetes.deployment.name"), "\"web\"");
	assert_null(field(m, "kubernetes.statefulset.name"));
	assert_null(field(m, "kubernetes.namespace_labels"));   /* from the Namespace, added later */
	/* Images per container, init containers included. */
	assert_int_equal(m->nc, 3);
	assert_string_equal(kube_meta_container(m, "nginx", 5)->image_json, "\"nginx:1.25.3\"");
	assert_string_equal(kube_meta_container(m, "envoy-sidecar", 13)->image_json, "\"envoyproxy/envoy:v1.28.0\"");
	assert_string_equal(kube_meta_container(m, "migrate", 7)->image_json,
			    "\"registry.example.com/shop/migrate:4.2\"");
	assert_null(kube_meta_container(m, "ngin", 4));
	/* All of it as one object to merge into the event's "kubernetes". */
	assert_string_equal(m->obj,
			    "{\"pod\":{\"name\":\"web-7d4b9c8f5-x2x7k\",\"uid\":\"5f0c3e2a-8a57-4bd4-9a1e-2f6b1c1d9e01\","
			    "\"ip\":\"10.244.3.41\"},\"node\":{\"name\":\"node-a3\"},\"labels\":{\"app\":\"web\","
			    "\"app_kubernetes_io/name\":\"web\",\"app_kubernetes_io/version\":\"1.25.3\","
			    "\"pod-template-hash\":\"7d4b9c8f5\",\"tier\":\"front \\\"end\\\"\"},"
			    "\"replicaset\":{\"name\":\"web-7d4b9c8f5\"},\"deployment\":{\"name\":\"web\"}}");
	/* Namespace labels join it (the client adds them after its own request). */
	const char *nsl = "{\"team\":\"x\"}";
	assert_int_equal(kube_meta_add(m, "kubernetes.namespace_labels", nsl, strlen(nsl)), 0);
	assert_int_equal(kube_meta_render(m), 0);
	assert_non_null(strstr(m->obj, ",\"namespace_labels\":{\"team\":\"x\"}}"));
	/* Container IDs without the runtime prefix. */
	assert_int_equal(m->nids, 3);
	const char *id = "a3f1c2d4e5b6a7980112233445566778899aabbccddeeff00112233445566778";
	assert_true(kube_meta_has_id(m, id, 64));
	assert_false(kube_meta_has_id(m, id, 63));
	assert_false(kube_meta_has_id(m, "containerd://a3f1", 17));
	kube_meta_free(m);
}

static void test_annotations_and_no_dedot(void **state)
{
	(void)state;
	size_t len;
	char *body = load("kube_pod_deployment.json", &len);
	char err[256];
	struct kube_json_opts o = { .annotations = 1, .dedot = 0 };
	struct kube_meta *m = kube_json_pod(body, len, &o, err, sizeof(err));
	assert_non_null(m);
	assert_string_equal(field(m, "kubernetes.annotations"),
			    "{\"kubectl.kubernetes.io/restartedAt\":\"2026-11-20T08:13:58Z\","
			    "\"prometheus.io/scrape\":\"true\"}");
	assert_non_null(strstr(field(m, "kubernetes.labels"), "\"app.kubernetes.io/name\":\"web\""));
	kube_meta_free(m);
}

static void test_cronjob_pod(void **state)
{
	(void)state;
	size_t len;
	char *body = load("kube_pod_cronjob.json", &len);
	char err[256];
	struct kube_json_opts o = { .dedot = 1 };
	struct kube_meta *m = kube_json_pod(body, len, &o, err, sizeof(err));
	assert_non_null(m);
	assert_string_equal(field(m, "kubernetes.job.name"), "\"backup-29384710\"");
	assert_string_equal(field(m, "kubernetes.cronjob.name"), "\"backup\"");
	assert_null(field(m, "kubernetes.pod.ip"));   /* Pending: no IP yet, no empty field */
	assert_null(field(m, "kubernetes.deployment.name"));
	assert_int_equal(m->nids, 0);
	assert_string_equal(kube_meta_container(m, "backup", 6)->image_json,
			    "\"registry.example.com/ops/backup@sha256:0123\"");
	kube_meta_free(m);
}

/* Other controllers, and pods without owner, labels or spec. */
static void test_owner_kinds(void **state)
{
	(void)state;
	static const struct { const char *owners, *path, *value; } cases[] = {
		{ "[{\"kind\":\"DaemonSet\",\"name\":\"fluent\",\"controller\":true}]",
		  "kubernetes.daemonset.name", "\"fluent\"" },
		{ "[{\"kind\":\"StatefulSet\",\"name\":\"db\",\"controller\":true}]",
		  "kubernetes.statefulset.name", "\"db\"" },
		/* The controller wins over an owner listed first. */
		{ "[{\"kind\":\"ConfigMap\",\"name\":\"x\"},{\"kind\":\"StatefulSet\",\"name\":\"kafka\",\"controller\":true}]",
		  "kubernetes.statefulset.name", "\"kafka\"" },
		/* No controller flag: the first one. */
		{ "[{\"kind\":\"DaemonSet\",\"name\":\"node-exporter\"}]", "kubernetes.daemonset.name", "\"node-exporter\"" },
		/* A Job not made by a CronJob. */
		{ "[{\"kind\":\"Job\",\"name\":\"migrate-2\",\"controller\":true}]", "kubernetes.job.name", "\"migrate-2\"" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[1024], err[256];
		snprintf(body, sizeof(body), "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"ownerReferences\":%s}}",
			 cases[i].owners);
		struct kube_json_opts o = { .dedot = 1 };
		struct kube_meta *m = kube_json_pod(body, strlen(body), &o, err, sizeof(err));
		assert_non_null(m);
		assert_string_equal(field(m, cases[i].path), cases[i].value);
		assert_null(field(m, "kubernetes.cronjob.name"));
		assert_null(field(m, "kubernetes.labels"));     /* none: no empty object */
		kube_meta_free(m);
	}
	/* A static pod (owner: Node) and a bare pod: no owner field, no crash. */
	const char *bare[] = {
		"{\"kind\":\"Pod\",\"metadata\":{\"ownerReferences\":[{\"kind\":\"Node\",\"name\":\"n1\",\"controller\":true}]}}",
		"{\"kind\":\"Pod\",\"metadata\":{}}",
		"{\"kind\":\"Pod\",\"metadata\":{\"labels\":{},\"ownerReferences\":[]},\"spec\":{\"containers\":[{\"name\":1}]}}",
		/* wrong types everywhere are ignored, not trusted */
		"{\"kind\":\"Pod\",\"metadata\":{\"uid\":7,\"labels\":[1],\"ownerReferences\":{\"kind\":\"Job\"}},"
		"\"spec\":{\"nodeName\":false,\"containers\":\"x\"},\"status\":{\"containerStatuses\":[{\"containerID\":3}]}}",
	};
	for (size_t i = 0; i < sizeof(bare) / sizeof(bare[0]); i++) {
		char err[256];
		struct kube_json_opts o = { .dedot = 1 };
		struct kube_meta *m = kube_json_pod(bare[i], strlen(bare[i]), &o, err, sizeof(err));
		assert_non_null(m);
		assert_int_equal(m->n, 0);
		assert_int_equal(m->nids, 0);
		kube_meta_free(m);
	}
}

static void test_heuristics(void **state)
{
	(void)state;
	char out[64];
	/* With pod-template-hash: exact. */
	assert_true(kube_deployment_of("api-gateway-5c7f9d8b6", "5c7f9d8b6", out, sizeof(out)));
	assert_string_equal(out, "api-gateway");
	assert_false(kube_deployment_of("api-gateway-5c7f9d8b6", "1234", out, sizeof(out)));
	assert_false(kube_deployment_of("5c7f9d8b6", "5c7f9d8b6", out, sizeof(out)));
	/* Without it: the last segment, if it looks like a hash. */
	assert_true(kube_deployment_of("web-7d4b9c8f5", NULL, out, sizeof(out)));
	assert_string_equal(out, "web");
	assert_false(kube_deployment_of("web", NULL, out, sizeof(out)));
	assert_false(kube_deployment_of("web-", NULL, out, sizeof(out)));
	assert_false(kube_deployment_of("-abc", NULL, out, sizeof(out)));
	assert_false(kube_deployment_of("web-AB_c", NULL, out, sizeof(out)));
	assert_false(kube_deployment_of("averyveryverylongname-abc", NULL, out, 8));   /* does not fit */
	/* CronJob: 8+ digits of scheduled minutes. */
	assert_true(kube_cronjob_of("nightly-report-29384710", out, sizeof(out)));
	assert_string_equal(out, "nightly-report");
	assert_false(kube_cronjob_of("migrate-2", out, sizeof(out)));
	assert_false(kube_cronjob_of("x-2938471a", out, sizeof(out)));
	assert_false(kube_cronjob_of("29384710", out, sizeof(out)));
	assert_false(kube_cronjob_of("-29384710", out, sizeof(out)));
}

static void test_namespace(void **state)
{
	(void)state;
	size_t len;
	char *body = load("kube_namespace.json", &len);
	char err[256];
	char *s = kube_json_namespace_labels(body, len, 1, err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s, "{\"kubernetes_io/metadata_name\":\"shop\",\"team\":\"checkout\","
			    "\"pod-security_kubernetes_io/enforce\":\"baseline\"}");
	free(s);
	const char *none = "{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"x\"}}";
	s = kube_json_namespace_labels(none, strlen(none), 1, err, sizeof(err));
	assert_string_equal(s, "{}");
	free(s);
	/* A Pod is not a Namespace. */
	body = load("kube_pod_cronjob.json", &len);
	assert_null(kube_json_namespace_labels(body, len, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "not a Namespace object (kind Pod)"));
}

static void test_bad_input(void **state)
{
	(void)state;
	char err[256];
	struct kube_json_opts o = { .dedot = 1 };
	size_t len;
	char *body = load("kube_status_404.json", &len);
	assert_null(kube_json_pod(body, len, &o, err, sizeof(err)));
	assert_string_equal(err, "not a Pod object (kind Status)");
	const char *bad[] = { "", "{", "null", "[]", "\"Pod\"", "{\"kind\":\"Pod\"}", "{\"kind\":\"Pod\",\"metadata\":[]}",
			      "{\"kind\":\"Pod\",\"metadata\":{},}", "{\"kind\":\"Pod\",\"kind\":\"Pod\",\"metadata\":{}}",
			      "<html>502 Bad Gateway</html>" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_null(kube_json_pod(bad[i], strlen(bad[i]), &o, err, sizeof(err)));
		assert_true(strlen(err) > 0);
	}
	kube_json_pod("{\"kind\":\"P", 10, &o, err, sizeof(err));
	assert_non_null(strstr(err, "not JSON"));
	/* Deep nesting: refused by the parser's depth limit, not a crash. */
	size_t depth = 100000;
	char *deep = malloc(2 * depth + 64);
	size_t n = (size_t)sprintf(deep, "{\"kind\":\"Pod\",\"metadata\":{\"x\":");
	for (size_t i = 0; i < depth; i++)
		deep[n++] = '[';
	for (size_t i = 0; i < depth; i++)
		deep[n++] = ']';
	n += (size_t)sprintf(deep + n, "}}");
	assert_null(kube_json_pod(deep, n, &o, err, sizeof(err)));
	free(deep);
	/* A huge label map: every label kept (keys over 511 bytes are skipped:
	 * the API allows at most 317). */
	struct sbuf b = { 0 };
	sbuf_puts(&b, "{\"kind\":\"Pod\",\"metadata\":{\"labels\":{");
	for (int i = 0; i < 5000; i++)
		sbuf_printf(&b, "%s\"k%d.x\":\"v%d\"", i ? "," : "", i, i);
	sbuf_printf(&b, ",\"%0600d\":\"long\"}}}", 0);
	struct kube_meta *m = kube_json_pod(b.p, b.len, &o, err, sizeof(err));
	assert_non_null(m);
	const char *labels = field(m, "kubernetes.labels");
	assert_non_null(strstr(labels, "\"k4999_x\":\"v4999\""));
	assert_null(strstr(labels, "long"));
	kube_meta_free(m);
	sbuf_free(&b);
}

static void test_meta_bound(void **state)
{
	(void)state;
	struct kube_meta *m = calloc(1, sizeof(*m));
	for (int i = 0; i < KUBE_MAX_FIELDS; i++)
		assert_int_equal(kube_meta_add(m, "a.b", "1", 1), 0);
	assert_int_equal(kube_meta_add(m, "a.b", "1", 1), -ENOSPC);
	assert_int_equal(kube_meta_render(m), 0);
	assert_string_equal(m->obj, "{}");       /* nothing under kubernetes. */
	free(m->f[0].json);
	m->f[0].json = strdup("{bad");
	m->f[0].len = 4;
	free(m->f[0].path);
	m->f[0].path = strdup("kubernetes.x");
	assert_int_equal(kube_meta_render(m), -EINVAL);
	assert_string_equal(m->obj, "{}");       /* the last good one stays */
	kube_meta_free(m);
	kube_meta_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deployment_pod),
		cmocka_unit_test(test_annotations_and_no_dedot),
		cmocka_unit_test(test_cronjob_pod),
		cmocka_unit_test(test_owner_kinds),
		cmocka_unit_test(test_heuristics),
		cmocka_unit_test(test_namespace),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_meta_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
