/* io.c - full read and write loops. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

ssize_t
bk_io_read_full(int fd, void *buf, size_t n, const char *what,
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
	}
	return (ssize_t)done;
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
