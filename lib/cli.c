/* cli.c - the command-line conventions shared by every tool. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"

const char	*bk_progname = "bk";
int		 bk_verbose;

void
bk_cli_init(const char *progname)
{
	bk_progname = progname;
	signal(SIGPIPE, SIG_IGN);
}

static void __attribute__((format(printf, 1, 0)))
vmsg(const char *fmt, va_list ap)
{
	char line[1024];
	int n;

	/* One write(2) per line, so that lines of concurrent tools do not
	 * interleave on a shared stderr. */
	n = snprintf(line, sizeof(line), "%s: ", bk_progname);
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	strcat(line, "\n");
	fputs(line, stderr);
	fflush(stderr);
}

void
bk_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void
bk_warn(const char *fmt, ...)
{
	char line[900];
	va_list ap;

	if (bk_verbose < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	bk_msg("warning: %s", line);
}

void
bk_info(const char *fmt, ...)
{
	va_list ap;

	if (bk_verbose <= 0)
		return;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

int
bk_cli_fail(const struct bk_err *err)
{
	if (err->sys != EPIPE && err->msg[0] != '\0')
		bk_msg("%s", err->msg);
	return err->code ? err->code : BK_EXIT_RUNTIME;
}

int
bk_cli_usage(const char *usage, const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		va_start(ap, fmt);
		vmsg(fmt, ap);
		va_end(ap);
	}
	fprintf(stderr, "usage: %s\n", usage);
	return BK_EXIT_USAGE;
}

int
bk_cli_badopt(int c, char **argv, struct bk_err *err)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "?";
	int len = (int)strcspn(arg, "=");

	if (c == ':') {
		if (strncmp(arg, "--", 2) == 0)
			return bk_err_set(err, BK_EXIT_USAGE,
			    "option %.*s needs an argument", len, arg);
		return bk_err_set(err, BK_EXIT_USAGE,
		    "option -%c needs an argument", optopt);
	}
	if (optopt != 0)
		return bk_err_set(err, BK_EXIT_USAGE, "unknown option -%c",
		    optopt);
	return bk_err_set(err, BK_EXIT_USAGE, "unknown option %.*s", len, arg);
}

int
bk_cli_version(void)
{
	printf("%s (bk) %s\n", bk_progname, BK_VERSION);
	return BK_EXIT_OK;
}

/* Parse the leading digits of s into *v; return the end, or NULL on
 * overflow or no digits. */
static const char *
digits(const char *s, uint64_t *v)
{
	const char *p = s;

	*v = 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (*v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return NULL;
		*v = *v * 10 + (uint64_t)(*p - '0');
	}
	return p == s ? NULL : p;
}

static int
range(const char *what, const char *s, uint64_t v, uint64_t min,
    uint64_t max, uint64_t *out, struct bk_err *err)
{
	if (v < min || v > max)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "%s: %s: out of range (%" PRIu64 " to %" PRIu64 ")",
		    what, s, min, max);
	*out = v;
	return 0;
}

int
bk_parse_uint(const char *what, const char *s, uint64_t min, uint64_t max,
    uint64_t *out, struct bk_err *err)
{
	const char *end;
	uint64_t v;

	end = digits(s, &v);
	if (end == NULL) {
		if (*s >= '0' && *s <= '9')
			return bk_err_set(err, BK_EXIT_USAGE,
			    "%s: %s: number too large", what, s);
		return bk_err_set(err, BK_EXIT_USAGE,
		    "%s: %s: not a number", what, s);
	}
	if (*end != '\0')
		return bk_err_set(err, BK_EXIT_USAGE,
		    "%s: %s: not a number", what, s);
	return range(what, s, v, min, max, out, err);
}

struct unit {
	const char	*name;
	uint64_t	 mult;
};

static const struct unit sizeunits[] = {
	{ "", 1 }, { "b", 1 },
	{ "k", 1ULL << 10 }, { "kib", 1ULL << 10 }, { "kb", 1000ULL },
	{ "m", 1ULL << 20 }, { "mib", 1ULL << 20 }, { "mb", 1000000ULL },
	{ "g", 1ULL << 30 }, { "gib", 1ULL << 30 }, { "gb", 1000000000ULL },
	{ "t", 1ULL << 40 }, { "tib", 1ULL << 40 },
	{ "tb", 1000000000000ULL },
	{ "p", 1ULL << 50 }, { "pib", 1ULL << 50 },
	{ "pb", 1000000000000000ULL },
};

