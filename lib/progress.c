/* progress.c - the stderr progress meter behind -P. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "progress.h"

#define REDRAW	0.25	/* seconds between redraws on a terminal */
#define RELINE	1.0	/* ... and between lines into a file */

double
bk_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
bk_progress_parse(const char *arg, enum bk_progress_mode *mode)
{
	if (arg == NULL || strcmp(arg, "auto") == 0)
		*mode = BK_PROGRESS_AUTO;
	else if (strcmp(arg, "always") == 0)
		*mode = BK_PROGRESS_ALWAYS;
	else if (strcmp(arg, "never") == 0)
		*mode = BK_PROGRESS_OFF;
	else
		return -1;
	return 0;
}

void
bk_progress_init(struct bk_progress *p, int fd, enum bk_progress_mode mode,
    uint64_t total)
{
	memset(p, 0, sizeof(*p));
	p->fd = fd;
	p->tty = isatty(fd);
	p->on = mode == BK_PROGRESS_ALWAYS ||
	    (mode == BK_PROGRESS_AUTO && p->tty);
	p->total = total;
	p->start = p->last = bk_now();
}

static void
clock_fmt(char *buf, size_t size, double secs)
{
	unsigned long s = secs < 0 ? 0 : (unsigned long)secs;

	if (s >= 3600)
		snprintf(buf, size, "%lu:%02lu:%02lu", s / 3600,
		    s / 60 % 60, s % 60);
	else
		snprintf(buf, size, "%lu:%02lu", s / 60, s % 60);
}

void
bk_progress_format(char *buf, size_t size, uint64_t done, uint64_t total,
    double elapsed)
{
	char d[32], t[32], r[32], e[32], eta[32];
	double rate = elapsed > 0 ? (double)done / elapsed : 0;

	bk_fmt_size(d, sizeof(d), done);
	bk_fmt_size(r, sizeof(r), (uint64_t)rate);
	clock_fmt(e, sizeof(e), elapsed);
	if (total > 0) {
		bk_fmt_size(t, sizeof(t), total);
		if (rate > 0 && done < total)
			clock_fmt(eta, sizeof(eta),
			    (double)(total - done) / rate);
		else
			snprintf(eta, sizeof(eta), "-");
		snprintf(buf, size, "%s / %s  %3d%%  %s/s  %s  ETA %s", d, t,
		    (int)(done >= total ? 100 : done * 100 / total), r, e,
		    eta);
	} else
		snprintf(buf, size, "%s  %s/s  %s", d, r, e);
}

static void
draw(struct bk_progress *p, double now, int final)
{
	char line[160], out[200];
	ssize_t w;
	int n;

	bk_progress_format(line, sizeof(line), p->done, p->total,
	    now - p->start);
	if (p->tty)
		n = snprintf(out, sizeof(out), "\r%s: %-60s%s", bk_progname,
		    line, final ? "\n" : "");
	else
		n = snprintf(out, sizeof(out), "%s: %s\n", bk_progname, line);
	/* A meter that cannot draw is not worth failing the run for. */
	w = write(p->fd, out, (size_t)n);
	(void)w;
	p->drawn = p->tty && !final;
	p->last = now;
}

void
bk_progress_add(struct bk_progress *p, uint64_t n)
{
	double now;

	p->done += n;
	if (!p->on)
		return;
	now = bk_now();
	if (now - p->last >= (p->tty ? REDRAW : RELINE))
		draw(p, now, 0);
}

void
bk_progress_end(struct bk_progress *p)
{
	if (!p->on)
		return;
	draw(p, bk_now(), 1);
	p->on = 0;
}
