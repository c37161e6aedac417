/*
 * seal.h - the pipeline seal.
 *
 * In "a | b" a POSIX shell reports only b's status, and b sees the same
 * end of file whether a finished or died.  The seal lets b tell the two
 * apart when a is a bk tool:
 *
 *   - a, whose stdout is a pipe, registers in the run directory before it
 *     writes a byte: a record named after the pipe (st_dev, st_ino: both
 *     ends share them) holding one entry per writer with its pid, its start
 *     time (to recognise a recycled pid) and its state, "running".
 *   - When a has written its last byte it records its outcome ("ok",
 *     "unsealed" or "failed") and only then closes stdout.
 *   - b, on end of file, looks up the record of its stdin.  No record: the
 *     upstream is not a bk tool, the stream is "unsealed".  Otherwise it
 *     waits until every writer has an outcome or is gone; a writer that is
 *     gone without an outcome was killed and counts as failed.
 *
 * "Gone" is decided by a lock, not by a pid: each writer holds an flock(2)
 * on its entry from before the entry appears until it has recorded its
 * outcome (or until it dies: the kernel drops the lock with its last
 * descriptor).  A lock knows nothing of pid namespaces, recycled pids,
 * hidden or missing /proc.  Entries written without the lock (by an older
 * bk, or on a file system without flock) are checked by pid and start
 * time as seen in /proc.
 *
 * Since a bk tool records its outcome before it closes stdout, a writer
 * still "running" at end of file is one on its way out without an
 * outcome.  The reader therefore waits only briefly: it polls with a
 * growing sleep (1 ms up to 64 ms) and gives up after bk_seal_wait_ms,
 * counting such a writer as failed.  It never waits without a bound.
 *
 * A record whose reader is not a bk tool ("bk-gz | gzip -d") is left
 * behind; writers collect such records once their pipe is gone (see
 * seal.c).
 *
 * The run directory is $BK_RUNDIR, else $XDG_RUNTIME_DIR/bk, else
 * /tmp/bk-$UID; it is created with mode 0700 and refused if another user
 * owns it or it is open to others.  The seal covers anonymous pipes (the
 * shell's "|"); named FIFOs, files and terminals are not sealed.
 */
#ifndef BK_SEAL_H
#define BK_SEAL_H

#include <limits.h>
#include <sys/types.h>

#include "err.h"

enum bk_seal_state {
	BK_SEAL_NONE = 0,	/* not a pipe: nothing to seal or check */
	BK_SEAL_RUNNING,	/* a writer still at work */
	BK_SEAL_OK,		/* sealed end to end and successful */
	BK_SEAL_UNSEALED,	/* successful, but a stage upstream was not bk */
	BK_SEAL_FAILED		/* failed, or killed */
};

struct bk_seal {
	int	active;			/* registered as a writer */
	int	fd;			/* the pipe we write */
	int	lockfd;			/* our locked entry, or -1 */
	dev_t	dev;			/* the pipe's identity */
	ino_t	ino;
	char	path[PATH_MAX];		/* our entry in the record */
	char	dir[PATH_MAX];		/* the record */
};

/*
 * The longest a reader waits, at end of file, for writers that still look
 * alive but have not recorded an outcome (default 10000 ms).  A variable
 * so that the tests can shorten it.
 */
extern long	bk_seal_wait_ms;

/*
 * Register as a writer of fd (normally 1) if it is an anonymous pipe.
 * Does nothing (returns 0, s->active == 0) when fd is not a pipe.  Call it
 * first thing in main(), before any byte is written and before option
 * parsing can fail, so that a tool that dies early is seen as failed.
 * Returns -1 with err if the run directory cannot be used; the tool then
 * goes on unsealed (its downstream will see no record).
 */
int	bk_seal_register(struct bk_seal *s, int fd, struct bk_err *err);

/*
 * Record the outcome (BK_SEAL_OK, BK_SEAL_UNSEALED or BK_SEAL_FAILED) as
 * a writer.  Call after the last byte was written and before closing
 * stdout.  No-op when not registered.  If the pipe has no reader left
 * (it exited early), nobody can ever ask: the entry is removed instead,
 * and the record with it if it is empty.  Returns 0 or -1 with err.
 */
int	bk_seal_finish(struct bk_seal *s, enum bk_seal_state outcome,
	    struct bk_err *err);

/*
 * As a reader at end of file on fd (normally 0): find out how the writers
 * upstream ended, waiting for writers still running.  Sets *state to
 * BK_SEAL_NONE (fd is not a pipe: a file or terminal is complete as it
 * is), BK_SEAL_UNSEALED (no bk writer registered), BK_SEAL_OK or
 * BK_SEAL_FAILED, and removes the record.  If the run directory cannot be
 * used, *state is BK_SEAL_UNSEALED and -1 is returned with err (a
 * warning).  Returns 0 otherwise.
 */
int	bk_seal_upstream(int fd, enum bk_seal_state *state, struct bk_err *err);

/*
 * An end-of-input hook: the stream code calls it when its input ends,
 * before it writes the clean ending of its format, to learn how the
 * upstream ended (fill *state, return 0; or -1 with err).  See
 * bk_run_at_eof() in run.h.
 */
typedef int (*bk_seal_eof_fn)(void *arg, enum bk_seal_state *state,
	    struct bk_err *err);

/*
 * The state a stage should record for its downstream: BK_SEAL_FAILED if
 * it failed itself or its upstream failed, BK_SEAL_UNSEALED if its
 * upstream was unsealed, BK_SEAL_OK otherwise.
 */
enum bk_seal_state bk_seal_pass(enum bk_seal_state upstream, int self_ok);

/* "none", "running", "ok", "unsealed", "failed". */
const char *bk_seal_name(enum bk_seal_state st);

/*
 * The run directory in use (from the environment), written into buf.
 * Returns 0, or -1 if the path does not fit.
 */
int	bk_seal_rundir(char *buf, size_t size, struct bk_err *err);

/*
 * Parse a /proc/PID/stat line: the pid (field 1), the state letter (field
 * 3) and the start time in clock ticks since boot (field 22).  The command
 * name (field 2) may hold blanks and parentheses.  Returns 0, or -1 if
 * the line is malformed.  Exposed for the tests.
 */
int	bk_seal_parse_stat(const char *line, long *pid, char *state,
	    unsigned long long *start);

#endif
