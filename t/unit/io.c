/* io.c - unit tests for lib/io: full reads and writes, EPIPE, ENOSPC, FIFOs. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "cli.h"
#include "io.h"

#define BIG	(1024 * 1024)

static void
xpipe(int p[2])
{
	if (pipe(p) == -1) {
		perror("pipe");
		exit(2);
	}
}

static unsigned char
pattern(size_t i)
{
	return (unsigned char)((i * 31 + i / 251) % 251);
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

/* Child: write n pattern bytes to fd in chunks of chunk bytes, then exit. */
static pid_t
feeder(int rfd, int wfd, size_t n, size_t chunk, long pause_ms)
{
	unsigned char buf[4096];
	size_t off, k, i;
	pid_t pid;

	fflush(stdout);
	if ((pid = fork()) != 0)
		return pid;
	close(rfd);
	if (pause_ms > 0)
		msleep(pause_ms);
	for (off = 0; off < n; off += k) {
		k = n - off < chunk ? n - off : chunk;
		for (i = 0; i < k; i++)
			buf[i] = pattern(off + i);
		if (write(wfd, buf, k) != (ssize_t)k)
			_exit(1);
		if ((off / chunk) % 64 == 0)
			usleep(200);
	}
	_exit(0);
}

static int
check_pattern(const unsigned char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (buf[i] != pattern(i))
			return 0;
	return 1;
}

static void
on_alarm(int sig)
{
	(void)sig;
}

/* SIGALRM interrupts system calls (no SA_RESTART) every interval_us. */
static void
interrupt_every(long interval_us)
{
	struct sigaction sa;
	struct itimerval it;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigaction(SIGALRM, &sa, NULL);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = interval_us;
	it.it_interval.tv_usec = interval_us;
	setitimer(ITIMER_REAL, &it, NULL);
}

static void
interrupts_off(void)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	signal(SIGALRM, SIG_DFL);
}

static int
reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) == -1)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/*
 * The cases every full reader must pass: bk_io_read_full(), and
 * bk_io_read_bulk() on a pipe made bulk (bulk set), which naps between
 * its reads.
 */
static void
test_reader(bk_io_read_fn rd, const char *nm, int bulk)
{
	unsigned char *buf;
	struct bk_err e;
	int p[2], fd;
	ssize_t n;
	pid_t pid;

	buf = malloc(BIG);

	/* Short reads (7-byte writes) are joined into one full read. */
	xpipe(p);
	if (bulk)
		(void)bk_io_bulk(p[0]);
	pid = feeder(p[0], p[1], 10000, 7, 0);
	close(p[1]);
	bk_err_clear(&e);
	n = rd(p[0], buf, 10000, "stdin", &e);
	is_int(n, 10000, "%s joins short reads into 10000 bytes", nm);
	ok(n == 10000 && check_pattern(buf, 10000), "%s: bytes arrive in "
	    "order", nm);
	n = rd(p[0], buf, 100, "stdin", &e);
	is_int(n, 0, "%s at end of file returns 0", nm);
	close(p[0]);
	is_int(reap(pid), 0, "%s: feeder exited cleanly", nm);

	/* End of file before n bytes: fewer bytes, not an error. */
	xpipe(p);
	pid = feeder(p[0], p[1], 50, 3, 0);
	close(p[1]);
	n = rd(p[0], buf, 100, "stdin", &e);
	is_int(n, 50, "%s returns fewer bytes at end of file", nm);
	ok(n == 50 && check_pattern(buf, 50), "%s: the short tail is intact",
	    nm);
	close(p[0]);
	reap(pid);

	/* A large stream through the pipe, in 4 KiB writes as stdio
	 * makes them on a pipe (64 KiB, or 1 MiB made bulk). */
	xpipe(p);
	if (bulk)
		(void)bk_io_bulk(p[0]);
	pid = feeder(p[0], p[1], BIG, 4096, 0);
	close(p[1]);
	n = rd(p[0], buf, BIG, "stdin", &e);
	is_int(n, BIG, "%s reads 1 MiB of 4 KiB writes", nm);
	ok(n == BIG && check_pattern(buf, BIG), "%s: 1 MiB arrives intact",
	    nm);
	close(p[0]);
	reap(pid);

	/* n bytes available and the writer still open: no wait for EOF. */
	xpipe(p);
	if (write(p[1], "0123456789", 10) != 10)
		abort();
	alarm(10);
	n = rd(p[0], buf, 10, "stdin", &e);
	alarm(0);
	is_int(n, 10, "%s returns once n bytes are in", nm);
	close(p[0]);
	close(p[1]);

	is_int(rd(0, buf, 0, "stdin", &e), 0, "%s of 0 bytes returns 0", nm);

	/* EINTR: a signal arrives while read(2) waits, and (bulk) while it
	 * naps between 10-byte writes. */
	xpipe(p);
	pid = feeder(p[0], p[1], 5000, 10, 300);
	close(p[1]);
	interrupt_every(bulk ? 300 : 20000);
	bk_err_clear(&e);
	n = rd(p[0], buf, 5000, "stdin", &e);
	interrupts_off();
	if (!is_int(n, 5000, "%s goes on after EINTR", nm))
		diag("  err \"%s\"", e.msg);
	ok(n == 5000 && check_pattern(buf, 5000), "%s: interrupted, intact",
	    nm);
	close(p[0]);
	reap(pid);

	/* A read error: -1, BK_EXIT_RUNTIME, the stream named. */
	fd = open(".", O_RDONLY | O_DIRECTORY);
	bk_err_clear(&e);
	n = rd(fd, buf, 100, "the-input", &e);
	is_int(n, -1, "%s on a directory fails", nm);
	is_int(e.code, BK_EXIT_RUNTIME, "%s: a read error is "
	    "BK_EXIT_RUNTIME", nm);
	ok(strstr(e.msg, "the-input") != NULL, "%s: a read error names the "
	    "stream (\"%s\")", nm, e.msg);
	close(fd);

	free(buf);
}

