/* err.c - unit tests for lib/err: messages, codes, truncation, NULL err. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "err.h"

/* A struct bk_err with guard bytes on both sides to catch overflows. */
struct guarded {
	unsigned char	before[64];
	struct bk_err	e;
	unsigned char	after[64];
};

static void
guard_init(struct guarded *g)
{
	memset(g, 0xA5, sizeof(*g));
	bk_err_clear(&g->e);
}

static int
guard_intact(const struct guarded *g)
{
	size_t i;

	for (i = 0; i < sizeof(g->before); i++)
		if (g->before[i] != 0xA5 || g->after[i] != 0xA5)
			return 0;
	return 1;
}

/* Is msg NUL-terminated within the buffer? */
static int
terminated(const struct bk_err *e)
{
	return memchr(e->msg, '\0', sizeof(e->msg)) != NULL;
}

/* Run fn in a child; report whether it exited normally with status 0. */
static int
survives(void (*fn)(void))
{
	pid_t pid;
	int status;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1)
		return 0;
	if (pid == 0) {
		fn();
		_exit(0);
	}
	if (waitpid(pid, &status, 0) == -1)
		return 0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void
null_set(void)
{
	if (bk_err_set(NULL, BK_EXIT_RUNTIME, "x %d", 1) != -1)
		_exit(1);
}

static void
null_sys(void)
{
	if (bk_err_sys(NULL, BK_EXIT_RUNTIME, ENOENT, "open %s", "f") != -1)
		_exit(1);
}

static void
null_prefix(void)
{
	if (bk_err_prefix(NULL, "ctx %s", "a") != -1)
		_exit(1);
}

static void
null_clear(void)
{
	bk_err_clear(NULL);
}

int
main(void)
{
	struct guarded g;
	struct bk_err e;
	char big[2000], want[BK_ERR_MSGMAX + 200];
	size_t len;

	/* bk_err_set */
	bk_err_clear(&e);
	is_int(bk_err_set(&e, BK_EXIT_USAGE, "bad %s: %d", "thing", 42), -1,
	    "set returns -1");
	is_int(e.code, BK_EXIT_USAGE, "set stores the code");
	is_str(e.msg, "bad thing: 42", "set formats the message");
	is_int(e.sys, 0, "set leaves sys 0 on a cleared err");

	/* bk_err_sys */
	bk_err_clear(&e);
	is_int(bk_err_sys(&e, BK_EXIT_RUNTIME, ENOENT, "open %s", "/x/y"), -1,
	    "sys returns -1");
	is_int(e.code, BK_EXIT_RUNTIME, "sys stores the code");
	is_int(e.sys, ENOENT, "sys stores errnum");
	snprintf(want, sizeof(want), "open /x/y: %s", strerror(ENOENT));
	is_str(e.msg, want, "sys appends \": strerror(errnum)\"");

	errno = EACCES;
	bk_err_sys(&e, BK_EXIT_RUNTIME, EPIPE, "write");
	snprintf(want, sizeof(want), "write: %s", strerror(EPIPE));
	is_str(e.msg, want, "sys uses errnum, not errno");
	is_int(e.sys, EPIPE, "sys records errnum, not errno");

	/* bk_err_prefix */
	bk_err_set(&e, BK_EXIT_CHECK, "bad CRC");
	is_int(bk_err_prefix(&e, "%s", "stdin"), -1, "prefix returns -1");
	is_str(e.msg, "stdin: bad CRC", "prefix adds \"what: \"");
	is_int(e.code, BK_EXIT_CHECK, "prefix keeps the code");
	bk_err_prefix(&e, "member %u", 2u);
	is_str(e.msg, "member 2: stdin: bad CRC", "prefix stacks");

	bk_err_sys(&e, BK_EXIT_RUNTIME, ENOSPC, "write");
	bk_err_prefix(&e, "out");
	is_int(e.sys, ENOSPC, "prefix keeps sys");

	/* bk_err_clear */
	bk_err_clear(&e);
	is_int(e.code, 0, "clear resets the code");
	is_int(e.sys, 0, "clear resets sys");
	is_str(e.msg, "", "clear empties the message");

	/* Truncation at BK_ERR_MSGMAX, no overflow. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';

	guard_init(&g);
	is_int(bk_err_set(&g.e, BK_EXIT_RUNTIME, "%s", big), -1,
	    "set with a long message returns -1");
	ok(terminated(&g.e), "long set message is NUL-terminated");
	len = strnlen(g.e.msg, sizeof(g.e.msg));
	is_int((long long)len, BK_ERR_MSGMAX - 1,
	    "long set message is truncated to BK_ERR_MSGMAX - 1");
	ok(len > 0 && g.e.msg[0] == 'x' && g.e.msg[len - 1] == 'x',
	    "truncated message keeps the head");
	ok(guard_intact(&g), "set does not write outside the struct");
	is_int(g.e.code, BK_EXIT_RUNTIME, "code kept on truncation");

	guard_init(&g);
	bk_err_sys(&g.e, BK_EXIT_RUNTIME, ENOENT, "%s", big);
	ok(terminated(&g.e), "long sys message is NUL-terminated");
	ok(strnlen(g.e.msg, sizeof(g.e.msg)) < BK_ERR_MSGMAX,
	    "long sys message fits");
	is_int(g.e.sys, ENOENT, "long sys message keeps sys");
	ok(guard_intact(&g), "sys does not write outside the struct");

	guard_init(&g);
	bk_err_set(&g.e, BK_EXIT_CHECK, "%s", big);
	bk_err_prefix(&g.e, "context");
	ok(terminated(&g.e), "prefix on a full message is NUL-terminated");
	ok(strncmp(g.e.msg, "context: ", 9) == 0,
	    "prefix on a full message keeps the prefix");
	ok(guard_intact(&g), "prefix does not write outside the struct");

	guard_init(&g);
	bk_err_set(&g.e, BK_EXIT_CHECK, "why");
	bk_err_prefix(&g.e, "%s", big);
	ok(terminated(&g.e), "long prefix is NUL-terminated");
	ok(strnlen(g.e.msg, sizeof(g.e.msg)) == BK_ERR_MSGMAX - 1,
	    "long prefix is truncated to BK_ERR_MSGMAX - 1");
	ok(guard_intact(&g), "long prefix does not write outside the struct");

	/* Exactly BK_ERR_MSGMAX - 1 characters fit untruncated. */
	big[BK_ERR_MSGMAX - 1] = '\0';
	bk_err_set(&e, BK_EXIT_CHECK, "%s", big);
	is_str(e.msg, big, "a message of BK_ERR_MSGMAX - 1 fits whole");

	/* NULL err is tolerated (each in a child so a crash is one failure). */
	ok(survives(null_set), "set(NULL, ...) returns -1 without crashing");
	ok(survives(null_sys), "sys(NULL, ...) returns -1 without crashing");
	ok(survives(null_prefix), "prefix(NULL, ...) returns -1 without crashing");
	ok(survives(null_clear), "clear(NULL) does not crash");

	return done_testing();
}
