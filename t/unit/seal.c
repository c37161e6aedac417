/* seal.c - unit tests for lib/seal: the pipeline seal between bk tools. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "seal.h"

static char		 rundir[512];
static const char	*current = "setup";

/* A reader that waits forever is a failure, not a hung test run. */
static void
on_alarm(int sig)
{
	static const char m1[] = "# timed out in: ";

	(void)sig;
	if (write(2, m1, sizeof(m1) - 1) < 0 ||
	    write(2, current, strlen(current)) < 0 || write(2, "\n", 1) < 0)
		_exit(3);
	_exit(3);
}

static void
xpipe(int p[2])
{
	if (pipe(p) == -1) {
		perror("pipe");
		exit(2);
	}
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
msleep(long ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int
entries(const char *dir)
{
	DIR *d;
	struct dirent *de;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static int
exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

/* What a writer does after registering and writing its data. */
enum act {
	WR_OK,		/* finish(OK), close, exit */
	WR_UNSEALED,	/* finish(UNSEALED), close, exit */
	WR_FAILED,	/* finish(FAILED), close, exit */
	WR_VANISH,	/* exit without an outcome */
	WR_KILL,		/* SIGKILL itself */
	WR_LATE_OK,	/* close (reader sees EOF), 200 ms, finish(OK) */
	WR_LATE_VANISH	/* close, 200 ms, exit without an outcome */
};

#define WR_NOREG	90	/* exit status: register failed */

/*
 * Start a writer of p[1] as a grandchild: its parent reaps it as soon as
 * it ends, as a shell does, so that a writer that is gone is gone (not a
 * zombie of the reader).  Returns the pid of the middle process, which
 * exits with the writer's status (128 + signal if killed).
 */
static pid_t
writer(int p[2], enum act act, const char *data)
{
	struct bk_seal s;
	struct bk_err e;
	pid_t mid, pid;
	int status;

	fflush(stdout);
	fflush(stderr);
	if ((mid = fork()) != 0)
		return mid;
	close(p[0]);
	if ((pid = fork()) != 0) {
		close(p[1]);
		if (pid == -1 || waitpid(pid, &status, 0) == -1)
			_exit(99);
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) :
		    128 + WTERMSIG(status));
	}
	memset(&s, 0, sizeof(s));
	if (bk_seal_register(&s, p[1], &e) != 0 || !s.active) {
		fprintf(stderr, "# writer: register: %s\n", e.msg);
		_exit(WR_NOREG);
	}
	if (write(p[1], data, strlen(data)) != (ssize_t)strlen(data))
		_exit(91);
	switch (act) {
	case WR_OK:
	case WR_UNSEALED:
	case WR_FAILED:
		if (bk_seal_finish(&s, act == WR_OK ? BK_SEAL_OK :
		    act == WR_UNSEALED ? BK_SEAL_UNSEALED : BK_SEAL_FAILED,
		    &e) != 0)
			_exit(92);
		close(p[1]);
		_exit(0);
	case WR_VANISH:
		_exit(0);
	case WR_KILL:
		raise(SIGKILL);
		_exit(93);
	case WR_LATE_OK:
		close(p[1]);
		msleep(200);
		if (bk_seal_finish(&s, BK_SEAL_OK, &e) != 0)
			_exit(92);
		_exit(0);
	case WR_LATE_VANISH:
		close(p[1]);
		msleep(200);
		_exit(0);
	}
	_exit(94);
}

static int
reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) == -1)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

