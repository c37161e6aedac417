/*
 * io.h - full read and write loops.
 *
 * read(2) and write(2) may transfer less than asked and may be interrupted;
 * these loops hide both.  A write to a reader that went away fails with
 * err->sys == EPIPE (SIGPIPE is ignored by bk_cli_init()), which tools
 * treat as a quiet failure.
 */
#ifndef BK_IO_H
#define BK_IO_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/*
 * Read up to n bytes from fd into buf, looping over short reads and EINTR
 * until n bytes are read or end of file.  Returns the number of bytes read
 * (less than n only at end of file), or -1 with err filled (BK_EXIT_RUNTIME;
 * what names the stream in the message).
 */
ssize_t	bk_io_read_full(int fd, void *buf, size_t n, const char *what,
	    struct bk_err *err);

/*
 * Like bk_io_read_full(), but give up when *stop becomes non-zero: a
 * signal handler sets it, and the read(2) it interrupts (a handler
 * installed without SA_RESTART) returns.  each(arg, bytes), if not NULL,
 * is called after every read(2) that got some (a progress meter).
 * Returns the bytes read, or -1 with err ("interrupted" when stopped).
 */
ssize_t	bk_io_read_stop(int fd, void *buf, size_t n,
	    const volatile sig_atomic_t *stop, void (*each)(void *, uint64_t),
	    void *arg, const char *what, struct bk_err *err);

/*
 * Write all n bytes of buf to fd, looping over short writes and EINTR.
 * Returns 0, or -1 with err filled (err->sys is the errno, EPIPE when the
 * reader went away).
 */
int	bk_io_write_all(int fd, const void *buf, size_t n, const char *what,
	    struct bk_err *err);

/*
 * Close fd and report a failure (a close(2) error can be the first sign
 * of a failed write on some filesystems).  Returns 0 or -1 with err.
 */
int	bk_io_close(int fd, const char *what, struct bk_err *err);

/* Return 1 if fd is an anonymous pipe or a FIFO, 0 otherwise. */
int	bk_io_is_fifo(int fd);

/*
 * Reading a pipe in bulk.  A reader that takes each write as it comes is
 * woken once per write, and a writer that writes 4 KiB at a time (stdio's
 * buffer on a pipe, as in pg_dump) then costs two context switches every
 * 4 KiB: more CPU than the copying.  The cure is to let the pipe fill:
 * bk_io_bulk() makes fd's pipe BK_IO_BULK_PIPE bytes and returns 1 if it
 * is a pipe that large now (0 otherwise: not a pipe, or the kernel said
 * no); for such a pipe, bk_io_nap() after a read that emptied it sleeps
 * BK_IO_NAP_US.  The writer never waits for that: it would need 2 GB/s
 * to fill the pipe in the time.
 */
#define BK_IO_BULK_PIPE	(1024 * 1024)
#define BK_IO_NAP_US	500

int	bk_io_bulk(int fd);
void	bk_io_nap(void);

/* bk_io_read_full() with a bk_io_nap() after each read that got less than
 * was still wanted: for a pipe bk_io_bulk() said yes to. */
ssize_t	bk_io_read_bulk(int fd, void *buf, size_t n, const char *what,
	    struct bk_err *err);

/* The reader for a stream: bk_io_read_bulk() if bk_io_bulk(fd) says yes,
 * else bk_io_read_full(). */
typedef ssize_t (*bk_io_read_fn)(int, void *, size_t, const char *,
    struct bk_err *);
bk_io_read_fn	bk_io_reader(int fd);

#endif