static void
test_write(void)
{
	unsigned char *buf;
	struct bk_err e;
	int p[2], fd, rc;
	size_t i;
	pid_t pid;

	buf = malloc(BIG);
	for (i = 0; i < BIG; i++)
		buf[i] = pattern(i);

	/* A slow reader: writes block, get interrupted, are short. */
	xpipe(p);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		unsigned char *got = malloc(BIG + 1);
		size_t off = 0;
		ssize_t k;

		close(p[1]);
		msleep(100);
		while ((k = read(p[0], got + off, 1 + off % 4000)) > 0) {
			off += (size_t)k;
			if (off > BIG)
				_exit(2);
			if (off % 64 == 0)
				usleep(50);
		}
		_exit(off == BIG && check_pattern(got, BIG) ? 0 : 1);
	}
	close(p[0]);
	interrupt_every(5000);
	bk_err_clear(&e);
	rc = bk_io_write_all(p[1], buf, BIG, "stdout", &e);
	interrupts_off();
	if (!is_int(rc, 0, "write_all writes 1 MiB to a slow reader "
	    "despite signals"))
		diag("  err \"%s\"", e.msg);
	close(p[1]);
	is_int(reap(pid), 0, "the reader got every byte in order");

	is_int(bk_io_write_all(1, buf, 0, "stdout", &e), 0,
	    "write_all of 0 bytes returns 0");

	/* The reader went away: EPIPE, not a SIGPIPE death. */
	bk_cli_init("bk-test");
	xpipe(p);
	close(p[0]);
	bk_err_clear(&e);
	rc = bk_io_write_all(p[1], buf, 10, "stdout", &e);
	is_int(rc, -1, "write_all to a closed pipe fails");
	is_int(e.sys, EPIPE, "err.sys is EPIPE");
	is_int(e.code, BK_EXIT_RUNTIME, "EPIPE is BK_EXIT_RUNTIME");
	ok(strstr(e.msg, "stdout") != NULL, "EPIPE message names the stream "
	    "(\"%s\")", e.msg);
	close(p[1]);

	/* The reader goes away in the middle of a large write. */
	xpipe(p);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char tmp[1000];

		close(p[1]);
		if (read(p[0], tmp, sizeof(tmp)) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[0]);
	bk_err_clear(&e);
	rc = bk_io_write_all(p[1], buf, BIG, "stdout", &e);
	ok(rc == -1 && e.sys == EPIPE,
	    "reader leaving mid-write gives -1 with EPIPE (sys %d)", e.sys);
	close(p[1]);
	reap(pid);

	/* A full disk. */
	fd = open("/dev/full", O_WRONLY);
	if (fd == -1) {
		skip(3, "no /dev/full");
	} else {
		bk_err_clear(&e);
		rc = bk_io_write_all(fd, buf, 4096, "out.gz", &e);
		is_int(rc, -1, "write_all to /dev/full fails");
		is_int(e.sys, ENOSPC, "err.sys is ENOSPC");
		ok(strstr(e.msg, "out.gz") != NULL,
		    "ENOSPC message names the stream (\"%s\")", e.msg);
		close(fd);
	}

	/* bk_io_close */
	xpipe(p);
	close(p[0]);
	bk_err_clear(&e);
	is_int(bk_io_close(p[1], "stdout", &e), 0, "bk_io_close returns 0");
	ok(fcntl(p[1], F_GETFD) == -1 && errno == EBADF,
	    "bk_io_close closed the fd");
	bk_err_clear(&e);
	is_int(bk_io_close(p[1], "stdout", &e), -1,
	    "bk_io_close of a closed fd fails");
	is_int(e.code, BK_EXIT_RUNTIME, "close error is BK_EXIT_RUNTIME");
	ok(strstr(e.msg, "stdout") != NULL, "close error names the stream "
	    "(\"%s\")", e.msg);

	free(buf);
}