/* Read fd to end of file into buf (NUL-terminated); returns the length. */
static size_t
drain(int fd, char *buf, size_t size)
{
	size_t off = 0;
	ssize_t n;

	for (;;) {
		n = read(fd, buf + off, size - 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
		if (off == size - 1)
			break;
	}
	buf[off] = '\0';
	return off;
}

/* Ask the seal about fd at end of file, with a time limit. */
static int
upstream(int fd, enum bk_seal_state *st, struct bk_err *e)
{
	int rc;

	*st = (enum bk_seal_state)-1;
	bk_err_clear(e);
	alarm(20);
	rc = bk_seal_upstream(fd, st, e);
	alarm(0);
	return rc;
}

static const char *
name(enum bk_seal_state st)
{
	switch (st) {
	case BK_SEAL_NONE: return "NONE";
	case BK_SEAL_RUNNING: return "RUNNING";
	case BK_SEAL_OK: return "OK";
	case BK_SEAL_UNSEALED: return "UNSEALED";
	case BK_SEAL_FAILED: return "FAILED";
	}
	return "?";
}

static void
state_is(int rc, enum bk_seal_state got, enum bk_seal_state want,
    const struct bk_err *e, const char *what)
{
	if (!ok(rc == 0 && got == want, "%s: %s", what, name(want)))
		diag("  rc %d, state %s (%d), err \"%s\"", rc, name(got),
		    (int)got, e->msg);
}

/* One forked writer doing act; the reader's verdict must be want. */
static void
one_writer(enum act act, enum bk_seal_state want, const char *what)
{
	enum bk_seal_state st;
	struct bk_err e;
	char buf[256];
	pid_t mid;
	int p[2], rc, ws;

	current = what;
	xpipe(p);
	mid = writer(p, act, "payload");
	close(p[1]);
	alarm(20);
	drain(p[0], buf, sizeof(buf));
	alarm(0);
	rc = upstream(p[0], &st, &e);
	close(p[0]);
	ws = reap(mid);
	if (ws == WR_NOREG)
		diag("  the writer could not register");
	ok(strcmp(buf, "payload") == 0, "%s: the data arrived", what);
	state_is(rc, st, want, &e, what);
}

static void
test_names(void)
{
	static const enum bk_seal_state all[] = { BK_SEAL_NONE,
	    BK_SEAL_OK, BK_SEAL_UNSEALED, BK_SEAL_FAILED };
	size_t i;

	is_str(bk_seal_name(BK_SEAL_NONE), "none", "name: none");
	is_str(bk_seal_name(BK_SEAL_RUNNING), "running", "name: running");
	is_str(bk_seal_name(BK_SEAL_OK), "ok", "name: ok");
	is_str(bk_seal_name(BK_SEAL_UNSEALED), "unsealed", "name: unsealed");
	is_str(bk_seal_name(BK_SEAL_FAILED), "failed", "name: failed");

	is_int(bk_seal_pass(BK_SEAL_NONE, 1), BK_SEAL_OK,
	    "pass: input not a pipe, self ok -> OK");
	is_int(bk_seal_pass(BK_SEAL_OK, 1), BK_SEAL_OK,
	    "pass: upstream OK, self ok -> OK");
	is_int(bk_seal_pass(BK_SEAL_UNSEALED, 1), BK_SEAL_UNSEALED,
	    "pass: upstream UNSEALED, self ok -> UNSEALED");
	is_int(bk_seal_pass(BK_SEAL_FAILED, 1), BK_SEAL_FAILED,
	    "pass: upstream FAILED, self ok -> FAILED");
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		is_int(bk_seal_pass(all[i], 0), BK_SEAL_FAILED,
		    "pass: upstream %s, self failed -> FAILED",
		    name(all[i]));
}

static void
test_rundir(void)
{
	struct bk_err e;
	char buf[512], want[64], *saved_xdg;
	const char *x;

	x = getenv("XDG_RUNTIME_DIR");
	saved_xdg = x != NULL ? strdup(x) : NULL;

	setenv("BK_RUNDIR", "/some/where/run", 1);
	setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
	ok(bk_seal_rundir(buf, sizeof(buf), &e) == 0 &&
	    strcmp(buf, "/some/where/run") == 0,
	    "rundir: $BK_RUNDIR first (%s)", buf);

	unsetenv("BK_RUNDIR");
	ok(bk_seal_rundir(buf, sizeof(buf), &e) == 0 &&
	    strcmp(buf, "/run/user/4242/bk") == 0,
	    "rundir: then $XDG_RUNTIME_DIR/bk (%s)", buf);

	unsetenv("XDG_RUNTIME_DIR");
	snprintf(want, sizeof(want), "/tmp/bk-%lu", (unsigned long)getuid());
	ok(bk_seal_rundir(buf, sizeof(buf), &e) == 0 &&
	    strcmp(buf, want) == 0, "rundir: then %s (%s)", want, buf);

	setenv("BK_RUNDIR", "/a/rather/long/path/to/a/run/directory", 1);
	bk_err_clear(&e);
	is_int(bk_seal_rundir(buf, 10, &e), -1,
	    "rundir: -1 when the path does not fit");

	if (saved_xdg != NULL) {
		setenv("XDG_RUNTIME_DIR", saved_xdg, 1);
		free(saved_xdg);
	}
	setenv("BK_RUNDIR", rundir, 1);
}

static void
test_not_pipes(void)
{
	enum bk_seal_state st;
	struct bk_seal s;
	struct bk_err e;
	char path[600];
	int fd, rc, sv[2];

	current = "not pipes";
	snprintf(path, sizeof(path), "%s/plain", tap_tmpdir());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	memset(&s, 0, sizeof(s));
	bk_err_clear(&e);
	rc = bk_seal_register(&s, fd, &e);
	ok(rc == 0 && s.active == 0, "register on a regular file: inactive");
	is_int(bk_seal_finish(&s, BK_SEAL_OK, &e), 0,
	    "finish when inactive is a no-op");
	rc = upstream(fd, &st, &e);
	state_is(rc, st, BK_SEAL_NONE, &e, "upstream of a regular file");
	close(fd);

	fd = open("/dev/null", O_RDWR);
	memset(&s, 0, sizeof(s));
	rc = bk_seal_register(&s, fd, &e);
	ok(rc == 0 && s.active == 0, "register on /dev/null: inactive");
	rc = upstream(fd, &st, &e);
	state_is(rc, st, BK_SEAL_NONE, &e, "upstream of /dev/null");
	close(fd);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) {
		memset(&s, 0, sizeof(s));
		rc = bk_seal_register(&s, sv[0], &e);
		ok(rc == 0 && s.active == 0, "register on a socket: inactive");
		close(sv[0]);
		close(sv[1]);
	} else
		skip(1, "socketpair failed");

	/* Named FIFOs are not sealed. */
	snprintf(path, sizeof(path), "%s/fifo", tap_tmpdir());
	if (mkfifo(path, 0600) == 0 &&
	    (fd = open(path, O_RDWR | O_NONBLOCK)) != -1) {
		memset(&s, 0, sizeof(s));
		rc = bk_seal_register(&s, fd, &e);
		ok(rc == 0 && s.active == 0,
		    "register on a named FIFO: inactive");
		rc = upstream(fd, &st, &e);
		ok(rc == 0 && (st == BK_SEAL_NONE || st == BK_SEAL_UNSEALED),
		    "upstream of a named FIFO: NONE or UNSEALED (got %s)",
		    name(st));
		close(fd);
	} else
		skip(2, "mkfifo failed");
	is_int(entries(rundir), 0, "nothing was registered for non-pipes");
}

