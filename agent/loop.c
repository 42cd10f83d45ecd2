/* See loop.h. fd watches live in an array indexed by fd; one removed while
 * a batch of epoll events is being dispatched is only marked dead, so a later
 * event in the same batch cannot reach a freed watch. */
#include "agent/loop.h"
#include "common/notify.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

struct watch {
	int fd;
	unsigned events;
	loop_fd_fn fn;
	void *arg;
	int dead;
	struct watch *next_dead;
};

struct loop {
	int epfd;
	struct watch **by_fd;
	int nfd;
	struct loop_timer timers;      /* list head */
	struct watch *dead;
	int dispatching;
};

int64_t loop_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int loop_new(struct loop **out)
{
	struct loop *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int rc = -errno;
		free(l);
		return rc;
	}
	l->timers.next = l->timers.prev = &l->timers;
	*out = l;
	return 0;
}

static void reap(struct loop *l)
{
	while (l->dead) {
		struct watch *w = l->dead;
		l->dead = w->next_dead;
		free(w);
	}
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	for (int i = 0; i < l->nfd; i++)
		free(l->by_fd[i]);
	reap(l);
	free(l->by_fd);
	close(l->epfd);
	free(l);
}

int loop_add_fd(struct loop *l, int fd, unsigned events, loop_fd_fn fn, void *arg)
{
	if (fd < 0)
		return -EBADF;
	if (fd >= l->nfd) {
		int n = l->nfd ? l->nfd : 64;
		while (n <= fd)
			n *= 2;
		struct watch **v = realloc(l->by_fd, (size_t)n * sizeof(*v));
		if (!v)
			return -ENOMEM;
		memset(v + l->nfd, 0, (size_t)(n - l->nfd) * sizeof(*v));
		l->by_fd = v;
		l->nfd = n;
	}
	if (l->by_fd[fd])
		return -EEXIST;
	struct watch *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->events = events;
	w->fn = fn;
	w->arg = arg;
	struct epoll_event ev = { .events = events, .data.ptr = w };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int rc = -errno;
		free(w);
		return rc;
	}
	l->by_fd[fd] = w;
	return 0;
}

int loop_mod_fd(struct loop *l, int fd, unsigned events)
{
	if (fd < 0 || fd >= l->nfd || !l->by_fd[fd])
		return -ENOENT;
	struct watch *w = l->by_fd[fd];
	if (w->events == events)
		return 0;
	struct epoll_event ev = { .events = events, .data.ptr = w };
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	w->events = events;
	return 0;
}

void loop_del_fd(struct loop *l, int fd)
{
	if (fd < 0 || fd >= l->nfd || !l->by_fd[fd])
		return;
	struct watch *w = l->by_fd[fd];
	l->by_fd[fd] = NULL;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	w->dead = 1;
	w->next_dead = l->dead;
	l->dead = w;
	if (!l->dispatching)
		reap(l);
}

void loop_timer_init(struct loop_timer *t, loop_timer_fn fn, void *arg)
{
	memset(t, 0, sizeof(*t));
	t->fn = fn;
	t->arg = arg;
}

void loop_timer_disarm(struct loop *l, struct loop_timer *t)
{
	(void)l;
	if (!t->armed)
		return;
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->prev = t->next = NULL;
	t->armed = 0;
}

void loop_timer_arm(struct loop *l, struct loop_timer *t, int64_t delay_ms)
{
	loop_timer_disarm(l, t);
	t->deadline = loop_now_ms() + (delay_ms > 0 ? delay_ms : 0);
	t->next = l->timers.next;
	t->prev = &l->timers;
	l->timers.next->prev = t;
	l->timers.next = t;
	t->armed = 1;
}

static int run_timers(struct loop *l, int64_t now)
{
	int n = 0;
	for (;;) {
		struct loop_timer *due = NULL;
		for (struct loop_timer *t = l->timers.next; t != &l->timers; t = t->next)
			if (t->deadline <= now && (!due || t->deadline < due->deadline))
				due = t;
		if (!due)
			return n;
		loop_timer_disarm(l, due);
		due->fn(due->arg);
		n++;
	}
}

int loop_run_once(struct loop *l, int nowait)
{
	int timeout = -1;
	int64_t now = loop_now_ms();
	for (struct loop_timer *t = l->timers.next; t != &l->timers; t = t->next) {
		int64_t d = t->deadline - now;
		if (d < 0)
			d = 0;
		if (d > 3600000)
			d = 3600000;
		if (timeout < 0 || d < timeout)
			timeout = (int)d;
	}
	if (nowait)
		timeout = 0;
	/* systemd's watchdog (WatchdogSec=): pinged from here, so a stuck loop
	 * stops the pings; wakes the loop only when a watchdog is enabled. */
	timeout = notify_watchdog_tick(now, timeout);
	struct epoll_event evs[64];
	int n = epoll_wait(l->epfd, evs, 64, timeout);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return -errno;
	}
	l->dispatching = 1;
	for (int i = 0; i < n; i++) {
		struct watch *w = evs[i].data.ptr;
		if (!w->dead)
			w->fn(w->arg, w->fd, evs[i].events);
	}
	l->dispatching = 0;
	reap(l);
	return n + run_timers(l, loop_now_ms());
}
