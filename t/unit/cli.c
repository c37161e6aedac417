/* cli.c - unit tests for lib/cli: parsers, formatters, messages, ncpu. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "cli.h"

typedef int (*parse_fn)(const char *, const char *, uint64_t, uint64_t,
    uint64_t *, struct bk_err *);

/* Expect s to parse to want within [min, max]. */
static void
parse_ok(parse_fn fn, const char *name, const char *s, uint64_t min,
    uint64_t max, uint64_t want)
{
	struct bk_err e;
	uint64_t v = 0xdeadbeef;
	int rc;

	bk_err_clear(&e);
	rc = fn("value", s, min, max, &v, &e);
	if (!ok(rc == 0 && v == want, "%s(\"%s\") = %llu", name, s,
	    (unsigned long long)want))
		diag("  rc %d, value %llu, err \"%s\"", rc,
		    (unsigned long long)v, e.msg);
}

/*
 * Expect s to be refused: -1, BK_EXIT_USAGE, and a message naming what.
 */
static void
parse_bad(parse_fn fn, const char *name, const char *s, uint64_t min,
    uint64_t max)
{
	struct bk_err e;
	uint64_t v = 0;
	int rc;

	bk_err_clear(&e);
	rc = fn("--block-size", s, min, max, &v, &e);
	if (!ok(rc == -1 && e.code == BK_EXIT_USAGE &&
	    strstr(e.msg, "--block-size") != NULL,
	    "%s(\"%s\") refused with usage error naming what", name, s))
		diag("  rc %d, value %llu, code %d, err \"%s\"", rc,
		    (unsigned long long)v, e.code, e.msg);
}

#define U64MAX	UINT64_MAX

static void
test_uint(void)
{
	parse_fn f = bk_parse_uint;
	const char *n = "bk_parse_uint";

	parse_ok(f, n, "0", 0, U64MAX, 0);
	parse_ok(f, n, "1", 0, U64MAX, 1);
	parse_ok(f, n, "256", 1, 256, 256);
	parse_ok(f, n, "1", 1, 256, 1);
	parse_ok(f, n, "18446744073709551615", 0, U64MAX, U64MAX);
	parse_ok(f, n, "4294967296", 0, U64MAX, 4294967296ULL);
	parse_bad(f, n, "18446744073709551616", 0, U64MAX);
	parse_bad(f, n, "99999999999999999999999", 0, U64MAX);
	parse_bad(f, n, "-1", 0, U64MAX);
	parse_bad(f, n, "-0", 0, U64MAX);
	parse_bad(f, n, "+5", 0, U64MAX);
	parse_bad(f, n, " 5", 0, U64MAX);
	parse_bad(f, n, "5 ", 0, U64MAX);
	parse_bad(f, n, "\t5", 0, U64MAX);
	parse_bad(f, n, "5x", 0, U64MAX);
	parse_bad(f, n, "0x10", 0, U64MAX);
	parse_bad(f, n, "1.5", 0, U64MAX);
	parse_bad(f, n, "", 0, U64MAX);
	parse_bad(f, n, "x", 0, U64MAX);
	parse_bad(f, n, "0", 1, 256);
	parse_bad(f, n, "257", 1, 256);
	parse_bad(f, n, "18446744073709551615", 0, U64MAX - 1);
}

