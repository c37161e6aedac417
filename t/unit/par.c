/* par.c - unit tests of lib/par.c: every item runs once, on any slot. */
#include <string.h>

#include "par.h"
#include "tap.h"

struct work {
	int		 hits[1000];
	int		 slot_used[BK_PAR_MAX];	/* each slot writes its own */
};

static void
fn(void *arg, size_t item, unsigned slot)
{
	struct work *w = arg;

	__atomic_add_fetch(&w->hits[item], 1, __ATOMIC_RELAXED);
	w->slot_used[slot] = 1;
}

int
main(void)
{
	static const unsigned threads[] = { 1, 2, 4, 8 };
	struct bk_par p;
	struct bk_err err;
	struct work w;
	size_t i, t, r, bad;

	for (t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
		ok(bk_par_init(&p, threads[t], &err) == 0, "%u threads",
		    threads[t]);
		for (r = 0; r < 50; r++) {
			memset(&w, 0, sizeof(w));
			bk_par_run(&p, fn, &w, r * 20);
			for (bad = 0, i = 0; i < 1000; i++)
				bad += w.hits[i] != (i < r * 20 ? 1 : 0);
			if (bad != 0)
				break;
		}
		is_int((long long)bad, 0, "%u threads: each item once, 50 runs",
		    threads[t]);
		for (bad = 0, i = p.threads; i < BK_PAR_MAX; i++)
			bad += w.slot_used[i];
		ok(bad == 0, "no slot at or above %u", p.threads);
		bk_par_free(&p);
	}
	ok(bk_par_init(&p, 0, &err) < 0, "0 threads refused");
	ok(bk_par_init(&p, BK_PAR_MAX + 1, &err) < 0, "too many refused");
	return done_testing();
}
