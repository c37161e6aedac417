/*
 * retain.c - unit tests for lib/retain: hand-checked calendars (month,
 * year and ISO week 53 boundaries, DST in a non-UTC zone, gaps, ties,
 * keep-within, the safety nets), then properties of random listings
 * against an independent model.  Calendar facts were checked with
 * date(1), e.g. `date -u -d 2027-01-03 +%G-W%V` is 2026-W53 and
 * `TZ=Europe/Berlin date -d 2026-10-24T22:30Z` is 2026-10-25 00:30 CEST.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "listing.h"
#include "retain.h"
#include "tap.h"

#define MAXOBJ		64
#define RESMAX		4096
#define DAY		86400
/* The zone the tests run in: never the policy's, never UTC. */
#define HOMETZ		"America/Chicago"

/* --- hand-checked cases --------------------------------------------------- */

/*
 * Objects for a case: "TIME NAME" strings; the URL is the name.  Returns
 * the count.
 */
static size_t
mkobjs(const char *const *spec, struct bk_listing_obj *o)
{
	struct bk_err e;
	const char *sp;
	size_t n;

	for (n = 0; spec[n] != NULL; n++) {
		if (n == MAXOBJ || (sp = strchr(spec[n], ' ')) == NULL ||
		    bk_listing_parse_time(spec[n], (size_t)(sp - spec[n]),
		    &o[n].time, &e) == -1) {
			diag("bad case object \"%s\"", spec[n]);
			exit(1);
		}
		o[n].size = 1;
		o[n].url = (char *)sp + 1;
	}
	return n;
}

/*
 * The verdicts as one string, newest first: "name: reason" for a kept
 * object, "name: -" for a deleted one, joined by " | ".  Returns 0, or
 * -1 with the error message in res.
 */
static int
verdicts(const struct bk_listing_obj *o, size_t n,
    const struct bk_retain_policy *p, char *res)
{
	struct bk_retain_decision d[MAXOBJ];
	const struct bk_retain_decision *byrank[MAXOBJ];
	size_t i, nk = 99, nd = 99, len = 0, kept = 0;
	struct bk_err e;

	bk_err_clear(&e);
	memset(d, 0xa5, sizeof(d));
	if (bk_retain(o, n, p, d, &nk, &nd, &e) == -1) {
		snprintf(res, RESMAX, "error: %s", e.msg);
		return -1;
	}
	memset(byrank, 0, sizeof(byrank));
	for (i = 0; i < n; i++)
		if (d[i].rank < n)
			byrank[d[i].rank] = &d[i];
	res[0] = '\0';
	for (i = 0; i < n; i++) {
		if (byrank[i] == NULL) {
			snprintf(res, RESMAX, "ranks are not a permutation");
			return 0;
		}
		kept += byrank[i]->keep != 0;
		len += (size_t)snprintf(res + len, RESMAX - len, "%s%s: %s",
		    i > 0 ? " | " : "", o[byrank[i] - d].url,
		    byrank[i]->keep ? byrank[i]->reason : "-");
	}
	if (nk != kept || nd != n - kept)
		snprintf(res + len, RESMAX - len, " (counts %zu/%zu wrong)",
		    nk, nd);
	return 0;
}

/*
 * Check policy p on the objects of spec: the verdicts are want, and the
 * same with the objects in reverse input order.
 */
static void
check(const char *name, const struct bk_retain_policy *p,
    const char *want, const char *const *spec)
{
	struct bk_listing_obj o[MAXOBJ], r[MAXOBJ];
	char res[RESMAX], rev[RESMAX];
	size_t n, i;

	n = mkobjs(spec, o);
	for (i = 0; i < n; i++)
		r[i] = o[n - 1 - i];
	verdicts(o, n, p, res);
	verdicts(r, n, p, rev);
	if (strcmp(res, rev) != 0) {
		diag("  reversed input gives \"%s\"", rev);
		strcpy(res, "(depends on the input order)");
	}
	is_str(res, want, "%s", name);
}

#define P(...)		(&(struct bk_retain_policy){ __VA_ARGS__ })
#define OBJS(...)	((const char *const []){ __VA_ARGS__, NULL })