static void
test_size(void)
{
	parse_fn f = bk_parse_size;
	const char *n = "bk_parse_size";
	const uint64_t K = 1024, M = K * K, G = M * K, T = G * K, P = T * K;

	parse_ok(f, n, "0", 0, U64MAX, 0);
	parse_ok(f, n, "512", 0, U64MAX, 512);
	parse_ok(f, n, "1K", 0, U64MAX, K);
	parse_ok(f, n, "1k", 0, U64MAX, K);
	parse_ok(f, n, "1KiB", 0, U64MAX, K);
	parse_ok(f, n, "1kib", 0, U64MAX, K);
	parse_ok(f, n, "1KB", 0, U64MAX, 1000);
	parse_ok(f, n, "1kb", 0, U64MAX, 1000);
	parse_ok(f, n, "128K", 0, U64MAX, 128 * K);
	parse_ok(f, n, "1M", 0, U64MAX, M);
	parse_ok(f, n, "1m", 0, U64MAX, M);
	parse_ok(f, n, "1MiB", 0, U64MAX, M);
	parse_ok(f, n, "1.5M", 0, U64MAX, 1572864);
	parse_ok(f, n, "1.5K", 0, U64MAX, 1536);
	parse_ok(f, n, "0.5K", 0, U64MAX, 512);
	parse_ok(f, n, "5GiB", 0, U64MAX, 5 * G);
	parse_ok(f, n, "5G", 0, U64MAX, 5 * G);
	parse_ok(f, n, "5GB", 0, U64MAX, 5000000000ULL);
	parse_ok(f, n, "1T", 0, U64MAX, T);
	parse_ok(f, n, "1TB", 0, U64MAX, 1000000000000ULL);
	parse_ok(f, n, "1P", 0, U64MAX, P);
	parse_ok(f, n, "1PiB", 0, U64MAX, P);
	parse_ok(f, n, "1PB", 0, U64MAX, 1000000000000000ULL);
	parse_ok(f, n, "2MB", 0, U64MAX, 2000000);
	parse_ok(f, n, "100B", 0, U64MAX, 100);
	parse_ok(f, n, "100b", 0, U64MAX, 100);
	parse_ok(f, n, "16383P", 0, U64MAX, 16383 * P);
	parse_ok(f, n, "64M", 32 * K, 64 * M, 64 * M);
	parse_ok(f, n, "32K", 32 * K, 64 * M, 32 * K);
	parse_ok(f, n, "18446744073709551615", 0, U64MAX, U64MAX);

	parse_bad(f, n, "16384P", 0, U64MAX);
	parse_bad(f, n, "16385P", 0, U64MAX);
	parse_bad(f, n, "18446744073709551616", 0, U64MAX);
	parse_bad(f, n, "18014398509481984K", 0, U64MAX);
	parse_bad(f, n, "1X", 0, U64MAX);
	parse_bad(f, n, "1KX", 0, U64MAX);
	parse_bad(f, n, "1KiBx", 0, U64MAX);
	parse_bad(f, n, "M", 0, U64MAX);
	parse_bad(f, n, "", 0, U64MAX);
	parse_bad(f, n, "1.5", 0, U64MAX);
	parse_bad(f, n, "-1", 0, U64MAX);
	parse_bad(f, n, "-1K", 0, U64MAX);
	parse_bad(f, n, "+1K", 0, U64MAX);
	parse_bad(f, n, "1.5.5M", 0, U64MAX);
	parse_bad(f, n, "16K", 32 * K, 64 * M);
	parse_bad(f, n, "65M", 32 * K, 64 * M);
	parse_bad(f, n, "1G", 32 * K, 64 * M);
}

static void
test_duration(void)
{
	parse_fn f = bk_parse_duration;
	const char *n = "bk_parse_duration";

	parse_ok(f, n, "90s", 0, U64MAX, 90);
	parse_ok(f, n, "90", 0, U64MAX, 90);
	parse_ok(f, n, "0", 0, U64MAX, 0);
	parse_ok(f, n, "0s", 0, U64MAX, 0);
	parse_ok(f, n, "5m", 0, U64MAX, 300);
	parse_ok(f, n, "25h", 0, U64MAX, 90000);
	parse_ok(f, n, "49h", 0, U64MAX, 176400);
	parse_ok(f, n, "1h30m", 0, U64MAX, 5400);
	parse_ok(f, n, "1d2h3m4s", 0, U64MAX, 93784);
	parse_ok(f, n, "7d", 0, U64MAX, 604800);
	parse_ok(f, n, "2w", 0, U64MAX, 1209600);
	parse_ok(f, n, "1h1h", 0, U64MAX, 7200);
	parse_ok(f, n, "18446744073709551615s", 0, U64MAX, U64MAX);
	parse_ok(f, n, "60s", 60, 3600, 60);

	parse_bad(f, n, "1x", 0, U64MAX);
	parse_bad(f, n, "h", 0, U64MAX);
	parse_bad(f, n, "", 0, U64MAX);
	parse_bad(f, n, "-1s", 0, U64MAX);
	parse_bad(f, n, "-5", 0, U64MAX);
	parse_bad(f, n, "1hx", 0, U64MAX);
	parse_bad(f, n, "18446744073709551616s", 0, U64MAX);
	parse_bad(f, n, "31000000000000w", 0, U64MAX);
	parse_bad(f, n, "18446744073709551615s1s", 0, U64MAX);
	parse_bad(f, n, "59s", 60, 3600);
	parse_bad(f, n, "2h", 60, 3600);
}

