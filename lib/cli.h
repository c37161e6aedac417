/*
 * cli.h - the command-line conventions shared by every tool.
 *
 * Number, size and duration parsers (range-checked, used by every option
 * that takes one), human-readable formatting, and the message helpers
 * main() uses to print "prog: what: why" on stderr.  The message helpers
 * are the one place the library writes to stderr; they exist so that every
 * tool's main() prints the same way.  Nothing here exits.
 */
#ifndef BK_CLI_H
#define BK_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define BK_VERSION	"0.1.0"

extern const char	*bk_progname;	/* set by bk_cli_init() */
extern int		 bk_verbose;	/* -1 quiet (-q), 0 normal, >0 -v */

/*
 * Set the program name used in messages and ignore SIGPIPE, so that a
 * downstream that went away turns into EPIPE from write(2).
 */
void	bk_cli_init(const char *progname);

/* Print "prog: <message>\n" on stderr (always, even under -q). */
void	bk_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "prog: warning: <message>\n" on stderr, unless -q. */
void	bk_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "prog: <message>\n" on stderr only with -v. */
void	bk_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Print err as "prog: what: why" and return err->code.  An EPIPE error
 * (the reader went away) is not printed: the tool just fails quietly.
 */
int	bk_cli_fail(const struct bk_err *err);

/*
 * Print "prog: <message>" and then "usage: <usage>" on stderr; return
 * BK_EXIT_USAGE.  fmt may be NULL to print only the usage line.
 */
int	bk_cli_usage(const char *usage, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * After getopt_long() (optstring starting with ':') returned c, '?' for an
 * unknown option or ':' for a missing argument: fill err with a message
 * naming the option ("unknown option -x", "option --foo needs an
 * argument").  Returns -1.
 */
int	bk_cli_badopt(int c, char **argv, struct bk_err *err);

/* Print "prog (bk) VERSION" on stdout; return BK_EXIT_OK. */
int	bk_cli_version(void);

/*
 * Parse a decimal integer in [min, max] into *out.  Leading '+', signs,
 * blanks and trailing garbage are refused.  On error fills err (code
 * BK_EXIT_USAGE, message naming what) and returns -1.
 */
int	bk_parse_uint(const char *what, const char *s, uint64_t min,
	    uint64_t max, uint64_t *out, struct bk_err *err);

/*
 * Parse a size: a decimal number (a fraction is allowed with a unit) and
 * an optional unit.  K, M, G, T, P, and KiB, MiB, ... are powers of 1024;
 * KB, MB, GB, TB, PB are powers of 1000; B or no unit means bytes.  Units
 * are case-insensitive ("1m" = "1M" = "1MiB").  Result in [min, max].
 */
int	bk_parse_size(const char *what, const char *s, uint64_t min,
	    uint64_t max, uint64_t *out, struct bk_err *err);

/*
 * Parse a duration into whole seconds: a sequence of <number><unit> with
 * units s, m, h, d, w (e.g. "90s", "25h", "1h30m", "7d"); a bare number
 * means seconds.  Result in [min, max].
 */
int	bk_parse_duration(const char *what, const char *s, uint64_t min,
	    uint64_t max, uint64_t *out, struct bk_err *err);

/*
 * Format bytes for humans into buf ("0 B", "1023 B", "1.5 KiB", "512 MiB",
 * "3.25 GiB").  Returns buf.
 */
char	*bk_fmt_size(char *buf, size_t size, uint64_t bytes);

/* Format whole seconds for humans ("45s", "3m20s", "3h12m", "2d4h"). */
char	*bk_fmt_duration(char *buf, size_t size, uint64_t seconds);

/* Number of CPUs this process may run on (at least 1). */
unsigned	bk_cli_ncpu(void);

#endif
