/* retain.c - the retention decision: which backups a GFS policy keeps. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "retain.h"

#define ZONEINFO	"/usr/share/zoneinfo"
#define TZNAMEMAX	128
#define KEYMAX		32	/* a period label: "2026-11-21 14h" */

/* The period rules, in the order of their reasons.  A period's label is
 * also its identity: two times are in the same period when their labels
 * are equal. */
static const struct rule {
	const char	*name;
	const char	*fmt;		/* strftime(3) label of the period */
	unsigned	 bit;
} rules[] = {
	{ "hourly",	"%Y-%m-%d %Hh",	BK_RETAIN_HOURLY },
	{ "daily",	"%Y-%m-%d",	BK_RETAIN_DAILY },
	{ "weekly",	"%G-W%V",	BK_RETAIN_WEEKLY },
	{ "monthly",	"%Y-%m",	BK_RETAIN_MONTHLY },
	{ "yearly",	"%Y",		BK_RETAIN_YEARLY },
};
#define NRULES	(sizeof(rules) / sizeof(rules[0]))

/* One backup while deciding. */
struct ent {
	time_t		 time;
	const char	*url;
	size_t		 idx;		/* in the caller's array */
	struct tm	 tm;		/* local time in the policy's zone */
	unsigned	 why;
};

/* --- time zones ----------------------------------------------------------- */

static int
is_utc(const char *tz)
{
	return tz == NULL || strcmp(tz, "UTC") == 0;
}

/*
 * Check the zone name tz and put the path of its zone file into path.
 * Only names made of the characters of the tz database's names are
 * taken, so that TZ can never be read as a POSIX rule or reach outside
 * the zone directory.
 */
static int
zone_path(const char *tz, char *path, size_t size, struct bk_err *err)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_+-.";
	const char *dir, *p;
	char magic[4];
	struct stat st;
	ssize_t n;
	int fd;

	if (*tz == '\0')
		return bk_err_set(err, BK_EXIT_USAGE, "time zone: empty name");
	if (strlen(tz) >= TZNAMEMAX || strspn(tz, ok) != strlen(tz))
		return bk_err_set(err, BK_EXIT_USAGE,
		    "time zone \"%.*s\": not a zone name (like Europe/Berlin)",
		    TZNAMEMAX, tz);
	/* No absolute path, no empty, "." or ".." component: every name in
	 * the database starts each component with a letter or digit. */
	for (p = tz;; p++) {
		if (*p == '/' || *p == '.' || *p == '\0')
			return bk_err_set(err, BK_EXIT_USAGE,
			    "time zone \"%s\": not a zone name (like "
			    "Europe/Berlin)", tz);
		if ((p = strchr(p, '/')) == NULL)
			break;
	}
	/* $TZDIR is where the C library looks too. */
	if ((dir = getenv("TZDIR")) == NULL || *dir != '/')
		dir = ZONEINFO;
	if ((size_t)snprintf(path, size, "%s/%s", dir, tz) >= size)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "time zone \"%s\": name too long", tz);
	/* The C library falls back to UTC, silently, for a zone it cannot
	 * load: check for a readable zone file first. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return bk_err_sys(err, BK_EXIT_USAGE, errno,
		    "time zone \"%s\": unknown (%s)", tz, path);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (n = read(fd, magic, sizeof(magic))) != (ssize_t)sizeof(magic) ||
	    memcmp(magic, "TZif", 4) != 0) {
		close(fd);
		return bk_err_set(err, BK_EXIT_USAGE,
		    "time zone \"%s\": unknown (%s is not a zone file)", tz,
		    path);
	}
	close(fd);
	return 0;
}

int
bk_retain_check_tz(const char *tz, struct bk_err *err)
{
	char path[4096];

	if (is_utc(tz))
		return 0;
	return zone_path(tz, path, sizeof(path), err);
}

/* The environment's TZ while the policy's zone is set. */
struct tzsave {
	char	*old;		/* a copy of the previous TZ, or NULL */
	int	 set;		/* TZ was replaced */
};

/*
 * Make localtime_r() work in zone tz.  TZ is set to ":" and the zone
 * file's path, the file checked above, so that the C library reads that
 * file and nothing else.
 */
static int
tz_enter(const char *tz, struct tzsave *s, struct bk_err *err)
{
	char path[4096], val[4097];
	const char *old;

	s->old = NULL;
	s->set = 0;
	if (is_utc(tz))
		return 0;
	if (zone_path(tz, path, sizeof(path), err) == -1)
		return -1;
	snprintf(val, sizeof(val), ":%s", path);
	if ((old = getenv("TZ")) != NULL && (s->old = strdup(old)) == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "time zone");
	if (setenv("TZ", val, 1) == -1) {
		free(s->old);
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno,
		    "time zone \"%s\"", tz);
	}
	s->set = 1;
	tzset();
	return 0;
}

/* Put TZ back as it was. */
static void
tz_leave(struct tzsave *s)
{
	if (!s->set)
		return;
	if (s->old != NULL)
		setenv("TZ", s->old, 1);
	else
		unsetenv("TZ");
	tzset();
	free(s->old);
	s->old = NULL;
	s->set = 0;
}

/* --- deciding ------------------------------------------------------------- */

static int
cmp_url(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->url,
	    ((const struct ent *)b)->url);
}

/* Newest first; equal times by URL, so that the order is total. */
static int
cmp_newest(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;

	if (x->time != y->time)
		return x->time > y->time ? -1 : 1;
	return strcmp(x->url, y->url);
}

/* Append ", s" (or s, first) to the reason. */
static void
addreason(char *buf, const char *s)
{
	size_t n = strlen(buf);

	snprintf(buf + n, BK_RETAIN_REASONMAX - n, "%s%s", n > 0 ? ", " : "",
	    s);
}

