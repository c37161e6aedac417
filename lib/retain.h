/*
 * retain.h - the retention decision: which backups a grandfather-father-son
 * policy keeps, and why.
 *
 * The rules are those of restic's "forget".  Backups are sorted newest
 * first (equal times by URL, so that the answer never depends on the
 * input order).  keep_last keeps the N newest.  keep_within keeps every
 * backup at most that many seconds older than the newest backup (not
 * than now: a location whose backups stopped keeps them).  Each period
 * rule (hourly, daily, weekly, monthly, yearly) walks from newest to
 * oldest and keeps a backup whenever its period differs from that of the
 * last backup the rule kept, until it has kept N periods: so it keeps the
 * newest backup of each of the N most recent periods that have one, and
 * a period without any backup uses up nothing.  Periods are calendar
 * periods in the policy's time zone; weeks are ISO 8601 weeks (Monday to
 * Sunday, "2026-W53").  A backup kept by several rules is kept once, with
 * every reason.
 *
 * Two safety nets follow the rules: the newest backup is always kept, and
 * if fewer than min_keep backups are kept, the newest of the others are
 * kept until min_keep are (or all are).
 *
 * The decision is a pure function of the objects and the policy: applied
 * again to the backups it kept, it keeps them all.  It reads the time zone
 * database and, for a zone other than UTC, sets TZ in the environment for
 * the duration of the call (restoring it before returning): not for use
 * while another thread reads the environment or the local time.
 */
#ifndef BK_RETAIN_H
#define BK_RETAIN_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "listing.h"

/* What to keep.  Zero turns a rule off; at least one of the keep_* rules
 * must be on.  min_keep alone is not a policy. */
struct bk_retain_policy {
	unsigned	 keep_last;	/* the N newest */
	unsigned	 keep_hourly;	/* the newest of each of N hours */
	unsigned	 keep_daily;	/* ... N days */
	unsigned	 keep_weekly;	/* ... N ISO weeks */
	unsigned	 keep_monthly;	/* ... N months */
	unsigned	 keep_yearly;	/* ... N years */
	uint64_t	 keep_within;	/* seconds back from the newest */
	unsigned	 min_keep;	/* keep at least this many */
	const char	*tz;		/* zone name ("Europe/Berlin"); NULL
					 * or "UTC" for UTC */
};

/* Why a backup is kept: bits of bk_retain_decision.why. */
#define BK_RETAIN_LAST		0x001
#define BK_RETAIN_WITHIN	0x002
#define BK_RETAIN_HOURLY	0x004
#define BK_RETAIN_DAILY		0x008
#define BK_RETAIN_WEEKLY	0x010
#define BK_RETAIN_MONTHLY	0x020
#define BK_RETAIN_YEARLY	0x040
#define BK_RETAIN_NEWEST	0x080	/* kept by no rule, but the newest */
#define BK_RETAIN_MINKEEP	0x100	/* kept to reach min_keep */

#define BK_RETAIN_REASONMAX	192

/* The verdict on one backup. */
struct bk_retain_decision {
	int		keep;		/* 1 keep, 0 delete */
	unsigned	why;		/* BK_RETAIN_* bits; 0 when deleted */
	size_t		rank;		/* 0 for the newest, 1 next, ... */
	/* For humans, in the order of the bits, periods labelled in the
	 * policy's zone: "last, daily 2026-11-21, weekly 2026-W47,
	 * monthly 2026-11", "hourly 2026-11-21 14h", "yearly 2026",
	 * "within", "newest", "min-keep"; "" when deleted. */
	char		reason[BK_RETAIN_REASONMAX];
};

/*
 * Check a time zone name: NULL and "UTC" are UTC; anything else must be a
 * zone file ("TZif" magic) under $TZDIR if set, else /usr/share/zoneinfo.
 * POSIX TZ strings ("CET-1CEST,M3.5.0,M10.5.0/3"), paths, "." and ".."
 * components are refused, and so is an unknown zone: never a silent UTC.
 * Returns 0, or -1 with err (BK_EXIT_USAGE).
 */
int	bk_retain_check_tz(const char *tz, struct bk_err *err);

/*
 * Decide, for each of the n objects obj[0..n-1], whether policy p keeps
 * it: out[i] (caller-allocated, n entries) is the verdict on obj[i].
 * *nkeep and *ndelete (either may be NULL) get the counts; they add up to
 * n.  Nothing is allocated that outlives the call.
 *
 * Returns 0, or -1 with err and out undefined: BK_EXIT_USAGE for an empty
 * policy or a bad time zone, BK_EXIT_CHECK for an object without URL, two
 * objects with the same URL (deleting "the other copy" would delete the
 * kept one) or a time the zone cannot convert, BK_EXIT_RUNTIME when out
 * of memory.
 */
int	bk_retain(const struct bk_listing_obj *obj, size_t n,
	    const struct bk_retain_policy *p, struct bk_retain_decision *out,
	    size_t *nkeep, size_t *ndelete, struct bk_err *err);

#endif
