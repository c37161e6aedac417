/* tap.c - a small TAP producer for the C unit tests. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

static int	planned = -1;
static int	run;
static int	failed;
static char	tmpdir[256];

void
plan(int n)
{
	planned = n;
	if (n > 0)
		printf("1..%d\n", n);
	fflush(stdout);
}

static void
report(int cond, const char *fmt, va_list ap)
{
	run++;
	if (!cond)
		failed++;
	printf("%sok %d - ", cond ? "" : "not ", run);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
}

int
ok_at(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag("  failed at %s:%d", file, line);
	return cond;
}

int
is_int_at(long long got, long long want, const char *file, int line,
    const char *fmt, ...)
{
	va_list ap;
	int cond = got == want;

	va_start(ap, fmt);
	report(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag("  failed at %s:%d: got %lld, want %lld", file, line,
		    got, want);
	return cond;
}

int
is_str_at(const char *got, const char *want, const char *file, int line,
    const char *fmt, ...)
{
	va_list ap;
	int cond;

	if (got == NULL || want == NULL)
		cond = got == want;
	else
		cond = strcmp(got, want) == 0;
	va_start(ap, fmt);
	report(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag("  failed at %s:%d: got \"%s\", want \"%s\"", file, line,
		    got ? got : "(null)", want ? want : "(null)");
	return cond;
}

int
is_mem_at(const void *got, size_t gotlen, const void *want, size_t wantlen,
    const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int cond = gotlen == wantlen && memcmp(got, want, gotlen) == 0;

	va_start(ap, fmt);
	report(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag("  failed at %s:%d: %zu bytes differ from %zu expected",
		    file, line, gotlen, wantlen);
	return cond;
}

void
diag(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "# ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

void
skip(int n, const char *why)
{
	while (n-- > 0) {
		run++;
		printf("ok %d # skip %s\n", run, why);
	}
	fflush(stdout);
}

static void
rmtmp(void)
{
	char cmd[300];

	if (tmpdir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		diag("could not remove %s", tmpdir);
}

const char *
tap_tmpdir(void)
{
	const char *base;

	if (tmpdir[0] != '\0')
		return tmpdir;
	base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/bk-unit.XXXXXX",
	    base && *base ? base : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	atexit(rmtmp);
	return tmpdir;
}

int
done_testing(void)
{
	if (planned <= 0)
		printf("1..%d\n", run);
	else if (planned != run)
		diag("planned %d tests but ran %d", planned, run);
	fflush(stdout);
	return failed || (planned > 0 && planned != run) ? 1 : 0;
}
