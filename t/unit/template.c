/* template.c - unit tests for lib/template: strftime keys in UTC. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tap.h"
#include "template.h"

/* 2025-11-21T12:00:00Z, a Friday: day 325, ISO week 47. */
#define T1	((time_t)1763726400)
/* 2024-12-30T00:00:00Z, a Monday: ISO week 1 of 2025, day 365 of 2024. */
#define T2	((time_t)1735516800)

static void
expands(const char *tmpl, time_t t, const char *want)
{
	struct bk_err e;
	char out[512];
	int rc;

	bk_err_clear(&e);
	memset(out, 'Z', sizeof(out));
	rc = bk_template_expand(tmpl, t, out, sizeof(out), &e);
	if (!ok(rc >= 0 && strcmp(out, want) == 0 &&
	    (size_t)rc == strlen(want),
	    "\"%s\" at %lld -> \"%s\"", tmpl, (long long)t, want))
		diag("  rc %d, out \"%.*s\", err \"%s\"", rc, 100,
		    rc >= 0 ? out : "", e.msg);
}

static void
refused(const char *tmpl, size_t size)
{
	struct bk_err e;
	char out[512];
	size_t i;
	int rc, intact = 1;

	bk_err_clear(&e);
	memset(out, 'Z', sizeof(out));
	rc = bk_template_expand(tmpl, T1, out, size, &e);
	for (i = size; i < sizeof(out); i++)
		if (out[i] != 'Z')
			intact = 0;
	if (!ok(rc == -1 && e.code == BK_EXIT_USAGE && e.msg[0] != '\0' &&
	    intact, "\"%s\" (%zu bytes) is refused with a usage error",
	    tmpl, size))
		diag("  rc %d, code %d, err \"%s\", buffer %s", rc, e.code,
		    e.msg, intact ? "intact" : "overrun");
}

int
main(void)
{
	struct bk_err e;
	char out[16];
	int rc;

	/* Expansion is in UTC whatever the local time zone. */
	setenv("TZ", "America/New_York", 1);
	tzset();

	expands("%Y%m%dT%H%M%SZ", T1, "20251121T120000Z");
	expands("mydb/%Y/%m/mydb-%Y%m%dT%H%M%SZ.dump.gz.age", T1,
	    "mydb/2025/11/mydb-20251121T120000Z.dump.gz.age");
	expands("backups/plain-name.tar", T1, "backups/plain-name.tar");
	expands("%%", T1, "%");
	expands("100%%-%Y", T1, "100%-2025");
	expands("%%Y", T1, "%Y");
	expands("%F", T1, "2025-11-21");
	expands("%T", T1, "12:00:00");
	expands("%s", T1, "1763726400");
	expands("%s", (time_t)0, "0");
	expands("%j", T1, "325");
	expands("%V", T1, "47");
	expands("%G", T1, "2025");
	expands("%g", T1, "25");
	expands("%y", T1, "25");
	expands("%d", T1, "21");
	expands("%H%M%S", T1 + 3661, "130101");
	expands("%u %w", T1, "5 5");
	expands("%U %W", T1, "46 46");
	expands("%a %A", T1, "Fri Friday");
	expands("%b %B", T1, "Nov November");
	expands("%e", T1, "21");
	expands("%D", T1, "11/21/25");
	expands("%R", T1, "12:00");
	expands("%z", T1, "+0000");
	expands("%F %H", T1 + 14 * 3600, "2025-11-22 02");

	/* The ISO week-based year differs from the calendar year. */
	expands("%Y %G-W%V %j", T2, "2024 2025-W01 365");
	expands("%g %u", T2, "25 1");

	/* %Z must name UTC, not the local zone. */
	bk_err_clear(&e);
	{
		char z[64];

		rc = bk_template_expand("%Z", T1, z, sizeof(z), &e);
		ok(rc > 0 && (strcmp(z, "UTC") == 0 || strcmp(z, "GMT") == 0),
		    "%%Z names UTC (got \"%s\")", rc > 0 ? z : e.msg);
	}

	/* Same results with TZ unset and with a fixed offset zone. */
	setenv("TZ", "XXX-9", 1);
	tzset();
	expands("%Y%m%dT%H%M%SZ %s", T1, "20251121T120000Z 1763726400");
	unsetenv("TZ");
	tzset();
	expands("%Y%m%dT%H%M%SZ %s", T1, "20251121T120000Z 1763726400");
	setenv("TZ", "America/New_York", 1);
	tzset();

	/* Refused: unknown conversions, a lone '%', an empty result. */
	refused("%q", 512);
	refused("ok-%Y-%q", 512);
	refused("%", 512);
	refused("abc%", 512);
	refused("%Y%", 512);
	refused("", 512);
	refused("%c", 512);
	refused("%x", 512);
	refused("%X", 512);
	refused("%p", 512);
	refused("%r", 512);
	refused("%n", 512);
	refused("%k", 512);

	/* Output buffer too small. */
	memset(out, 0, sizeof(out));
	bk_err_clear(&e);
	rc = bk_template_expand("%Y", T1, out, 5, &e);
	ok(rc == 4 && strcmp(out, "2025") == 0, "\"%%Y\" fits in 5 bytes");
	refused("%Y", 4);
	rc = bk_template_expand("abc", T1, out, 4, &e);
	ok(rc == 3 && strcmp(out, "abc") == 0, "\"abc\" fits in 4 bytes");
	refused("abc", 3);
	refused("%Y%m%dT%H%M%SZ", 16);
	refused("a-very-long-literal-prefix/%Y/%m/%d/name.dump", 20);
	refused("%A%A%A%A%A%A%A%A%A%A%A%A%A%A%A%A%A%A%A%A", 64);

	return done_testing();
}
