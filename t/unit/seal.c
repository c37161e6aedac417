/* seal.c - unit tests for lib/seal: the pipeline seal between bk tools. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	test_bad_rundir();
	return done_testing();
}
