/*
 * progress.h - the stderr progress meter behind -P.
 *
 * Shows bytes done, rate and elapsed time (and a percentage and ETA when
 * the total is known), redrawn at most a few times a second.  It draws
 * only where stderr is a terminal, unless forced.
 */
#ifndef BK_PROGRESS_H
#define BK_PROGRESS_H

#include <stdint.h>

enum bk_progress_mode {
	BK_PROGRESS_OFF,	/* no meter */
	BK_PROGRESS_AUTO,	/* -P: only if the fd is a terminal */
	BK_PROGRESS_ALWAYS	/* --progress=always: even into a file */
};

struct bk_progress {
	int		fd;		/* where to draw (2) */
	int		on;		/* drawing at all */
	int		tty;		/* redraw in place with \r */
	uint64_t	total;		/* expected bytes, 0 if unknown */
	uint64_t	done;		/* bytes so far */
	double		start;		/* monotonic seconds */
	double		last;		/* last redraw */
	int		drawn;		/* something is on the line */
};

/* Start a meter writing to fd (normally 2); total may be 0 (unknown). */
void	bk_progress_init(struct bk_progress *p, int fd,
	    enum bk_progress_mode mode, uint64_t total);

/* Add n bytes; redraw if enough time has passed. */
void	bk_progress_add(struct bk_progress *p, uint64_t n);

/* Draw the final state and end the line.  Safe when off. */
void	bk_progress_end(struct bk_progress *p);

/*
 * Format the meter's line for done bytes after elapsed seconds into buf
 * (no \r or newline): "1.5 GiB  123 MiB/s  0:12" or, with a total,
 * "1.5 GiB / 3 GiB   50%  128 MiB/s  0:12  ETA 0:12".
 */
void	bk_progress_format(char *buf, size_t size, uint64_t done,
	    uint64_t total, double elapsed);

/* Parse a --progress argument: NULL or "auto" -> AUTO, "always", "never". */
int	bk_progress_parse(const char *arg, enum bk_progress_mode *mode);

/* Monotonic clock in seconds. */
double	bk_now(void);

#endif
