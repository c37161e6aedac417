/*
 * par.h - a small parallel for: run fn over items 0..n-1 on a fixed set
 * of threads (the caller's among them) and wait for all of them.
 *
 * For work cut into independent pieces of similar cost, such as the
 * chunks of an age STREAM: items are handed out in order, one at a time.
 */
#ifndef BK_PAR_H
#define BK_PAR_H

#include <pthread.h>
#include <stddef.h>

#include "err.h"

#define BK_PAR_MAX	64

/* fn(arg, item, slot): slot in [0, threads) names the calling thread, so
 * that fn can keep per-thread state (a cipher context) in arg. */
typedef void (*bk_par_fn)(void *arg, size_t item, unsigned slot);

struct bk_par;

struct bk_par_helper {
	struct bk_par	*p;
	unsigned	 slot;
};

/* Must stay in place while in use: the helpers point into it. */
struct bk_par {
	unsigned	 threads;	/* including the caller */
	struct bk_par_helper h[BK_PAR_MAX];
	pthread_t	 tid[BK_PAR_MAX];
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	unsigned long	 gen;		/* bumped for each run */
	bk_par_fn	 fn;
	void		*arg;
	size_t		 n;
	size_t		 next;		/* next item to hand out */
	unsigned	 busy;		/* helpers still in this run */
	int		 quit;
};

/*
 * Start threads - 1 helper threads (threads in [1, BK_PAR_MAX]).  On
 * failure to start some, runs with fewer.  Returns 0, or -1 with err.
 */
int	bk_par_init(struct bk_par *p, unsigned threads, struct bk_err *err);

/* Run fn over items 0..n-1 and return when every item is done. */
void	bk_par_run(struct bk_par *p, bk_par_fn fn, void *arg, size_t n);

/*
 * Start fn over items 0..n-1 on the helper threads only, and return at
 * once: the caller is free for other work (I/O) until bk_par_wait().
 * Without helpers (threads == 1) the items run here, before returning.
 */
void	bk_par_start(struct bk_par *p, bk_par_fn fn, void *arg, size_t n);

/* Wait until the run started by bk_par_start() is done. */
void	bk_par_wait(struct bk_par *p);

/* Stop and join the helpers. */
void	bk_par_free(struct bk_par *p);

#endif
