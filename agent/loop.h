/* The agent's event loop: epoll for fds (inputs, signalfd, eventfds) and
 * one-shot timers kept in a short list, whose earliest deadline is the
 * epoll_wait timeout. Nothing wakes the loop unless an fd is ready or a timer
 * is due: an idle agent costs no CPU. Main thread only. */
#ifndef LOGSHIP_AGENT_LOOP_H
#define LOGSHIP_AGENT_LOOP_H
#include <stdint.h>

struct loop;
typedef void (*loop_fd_fn)(void *arg, int fd, unsigned events);
typedef void (*loop_timer_fn)(void *arg);

/* Caller-owned, intrusive; initialise with loop_timer_init. */
struct loop_timer {
	int64_t deadline;              /* monotonic ms */
	loop_timer_fn fn;
	void *arg;
	int armed;
	struct loop_timer *prev, *next;
};

int loop_new(struct loop **out);
void loop_free(struct loop *l);

/* 0, -EEXIST, -EPERM (regular files cannot be polled) or -errno. */
int loop_add_fd(struct loop *l, int fd, unsigned events, loop_fd_fn fn, void *arg);
/* Changes the events watched; 0 pauses the fd without forgetting it. */
int loop_mod_fd(struct loop *l, int fd, unsigned events);
void loop_del_fd(struct loop *l, int fd);

void loop_timer_init(struct loop_timer *t, loop_timer_fn fn, void *arg);
void loop_timer_arm(struct loop *l, struct loop_timer *t, int64_t delay_ms);
void loop_timer_disarm(struct loop *l, struct loop_timer *t);

/* Waits for fds or the next timer (not at all when nowait), dispatches.
 * Returns the number of callbacks run, or -errno. */
int loop_run_once(struct loop *l, int nowait);

int64_t loop_now_ms(void);

#endif