/* A writer in this very process. */
static void
test_same_process(void)
{
	static const struct {
		enum bk_seal_state	outcome;
		const char		*what;
	} cases[] = {
		{ BK_SEAL_OK, "own writer finished OK" },
		{ BK_SEAL_UNSEALED, "own writer finished UNSEALED" },
		{ BK_SEAL_FAILED, "own writer finished FAILED" },
	};
	enum bk_seal_state st;
	struct bk_seal s;
	struct bk_err e;
	struct stat sb;
	char buf[64];
	size_t i, rl;
	int p[2], rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		current = cases[i].what;
		xpipe(p);
		memset(&s, 0, sizeof(s));
		bk_err_clear(&e);
		rc = bk_seal_register(&s, p[1], &e);
		if (!ok(rc == 0 && s.active == 1, "register on a pipe: active"))
			diag("  rc %d, err \"%s\"", rc, e.msg);
		if (i == 0) {
			rl = strlen(rundir);
			ok(stat(rundir, &sb) == 0 && S_ISDIR(sb.st_mode) &&
			    (sb.st_mode & 07777) == 0700,
			    "the run directory was created with mode 0700 "
			    "(umask 0)");
			ok(strncmp(s.dir, rundir, rl) == 0 &&
			    s.dir[rl] == '/' && exists(s.dir),
			    "the record is in the run directory (%s)", s.dir);
			ok(strncmp(s.path, s.dir, strlen(s.dir)) == 0 &&
			    exists(s.path),
			    "the writer's entry is in the record (%s)",
			    s.path);
		}
		if (write(p[1], "data", 4) != 4)
			ok(0, "write");
		rc = bk_seal_finish(&s, cases[i].outcome, &e);
		is_int(rc, 0, "finish returns 0");
		close(p[1]);
		drain(p[0], buf, sizeof(buf));
		rc = upstream(p[0], &st, &e);
		state_is(rc, st, cases[i].outcome, &e, cases[i].what);
		ok(!exists(s.dir), "the record is removed by the reader");
		rc = upstream(p[0], &st, &e);
		state_is(rc, st, BK_SEAL_UNSEALED, &e,
		    "asking again finds no record");
		close(p[0]);
	}

	/* No writer registered: a plain filter upstream. */
	current = "no writer";
	xpipe(p);
	if (write(p[1], "x", 1) != 1)
		ok(0, "write");
	close(p[1]);
	drain(p[0], buf, sizeof(buf));
	rc = upstream(p[0], &st, &e);
	state_is(rc, st, BK_SEAL_UNSEALED, &e, "a pipe with no bk writer");
	close(p[0]);
	is_int(entries(rundir), 0, "nothing left in the run directory");
}

/* Two pipes at once: their records do not mix. */
static void
test_two_pipes(void)
{
	enum bk_seal_state st;
	struct bk_seal s1, s2;
	struct bk_err e;
	char buf[64];
	int p1[2], p2[2], p3[2], rc;

	current = "two pipes";
	xpipe(p1);
	xpipe(p2);
	xpipe(p3);
	memset(&s1, 0, sizeof(s1));
	memset(&s2, 0, sizeof(s2));
	bk_seal_register(&s1, p1[1], &e);
	bk_seal_register(&s2, p2[1], &e);
	ok(strcmp(s1.dir, s2.dir) != 0, "two pipes, two records");
	bk_seal_finish(&s1, BK_SEAL_FAILED, &e);
	bk_seal_finish(&s2, BK_SEAL_OK, &e);
	close(p1[1]);
	close(p2[1]);
	close(p3[1]);
	drain(p3[0], buf, sizeof(buf));
	rc = upstream(p3[0], &st, &e);
	state_is(rc, st, BK_SEAL_UNSEALED, &e, "third pipe without writer");
	drain(p2[0], buf, sizeof(buf));
	rc = upstream(p2[0], &st, &e);
	state_is(rc, st, BK_SEAL_OK, &e, "second pipe");
	drain(p1[0], buf, sizeof(buf));
	rc = upstream(p1[0], &st, &e);
	state_is(rc, st, BK_SEAL_FAILED, &e, "first pipe");
	close(p1[0]);
	close(p2[0]);
	close(p3[0]);
}

