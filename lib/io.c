/* io.c - full read and write loops. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

static ssize_t
read_loop(int fd, void *buf, size_t n, int nap, const char *what,
    struct bk_err *err)
{
	char *p = buf;
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		r = read(fd, p + done, n - done > SSIZE_MAX ? SSIZE_MAX :
		    n - done);
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return bk_err_sys(err, BK_EXIT_RUNTIME, errno,
			    "read %s", what);
		}
		done += (size_t)r;
		if (nap && done < n)
			bk_io_nap();	/* it emptied the pipe */
	}
	return (ssize_t)done;
}

ssize_t
bk_io_read_full(int fd, void *buf, size_t n, const char *what,
    struct bk_err *err)
{
	return read_loop(fd, buf, n, 0, what, err);
}

ssize_t
bk_io_read_bulk(int fd, void *buf, size_t n, const char *what,
    struct bk_err *err)
{
	return read_loop(fd, buf, n, 1, what, err);
}

int
bk_io_write_all(int fd, const void *buf, size_t n, const char *what,
    struct bk_err *err)
{
	const char *p = buf;
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n > SSIZE_MAX ? SSIZE_MAX : n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return bk_err_sys(err, BK_EXIT_RUNTIME, errno,
			    "write %s", what);
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
bk_io_close(int fd, const char *what, struct bk_err *err)
{
	/* After close(2) fails the descriptor is gone anyway (Linux), so
	 * EINTR is not retried. */
	if (close(fd) < 0 && errno != EINTR)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "close %s",
		    what);
	return 0;
}

int
bk_io_is_fifo(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

int
bk_io_bulk(int fd)
{
	int size;

	if (!bk_io_is_fifo(fd))
		return 0;
	if ((size = fcntl(fd, F_GETPIPE_SZ)) >= BK_IO_BULK_PIPE)
		return 1;
	/* Refused beyond /proc/sys/fs/pipe-max-size (1 MiB by default). */
	size = fcntl(fd, F_SETPIPE_SZ, BK_IO_BULK_PIPE);
	return size >= BK_IO_BULK_PIPE;
}

bk_io_read_fn
bk_io_reader(int fd)
{
	return bk_io_bulk(fd) ? bk_io_read_bulk : bk_io_read_full;
}

void
bk_io_nap(void)
{
	struct timespec ts = { 0, BK_IO_NAP_US * 1000L };

	(void)nanosleep(&ts, NULL);	/* a signal may cut it short */
}

ssize_t
bk_io_read_stop(int fd, void *buf, size_t n, const volatile sig_atomic_t *stop,
    void (*each)(void *, uint64_t), void *arg, const char *what,
    struct bk_err *err)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		if (*stop)
			return bk_err_set(err, BK_EXIT_RUNTIME, "interrupted");
		r = read(fd, (char *)buf + got, n - got);
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s",
			    what);
		}
		got += (size_t)r;
		if (each != NULL)
			each(arg, (uint64_t)r);
	}
	if (*stop)
		return bk_err_set(err, BK_EXIT_RUNTIME, "interrupted");
	return (ssize_t)got;
}
