/* See lazy_lib.h. One mutex for every library: loading happens once per
 * library per process, and two threads racing for the same library must not
 * both dlopen it and log twice. After the load, lazy_lib_ready() is one
 * acquire load. */
#include "common/lazy_lib.h"

#include <dlfcn.h>
#include <pthread.h>

#include "common/logging.h"

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

static int load(struct lazy_lib *l)
{
	void *lib = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		LOG_ERROR(l->module, "cannot load %s (Debian package %s): %s", l->soname, l->package,
			  dlerror());
		return -1;
	}
	int missing = 0;
	for (size_t i = 0; i < l->nsyms; i++) {
		*l->syms[i].slot = dlsym(lib, l->syms[i].name);
		if (!*l->syms[i].slot) {
			LOG_ERROR(l->module, "%s has no %s: too old?", l->soname, l->syms[i].name);
			missing = 1;
		}
	}
	return missing ? -1 : 1;  /* the library stays mapped for the process's life */
}

int lazy_lib_ready(struct lazy_lib *l)
{
	int s = atomic_load_explicit(&l->state, memory_order_acquire);
	if (s)
		return s > 0;
	pthread_mutex_lock(&load_lock);
	s = atomic_load_explicit(&l->state, memory_order_relaxed);
	if (!s) {
		s = load(l);
		atomic_store_explicit(&l->state, s, memory_order_release);
	}
	pthread_mutex_unlock(&load_lock);
	return s > 0;
}
