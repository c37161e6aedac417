/* prune.c - unit tests for lib/prune: the plan (match, retention) and
 * times from names. */
#include <stdio.h>
#include <string.h>

#include "prune.h"
#include "tap.h"

static void
nt(const char *name, long long want)
{
	time_t t = 0;
	int rc = bk_prune_name_time(name, &t);

	if (want < 0)
		ok(rc < 0, "no time in \"%s\"", name);
	else
		ok(rc == 0 && (long long)t == want, "\"%s\" -> %lld (got %lld)",
		    name, want, (long long)t);
}

int
main(void)
{
	struct bk_listing l;
	struct bk_retain_policy p;
	struct bk_prune_plan pl;
	struct bk_err e;
	char url[128];
	int i, kept_other = 1;

	plan(20);
	nt("db-20261121T020013Z.dump.gz.age", 1795226413LL);
	nt("db-2026-11-21T02:00:13Z.sql.gz", 1795226413LL);
	nt("db-2026-11-21T020013Z", 1795226413LL);
	nt("x-20250101T000000Z-then-20261121T020013Z.gz", 1795226413LL);
	nt("db-20260230T020013Z.dump", -1);
	nt("db-20261121T250000Z.dump", -1);
	nt("db-20261121T020013.dump", -1);
	nt("db-2026112T020013Z.dump", -1);
	nt("latest.dump", -1);
	nt("", -1);
	ok(strcmp(bk_prune_name("s3://b/a/b/c.gz"), "c.gz") == 0 &&
	    strcmp(bk_prune_name("plain"), "plain") == 0,
	    "the name is the last path element");

	/* 10 daily backups and 3 other files; keep 3 daily */
	bk_listing_init(&l);
	for (i = 0; i < 10; i++) {
		snprintf(url, sizeof(url), "/b/db-%02d.dump", i);
		bk_listing_add(&l, 1795226413 - (time_t)i * 86400, 10, url, &e);
	}
	bk_listing_add(&l, 1, 1, "/b/README", &e);
	bk_listing_add(&l, 1795226413 + 10, 1, "/b/db-newer.log", &e);
	bk_listing_add(&l, 2, 1, "/b/db-x.dump.sha256", &e);
	memset(&p, 0, sizeof(p));
	p.keep_daily = 3;
	ok(bk_prune_plan(&l, "db-*.dump", &p, &pl, &e) == 0, "plan: %s",
	    e.msg);
	ok(pl.n == 10 && pl.nother == 3 && pl.nkeep == 3 &&
	    pl.ndelete == 7, "10 backups, 3 others; 3 kept, 7 to delete "
	    "(%zu %zu %zu %zu)", pl.n, pl.nother, pl.nkeep,
	    pl.ndelete);
	for (i = 0; i < (int)pl.n; i++)
		if (pl.idx[i] >= 10)
			kept_other = 0;
	ok(kept_other, "files that do not match are not in the plan");
	ok(pl.dec[0].keep && pl.dec[1].keep && pl.dec[2].keep &&
	    !pl.dec[3].keep && !pl.dec[9].keep,
	    "the three newest days are kept");
	ok(strstr(pl.dec[0].reason, "daily") != NULL,
	    "reason: %s", pl.dec[0].reason);
	bk_prune_plan_free(&pl);

	ok(bk_prune_plan(&l, NULL, &p, &pl, &e) == 0 && pl.n == 13 &&
	    pl.nother == 0, "no glob: every object is a backup");
	bk_prune_plan_free(&pl);

	memset(&p, 0, sizeof(p));
	ok(bk_prune_plan(&l, NULL, &p, &pl, &e) < 0 &&
	    e.code == BK_EXIT_USAGE, "an empty policy is refused: %s", e.msg);
	p.min_keep = 4;
	ok(bk_prune_plan(&l, NULL, &p, &pl, &e) < 0,
	    "min-keep alone is not a policy");
	bk_listing_free(&l);
	bk_listing_init(&l);
	p.keep_daily = 1;
	ok(bk_prune_plan(&l, NULL, &p, &pl, &e) == 0 && pl.n == 0 &&
	    pl.ndelete == 0, "an empty listing: nothing to do");
	bk_prune_plan_free(&pl);
	bk_listing_free(&l);
	return done_testing();
}