static void
test_forked(void)
{
	enum bk_seal_state st;
	struct bk_err e;
	char buf[256];
	double t0, dt;
	pid_t mid, mid2, mids[3];
	int p[2], rc, i;

	one_writer(WR_OK, BK_SEAL_OK, "forked writer finished OK");
	one_writer(WR_UNSEALED, BK_SEAL_UNSEALED,
	    "forked writer finished UNSEALED");
	one_writer(WR_FAILED, BK_SEAL_FAILED, "forked writer finished FAILED");
	one_writer(WR_VANISH, BK_SEAL_FAILED,
	    "forked writer exited without an outcome");
	one_writer(WR_KILL, BK_SEAL_FAILED, "forked writer SIGKILLed");

	/* The reader sees EOF while the writer still runs: it waits. */
	t0 = now();
	one_writer(WR_LATE_OK, BK_SEAL_OK,
	    "writer still running, finishes OK after 200 ms");
	dt = now() - t0;
	ok(dt >= 0.15, "the reader waited for it (%.3f s)", dt);

	t0 = now();
	one_writer(WR_LATE_VANISH, BK_SEAL_FAILED,
	    "writer still running, vanishes after 200 ms");
	dt = now() - t0;
	ok(dt >= 0.15, "the reader waited for it (%.3f s)", dt);

	/* Two writers in turn on one pipe: "(a; b) | reader". */
	current = "two writers, OK then FAILED";
	xpipe(p);
	mid = writer(p, WR_OK, "one,");
	is_int(reap(mid), 0, "first writer done");
	mid2 = writer(p, WR_FAILED, "two");
	close(p[1]);
	alarm(20);
	drain(p[0], buf, sizeof(buf));
	alarm(0);
	rc = upstream(p[0], &st, &e);
	close(p[0]);
	reap(mid2);
	is_str(buf, "one,two", "both writers' data arrived");
	state_is(rc, st, BK_SEAL_FAILED, &e, "two writers, OK then FAILED");

	current = "two writers, FAILED then OK";
	xpipe(p);
	mid = writer(p, WR_FAILED, "one,");
	reap(mid);
	mid2 = writer(p, WR_OK, "two");
	close(p[1]);
	alarm(20);
	drain(p[0], buf, sizeof(buf));
	alarm(0);
	rc = upstream(p[0], &st, &e);
	close(p[0]);
	reap(mid2);
	state_is(rc, st, BK_SEAL_FAILED, &e, "two writers, FAILED then OK");

	current = "two writers, OK then OK";
	xpipe(p);
	mid = writer(p, WR_OK, "one,");
	reap(mid);
	mid2 = writer(p, WR_OK, "two");
	close(p[1]);
	alarm(20);
	drain(p[0], buf, sizeof(buf));
	alarm(0);
	rc = upstream(p[0], &st, &e);
	close(p[0]);
	reap(mid2);
	state_is(rc, st, BK_SEAL_OK, &e, "two writers, OK then OK");

	current = "two writers, OK then UNSEALED";
	xpipe(p);
	mid = writer(p, WR_OK, "one,");
	reap(mid);
	mid2 = writer(p, WR_UNSEALED, "two");
	close(p[1]);
	alarm(20);
	drain(p[0], buf, sizeof(buf));
	alarm(0);
	rc = upstream(p[0], &st, &e);
	close(p[0]);
	reap(mid2);
	state_is(rc, st, BK_SEAL_UNSEALED, &e, "two writers, OK then UNSEALED");

	current = "two writers, vanished then OK";
	xpipe(p);
	mid = writer(p, WR_VANISH, "one,");
	reap(mid);
	mid2 = writer(p, WR_OK, "two");
	close(p[1]);
	alarm(20);
	drain(p[0], buf, sizeof(buf));
	alarm(0);
	rc = upstream(p[0], &st, &e);
	close(p[0]);
	reap(mid2);
	state_is(rc, st, BK_SEAL_FAILED, &e, "two writers, vanished then OK");

	/* Three writers at once, all OK. */
	current = "three concurrent writers";
	xpipe(p);
	for (i = 0; i < 3; i++)
		mids[i] = writer(p, WR_OK, "x");
	close(p[1]);
	alarm(20);
	drain(p[0], buf, sizeof(buf));
	alarm(0);
	rc = upstream(p[0], &st, &e);
	close(p[0]);
	for (i = 0; i < 3; i++)
		reap(mids[i]);
	is_str(buf, "xxx", "three writers' data arrived");
	state_is(rc, st, BK_SEAL_OK, &e, "three concurrent writers, all OK");

	is_int(entries(rundir), 0,
	    "nothing left in the run directory after the readers");
}

