/* restore.c - unit tests for lib/restore: splitting --check-sql files. */
#include <stdio.h>
#include <string.h>

#include "restore.h"
#include "tap.h"

static char got[1024];

static int
collect(void *arg, int n, const char *stmt)
{
	size_t l = strlen(got);

	(void)arg;
	snprintf(got + l, sizeof(got) - l, "%d[%s]", n, stmt);
	return 0;
}

static int
stop2(void *arg, int n, const char *stmt)
{
	(void)arg, (void)stmt;
	return n == 2 ? -7 : 0;
}

static void
split(const char *text, int want, const char *wantgot)
{
	int n;

	got[0] = '\0';
	n = bk_restore_split(text, strlen(text), collect, NULL);
	ok(n == want && strcmp(got, wantgot) == 0, "split: %d %s", n, got);
}

int
main(void)
{
	plan(7);
	split("SELECT true;\n", 1, "1[SELECT true;\n]");
	split("-- a comment\n\nSELECT 1 = 1;\nSELECT\n  2 = 2;  \n", 2,
	    "1[SELECT 1 = 1;\n]2[SELECT\n  2 = 2;\n]");
	split("SELECT 'a;b' = 'a;b'\n;\n", 1, "1[SELECT 'a;b' = 'a;b'\n;\n]");
	split("SELECT true", 1, "1[SELECT true\n]");
	split("", 0, "");
	split("-- only\n-- comments\n", 0, "");
	ok(bk_restore_split("SELECT 1;\nSELECT 2;\nSELECT 3;\n", 30, stop2,
	    NULL) == -7, "a callback's error stops the split");
	return done_testing();
}