static void
test_calendar(void)
{
	/* Month and year boundaries. */
	check("daily 3, monthly 2, yearly 2 across a new year",
	    P(.keep_daily = 3, .keep_monthly = 2, .keep_yearly = 2),
	    "j3: daily 2026-01-03, monthly 2026-01, yearly 2026 | "
	    "j2: daily 2026-01-02 | j1: daily 2026-01-01 | "
	    "d31: monthly 2025-12, yearly 2025 | d30: - | d29: -",
	    OBJS("2025-12-29T02:00:00Z d29", "2025-12-30T02:00:00Z d30",
	    "2025-12-31T02:00:00Z d31", "2026-01-01T02:00:00Z j1",
	    "2026-01-02T02:00:00Z j2", "2026-01-03T02:00:00Z j3"));
	check("monthly 3: the newest of each month, at month ends",
	    P(.keep_monthly = 3),
	    "apr1: monthly 2026-04 | mar31: monthly 2026-03 | mar1: - | "
	    "feb28: monthly 2026-02 | feb1: - | jan31: -",
	    OBJS("2026-01-31T23:00:00Z jan31", "2026-02-01T00:30:00Z feb1",
	    "2026-02-28T12:00:00Z feb28", "2026-03-01T00:00:00Z mar1",
	    "2026-03-31T23:59:59Z mar31", "2026-04-01T00:00:00Z apr1"));
	check("yearly 3 over a leap day",
	    P(.keep_yearly = 3),
	    "y25: yearly 2025 | y24b: yearly 2024 | y24a: - | y23: yearly 2023",
	    OBJS("2023-12-31T23:59:59Z y23", "2024-02-29T12:00:00Z y24a",
	    "2024-12-31T00:00:00Z y24b", "2025-01-01T00:00:00Z y25"));

	/* ISO weeks: 2026 has a week 53 (2026-12-28 .. 2027-01-03). */
	check("weekly 3 over 2026-W53",
	    P(.keep_weekly = 3),
	    "t05: weekly 2027-W01 | s03: weekly 2026-W53 | m28: - | "
	    "s27: weekly 2026-W52 | m21: - | s20: -",
	    OBJS("2026-12-20T12:00:00Z s20", "2026-12-21T12:00:00Z m21",
	    "2026-12-27T12:00:00Z s27", "2026-12-28T12:00:00Z m28",
	    "2027-01-03T12:00:00Z s03", "2027-01-05T12:00:00Z t05"));
	check("weekly and yearly disagree on the year of 2027-01-03",
	    P(.keep_weekly = 3, .keep_yearly = 2),
	    "t05: weekly 2027-W01, yearly 2027 | s03: weekly 2026-W53 | "
	    "m28: yearly 2026 | s27: weekly 2026-W52 | m21: - | s20: -",
	    OBJS("2026-12-20T12:00:00Z s20", "2026-12-21T12:00:00Z m21",
	    "2026-12-27T12:00:00Z s27", "2026-12-28T12:00:00Z m28",
	    "2027-01-03T12:00:00Z s03", "2027-01-05T12:00:00Z t05"));
	check("weekly 10 over 2020-W53, which 2021-01-01 is in",
	    P(.keep_weekly = 10),
	    "m04: weekly 2021-W01 | s03: weekly 2020-W53 | f01: - | m28: - | "
	    "s27: weekly 2020-W52",
	    OBJS("2020-12-27T08:00:00Z s27", "2020-12-28T08:00:00Z m28",
	    "2021-01-01T08:00:00Z f01", "2021-01-03T08:00:00Z s03",
	    "2021-01-04T08:00:00Z m04"));
	check("2024-12-30 is in 2025-W01",
	    P(.keep_weekly = 2, .keep_yearly = 2),
	    "m30: weekly 2025-W01, yearly 2024 | s29: weekly 2024-W52",
	    OBJS("2024-12-29T00:00:00Z s29", "2024-12-30T00:00:00Z m30"));

	/* Several backups a day: the newest of the day is the one kept. */
	check("daily 2 with three backups a day",
	    P(.keep_daily = 2),
	    "c20: daily 2026-11-21 | c14: - | c08: - | b20: daily 2026-11-20 | "
	    "b14: - | b08: - | a20: - | a14: - | a08: -",
	    OBJS("2026-11-19T08:00:00Z a08", "2026-11-19T14:00:00Z a14",
	    "2026-11-19T20:00:00Z a20", "2026-11-20T08:00:00Z b08",
	    "2026-11-20T14:00:00Z b14", "2026-11-20T20:00:00Z b20",
	    "2026-11-21T08:00:00Z c08", "2026-11-21T14:00:00Z c14",
	    "2026-11-21T20:00:00Z c20"));
	check("hourly 2 with backups every 20 minutes",
	    P(.keep_hourly = 2),
	    "h1540: hourly 2026-11-21 15h | h1520: - | h1500: - | "
	    "h1440: hourly 2026-11-21 14h | h1420: -",
	    OBJS("2026-11-21T14:20:00Z h1420", "2026-11-21T14:40:00Z h1440",
	    "2026-11-21T15:00:00Z h1500", "2026-11-21T15:20:00Z h1520",
	    "2026-11-21T15:40:00Z h1540"));

	/* A day without backup uses up no daily slot. */
	check("daily 7 with gaps reaches back over 20 days",
	    P(.keep_daily = 7),
	    "n21: daily 2026-11-21 | n20: daily 2026-11-20 | "
	    "n11: daily 2026-11-11 | n10: daily 2026-11-10 | "
	    "n07: daily 2026-11-07 | n03: daily 2026-11-03 | "
	    "n02: daily 2026-11-02 | n01: -",
	    OBJS("2026-11-01T02:00:00Z n01", "2026-11-02T02:00:00Z n02",
	    "2026-11-03T02:00:00Z n03", "2026-11-07T02:00:00Z n07",
	    "2026-11-10T02:00:00Z n10", "2026-11-11T02:00:00Z n11",
	    "2026-11-20T02:00:00Z n20", "2026-11-21T02:00:00Z n21"));
	check("monthly 3 with empty months",
	    P(.keep_monthly = 3),
	    "nov: monthly 2026-11 | jun: monthly 2026-06 | "
	    "jan: monthly 2026-01 | dec: -",
	    OBJS("2025-12-15T00:00:00Z dec", "2026-01-15T00:00:00Z jan",
	    "2026-06-15T00:00:00Z jun", "2026-11-15T00:00:00Z nov"));

	/* Every reason at once, in order. */
	check("every rule keeps the one backup",
	    P(.keep_last = 1, .keep_within = 1, .keep_hourly = 1,
	    .keep_daily = 1, .keep_weekly = 1, .keep_monthly = 1,
	    .keep_yearly = 1, .min_keep = 1),
	    "x: last, within, hourly 2026-11-21 14h, daily 2026-11-21, "
	    "weekly 2026-W47, monthly 2026-11, yearly 2026",
	    OBJS("2026-11-21T14:30:00Z x"));
	check("rules overlap: kept once, with every reason",
	    P(.keep_last = 2, .keep_daily = 2, .keep_weekly = 1),
	    "b: last, daily 2026-11-21, weekly 2026-W47 | a: last | "
	    "z: daily 2026-11-20",
	    OBJS("2026-11-20T12:00:00Z z", "2026-11-21T01:00:00Z a",
	    "2026-11-21T02:00:00Z b"));
}

