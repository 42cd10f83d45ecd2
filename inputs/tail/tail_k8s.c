/* Kubernetes metadata from a container log's path. The kubelet links every
 * container's log as
 *     /var/log/containers/<pod>_<namespace>_<container>-<64 hex id>.log
 * Pod names and namespaces are DNS labels (no '_'), so the two underscores
 * and the last '-' before the id split the name without ambiguity; container
 * names may hold '-', which is why the id is found from the end. */
#include <errno.h>
#include <string.h>

#include "inputs/tail/tail_parse.h"

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int tail_k8s_parse(const char *path, struct tail_k8s *out)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	/* at least "p_n_c-" + 64 hex + ".log" */
	if (n < 6 + 64 + 4 || memcmp(base + n - 4, ".log", 4) != 0)
		return -EINVAL;
	const char *id = base + n - 4 - 64;
	for (int i = 0; i < 64; i++)
		if (!is_hex(id[i]))
			return -EINVAL;
	if (id[-1] != '-')
		return -EINVAL;
	const char *u1 = memchr(base, '_', (size_t)(id - base));
	if (!u1)
		return -EINVAL;
	const char *u2 = memchr(u1 + 1, '_', (size_t)(id - (u1 + 1)));
	if (!u2)
		return -EINVAL;
	const char *cend = id - 1;
	if (u1 == base || u2 == u1 + 1 || cend == u2 + 1)
		return -EINVAL;
	*out = (struct tail_k8s){
		.pod = base, .pod_len = (size_t)(u1 - base),
		.ns = u1 + 1, .ns_len = (size_t)(u2 - u1 - 1),
		.container = u2 + 1, .container_len = (size_t)(cend - u2 - 1),
		.id = id, .id_len = 64,
	};
	return 0;
}