int
bk_parse_size(const char *what, const char *s, uint64_t min, uint64_t max,
    uint64_t *out, struct bk_err *err)
{
	const char *p;
	uint64_t whole, frac = 0, fracdiv = 1, mult = 0, v;
	size_t i;

	p = digits(s, &whole);
	if (p == NULL)
		return bk_err_set(err, BK_EXIT_USAGE, "%s: %s: not a size%s",
		    what, s, *s >= '0' && *s <= '9' ? " (too large)" : "");
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return bk_err_set(err, BK_EXIT_USAGE,
			    "%s: %s: not a size", what, s);
		/* Up to 9 decimals are significant; more are ignored. */
		for (; *p >= '0' && *p <= '9'; p++) {
			if (fracdiv < 1000000000ULL) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				fracdiv *= 10;
			}
		}
	}
	for (i = 0; i < sizeof(sizeunits) / sizeof(sizeunits[0]); i++)
		if (strcasecmp(p, sizeunits[i].name) == 0) {
			mult = sizeunits[i].mult;
			break;
		}
	if (mult == 0)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "%s: %s: unknown unit \"%s\" (use K, M, G, T, P or KB, "
		    "MB, ...)", what, s, p);
	if (fracdiv > 1 && mult == 1)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "%s: %s: a fraction of a byte", what, s);
	if (whole > UINT64_MAX / mult)
		return bk_err_set(err, BK_EXIT_USAGE, "%s: %s: too large",
		    what, s);
	v = whole * mult;
	/* frac/fracdiv * mult, rounded down; fracdiv <= 1e9 and mult <= 2^50
	 * would overflow, so scale in two steps. */
	if (frac > 0) {
		long double f = (long double)frac / (long double)fracdiv *
		    (long double)mult;
		if ((long double)(UINT64_MAX - v) < f)
			return bk_err_set(err, BK_EXIT_USAGE,
			    "%s: %s: too large", what, s);
		v += (uint64_t)f;
	}
	return range(what, s, v, min, max, out, err);
}

int
bk_parse_duration(const char *what, const char *s, uint64_t min,
    uint64_t max, uint64_t *out, struct bk_err *err)
{
	const char *p = s;
	uint64_t total = 0, n, mult;

	if (*s == '\0')
		return bk_err_set(err, BK_EXIT_USAGE,
		    "%s: empty duration", what);
	while (*p != '\0') {
		p = digits(p, &n);
		if (p == NULL)
			return bk_err_set(err, BK_EXIT_USAGE,
			    "%s: %s: not a duration (e.g. 90s, 25h, 7d, "
			    "1h30m)", what, s);
		switch (*p) {
		case '\0':
			/* A bare number means seconds, but only alone. */
			if (total != 0 || p - s != (ptrdiff_t)strlen(s))
				return bk_err_set(err, BK_EXIT_USAGE,
				    "%s: %s: missing unit", what, s);
			mult = 1;
			break;
		case 's': mult = 1; p++; break;
		case 'm': mult = 60; p++; break;
		case 'h': mult = 3600; p++; break;
		case 'd': mult = 86400; p++; break;
		case 'w': mult = 604800; p++; break;
		default:
			return bk_err_set(err, BK_EXIT_USAGE,
			    "%s: %s: unknown unit (use s, m, h, d, w)",
			    what, s);
		}
		if (n > UINT64_MAX / mult || total > UINT64_MAX - n * mult)
			return bk_err_set(err, BK_EXIT_USAGE,
			    "%s: %s: too large", what, s);
		total += n * mult;
	}
	return range(what, s, total, min, max, out, err);
}

/* Round toward zero (sizes are shown rounded down, never overstated). */
static double
trunc_(double v)
{
	return (double)(uint64_t)v;
}

char *
bk_fmt_size(char *buf, size_t size, uint64_t bytes)
{
	static const char *units[] = { "KiB", "MiB", "GiB", "TiB", "PiB",
	    "EiB" };
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, size, "%" PRIu64 " B", bytes);
		return buf;
	}
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (v >= 100 || v == trunc_(v))
		snprintf(buf, size, "%.0f %s", trunc_(v), units[u]);
	else if (v >= 10)
		snprintf(buf, size, "%.1f %s", trunc_(v * 10) / 10, units[u]);
	else
		snprintf(buf, size, "%.2f %s", trunc_(v * 100) / 100, units[u]);
	/* Drop a trailing zero: "1.50 GiB" reads better as "1.5 GiB". */
	{
		char *dot = strchr(buf, '.'), *sp = strchr(buf, ' ');
		if (dot != NULL && sp != NULL && sp[-1] == '0') {
			memmove(sp - 1, sp, strlen(sp) + 1);
			sp--;
			if (sp[-1] == '.')
				memmove(sp - 1, sp, strlen(sp) + 1);
		}
	}
	return buf;
}

char *
bk_fmt_duration(char *buf, size_t size, uint64_t s)
{
	if (s < 60)
		snprintf(buf, size, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(buf, size, "%" PRIu64 "m%" PRIu64 "s", s / 60,
		    s % 60);
	else if (s < 86400)
		snprintf(buf, size, "%" PRIu64 "h%" PRIu64 "m", s / 3600,
		    s % 3600 / 60);
	else
		snprintf(buf, size, "%" PRIu64 "d%" PRIu64 "h", s / 86400,
		    s % 86400 / 3600);
	return buf;
}

unsigned
bk_cli_ncpu(void)
{
	cpu_set_t set;
	long n;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 &&
	    CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}