static void
test_tz(void)
{
	/* Spring: Berlin goes from +1 to +2 on 2026-03-29 at 01:00Z. */
	check("Berlin: 23:30Z is the next local day (spring)",
	    P(.keep_daily = 3, .tz = "Europe/Berlin"),
	    "c: daily 2026-03-30 | b: daily 2026-03-29 | a: - | "
	    "z: daily 2026-03-28",
	    OBJS("2026-03-28T22:30:00Z z", "2026-03-28T23:30:00Z a",
	    "2026-03-29T21:30:00Z b", "2026-03-29T22:30:00Z c"));
	check("... and in UTC the same backups fall on other days",
	    P(.keep_daily = 3),
	    "c: daily 2026-03-29 | b: - | a: daily 2026-03-28 | z: -",
	    OBJS("2026-03-28T22:30:00Z z", "2026-03-28T23:30:00Z a",
	    "2026-03-29T21:30:00Z b", "2026-03-29T22:30:00Z c"));
	check("Berlin: no 02h on 2026-03-29",
	    P(.keep_hourly = 5, .tz = "Europe/Berlin"),
	    "q: hourly 2026-03-29 04h | p: hourly 2026-03-29 03h | "
	    "o: hourly 2026-03-29 01h | n: hourly 2026-03-29 00h",
	    OBJS("2026-03-28T23:10:00Z n", "2026-03-29T00:10:00Z o",
	    "2026-03-29T01:10:00Z p", "2026-03-29T02:10:00Z q"));

	/* Autumn: from +2 to +1 on 2026-10-25 at 01:00Z; 02h twice. */
	check("Berlin: the repeated hour 02h is one hourly period",
	    P(.keep_hourly = 3, .tz = "Europe/Berlin"),
	    "h3: hourly 2026-10-25 03h | h2: hourly 2026-10-25 02h | h1: - | "
	    "h0: hourly 2026-10-25 01h",
	    OBJS("2026-10-24T23:30:00Z h0", "2026-10-25T00:30:00Z h1",
	    "2026-10-25T01:30:00Z h2", "2026-10-25T02:30:00Z h3"));
	check("... and in UTC four hours",
	    P(.keep_hourly = 3, .tz = "UTC"),
	    "h3: hourly 2026-10-25 02h | h2: hourly 2026-10-25 01h | "
	    "h1: hourly 2026-10-25 00h | h0: -",
	    OBJS("2026-10-24T23:30:00Z h0", "2026-10-25T00:30:00Z h1",
	    "2026-10-25T01:30:00Z h2", "2026-10-25T02:30:00Z h3"));
	check("Berlin: local days and ISO weeks across the autumn change",
	    P(.keep_daily = 4, .keep_weekly = 2, .tz = "Europe/Berlin"),
	    "v: daily 2026-10-26, weekly 2026-W44 | "
	    "w: daily 2026-10-25, weekly 2026-W43 | x: - | "
	    "y: daily 2026-10-24",
	    OBJS("2026-10-24T21:30:00Z y", "2026-10-24T22:30:00Z x",
	    "2026-10-25T22:30:00Z w", "2026-10-25T23:30:00Z v"));
	check("Berlin: local months and years",
	    P(.keep_monthly = 2, .keep_yearly = 2, .tz = "Europe/Berlin"),
	    "e1: monthly 2027-01, yearly 2027 | e2: monthly 2026-12, "
	    "yearly 2026 | e3: - | e4: -",
	    OBJS("2026-10-31T22:30:00Z e4", "2026-10-31T23:30:00Z e3",
	    "2026-12-31T22:30:00Z e2", "2026-12-31T23:30:00Z e1"));
	check("... in UTC",
	    P(.keep_monthly = 2, .keep_yearly = 2),
	    "e1: monthly 2026-12, yearly 2026 | e2: - | e3: monthly 2026-10 | "
	    "e4: -",
	    OBJS("2026-10-31T22:30:00Z e4", "2026-10-31T23:30:00Z e3",
	    "2026-12-31T22:30:00Z e2", "2026-12-31T23:30:00Z e1"));
	check("New York: 03:00Z is the day before",
	    P(.keep_daily = 5, .tz = "America/New_York"),
	    "b: daily 2026-11-21 | a: daily 2026-11-20",
	    OBJS("2026-11-21T03:00:00Z a", "2026-11-21T05:00:00Z b"));
	check("Kathmandu (+05:45): the day starts at 18:15Z",
	    P(.keep_daily = 5, .keep_hourly = 5, .tz = "Asia/Kathmandu"),
	    "b: hourly 2026-11-21 00h, daily 2026-11-21 | "
	    "a: hourly 2026-11-20 23h, daily 2026-11-20",
	    OBJS("2026-11-20T18:14:59Z a", "2026-11-20T18:15:00Z b"));
}

