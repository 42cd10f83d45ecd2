/* Reading the API server's Pod and Namespace objects (core/v1) with jansson,
 * and rendering what events get as JSON text once per pod, so that `apply`
 * only copies bytes. Field names follow Filebeat's add_kubernetes_metadata
 * (ECS "kubernetes.*"): kubernetes.labels.*, kubernetes.annotations.*,
 * kubernetes.namespace_labels.*, kubernetes.node.name, kubernetes.pod.uid,
 * kubernetes.pod.ip, kubernetes.{replicaset,deployment,daemonset,statefulset,
 * job,cronjob}.name, and container.image.name per container.
 *
 * Dedot (default on, as Filebeat's labels.dedot): a key such as
 * "app.kubernetes.io/name" becomes "app_kubernetes_io/name", because
 * Elasticsearch reads dots in keys as nesting, and "app" and "app.x" as
 * labels of one pod would then clash in the mapping. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/kubernetes/kube.h"

/* --- kube_meta ------------------------------------------------------------------ */

int kube_meta_add(struct kube_meta *m, const char *path, const char *json, size_t len)
{
	if (m->n >= KUBE_MAX_FIELDS)
		return -ENOSPC;
	char *p = strdup(path), *j = malloc(len + 1);
	if (!p || !j) {
		free(p);
		free(j);
		return -ENOMEM;
	}
	memcpy(j, json, len);
	j[len] = '\0';
	m->f[m->n++] = (struct kube_field){ .path = p, .json = j, .len = len };
	return 0;
}

const struct kube_field *kube_meta_get(const struct kube_meta *m, const char *path)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->f[i].path, path) == 0)
			return &m->f[i];
	return NULL;
}

const struct kube_container *kube_meta_container(const struct kube_meta *m, const char *name, size_t len)
{
	for (size_t i = 0; i < m->nc; i++)
		if (strlen(m->c[i].name) == len && memcmp(m->c[i].name, name, len) == 0)
			return &m->c[i];
	return NULL;
}

int kube_meta_has_id(const struct kube_meta *m, const char *id, size_t len)
{
	for (size_t i = 0; i < m->nids; i++)
		if (strlen(m->ids[i]) == len && memcmp(m->ids[i], id, len) == 0)
			return 1;
	return 0;
}

int kube_meta_render(struct kube_meta *m)
{
	static const char prefix[] = "kubernetes.";
	json_t *root = json_object();
	if (!root)
		return -ENOMEM;
	int rc = 0;
	for (size_t i = 0; i < m->n && rc == 0; i++) {
		if (strncmp(m->f[i].path, prefix, sizeof(prefix) - 1) != 0)
			continue;
		json_t *v = json_loadb(m->f[i].json, m->f[i].len, JSON_DECODE_ANY, NULL);
		if (!v) {
			rc = -EINVAL;
			break;
		}
		/* Walk/create the objects of "a.b.c" below root, set the last. */
		char path[256];
		snprintf(path, sizeof(path), "%s", m->f[i].path + sizeof(prefix) - 1);
		json_t *at = root;
		char *seg = path, *dot;
		while ((dot = strchr(seg, '.'))) {
			*dot = '\0';
			json_t *next = json_object_get(at, seg);
			if (!json_is_object(next)) {
				next = json_object();
				if (!next || json_object_set_new(at, seg, next) < 0) {
					rc = -ENOMEM;
					break;
				}
			}
			at = next;
			seg = dot + 1;
		}
		if (rc == 0 && json_object_set_new(at, seg, v) < 0)
			rc = -ENOMEM;
		else if (rc)
			json_decref(v);
	}
	char *s = rc ? NULL : json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!rc && !s)
		rc = -ENOMEM;
	if (rc)
		return rc;
	free(m->obj);
	m->obj = s;
	m->obj_len = strlen(s);
	return 0;
}

void kube_meta_free(struct kube_meta *m)
{
	if (!m)
		return;
	free(m->obj);
	for (size_t i = 0; i < m->n; i++) {
		free(m->f[i].path);
		free(m->f[i].json);
	}
	for (size_t i = 0; i < m->nc; i++) {
		free(m->c[i].name);
		free(m->c[i].image_json);
	}
	free(m->c);
	for (size_t i = 0; i < m->nids; i++)
		free(m->ids[i]);
	free(m->ids);
	free(m);
}

/* --- owner heuristics --------------------------------------------------------------- */

static int copy_prefix(const char *s, size_t n, char *out, size_t cap)
{
	if (n == 0 || n >= cap)
		return 0;
	memcpy(out, s, n);
	out[n] = '\0';
	return 1;
}