/* ------------------------------------------------------------------ */
/* Liveness: a reader never waits without a bound, and never spins. */

static double
cputime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A /proc/PID/stat line with the given pid, command, state and start. */
static void
stat_line(char *buf, size_t size, long pid, const char *comm, char state,
    unsigned long long start)
{
	snprintf(buf, size, "%ld (%s) %c 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 "
	    "16 17 18 %llu 23 24 25\n", pid, comm, state, start);
}

static void
test_parse_stat(void)
{
	static const char *comms[] = { "bk-gz", "a b", "a) (b", ") S 1 2 3",
	    "x\ny", "(((", "", "9) Z 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 7" };
	static const char *labels[] = { "bk-gz", "a b", "a) (b", ") S 1 2 3",
	    "x<newline>y", "(((", "(empty)", "9) Z 9 9 ... 7" };
	static const char *bad[] = { "", "abc", "1234 bk-gz S 1 2 3\n",
	    "1234 (bk-gz) S 1 2 3\n", "-5 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 "
	    "13 14 15 16 17 18 99 23\n", "1 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 "
	    "13 14 15 16 17 18 x 23\n", "1 (x)S 1 2 3 4 5 6 7 8 9 10 11 12 "
	    "13 14 15 16 17 18 99 23\n" };
	unsigned long long start;
	char line[512], state;
	size_t i;
	long pid;
	int rc;

	current = "parse stat";
	for (i = 0; i < sizeof(comms) / sizeof(comms[0]); i++) {
		stat_line(line, sizeof(line), 4242 + (long)i, comms[i],
		    i == 2 ? 'Z' : 'S', 123456789012ULL + i);
		pid = 0;
		state = '?';
		start = 0;
		rc = bk_seal_parse_stat(line, &pid, &state, &start);
		if (!ok(rc == 0 && pid == 4242 + (long)i &&
		    state == (i == 2 ? 'Z' : 'S') &&
		    start == 123456789012ULL + i,
		    "parse stat: command name \"%s\"", labels[i]))
			diag("  rc %d, pid %ld, state %c, start %llu", rc,
			    pid, state, start);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(bk_seal_parse_stat(bad[i], &pid, &state, &start), -1,
		    "parse stat: malformed line %zu refused", i);
}

/* pid's start time from /proc (0 if it cannot be read). */
static unsigned long long
start_of(long pid)
{
	unsigned long long start;
	char path[64], buf[1024], state;
	ssize_t n;
	long got;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (bk_seal_parse_stat(buf, &got, &state, &start) < 0)
		return 0;
	return start;
}

/* The record of the pipe fd in the private run directory. */
static void
record_of(int fd, char *buf, size_t size)
{
	struct stat sb;

	fstat(fd, &sb);
	snprintf(buf, size, "%s/p%jx-%jx", rundir, (uintmax_t)sb.st_dev,
	    (uintmax_t)sb.st_ino);
}

/* Fake a writer's entry in the record of the pipe fd: what a writer that
 * is gone, or one the reader cannot tell apart, leaves behind. */
static void
fake_entry(int fd, long pid, unsigned long long start, const char *text)
{
	char dir[PATH_MAX], path[PATH_MAX + 64];
	int efd;

	record_of(fd, dir, sizeof(dir));
	mkdir(rundir, 0700);
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/%ld.%llu", dir, pid, start);
	efd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (efd < 0 || write(efd, text, strlen(text)) !=
	    (ssize_t)strlen(text))
		ok(0, "fake entry %s", path);
	if (efd >= 0)
		close(efd);
}

/*
 * A reader at end of file on a pipe whose record holds one fake entry
 * (pid, start, text): its verdict must be FAILED.  Sets *wall and *cpu:
 * how long it took, and the CPU time it used meanwhile.
 */
static void
fake_reader(long pid, unsigned long long start, const char *text,
    const char *what, double *wall, double *cpu)
{
	enum bk_seal_state st;
	struct bk_err e;
	double t0, c0;
	int p[2], rc;

	current = what;
	xpipe(p);
	fake_entry(p[1], pid, start, text);
	close(p[1]);
	t0 = now();
	c0 = cputime();
	rc = upstream(p[0], &st, &e);
	*cpu = cputime() - c0;
	*wall = now() - t0;
	close(p[0]);
	state_is(rc, st, BK_SEAL_FAILED, &e, what);
}

/* The reader concluded at once: well before the bound, and without
 * burning CPU. */
static void
quick(double wall, double cpu, const char *what)
{
	if (!ok(wall < bk_seal_wait_ms / 2000.0,
	    "%s: concluded without waiting out the bound", what))
		diag("  took %.3f s, bound %ld ms", wall, bk_seal_wait_ms);
	ok(cpu < 0.5, "%s: CPU time small (%.3f s)", what, cpu);
}

/* The reader waited for the bound, then gave up; asleep, not spinning. */
static void
bounded(double wall, double cpu, const char *what)
{
	ok(wall >= bk_seal_wait_ms / 1000.0 * 0.9,
	    "%s: waited for the bound (%.3f s)", what, wall);
	if (!ok(cpu < wall / 4, "%s: slept while waiting, did not spin", what))
		diag("  CPU %.3f s in %.3f s", cpu, wall);
}

static void
test_liveness(void)
{
	unsigned long long self_start;
	enum bk_seal_state st;
	struct bk_seal s;
	struct bk_err e;
	double wall, cpu, t0, c0;
	char buf[64];
	pid_t kid;
	int p[2], ctl[2], rc, status;

	is_int(bk_seal_wait_ms, 10000, "the reader's bound is 10 s");
	self_start = start_of(getpid());
	ok(self_start > 0, "our own start time is in /proc (%llu)",
	    self_start);

	/* Writers that are plainly gone: the reader must not wait for the
	 * bound.  Make the bound long, so that only a real wait shows. */
	bk_seal_wait_ms = 15000;

	/* The lock decides, not the pid: a locked-style entry whose lock
	 * nobody holds names a live process with the right start time (as
	 * when a writer in a pid namespace without its own /proc recorded
	 * the host's init). */
	fake_reader(getpid(), self_start, "running flock\n",
	    "lock not held, pid alive with its start time", &wall, &cpu);
	quick(wall, cpu, "lock not held");

	/* A recycled pid: alive, but another start time. */
	fflush(stdout);
	if ((kid = fork()) == 0) {
		pause();
		_exit(0);
	}
	fake_reader(kid, start_of(kid) + 4242, "running\n",
	    "pid recycled (other start time)", &wall, &cpu);
	quick(wall, cpu, "pid recycled");
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);

	/* A zombie: finished, not yet reaped. */
	if ((kid = fork()) == 0)
		_exit(0);
	for (rc = 0; rc < 2000; rc++) {
		char path[64], line[512], state = '?';
		unsigned long long x;
		long y;
		ssize_t n;
		int fd;

		snprintf(path, sizeof(path), "/proc/%ld/stat", (long)kid);
		if ((fd = open(path, O_RDONLY)) < 0)
			break;
		n = read(fd, line, sizeof(line) - 1);
		close(fd);
		line[n > 0 ? n : 0] = '\0';
		if (bk_seal_parse_stat(line, &y, &state, &x) == 0 &&
		    state == 'Z')
			break;
		msleep(5);
	}
	fake_reader(kid, start_of(kid), "running\n", "writer is a zombie",
	    &wall, &cpu);
	quick(wall, cpu, "zombie");
	waitpid(kid, NULL, 0);

	/* Gone altogether (reaped). */
	if ((kid = fork()) == 0)
		_exit(0);
	waitpid(kid, NULL, 0);
	fake_reader(kid, 12345, "running\n", "writer reaped", &wall, &cpu);
	quick(wall, cpu, "reaped");

	/* Writers that look alive: the reader gives up after the bound. */
	bk_seal_wait_ms = 400;

	/* A plain entry (no lock) naming a live process with its true start
	 * time: the pid check cannot tell it from a writer. */
	fake_reader(getpid(), self_start, "running\n",
	    "plain entry, pid alive with its start time", &wall, &cpu);
	bounded(wall, cpu, "plain entry, alive");

	/* A writer without /proc (start 0): only kill(2), which cannot
	 * tell a recycled pid. */
	fake_reader(getpid(), 0, "running\n", "plain entry, start unknown",
	    &wall, &cpu);
	bounded(wall, cpu, "plain entry, start unknown");

	/* A real writer, alive, holding its lock, that closed the pipe and
	 * never finishes. */
	current = "writer alive, never finishes";
	xpipe(p);
	xpipe(ctl);
	fflush(stdout);
	if ((kid = fork()) == 0) {
		close(p[0]);
		close(ctl[1]);
		if (bk_seal_register(&s, p[1], &e) != 0 || !s.active)
			_exit(WR_NOREG);
		if (write(p[1], "x", 1) != 1)
			_exit(91);
		close(p[1]);
		if (read(ctl[0], buf, 1) < 0)
			_exit(92);
		_exit(0);
	}
	close(p[1]);
	close(ctl[0]);
	alarm(20);
	drain(p[0], buf, sizeof(buf));
	alarm(0);
	t0 = now();
	c0 = cputime();
	rc = upstream(p[0], &st, &e);
	cpu = cputime() - c0;
	wall = now() - t0;
	state_is(rc, st, BK_SEAL_FAILED, &e,
	    "writer alive with its lock, never finishes");
	bounded(wall, cpu, "writer alive, never finishes");
	close(ctl[1]);
	close(p[0]);
	waitpid(kid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "that writer registered and ran (status %d)", status);

	bk_seal_wait_ms = 10000;
	is_int(entries(rundir), 0, "the readers removed every record");
}