static void
test_rules(void)
{
	/* keep_within counts back from the newest backup, not from now:
	 * these are years old and still kept. */
	check("within 3d of the newest backup, the bound included",
	    P(.keep_within = 3 * DAY),
	    "j10: within | j09: within | j08: within | j07: within | "
	    "j07b: - | j06: - | j01: -",
	    OBJS("2020-01-01T12:00:00Z j01", "2020-01-06T12:00:00Z j06",
	    "2020-01-07T11:59:59Z j07b", "2020-01-07T12:00:00Z j07",
	    "2020-01-08T12:00:00Z j08", "2020-01-09T12:00:00Z j09",
	    "2020-01-10T12:00:00Z j10"));
	check("within 1s keeps the newest alone",
	    P(.keep_within = 1),
	    "b: within | a: -",
	    OBJS("2020-01-01T12:00:00Z a", "2020-01-01T12:00:02Z b"));
	check("within longer than all the time since 1970",
	    P(.keep_within = UINT64_MAX),
	    "b: within | a: within",
	    OBJS("1970-01-01T00:00:00Z a", "9999-12-31T23:59:59Z b"));
	check("last 3",
	    P(.keep_last = 3),
	    "e: last | d: last | c: last | b: - | a: -",
	    OBJS("2026-11-17T00:00:00Z a", "2026-11-18T00:00:00Z b",
	    "2026-11-19T00:00:00Z c", "2026-11-20T00:00:00Z d",
	    "2026-11-21T00:00:00Z e"));
	check("last more than there are",
	    P(.keep_last = 100),
	    "b: last | a: last",
	    OBJS("2026-11-17T00:00:00Z a", "2026-11-18T00:00:00Z b"));

	/* The safety nets. */
	check("min-keep tops up with the newest of the others",
	    P(.keep_last = 1, .min_keep = 3),
	    "e: last | d: min-keep | c: min-keep | b: - | a: -",
	    OBJS("2026-11-17T00:00:00Z a", "2026-11-18T00:00:00Z b",
	    "2026-11-19T00:00:00Z c", "2026-11-20T00:00:00Z d",
	    "2026-11-21T00:00:00Z e"));
	check("min-keep tops up past kept ones",
	    P(.keep_yearly = 2, .min_keep = 4),
	    "e: yearly 2026 | d: min-keep | c: min-keep | b: yearly 2025 | "
	    "a: -",
	    OBJS("2025-11-17T00:00:00Z a", "2025-11-18T00:00:00Z b",
	    "2026-11-19T00:00:00Z c", "2026-11-20T00:00:00Z d",
	    "2026-11-21T00:00:00Z e"));
	check("min-keep above the count keeps all",
	    P(.keep_last = 1, .min_keep = 10),
	    "c: last | b: min-keep | a: min-keep",
	    OBJS("2026-11-17T00:00:00Z a", "2026-11-18T00:00:00Z b",
	    "2026-11-19T00:00:00Z c"));
	check("min-keep already met adds nothing",
	    P(.keep_daily = 3, .min_keep = 2),
	    "c: daily 2026-11-19 | b: daily 2026-11-18 | a: daily 2026-11-17",
	    OBJS("2026-11-17T00:00:00Z a", "2026-11-18T00:00:00Z b",
	    "2026-11-19T00:00:00Z c"));
	check("yearly 1: the newest is kept, and nothing else",
	    P(.keep_yearly = 1),
	    "c: yearly 2026 | b: - | a: -",
	    OBJS("2026-01-01T00:00:00Z a", "2026-06-01T00:00:00Z b",
	    "2026-11-19T00:00:00Z c"));

	/* Ties: equal times are ordered by URL. */
	check("equal times: the first URL is the newer",
	    P(.keep_last = 1),
	    "a: last | b: -",
	    OBJS("2026-11-21T02:00:00Z b", "2026-11-21T02:00:00Z a"));
	check("equal times: the first URL holds the day",
	    P(.keep_daily = 2),
	    "s3://b/a: daily 2026-11-21 | s3://b/b: - | s3://b/c: - | "
	    "s3://b/0: daily 2026-11-20",
	    OBJS("2026-11-21T02:00:00Z s3://b/c",
	    "2026-11-21T02:00:00Z s3://b/a",
	    "2026-11-20T02:00:00Z s3://b/0", "2026-11-21T02:00:00Z s3://b/b"));
	check("one object",
	    P(.keep_daily = 1),
	    "s3://b/with space: daily 2026-11-21",
	    OBJS("2026-11-21T02:00:00Z s3://b/with space"));
}

/* Refusals and the rest of the interface. */
static void
test_errors(void)
{
	static const struct bk_retain_policy empty[] = {
		{ 0, 0, 0, 0, 0, 0, 0, 0, NULL },
		{ 0, 0, 0, 0, 0, 0, 0, 5, NULL },
		{ 0, 0, 0, 0, 0, 0, 0, 0, "Europe/Berlin" },
	};
	struct bk_retain_policy p = { .keep_daily = 1 };
	struct bk_listing_obj o[3];
	struct bk_retain_decision d[3];
	struct bk_err e;
	size_t i, nk = 99, nd = 99;
	int rc;

	o[0].time = 1000;
	o[0].size = 1;
	o[0].url = "s3://b/a";
	o[1] = o[0];
	o[1].time = 2000;
	o[1].url = "s3://b/b";
	o[2] = o[0];

	for (i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		bk_err_clear(&e);
		rc = bk_retain(o, 2, &empty[i], d, &nk, &nd, &e);
		ok(rc == -1 && e.code == BK_EXIT_USAGE &&
		    strstr(e.msg, "empty retention policy") != NULL,
		    "an empty policy is refused (%zu)", i);
	}
	bk_err_clear(&e);
	rc = bk_retain(o, 0, &empty[0], d, &nk, &nd, &e);
	ok(rc == -1 && e.code == BK_EXIT_USAGE,
	    "an empty policy is refused on an empty listing too");

	rc = bk_retain(o, 0, &p, d, &nk, &nd, &e);
	ok(rc == 0 && nk == 0 && nd == 0, "an empty listing: nothing to do");
	rc = bk_retain(o, 2, &p, d, NULL, NULL, &e);
	ok(rc == 0 && d[1].keep && d[1].rank == 0 && !d[0].keep &&
	    d[0].rank == 1 && d[0].why == 0 && d[0].reason[0] == '\0',
	    "counts may be NULL; ranks and a deletion's empty reason");

	/* A URL twice: its verdicts could contradict each other. */
	bk_err_clear(&e);
	rc = bk_retain(o, 3, &p, d, &nk, &nd, &e);
	ok(rc == -1 && e.code == BK_EXIT_CHECK &&
	    strcmp(e.msg, "retention: s3://b/a is listed twice") == 0,
	    "a URL listed twice is refused (%s)", e.msg);
	o[2].time = 1000;
	rc = bk_retain(o, 3, &p, d, &nk, &nd, &e);
	ok(rc == -1 && e.code == BK_EXIT_CHECK,
	    "a URL listed twice with the same time is refused");
	o[1].url = NULL;
	rc = bk_retain(o, 2, &p, d, &nk, &nd, &e);
	ok(rc == -1 && e.code == BK_EXIT_CHECK &&
	    strstr(e.msg, "object 2 has no URL") != NULL,
	    "an object without URL is refused");
}

