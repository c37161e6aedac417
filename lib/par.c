/* par.c - a small parallel for. */
#include <string.h>

#include "par.h"

/* Take items of the current run until none are left. */
static void
drain(struct bk_par *p, bk_par_fn fn, void *arg, size_t n, unsigned slot)
{
	size_t item;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		item = p->next < n ? p->next++ : n;
		pthread_mutex_unlock(&p->mu);
		if (item == n)
			return;
		fn(arg, item, slot);
	}
}

static void *
helper(void *arg)
{
	struct bk_par_helper *h = arg;
	struct bk_par *p = h->p;
	unsigned long seen = 0;
	bk_par_fn fn;
	void *fnarg;
	size_t n;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!p->quit && p->gen == seen)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->quit) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		seen = p->gen;
		fn = p->fn;
		fnarg = p->arg;
		n = p->n;
		pthread_mutex_unlock(&p->mu);
		drain(p, fn, fnarg, n, h->slot);
		pthread_mutex_lock(&p->mu);
		if (--p->busy == 0)
			pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
}

int
bk_par_init(struct bk_par *p, unsigned threads, struct bk_err *err)
{
	unsigned i;

	memset(p, 0, sizeof(*p));
	if (threads < 1 || threads > BK_PAR_MAX)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "threads: %u: out of range (1 to %d)", threads,
		    BK_PAR_MAX);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->threads = 1;
	for (i = 1; i < threads; i++) {
		p->h[i].p = p;
		p->h[i].slot = i;
		if (pthread_create(&p->tid[i], NULL, helper, &p->h[i]) != 0)
			break;
		p->threads++;
	}
	return 0;
}

void
bk_par_start(struct bk_par *p, bk_par_fn fn, void *arg, size_t n)
{
	pthread_mutex_lock(&p->mu);
	p->fn = fn;
	p->arg = arg;
	p->n = n;
	p->next = 0;
	p->busy = p->threads - 1;
	p->gen++;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (p->threads == 1)
		drain(p, fn, arg, n, 0);
}

void
bk_par_wait(struct bk_par *p)
{
	pthread_mutex_lock(&p->mu);
	while (p->busy > 0)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void
bk_par_run(struct bk_par *p, bk_par_fn fn, void *arg, size_t n)
{
	bk_par_start(p, fn, arg, n);
	if (p->threads > 1)
		drain(p, fn, arg, n, 0);
	bk_par_wait(p);
}

void
bk_par_free(struct bk_par *p)
{
	unsigned i;

	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (i = 1; i < p->threads; i++)
		pthread_join(p->tid[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
}
