/*
 * tap.h - a small TAP producer for the C unit tests (run by prove).
 *
 *	plan(3);
 *	ok(x == 1, "x is one");
 *	is_int(f(), 2, "f gives two");
 *	is_str(s, "abc", "s is abc");
 *	return done_testing();
 */
#ifndef BK_TAP_H
#define BK_TAP_H

#include <stddef.h>

/* Announce n tests (0: the plan is printed by done_testing()). */
void	plan(int n);

/* Report one test; returns cond so callers can add diagnostics. */
int	ok_at(int cond, const char *file, int line, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
int	is_int_at(long long got, long long want, const char *file, int line,
	    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int	is_str_at(const char *got, const char *want, const char *file,
	    int line, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));
int	is_mem_at(const void *got, size_t gotlen, const void *want,
	    size_t wantlen, const char *file, int line, const char *fmt, ...)
	    __attribute__((format(printf, 7, 8)));

#define ok(c, ...)		ok_at(!!(c), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(g, w, ...)	is_int_at((g), (w), __FILE__, __LINE__, \
				    __VA_ARGS__)
#define is_str(g, w, ...)	is_str_at((g), (w), __FILE__, __LINE__, \
				    __VA_ARGS__)
#define is_mem(g, gl, w, wl, ...) is_mem_at((g), (gl), (w), (wl), \
				    __FILE__, __LINE__, __VA_ARGS__)

/* Print "# ..." diagnostics. */
void	diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Skip n tests with a reason. */
void	skip(int n, const char *why);

/* Print the plan if none was given; return the exit status for main(). */
int	done_testing(void);

/* A fresh private temporary directory for this test program (removed at
 * exit); returns its path. */
const char *tap_tmpdir(void);

#endif