/* f says 0 of whatever is not a pipe: a file, /dev/null, a directory, a
 * socket, a bad descriptor. */
static void
not_pipes(int (*f)(int), const char *nm)
{
	char path[512];
	int sv[2], fd;

	snprintf(path, sizeof(path), "%s/file", tap_tmpdir());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	is_int(f(fd), 0, "%s: regular file", nm);
	close(fd);

	fd = open("/dev/null", O_RDONLY);
	is_int(f(fd), 0, "%s: /dev/null", nm);
	close(fd);

	fd = open(".", O_RDONLY | O_DIRECTORY);
	is_int(f(fd), 0, "%s: directory", nm);
	close(fd);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) {
		is_int(f(sv[0]), 0, "%s: socket", nm);
		close(sv[0]);
		close(sv[1]);
	} else
		skip(1, "socketpair failed");

	is_int(f(-1), 0, "%s: invalid fd", nm);
}

static void
test_fifo(void)
{
	char path[512];
	int p[2], fd;

	xpipe(p);
	is_int(bk_io_is_fifo(p[0]), 1, "is_fifo: pipe read end");
	is_int(bk_io_is_fifo(p[1]), 1, "is_fifo: pipe write end");
	close(p[0]);
	close(p[1]);

	snprintf(path, sizeof(path), "%s/fifo", tap_tmpdir());
	if (mkfifo(path, 0600) == 0 &&
	    (fd = open(path, O_RDWR | O_NONBLOCK)) != -1) {
		is_int(bk_io_is_fifo(fd), 1, "is_fifo: named FIFO");
		close(fd);
	} else
		skip(1, "mkfifo failed");

	not_pipes(bk_io_is_fifo, "is_fifo");
}

/* The most a pipe may be made by one who is not root. */
static long
pipe_max(void)
{
	FILE *f = fopen("/proc/sys/fs/pipe-max-size", "r");
	long v = -1;

	if (f != NULL) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static void
test_bulk(void)
{
	unsigned char *buf;
	int p[2], fl;
	ssize_t w;
	size_t off;

	buf = malloc(BIG);

	/* A pipe is made 1 MiB, and takes that much before a writer waits:
	 * what lets a napping reader leave the writer alone. */
	xpipe(p);
	if (geteuid() != 0 && pipe_max() < BK_IO_BULK_PIPE) {
		is_int(bk_io_bulk(p[0]), 0, "bulk: refused above "
		    "pipe-max-size");
		skip(2, "pipe-max-size is below 1 MiB here");
	} else {
		is_int(bk_io_bulk(p[0]), 1, "bulk: a pipe");
		ok(fcntl(p[0], F_GETPIPE_SZ) >= BK_IO_BULK_PIPE,
		    "bulk: the pipe is 1 MiB now");
		fl = fcntl(p[1], F_GETFL);
		fcntl(p[1], F_SETFL, fl | O_NONBLOCK);
		memset(buf, 'x', BIG);
		for (off = 0; off < BIG; off += (size_t)w)
			if ((w = write(p[1], buf + off, BIG - off)) <= 0)
				break;
		is_int((long)off, BIG, "bulk: 1 MiB written without waiting");
	}
	is_int(bk_io_bulk(p[0]), 1, "bulk: asked again, still yes");
	close(p[0]);
	close(p[1]);

	not_pipes(bk_io_bulk, "bulk");

	free(buf);
}

int
main(void)
{
	test_reader(bk_io_read_full, "read_full", 0);
	test_write();
	test_fifo();
	test_bulk();
	test_reader(bk_io_read_bulk, "read_bulk", 1);
	return done_testing();
}