static void
fmt_size_is(uint64_t bytes, const char *want)
{
	char buf[64];

	memset(buf, 'Z', sizeof(buf));
	is_str(bk_fmt_size(buf, sizeof(buf), bytes), want,
	    "bk_fmt_size(%llu) = \"%s\"", (unsigned long long)bytes, want);
}

static void
fmt_duration_is(uint64_t secs, const char *want)
{
	char buf[64];

	memset(buf, 'Z', sizeof(buf));
	is_str(bk_fmt_duration(buf, sizeof(buf), secs), want,
	    "bk_fmt_duration(%llu) = \"%s\"", (unsigned long long)secs, want);
}

static void
test_fmt(void)
{
	char buf[64];
	char *r;
	size_t i;
	int intact;

	fmt_size_is(0, "0 B");
	fmt_size_is(1, "1 B");
	fmt_size_is(1023, "1023 B");
	fmt_size_is(1024, "1 KiB");
	fmt_size_is(1536, "1.5 KiB");
	fmt_size_is(512ULL << 20, "512 MiB");
	fmt_size_is(13ULL << 28, "3.25 GiB");

	r = bk_fmt_size(buf, sizeof(buf), 1536);
	ok(r == buf, "bk_fmt_size returns buf");

	/* A small buffer is not overrun and stays a string. */
	memset(buf, 'Z', sizeof(buf));
	bk_fmt_size(buf, 4, 13ULL << 28);
	intact = 1;
	for (i = 4; i < sizeof(buf); i++)
		if (buf[i] != 'Z')
			intact = 0;
	ok(intact && memchr(buf, '\0', 4) != NULL,
	    "bk_fmt_size respects a small buffer");

	{
		/* Every magnitude gets a unit and fits a modest buffer. */
		uint64_t v;
		int good = 1;

		for (v = 1; v != 0 && good; v <<= 1) {
			bk_fmt_size(buf, sizeof(buf), v);
			if (strlen(buf) > 12 || strstr(buf, "B") == NULL)
				good = 0;
		}
		bk_fmt_size(buf, sizeof(buf), UINT64_MAX);
		if (strlen(buf) > 12 || strstr(buf, "B") == NULL)
			good = 0;
		if (!ok(good, "bk_fmt_size gives a short \"N unit\" up to 2^64-1"))
			diag("  last: \"%s\"", buf);
	}

	fmt_duration_is(45, "45s");
	fmt_duration_is(200, "3m20s");
	fmt_duration_is(3 * 3600 + 12 * 60, "3h12m");
	fmt_duration_is(2 * 86400 + 4 * 3600, "2d4h");
	fmt_duration_is(0, "0s");

	r = bk_fmt_duration(buf, sizeof(buf), 45);
	ok(r == buf, "bk_fmt_duration returns buf");

	memset(buf, 'Z', sizeof(buf));
	bk_fmt_duration(buf, 3, 2 * 86400 + 4 * 3600);
	intact = 1;
	for (i = 3; i < sizeof(buf); i++)
		if (buf[i] != 'Z')
			intact = 0;
	ok(intact && memchr(buf, '\0', 3) != NULL,
	    "bk_fmt_duration respects a small buffer");
}

/* Capture what fn writes on fd (1 or 2) into out; returns the length. */
static size_t
capture(int fd, void (*fn)(void *), void *arg, char *out, size_t size)
{
	FILE *f;
	int saved;
	size_t n;

	fflush(stdout);
	fflush(stderr);
	f = tmpfile();
	saved = dup(fd);
	dup2(fileno(f), fd);
	fn(arg);
	fflush(stdout);
	fflush(stderr);
	dup2(saved, fd);
	close(saved);
	rewind(f);
	n = fread(out, 1, size - 1, f);
	out[n] = '\0';
	fclose(f);
	return n;
}

struct call {
	int		 rc;
	struct bk_err	 err;
};

static void
call_msg(void *arg)
{
	(void)arg;
	bk_msg("hello %d", 7);
}

static void
call_info(void *arg)
{
	(void)arg;
	bk_info("detail %s", "here");
}

static void
call_fail(void *arg)
{
	struct call *c = arg;

	c->rc = bk_cli_fail(&c->err);
}

static void
call_usage(void *arg)
{
	struct call *c = arg;

	c->rc = bk_cli_usage("bk-test [-v] [-b size]", "bad option %s", "-x");
}

static void
call_usage_only(void *arg)
{
	struct call *c = arg;

	c->rc = bk_cli_usage("bk-test [-v]", NULL);
}

static void
call_version(void *arg)
{
	struct call *c = arg;

	c->rc = bk_cli_version();
}