/* A writer whose reader is gone leaves nothing behind. */
static void
test_no_reader(void)
{
	struct bk_seal s;
	struct bk_err e;
	int p[2], rc;

	current = "no reader";
	xpipe(p);
	rc = bk_seal_register(&s, p[1], &e);
	ok(rc == 0 && s.active && exists(s.path),
	    "no reader: registered (%s)", s.path);
	close(p[0]);
	is_int(bk_seal_finish(&s, BK_SEAL_FAILED, &e), 0,
	    "no reader: finish returns 0");
	ok(!exists(s.path) && !exists(s.dir),
	    "no reader: entry and record removed at finish");
	close(p[1]);
	is_int(entries(rundir), 0, "no reader: nothing left");
}

/* Is this process in the initial pid namespace? */
static int
init_pid_ns(void)
{
	char buf[64];
	ssize_t n;

	n = readlink("/proc/self/ns/pid", buf, sizeof(buf) - 1);
	if (n < 0)
		return 0;
	buf[n] = '\0';
	return strcmp(buf, "pid:[4026531836]") == 0;
}

/* Set the times of path to secs ago. */
static void
age(const char *path, long secs)
{
	struct timespec ts[2];

	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= secs;
	ts[1] = ts[0];
	if (utimensat(AT_FDCWD, path, ts, 0) < 0)
		ok(0, "utimensat %s", path);
}