int kube_deployment_of(const char *rs, const char *template_hash, char *out, size_t cap)
{
	size_t n = strlen(rs);
	/* Exact: the ReplicaSet a Deployment makes is "<deployment>-<hash>" and
	 * its pods carry the hash as label pod-template-hash. */
	if (template_hash && *template_hash) {
		size_t h = strlen(template_hash);
		if (n > h + 1 && rs[n - h - 1] == '-' && strcmp(rs + n - h, template_hash) == 0)
			return copy_prefix(rs, n - h - 1, out, cap);
		return 0;   /* a ReplicaSet not named after its template: not a Deployment's */
	}
	/* Without the label (a hand-made ReplicaSet has none, old clusters): the
	 * last "-<alphanumerics>" segment, as Filebeat does. */
	const char *dash = strrchr(rs, '-');
	if (!dash || dash == rs || dash[1] == '\0')
		return 0;
	for (const char *p = dash + 1; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			return 0;
	return copy_prefix(rs, (size_t)(dash - rs), out, cap);
}

int kube_cronjob_of(const char *job, char *out, size_t cap)
{
	/* The CronJob controller names each Job "<cronjob>-<scheduled time in
	 * minutes since the epoch>": 8 digits until the year 2160. */
	const char *dash = strrchr(job, '-');
	if (!dash || dash == job || strlen(dash + 1) < 8)
		return 0;
	for (const char *p = dash + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return copy_prefix(job, (size_t)(dash - job), out, cap);
}

/* --- rendering ---------------------------------------------------------------------- */

static int add_value(struct kube_meta *m, const char *path, json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s)
		return -ENOMEM;
	int rc = kube_meta_add(m, path, s, strlen(s));
	free(s);
	return rc;
}

static int add_string(struct kube_meta *m, const char *path, const char *s)
{
	json_t *v = json_string(s);
	if (!v)
		return -EINVAL;    /* not UTF-8: cannot come from a JSON document */
	int rc = add_value(m, path, v);
	json_decref(v);
	return rc;
}

/* A string member of obj, or NULL when absent or not a string. */
static const char *str_at(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* A copy of a string map with dedotted keys, as JSON text (malloc'd); NULL
 * with *empty set when it has no entries. */
static char *render_map(json_t *map, int dedot, int *empty)
{
	*empty = 1;
	if (!json_is_object(map) || json_object_size(map) == 0)
		return NULL;
	json_t *copy = json_object();
	if (!copy)
		return NULL;
	const char *k;
	json_t *v;
	char key[512];
	json_object_foreach(map, k, v) {
		size_t n = strlen(k);
		if (n >= sizeof(key))
			continue;   /* label keys are at most 317 bytes (prefix 253 + '/' + 63) */
		memcpy(key, k, n + 1);
		if (dedot)
			for (char *p = key; *p; p++)
				if (*p == '.')
					*p = '_';
		json_object_set(copy, key, v);
	}
	*empty = json_object_size(copy) == 0;
	char *s = *empty ? NULL : json_dumps(copy, JSON_COMPACT);
	json_decref(copy);
	return s;
}

static int add_map(struct kube_meta *m, const char *path, json_t *map, int dedot)
{
	int empty;
	char *s = render_map(map, dedot, &empty);
	if (empty)
		return 0;
	if (!s)
		return -ENOMEM;
	int rc = kube_meta_add(m, path, s, strlen(s));
	free(s);
	return rc;
}

/* The controlling owner (ownerReferences[].controller == true), else the
 * first one, as the API sets at most one controller. */
static json_t *controller_of(json_t *meta)
{
	json_t *refs = json_object_get(meta, "ownerReferences");
	if (!json_is_array(refs) || json_array_size(refs) == 0)
		return NULL;
	size_t i;
	json_t *r;
	json_array_foreach(refs, i, r)
		if (json_is_true(json_object_get(r, "controller")))
			return r;
	return json_array_get(refs, 0);
}

static int add_owner(struct kube_meta *m, json_t *meta)
{
	json_t *owner = controller_of(meta);
	const char *kind = str_at(owner, "kind"), *name = str_at(owner, "name");
	if (!kind || !name || !*name)
		return 0;
	char buf[256];
	int rc = 0;
	if (strcmp(kind, "ReplicaSet") == 0) {
		rc = add_string(m, "kubernetes.replicaset.name", name);
		const char *hash = str_at(json_object_get(meta, "labels"), "pod-template-hash");
		if (!rc && kube_deployment_of(name, hash, buf, sizeof(buf)))
			rc = add_string(m, "kubernetes.deployment.name", buf);
	} else if (strcmp(kind, "DaemonSet") == 0) {
		rc = add_string(m, "kubernetes.daemonset.name", name);
	} else if (strcmp(kind, "StatefulSet") == 0) {
		rc = add_string(m, "kubernetes.statefulset.name", name);
	} else if (strcmp(kind, "Job") == 0) {
		rc = add_string(m, "kubernetes.job.name", name);
		if (!rc && kube_cronjob_of(name, buf, sizeof(buf)))
			rc = add_string(m, "kubernetes.cronjob.name", buf);
	}
	/* Other controllers (ReplicationController, Node for static pods,
	 * custom resources) have no ECS field: the pod's labels tell the rest. */
	return rc;
}

static int add_containers(struct kube_meta *m, json_t *list)
{
	if (!json_is_array(list))
		return 0;
	size_t i;
	json_t *c;
	json_array_foreach(list, i, c) {
		const char *name = str_at(c, "name");
		json_t *image = json_object_get(c, "image");
		if (!name || !json_is_string(image))
			continue;
		struct kube_container *nc = realloc(m->c, (m->nc + 1) * sizeof(*nc));
		if (!nc)
			return -ENOMEM;
		m->c = nc;
		char *img = json_dumps(image, JSON_COMPACT | JSON_ENCODE_ANY);
		char *nm = strdup(name);
		if (!img || !nm) {
			free(img);
			free(nm);
			return -ENOMEM;
		}
		m->c[m->nc++] = (struct kube_container){ .name = nm, .image_json = img, .image_len = strlen(img) };
	}
	return 0;
}

static int add_ids(struct kube_meta *m, json_t *list)
{
	if (!json_is_array(list))
		return 0;
	size_t i;
	json_t *s;
	json_array_foreach(list, i, s) {
		const char *id = str_at(s, "containerID");
		if (!id || !*id)
			continue;     /* not started yet */
		const char *sep = strstr(id, "://");   /* "containerd://<id>", "docker://<id>" */
		id = sep ? sep + 3 : id;
		char **ni = realloc(m->ids, (m->nids + 1) * sizeof(*ni));
		if (!ni)
			return -ENOMEM;
		m->ids = ni;
		if (!(m->ids[m->nids] = strdup(id)))
			return -ENOMEM;
		m->nids++;
	}
	return 0;
}

static json_t *load(const char *body, size_t len, const char *kind, char *err, size_t errsz)
{
	json_error_t je;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		snprintf(err, errsz, "not JSON: %s at line %d column %d", je.text, je.line, je.column);
		return NULL;
	}
	const char *k = str_at(root, "kind");
	if (!json_is_object(root) || !k || strcmp(k, kind) != 0 ||
	    !json_is_object(json_object_get(root, "metadata"))) {
		snprintf(err, errsz, "not a %s object (kind %s)", kind, k ? k : "absent");
		json_decref(root);
		return NULL;
	}
	return root;
}

struct kube_meta *kube_json_pod(const char *body, size_t len, const struct kube_json_opts *o,
				char *err, size_t errsz)
{
	json_t *root = load(body, len, "Pod", err, errsz);
	if (!root)
		return NULL;
	struct kube_meta *m = calloc(1, sizeof(*m));
	if (!m) {
		json_decref(root);
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	json_t *meta = json_object_get(root, "metadata");
	json_t *spec = json_object_get(root, "spec");
	json_t *status = json_object_get(root, "status");
	const char *s;
	int rc = 0;
	if ((s = str_at(meta, "name")) && *s)
		rc = add_string(m, "kubernetes.pod.name", s);
	if (!rc && (s = str_at(meta, "uid")))
		rc = add_string(m, "kubernetes.pod.uid", s);
	if (!rc && (s = str_at(status, "podIP")) && *s)
		rc = add_string(m, "kubernetes.pod.ip", s);
	if (!rc && (s = str_at(spec, "nodeName")) && *s)
		rc = add_string(m, "kubernetes.node.name", s);
	if (!rc)
		rc = add_map(m, "kubernetes.labels", json_object_get(meta, "labels"), o->dedot);
	if (!rc && o->annotations)
		rc = add_map(m, "kubernetes.annotations", json_object_get(meta, "annotations"), o->dedot);
	if (!rc)
		rc = add_owner(m, meta);
	if (!rc)
		rc = add_containers(m, json_object_get(spec, "containers"));
	if (!rc)
		rc = add_containers(m, json_object_get(spec, "initContainers"));
	if (!rc)
		rc = add_containers(m, json_object_get(spec, "ephemeralContainers"));
	if (!rc)
		rc = add_ids(m, json_object_get(status, "containerStatuses"));
	if (!rc)
		rc = add_ids(m, json_object_get(status, "initContainerStatuses"));
	if (!rc)
		rc = kube_meta_render(m);
	json_decref(root);
	if (rc) {
		snprintf(err, errsz, "%s", rc == -ENOMEM ? "out of memory" : "pod fields not renderable");
		kube_meta_free(m);
		return NULL;
	}
	return m;
}

char *kube_json_namespace_labels(const char *body, size_t len, int dedot, char *err, size_t errsz)
{
	json_t *root = load(body, len, "Namespace", err, errsz);
	if (!root)
		return NULL;
	int empty;
	char *s = render_map(json_object_get(json_object_get(root, "metadata"), "labels"), dedot, &empty);
	json_decref(root);
	if (empty)
		s = strdup("{}");
	if (!s)
		snprintf(err, errsz, "out of memory");
	return s;
}