static void
test_messages(void)
{
	struct sigaction sa;
	struct call c;
	char out[1024];

	bk_cli_init("bk-test");
	is_str(bk_progname, "bk-test", "bk_cli_init sets bk_progname");
	sigaction(SIGPIPE, NULL, &sa);
	ok(sa.sa_handler == SIG_IGN, "bk_cli_init ignores SIGPIPE");

	capture(2, call_msg, NULL, out, sizeof(out));
	is_str(out, "bk-test: hello 7\n", "bk_msg prints \"prog: msg\\n\"");

	bk_verbose = -1;
	capture(2, call_msg, NULL, out, sizeof(out));
	is_str(out, "bk-test: hello 7\n", "bk_msg prints even under -q");

	bk_verbose = 0;
	capture(2, call_info, NULL, out, sizeof(out));
	is_str(out, "", "bk_info is silent without -v");
	bk_verbose = 1;
	capture(2, call_info, NULL, out, sizeof(out));
	is_str(out, "bk-test: detail here\n", "bk_info prints with -v");
	bk_verbose = 0;

	bk_err_clear(&c.err);
	bk_err_sys(&c.err, BK_EXIT_RUNTIME, ENOSPC, "write stdout");
	capture(2, call_fail, &c, out, sizeof(out));
	is_int(c.rc, BK_EXIT_RUNTIME, "bk_cli_fail returns err->code");
	{
		char want[600];

		snprintf(want, sizeof(want), "bk-test: write stdout: %s\n",
		    strerror(ENOSPC));
		is_str(out, want, "bk_cli_fail prints \"prog: what: why\"");
	}

	bk_err_clear(&c.err);
	bk_err_sys(&c.err, BK_EXIT_RUNTIME, EPIPE, "write stdout");
	capture(2, call_fail, &c, out, sizeof(out));
	is_int(c.rc, BK_EXIT_RUNTIME, "bk_cli_fail on EPIPE returns the code");
	is_str(out, "", "bk_cli_fail on EPIPE prints nothing");

	bk_err_clear(&c.err);
	bk_err_set(&c.err, BK_EXIT_CHECK, "stdin: bad CRC");
	capture(2, call_fail, &c, out, sizeof(out));
	is_int(c.rc, BK_EXIT_CHECK, "bk_cli_fail returns BK_EXIT_CHECK");
	is_str(out, "bk-test: stdin: bad CRC\n", "bk_cli_fail check message");

	capture(2, call_usage, &c, out, sizeof(out));
	is_int(c.rc, BK_EXIT_USAGE, "bk_cli_usage returns BK_EXIT_USAGE");
	is_str(out, "bk-test: bad option -x\nusage: bk-test [-v] [-b size]\n",
	    "bk_cli_usage prints the message then the usage line");

	capture(2, call_usage_only, &c, out, sizeof(out));
	is_int(c.rc, BK_EXIT_USAGE, "bk_cli_usage(NULL fmt) returns usage");
	is_str(out, "usage: bk-test [-v]\n",
	    "bk_cli_usage with NULL fmt prints only the usage line");

	capture(1, call_version, &c, out, sizeof(out));
	is_int(c.rc, BK_EXIT_OK, "bk_cli_version returns 0");
	is_str(out, "bk-test (bk) " BK_VERSION "\n",
	    "bk_cli_version prints \"prog (bk) VERSION\" on stdout");
}

static void
test_ncpu(void)
{
	cpu_set_t set;
	unsigned n;
	pid_t pid;
	int status, first, i;

	n = bk_cli_ncpu();
	ok(n >= 1, "bk_cli_ncpu() >= 1 (got %u)", n);
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		is_int(n, CPU_COUNT(&set),
		    "bk_cli_ncpu() counts the CPUs in our affinity mask");
	else
		skip(1, "sched_getaffinity failed");

	/* Restricted to one CPU (taskset, cgroup cpusets): ncpu is 1. */
	first = -1;
	for (i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set)) {
			first = i;
			break;
		}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		CPU_ZERO(&set);
		CPU_SET(first, &set);
		if (sched_setaffinity(0, sizeof(set), &set) != 0)
			_exit(77);
		_exit(bk_cli_ncpu() == 1 ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		skip(1, "sched_setaffinity failed");
	else
		ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "bk_cli_ncpu() is 1 when pinned to one CPU");
}

int
main(void)
{
	test_uint();
	test_size();
	test_duration();
	test_fmt();
	test_messages();
	test_ncpu();
	return done_testing();
}