/* --- time zones ----------------------------------------------------------- */

static void
tz_ok(const char *tz)
{
	struct bk_err e;

	bk_err_clear(&e);
	if (!ok(bk_retain_check_tz(tz, &e) == 0, "zone %s is taken",
	    tz != NULL ? tz : "NULL"))
		diag("  err \"%s\"", e.msg);
}

static void
tz_bad(const char *tz, const char *want)
{
	struct bk_retain_policy p = { .keep_daily = 1, .tz = tz };
	struct bk_listing_obj o = { 1000, 1, "s3://b/k" };
	struct bk_retain_decision d;
	struct bk_err e, e2;
	int rc;

	bk_err_clear(&e);
	bk_err_clear(&e2);
	rc = bk_retain_check_tz(tz, &e);
	if (!ok(rc == -1 && e.code == BK_EXIT_USAGE && strstr(e.msg, want) &&
	    bk_retain(&o, 1, &p, &d, NULL, NULL, &e2) == -1 &&
	    e2.code == BK_EXIT_USAGE && strcmp(e.msg, e2.msg) == 0 &&
	    strcmp(getenv("TZ"), HOMETZ) == 0,
	    "zone \"%s\" is refused: %s", tz, want))
		diag("  rc %d, err \"%s\" / \"%s\"", rc, e.msg, e2.msg);
}