/* The label of e's period under rule r. */
static void
label(const struct rule *r, const struct ent *e, char *buf)
{
	/* The formats are the constant ones of rules[]. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	if (strftime(buf, KEYMAX, r->fmt, &e->tm) == 0)
		buf[0] = '\0';
#pragma GCC diagnostic pop
}

static int
policy_empty(const struct bk_retain_policy *p)
{
	return p->keep_last == 0 && p->keep_hourly == 0 &&
	    p->keep_daily == 0 && p->keep_weekly == 0 &&
	    p->keep_monthly == 0 && p->keep_yearly == 0 &&
	    p->keep_within == 0;
}

/* The count of rule r (an index in rules[]) in p. */
static unsigned
rule_count(const struct bk_retain_policy *p, size_t r)
{
	switch (rules[r].bit) {
	case BK_RETAIN_HOURLY:	return p->keep_hourly;
	case BK_RETAIN_DAILY:	return p->keep_daily;
	case BK_RETAIN_WEEKLY:	return p->keep_weekly;
	case BK_RETAIN_MONTHLY:	return p->keep_monthly;
	default:		return p->keep_yearly;
	}
}

int
bk_retain(const struct bk_listing_obj *obj, size_t n,
    const struct bk_retain_policy *p, struct bk_retain_decision *out,
    size_t *nkeep, size_t *ndelete, struct bk_err *err)
{
	char key[KEYMAX], last[KEYMAX], why[KEYMAX + 16];
	struct tzsave tzs;
	struct ent *e = NULL;
	unsigned count, kept;
	size_t i, r, nk;
	int rc = -1;

	if (policy_empty(p))
		return bk_err_set(err, BK_EXIT_USAGE,
		    "empty retention policy: no keep rule is set");
	if (bk_retain_check_tz(p->tz, err) == -1)
		return -1;
	if (n > 0 && (e = calloc(n, sizeof(*e))) == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "retention");
	for (i = 0; i < n; i++) {
		if (obj[i].url == NULL) {
			bk_err_set(err, BK_EXIT_CHECK,
			    "retention: object %zu has no URL", i + 1);
			goto out;
		}
		e[i].time = obj[i].time;
		e[i].url = obj[i].url;
		e[i].idx = i;
	}

	/* A URL listed twice is one object: deciding on each copy alone
	 * could delete what the other copy's verdict keeps. */
	if (n > 1)
		qsort(e, n, sizeof(*e), cmp_url);
	for (i = 1; i < n; i++)
		if (strcmp(e[i - 1].url, e[i].url) == 0) {
			bk_err_set(err, BK_EXIT_CHECK,
			    "retention: %s is listed twice", e[i].url);
			goto out;
		}
	if (n > 1)
		qsort(e, n, sizeof(*e), cmp_newest);

	/* The local times, all converted under one TZ setting. */
	if (tz_enter(p->tz, &tzs, err) == -1)
		goto out;
	for (i = 0; i < n; i++) {
		if ((tzs.set ? localtime_r(&e[i].time, &e[i].tm) :
		    gmtime_r(&e[i].time, &e[i].tm)) == NULL) {
			bk_err_set(err, BK_EXIT_CHECK,
			    "retention: %s: time %lld out of range",
			    e[i].url, (long long)e[i].time);
			tz_leave(&tzs);
			goto out;
		}
	}
	tz_leave(&tzs);

	for (i = 0; i < n && i < p->keep_last; i++)
		e[i].why |= BK_RETAIN_LAST;
	/* Unsigned arithmetic: e[0] is the newest, so the difference is
	 * never negative and cannot overflow. */
	if (p->keep_within > 0)
		for (i = 0; i < n; i++)
			if ((uint64_t)e[0].time - (uint64_t)e[i].time <=
			    p->keep_within)
				e[i].why |= BK_RETAIN_WITHIN;
	for (r = 0; r < NRULES; r++) {
		if ((count = rule_count(p, r)) == 0)
			continue;
		last[0] = '\0';
		for (i = 0, kept = 0; i < n && kept < count; i++) {
			label(&rules[r], &e[i], key);
			if (strcmp(key, last) == 0)
				continue;
			e[i].why |= rules[r].bit;
			memcpy(last, key, sizeof(last));
			kept++;
		}
	}

	/* The safety nets. */
	if (n > 0 && e[0].why == 0)
		e[0].why = BK_RETAIN_NEWEST;
	for (i = 0, nk = 0; i < n; i++)
		if (e[i].why != 0)
			nk++;
	for (i = 0; i < n && nk < p->min_keep; i++)
		if (e[i].why == 0) {
			e[i].why = BK_RETAIN_MINKEEP;
			nk++;
		}

	for (i = 0; i < n; i++) {
		struct bk_retain_decision *d = &out[e[i].idx];

		d->keep = e[i].why != 0;
		d->why = e[i].why;
		d->rank = i;
		d->reason[0] = '\0';
		if (e[i].why & BK_RETAIN_LAST)
			addreason(d->reason, "last");
		if (e[i].why & BK_RETAIN_WITHIN)
			addreason(d->reason, "within");
		for (r = 0; r < NRULES; r++)
			if (e[i].why & rules[r].bit) {
				label(&rules[r], &e[i], key);
				snprintf(why, sizeof(why), "%s %s",
				    rules[r].name, key);
				addreason(d->reason, why);
			}
		if (e[i].why & BK_RETAIN_NEWEST)
			addreason(d->reason, "newest");
		if (e[i].why & BK_RETAIN_MINKEEP)
			addreason(d->reason, "min-keep");
	}
	if (nkeep != NULL)
		*nkeep = nk;
	if (ndelete != NULL)
		*ndelete = n - nk;
	rc = 0;
out:
	free(e);
	return rc;
}