/* rm -r of a record. */
static void
rm_record(const char *dir)
{
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
	rmdir(dir);
}

/* A record of a pipe of another device, with one finished entry. */
static void
other_dev(const char *name, char *dir, size_t size)
{
	char path[PATH_MAX + 64];
	int fd;

	snprintf(dir, size, "%s/%s", rundir, name);
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/1.1", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, "ok\n", 3) != 3)
		ok(0, "write %s", path);
	if (fd >= 0)
		close(fd);
}

/* Records left behind by readers that were not bk tools. */
static void
test_collect(void)
{
	struct bk_seal sa, sb, sc, sd, se, sf;
	enum bk_seal_state st;
	struct bk_err e;
	char da[PATH_MAX], db[PATH_MAX], dc[PATH_MAX], dd[PATH_MAX];
	char de_[PATH_MAX], dx[PATH_MAX], dy[PATH_MAX];
	char buf[64];
	int a[2], b[2], c[2], d[2], ee[2], f[2], rc;

	current = "collect";
	if (!init_pid_ns()) {
		skip(13, "not in the initial pid namespace: records are "
		    "collected after a day only");
		return;
	}
	/* A: finished, pipe gone, a few minutes old: garbage. */
	xpipe(a);
	bk_seal_register(&sa, a[1], &e);
	bk_seal_finish(&sa, BK_SEAL_OK, &e);
	snprintf(da, sizeof(da), "%s", sa.dir);
	close(a[0]);
	close(a[1]);
	/* B: failed, its reader not there yet (holds the pipe). */
	xpipe(b);
	bk_seal_register(&sb, b[1], &e);
	if (write(b[1], "b", 1) != 1)
		ok(0, "write");
	bk_seal_finish(&sb, BK_SEAL_FAILED, &e);
	snprintf(db, sizeof(db), "%s", sb.dir);
	close(b[1]);
	/* C: finished two days ago, the pipe still held: a reader stalled
	 * that long must still find the verdict. */
	xpipe(c);
	bk_seal_register(&sc, c[1], &e);
	bk_seal_finish(&sc, BK_SEAL_OK, &e);
	snprintf(dc, sizeof(dc), "%s", sc.dir);
	close(c[1]);
	/* D: a writer at work (our lock), the pipe gone. */
	xpipe(d);
	bk_seal_register(&sd, d[1], &e);
	snprintf(dd, sizeof(dd), "%s", sd.dir);
	close(d[0]);
	close(d[1]);
	/* E: finished, pipe gone, but just now. */
	xpipe(ee);
	bk_seal_register(&se, ee[1], &e);
	bk_seal_finish(&se, BK_SEAL_OK, &e);
	snprintf(de_, sizeof(de_), "%s", se.dir);
	close(ee[0]);
	close(ee[1]);
	/* Records of another device: not checkable; the day rule. */
	other_dev("p0-1234", dx, sizeof(dx));
	other_dev("p0-5678", dy, sizeof(dy));
	/* (Aged only now: each registration above collects.) */
	age(da, 300);
	age(db, 300);
	age(dc, 2 * 24 * 3600);
	age(dd, 300);
	age(dx, 300);
	age(dy, 2 * 24 * 3600);
	ok(exists(da) && exists(db) && exists(dc) && exists(dd) &&
	    exists(de_) && exists(dx) && exists(dy), "collect: 7 records");

	/* A writer registers: it collects. */
	xpipe(f);
	rc = bk_seal_register(&sf, f[1], &e);
	ok(rc == 0 && sf.active, "collect: a new writer registered");
	ok(!exists(da), "collect: a finished record whose pipe is gone "
	    "was removed");
	ok(exists(db), "collect: a record whose pipe has a reader stays");
	ok(exists(dc), "collect: ... even two days old");
	ok(exists(dd), "collect: a record with a writer at work stays");
	ok(exists(de_), "collect: a record under a minute old stays");
	ok(exists(dx), "collect: another device's record, 5 minutes old, "
	    "stays");
	ok(!exists(dy), "collect: another device's record, 2 days old, "
	    "was removed");

	/* The late readers find their verdicts. */
	drain(b[0], buf, sizeof(buf));
	rc = upstream(b[0], &st, &e);
	state_is(rc, st, BK_SEAL_FAILED, &e, "collect: B's late reader");
	drain(c[0], buf, sizeof(buf));
	rc = upstream(c[0], &st, &e);
	state_is(rc, st, BK_SEAL_OK, &e, "collect: C's late reader");
	close(b[0]);
	close(c[0]);

	/* D's writer finishes (it closed its pipe before: it cannot tell
	 * that nobody reads, and records its outcome; the next collection
	 * would remove it); F's too, read at once. */
	is_int(bk_seal_finish(&sd, BK_SEAL_OK, &e), 0,
	    "collect: D's writer finishes");
	bk_seal_finish(&sf, BK_SEAL_OK, &e);
	close(f[1]);
	rc = upstream(f[0], &st, &e);
	close(f[0]);
	rm_record(dd);
	rm_record(de_);
	rm_record(dx);
	is_int(entries(rundir), 0, "collect: nothing left");
}