/* Copy the file from to to. */
static int
copyfile(const char *from, const char *to)
{
	char buf[8192];
	FILE *in, *out;
	size_t n;
	int rc = 0;

	if ((in = fopen(from, "rb")) == NULL)
		return -1;
	if ((out = fopen(to, "wb")) == NULL) {
		fclose(in);
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	fclose(in);
	if (fclose(out) != 0)
		rc = -1;
	return rc;
}

static void
test_zones(void)
{
	struct bk_retain_policy p = { .keep_hourly = 2, .tz = "Europe/Berlin" };
	struct bk_listing_obj o[2] = {
		{ 1795226413, 1, "s3://b/a" },	/* 2026-11-21T02:00:13Z */
		{ 1795226413 - 3600, 1, "s3://b/b" },
	};
	struct bk_retain_decision d[2];
	struct bk_err e;
	char dir[512], path[600];
	struct tm tm;
	time_t t = 1795226413;
	FILE *fp;
	int rc;

	tz_ok(NULL);
	tz_ok("UTC");
	tz_ok("Etc/UTC");
	tz_ok("Europe/Berlin");
	tz_ok("America/Argentina/Buenos_Aires");
	tz_ok("Etc/GMT+5");
	tz_ok("EST5EDT");

	tz_bad("", "empty name");
	tz_bad("Nowhere/Land", "unknown");
	tz_bad("Europe/Berln", "unknown");
	tz_bad("europe/berlin", "unknown");
	tz_bad("Europe", "not a zone file");
	tz_bad("Europe/", "not a zone name");
	tz_bad("/usr/share/zoneinfo/Europe/Berlin", "not a zone name");
	tz_bad(":Europe/Berlin", "not a zone name");
	tz_bad("../../../etc/passwd", "not a zone name");
	tz_bad("Europe/../Europe/Berlin", "not a zone name");
	tz_bad("Europe//Berlin", "not a zone name");
	tz_bad("./UTC", "not a zone name");
	tz_bad("Europe/Berlin ", "not a zone name");
	tz_bad("CET-1CEST,M3.5.0,M10.5.0/3", "not a zone name");
	tz_bad("XXX-9", "unknown");
	tz_bad("utc", "unknown");
	tz_bad("zone.tab", "not a zone file");

	/* TZ is put back as it was, set or unset. */
	bk_err_clear(&e);
	rc = bk_retain(o, 2, &p, d, NULL, NULL, &e);
	localtime_r(&t, &tm);
	ok(rc == 0 && strcmp(getenv("TZ"), HOMETZ) == 0 && tm.tm_hour == 20 &&
	    strcmp(d[0].reason, "hourly 2026-11-21 03h") == 0,
	    "TZ is restored after the call (local hour %d)", tm.tm_hour);
	unsetenv("TZ");
	tzset();
	rc = bk_retain(o, 2, &p, d, NULL, NULL, &e);
	ok(rc == 0 && getenv("TZ") == NULL &&
	    strcmp(d[0].reason, "hourly 2026-11-21 03h") == 0,
	    "an unset TZ stays unset");
	setenv("TZ", HOMETZ, 1);
	tzset();

	/* $TZDIR is honoured, and a file there must be a zone file. */
	snprintf(dir, sizeof(dir), "%s/zones", tap_tmpdir());
	snprintf(path, sizeof(path), "%s/Test", dir);
	if (mkdir(dir, 0700) == -1 || mkdir(path, 0700) == -1) {
		diag("mkdir %s: %s", path, strerror(errno));
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/Test/Nepal", dir);
	rc = copyfile("/usr/share/zoneinfo/Asia/Kathmandu", path);
	snprintf(path, sizeof(path), "%s/Test/Fake", dir);
	if (rc == -1 || (fp = fopen(path, "w")) == NULL ||
	    fputs("not a zone\n", fp) == EOF || fclose(fp) != 0) {
		diag("cannot set up %s", dir);
		exit(1);
	}
	setenv("TZDIR", dir, 1);
	p.tz = "Test/Nepal";
	rc = bk_retain(o, 2, &p, d, NULL, NULL, &e);
	ok(rc == 0 && strcmp(d[0].reason, "hourly 2026-11-21 07h") == 0,
	    "a zone under $TZDIR is used (%s)", rc == 0 ? d[0].reason : e.msg);
	tz_bad("Test/Fake", "not a zone file");
	tz_bad("Europe/Berlin", "unknown");
	unsetenv("TZDIR");
	tz_ok("Europe/Berlin");
}

/* --- properties of random listings ---------------------------------------- */

static uint64_t	rng = 0x5eed2026b0c5ULL;

/* splitmix64: a fixed seed gives the same listings on every run. */
static uint64_t
rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned
rndn(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static int
isleap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* The ISO 8601 week of tm, by arithmetic: a week belongs to the year of
 * its Thursday, and is numbered by that Thursday's day of the year. */
static void
isoweek(const struct tm *tm, int *wy, int *wn)
{
	int y = tm->tm_year + 1900;
	int thu = tm->tm_yday - (tm->tm_wday + 6) % 7 + 3;

	if (thu < 0) {
		y--;
		thu += isleap(y) ? 366 : 365;
	} else if (thu >= (isleap(y) ? 366 : 365)) {
		thu -= isleap(y) ? 366 : 365;
		y++;
	}
	*wy = y;
	*wn = thu / 7 + 1;
}

/*
 * An independent model of the policy: sort by insertion, compute local
 * times under a TZ of its own, periods as numbers, labels with printf;
 * a period rule keeps the first object of each of its first N periods.
 * Fills why[] and reason[] per input index.
 */
static void
model(const struct bk_listing_obj *o, size_t n,
    const struct bk_retain_policy *p, unsigned *why,
    char (*reason)[BK_RETAIN_REASONMAX])
{
	static const char *const names[] = {
		"hourly", "daily", "weekly", "monthly", "yearly"
	};
	static const unsigned bits[] = {
		BK_RETAIN_HOURLY, BK_RETAIN_DAILY, BK_RETAIN_WEEKLY,
		BK_RETAIN_MONTHLY, BK_RETAIN_YEARLY
	};
	const unsigned counts[] = {
		p->keep_hourly, p->keep_daily, p->keep_weekly,
		p->keep_monthly, p->keep_yearly
	};
	size_t ord[MAXOBJ], i, j, k, nk;
	long long key[MAXOBJ][5], prev;
	char lab[MAXOBJ][5][32], s[64];
	unsigned periods;
	struct tm tm;
	int wy, wn;

	for (i = 0; i < n; i++) {
		for (j = i; j > 0; j--) {
			const struct bk_listing_obj *a = &o[ord[j - 1]];

			if (a->time > o[i].time || (a->time == o[i].time &&
			    strcmp(a->url, o[i].url) < 0))
				break;
			ord[j] = ord[j - 1];
		}
		ord[j] = i;
	}
	setenv("TZ", p->tz != NULL ? p->tz : "UTC", 1);
	tzset();
	for (i = 0; i < n; i++) {
		localtime_r(&o[i].time, &tm);
		isoweek(&tm, &wy, &wn);
		key[i][0] = (tm.tm_year * 400LL + tm.tm_yday) * 24 +
		    tm.tm_hour;
		key[i][1] = tm.tm_year * 400LL + tm.tm_yday;
		key[i][2] = wy * 100LL + wn;
		key[i][3] = tm.tm_year * 12LL + tm.tm_mon;
		key[i][4] = tm.tm_year;
		snprintf(lab[i][0], 32, "%04d-%02d-%02d %02dh",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour);
		snprintf(lab[i][1], 32, "%04d-%02d-%02d", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday);
		snprintf(lab[i][2], 32, "%04d-W%02d", wy, wn);
		snprintf(lab[i][3], 32, "%04d-%02d", tm.tm_year + 1900,
		    tm.tm_mon + 1);
		snprintf(lab[i][4], 32, "%04d", tm.tm_year + 1900);
	}
	setenv("TZ", HOMETZ, 1);
	tzset();

	for (i = 0; i < n; i++)
		why[i] = 0;
	for (j = 0; j < n; j++) {
		i = ord[j];
		if (j < p->keep_last)
			why[i] |= BK_RETAIN_LAST;
		if (p->keep_within > 0 &&
		    o[i].time >= o[ord[0]].time - (long long)p->keep_within)
			why[i] |= BK_RETAIN_WITHIN;
	}
	for (k = 0; k < 5; k++) {
		prev = -1;
		periods = 0;
		for (j = 0; j < n; j++) {
			i = ord[j];
			if (key[i][k] == prev)
				continue;
			prev = key[i][k];
			if (++periods <= counts[k])
				why[i] |= bits[k];
		}
	}
	if (n > 0 && why[ord[0]] == 0)
		why[ord[0]] = BK_RETAIN_NEWEST;
	for (i = 0, nk = 0; i < n; i++)
		nk += why[i] != 0;
	for (j = 0; j < n && nk < p->min_keep; j++)
		if (why[ord[j]] == 0) {
			why[ord[j]] = BK_RETAIN_MINKEEP;
			nk++;
		}

	for (i = 0; i < n; i++) {
		reason[i][0] = '\0';
#define ADD(str)	do { \
	size_t l_ = strlen(reason[i]); \
	snprintf(reason[i] + l_, BK_RETAIN_REASONMAX - l_, "%s%s", \
	    l_ > 0 ? ", " : "", (str)); \
} while (0)
		if (why[i] & BK_RETAIN_LAST)
			ADD("last");
		if (why[i] & BK_RETAIN_WITHIN)
			ADD("within");
		for (k = 0; k < 5; k++)
			if (why[i] & bits[k]) {
				snprintf(s, sizeof(s), "%s %.31s", names[k],
				    lab[i][k]);
				ADD(s);
			}
		if (why[i] & BK_RETAIN_NEWEST)
			ADD("newest");
		if (why[i] & BK_RETAIN_MINKEEP)
			ADD("min-keep");
#undef ADD
	}
}

/* A random listing: runs of backups with steps from seconds to weeks,
 * some equal times, often near a DST change or a new year.  URLs are
 * unique, and their order is unrelated to the times. */
static size_t
randlisting(struct bk_listing_obj *o, char (*urls)[32])
{
	static const time_t near[] = {
		1774746000,	/* 2026-03-29T01:00:00Z, Berlin's spring */
		1792890000,	/* 2026-10-25T01:00:00Z, Berlin's autumn */
		1798761600,	/* 2027-01-01T00:00:00Z */
		1609459200,	/* 2021-01-01T00:00:00Z, in 2020-W53 */
	};
	size_t n = rndn(MAXOBJ / 2 + 1), i;
	time_t t;

	if (rndn(3) == 0)
		t = near[rndn(4)] + (time_t)rndn(4 * DAY) - 2 * DAY;
	else
		t = 1546300800 + (time_t)rndn(8 * 365 * DAY);	/* 2019.. */
	for (i = 0; i < n; i++) {
		snprintf(urls[i], 32, "s3://b/%04u-%zu", rndn(10000), i);
		o[i].time = t;
		o[i].size = rnd() % 1000000;
		o[i].url = urls[i];
		switch (rndn(10)) {
		case 0:		break;				/* tie */
		case 1: case 2:	t -= (time_t)rndn(3600); break;
		case 3: case 4:	t -= (time_t)rndn(6 * 3600); break;
		case 5: case 6:	t -= DAY + (time_t)rndn(7200) - 3600; break;
		case 7:		t -= (time_t)rndn(7 * DAY); break;
		default:	t -= (time_t)rndn(45 * DAY); break;
		}
	}
	/* Shuffle, so that the input is not sorted. */
	for (i = n; i > 1; i--) {
		struct bk_listing_obj x = o[i - 1];
		size_t j = rndn((unsigned)i);

		o[i - 1] = o[j];
		o[j] = x;
	}
	return n;
}

static void
randpolicy(struct bk_retain_policy *p)
{
	static const char *const zones[] = {
		NULL, "UTC", "Europe/Berlin", "America/New_York",
		"Australia/Lord_Howe", "Asia/Kathmandu",
	};

	memset(p, 0, sizeof(*p));
	p->keep_last = rndn(5) == 0 ? 1 + rndn(6) : 0;
	p->keep_hourly = rndn(5) == 0 ? 1 + rndn(8) : 0;
	p->keep_daily = rndn(3) == 0 ? 1 + rndn(8) : 0;
	p->keep_weekly = rndn(3) == 0 ? 1 + rndn(6) : 0;
	p->keep_monthly = rndn(3) == 0 ? 1 + rndn(6) : 0;
	p->keep_yearly = rndn(4) == 0 ? 1 + rndn(3) : 0;
	p->keep_within = rndn(5) == 0 ? 1 + rndn(20 * DAY) : 0;
	p->min_keep = rndn(2) == 0 ? rndn(8) : 0;
	p->tz = zones[rndn(sizeof(zones) / sizeof(zones[0]))];
}

static void
polstr(const struct bk_retain_policy *p, char *buf, size_t size)
{
	snprintf(buf, size, "last %u hourly %u daily %u weekly %u monthly %u "
	    "yearly %u within %llu min %u tz %s", p->keep_last, p->keep_hourly,
	    p->keep_daily, p->keep_weekly, p->keep_monthly, p->keep_yearly,
	    (unsigned long long)p->keep_within, p->min_keep,
	    p->tz != NULL ? p->tz : "NULL");
}

enum {
	P_EMPTY, P_RUNS, P_MODEL, P_NEWEST, P_MINKEEP, P_COUNTS, P_SHAPE,
	P_IDEM, P_ORDER, P_TZ, NPROP
};

static const char *const propname[NPROP] = {
	"an empty policy is refused",
	"every other policy runs",
	"the verdicts and reasons match an independent model",
	"the newest backup is always kept",
	"at least min(min_keep, n) are kept",
	"kept + deleted = all, and the counts match the verdicts",
	"keep iff a reason; ranks are the newest-first order",
	"idempotent: the kept set keeps itself, with the same reasons",
	"the verdicts do not depend on the input order",
	"TZ is the same after every call",
};

static void
test_properties(void)
{
	struct bk_listing_obj o[MAXOBJ], sh[MAXOBJ];
	struct bk_retain_decision d[MAXOBJ], d2[MAXOBJ], d3[MAXOBJ];
	char urls[MAXOBJ][32], mreason[MAXOBJ][BK_RETAIN_REASONMAX];
	char pol[256];
	unsigned mwhy[MAXOBJ], fails[NPROP];
	size_t n, nk, nd, nk2, i, j, newest, nkept, perm[MAXOBJ];
	size_t keptidx[MAXOBJ];
	size_t iters = 600, runs = 0, withdel = 0, withzone = 0, empties = 0;
	struct bk_retain_policy p;
	struct bk_err e;
	int bad[NPROP], rc, first[NPROP];

	memset(fails, 0, sizeof(fails));
	for (i = 0; i < NPROP; i++)
		first[i] = 1;
	for (size_t it = 0; it < iters; it++) {
		n = randlisting(o, urls);
		randpolicy(&p);
		polstr(&p, pol, sizeof(pol));
		memset(bad, 0, sizeof(bad));
		bk_err_clear(&e);
		rc = bk_retain(o, n, &p, d, &nk, &nd, &e);
		bad[P_TZ] |= strcmp(getenv("TZ"), HOMETZ) != 0;
		if (p.keep_last + p.keep_hourly + p.keep_daily +
		    p.keep_weekly + p.keep_monthly + p.keep_yearly == 0 &&
		    p.keep_within == 0) {
			empties++;
			bad[P_EMPTY] = rc != -1 || e.code != BK_EXIT_USAGE;
			goto tally;
		}
		if (rc == -1) {
			bad[P_RUNS] = 1;
			goto tally;
		}
		runs++;
		withzone += p.tz != NULL && strcmp(p.tz, "UTC") != 0;
		withdel += nd > 0;

		model(o, n, &p, mwhy, mreason);
		for (i = 0; i < n; i++)
			if (d[i].why != mwhy[i] ||
			    strcmp(d[i].reason, mreason[i]) != 0) {
				if (!bad[P_MODEL] && first[P_MODEL])
					diag("  %s %lld: got \"%s\" (%#x), "
					    "model \"%s\" (%#x)", o[i].url,
					    (long long)o[i].time, d[i].reason,
					    d[i].why, mreason[i], mwhy[i]);
				bad[P_MODEL] = 1;
			}

		for (i = 1, newest = 0; i < n; i++)
			if (o[i].time > o[newest].time ||
			    (o[i].time == o[newest].time &&
			    strcmp(o[i].url, o[newest].url) < 0))
				newest = i;
		bad[P_NEWEST] = n > 0 && !d[newest].keep;

		for (i = 0, nkept = 0; i < n; i++)
			nkept += d[i].keep != 0;
		bad[P_MINKEEP] = nkept < (p.min_keep < n ? p.min_keep : n);
		bad[P_COUNTS] = nk + nd != n || nk != nkept;

		memset(perm, 0xff, sizeof(perm));
		for (i = 0; i < n; i++) {
			if ((d[i].keep != 0) != (d[i].why != 0) ||
			    (d[i].keep != 0) != (d[i].reason[0] != '\0') ||
			    d[i].rank >= n || perm[d[i].rank] != SIZE_MAX)
				bad[P_SHAPE] = 1;
			else
				perm[d[i].rank] = i;
		}
		for (i = 1; !bad[P_SHAPE] && i < n; i++) {
			const struct bk_listing_obj *a = &o[perm[i - 1]];
			const struct bk_listing_obj *b = &o[perm[i]];

			if (a->time < b->time || (a->time == b->time &&
			    strcmp(a->url, b->url) >= 0))
				bad[P_SHAPE] = 1;
		}

		/* The kept set, in a rotated order, keeps itself, for the
		 * same reasons. */
		for (i = 0, j = 0; i < n; i++)
			if (d[i].keep)
				keptidx[j++] = i;
		for (i = 0; i < j; i++)
			sh[i] = o[keptidx[(i + it) % j]];
		rc = bk_retain(sh, j, &p, d2, &nk2, NULL, &e);
		bad[P_TZ] |= strcmp(getenv("TZ"), HOMETZ) != 0;
		if (rc == -1 || nk2 != j)
			bad[P_IDEM] = 1;
		for (i = 0; !bad[P_IDEM] && i < j; i++)
			if (!d2[i].keep || strcmp(d2[i].reason,
			    d[keptidx[(i + it) % j]].reason) != 0)
				bad[P_IDEM] = 1;

		/* Shuffled input, same verdicts. */
		for (i = 0; i < n; i++)
			perm[i] = i;
		for (i = n; i > 1; i--) {
			size_t k = rndn((unsigned)i), x = perm[i - 1];

			perm[i - 1] = perm[k];
			perm[k] = x;
		}
		for (i = 0; i < n; i++)
			sh[i] = o[perm[i]];
		rc = bk_retain(sh, n, &p, d3, NULL, NULL, &e);
		if (rc == -1)
			bad[P_ORDER] = 1;
		for (i = 0; !bad[P_ORDER] && i < n; i++) {
			const struct bk_retain_decision *a = &d[perm[i]];

			if (a->keep != d3[i].keep || a->why != d3[i].why ||
			    a->rank != d3[i].rank ||
			    strcmp(a->reason, d3[i].reason) != 0)
				bad[P_ORDER] = 1;
		}
tally:
		for (i = 0; i < NPROP; i++) {
			if (!bad[i])
				continue;
			if (first[i]) {
				diag("  %s: fails at iteration %zu: %zu "
				    "objects, %s; err \"%s\"", propname[i], it,
				    n, pol, e.msg);
				first[i] = 0;
			}
			fails[i]++;
		}
	}
	for (i = 0; i < NPROP; i++)
		ok(fails[i] == 0, "%s (%zu failures)", propname[i],
		    (size_t)fails[i]);
	/* The generator must reach the interesting cases, or the
	 * properties above prove little. */
	ok(empties > 10 && runs > iters / 2 && withdel > runs / 2 &&
	    withzone > runs / 3,
	    "random cases: %zu runs, %zu with deletions, %zu in a zone, %zu "
	    "empty policies", runs, withdel, withzone, empties);
}

int
main(void)
{
	/* A local zone of its own: nothing may depend on it. */
	setenv("TZ", HOMETZ, 1);
	tzset();

	test_calendar();
	test_tz();
	test_rules();
	test_errors();
	test_zones();
	test_properties();
	return done_testing();
}
