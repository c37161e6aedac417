/*
 * err.h - errors returned by the library.
 *
 * Library functions never print and never exit: on failure they fill a
 * struct bk_err and return -1.  The tool's main() prints the message and
 * exits with err.code.
 */
#ifndef BK_ERR_H
#define BK_ERR_H

#include <stdarg.h>

/* Exit status shared by every tool (bk(7)). */
#define BK_EXIT_OK		0	/* success */
#define BK_EXIT_CHECK		1	/* the answer is no: corrupt or bad data */
#define BK_EXIT_USAGE		2	/* bad options or arguments */
#define BK_EXIT_RUNTIME		3	/* I/O, network, server failure */
#define BK_EXIT_UPSTREAM	4	/* a bk tool upstream failed (seal) */

#define BK_ERR_MSGMAX	512

struct bk_err {
	int	code;			/* one of BK_EXIT_* */
	int	sys;			/* errno behind the failure, or 0 */
	char	msg[BK_ERR_MSGMAX];	/* "what: why", no program name */
};

/*
 * Fill err with an exit code and a printf-style message.  err may be NULL.
 * Always returns -1 so that callers can write "return bk_err_set(...)".
 */
int	bk_err_set(struct bk_err *err, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/*
 * Like bk_err_set(), then append ": " and strerror(errnum), and record
 * errnum in err->sys.  Returns -1.
 */
int	bk_err_sys(struct bk_err *err, int code, int errnum, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));

/* Reset err to "no error" (code 0, empty message). */
void	bk_err_clear(struct bk_err *err);

/*
 * Prefix the existing message with "what: " (used to add context as an
 * error travels up).  Returns -1.
 */
int	bk_err_prefix(struct bk_err *err, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