/* Run directories that must be refused. */
static void
bad_rundir(const char *dir, const char *what)
{
	enum bk_seal_state st;
	struct bk_seal s;
	struct bk_err e;
	int p[2], rc;

	current = what;
	setenv("BK_RUNDIR", dir, 1);
	xpipe(p);
	memset(&s, 0, sizeof(s));
	bk_err_clear(&e);
	rc = bk_seal_register(&s, p[1], &e);
	if (!ok(rc == -1 && s.active == 0 && e.msg[0] != '\0',
	    "register refuses %s", what))
		diag("  rc %d, active %d, err \"%s\"", rc, s.active, e.msg);
	else
		diag("  %s", e.msg);
	close(p[1]);
	rc = upstream(p[0], &st, &e);
	ok(rc == -1 && st == BK_SEAL_UNSEALED && e.msg[0] != '\0',
	    "upstream with %s: -1, UNSEALED (rc %d, %s)", what, rc, name(st));
	close(p[0]);
	setenv("BK_RUNDIR", rundir, 1);
}

static void
test_bad_rundir(void)
{
	char dir[600];
	int fd;

	snprintf(dir, sizeof(dir), "%s/open755", tap_tmpdir());
	mkdir(dir, 0700);
	chmod(dir, 0755);
	bad_rundir(dir, "a run directory with mode 0755");
	is_int(entries(dir), 0, "nothing was written into it");

	snprintf(dir, sizeof(dir), "%s/open777", tap_tmpdir());
	mkdir(dir, 0700);
	chmod(dir, 0777);
	bad_rundir(dir, "a run directory with mode 0777");
	is_int(entries(dir), 0, "nothing was written into it");

	snprintf(dir, sizeof(dir), "%s/notdir", tap_tmpdir());
	fd = open(dir, O_WRONLY | O_CREAT, 0600);
	close(fd);
	bad_rundir(dir, "a run directory that is a file");

	if (geteuid() == 0) {
		snprintf(dir, sizeof(dir), "%s/theirs", tap_tmpdir());
		mkdir(dir, 0700);
		chmod(dir, 0700);
		if (chown(dir, 65534, 65534) == 0)
			bad_rundir(dir, "a run directory owned by another user");
		else
			skip(2, "chown failed");
	} else
		skip(2, "not root: cannot make a directory someone else owns");
}

int
main(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* A private run directory, created by the library itself. */
	umask(0);
	snprintf(rundir, sizeof(rundir), "%s/run", tap_tmpdir());
	setenv("BK_RUNDIR", rundir, 1);

	test_names();
	test_rundir();
	test_same_process();
	test_not_pipes();
	test_two_pipes();
	test_forked();
	test_parse_stat();
	test_liveness();
	test_no_reader();
	test_collect();
	test_bad_rundir();
	return done_testing();
}
