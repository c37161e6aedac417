/* progress.c - unit tests for lib/progress: the -P meter. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "tap.h"
#include "progress.h"

#define MiB	(1024ULL * 1024)
#define GiB	(1024ULL * MiB)

static void
xpipe(int p[2])
{
	if (pipe(p) == -1) {
		perror("pipe");
		exit(2);
	}
	fcntl(p[0], F_SETFL, O_NONBLOCK);
}

/* Everything available on a non-blocking fd, NUL-terminated. */
static size_t
drain(int fd, char *buf, size_t size)
{
	size_t off = 0;
	ssize_t n;

	while (off < size - 1 &&
	    (n = read(fd, buf + off, size - 1 - off)) > 0)
		off += (size_t)n;
	buf[off] = '\0';
	return off;
}

static int
count(const char *s, int c)
{
	int n = 0;

	for (; *s != '\0'; s++)
		if (*s == c)
			n++;
	return n;
}

static int
sane(const char *s)
{
	return strstr(s, "nan") == NULL && strstr(s, "inf") == NULL &&
	    strstr(s, "NaN") == NULL && strstr(s, "INF") == NULL &&
	    strchr(s, '\n') == NULL && strchr(s, '\r') == NULL;
}

/*
 * Does s show the size want (in unit, e.g. "GiB") as its nth number with
 * that unit (n from 1)?  "1.5 GiB" and "1.50 GiB" both show 1.5 GiB.
 */
static int
shows(const char *s, int nth, double want, const char *unit)
{
	const char *u = s, *b;
	size_t ulen = strlen(unit);

	while ((u = strstr(u, unit)) != NULL) {
		b = u;
		if (b > s && b[-1] == ' ')
			b--;
		while (b > s && ((b[-1] >= '0' && b[-1] <= '9') ||
		    b[-1] == '.'))
			b--;
		if (b < u && b[0] >= '0' && b[0] <= '9' &&
		    (u[ulen] == '\0' || u[ulen] == ' ') && --nth == 0) {
			double v = strtod(b, NULL);

			return v > want - 0.006 && v < want + 0.006;
		}
		u += ulen;
	}
	return 0;
}

static void
test_format(void)
{
	char buf[256];
	size_t i;
	int intact;

	bk_progress_format(buf, sizeof(buf), 3 * GiB / 2, 0, 12.0);
	diag("without total: \"%s\"", buf);
	ok(shows(buf, 1, 1.5, "GiB"), "shows the bytes done (1.5 GiB)");
	ok(shows(buf, 1, 128, "MiB/s"), "shows the rate (128 MiB/s)");
	ok(strstr(buf, "0:12") != NULL, "shows the elapsed time");
	ok(strchr(buf, '%') == NULL, "no percentage without a total");
	ok(strstr(buf, "ETA") == NULL, "no ETA without a total");
	ok(sane(buf), "one clean line");

	bk_progress_format(buf, sizeof(buf), 3 * GiB / 2, 3 * GiB, 12.0);
	diag("with total: \"%s\"", buf);
	ok(shows(buf, 1, 1.5, "GiB"), "with total: shows the bytes done");
	ok(shows(buf, 2, 3, "GiB"), "with total: shows the total (3 GiB)");
	ok(shows(buf, 1, 128, "MiB/s"), "with total: shows the rate");
	ok(strstr(buf, "50%") != NULL, "with total: shows 50%%");
	ok(strstr(buf, "ETA 0:12") != NULL, "with total: shows ETA 0:12");
	ok(sane(buf), "with total: one clean line");

	bk_progress_format(buf, sizeof(buf), 10 * MiB, 40 * MiB, 65.0);
	ok(strstr(buf, "25%") != NULL, "25%% of the total");
	ok(strstr(buf, "1:05") != NULL, "65 seconds shows as 1:05 (\"%s\")",
	    buf);
	ok(strstr(buf, "ETA 3:15") != NULL, "ETA 3:15 at this rate (\"%s\")",
	    buf);

	bk_progress_format(buf, sizeof(buf), 0, 0, 0.0);
	ok(sane(buf) && buf[0] != '\0', "nothing done in no time: \"%s\"",
	    buf);
	bk_progress_format(buf, sizeof(buf), 0, 100, 0.0);
	ok(sane(buf) && strstr(buf, "0%") != NULL,
	    "0%% of a total in no time: \"%s\"", buf);
	bk_progress_format(buf, sizeof(buf), 5 * MiB, 0, 0.0);
	ok(sane(buf), "bytes in zero time: \"%s\"", buf);
	bk_progress_format(buf, sizeof(buf), 200, 100, 1.0);
	ok(sane(buf), "more than the total: \"%s\"", buf);

	memset(buf, 'Z', sizeof(buf));
	bk_progress_format(buf, 10, 3 * GiB / 2, 3 * GiB, 12.0);
	intact = 1;
	for (i = 10; i < sizeof(buf); i++)
		if (buf[i] != 'Z')
			intact = 0;
	ok(intact && memchr(buf, '\0', 10) != NULL,
	    "a small buffer is not overrun");
}

static void
test_parse(void)
{
	enum bk_progress_mode m;

	m = BK_PROGRESS_OFF;
	is_int(bk_progress_parse(NULL, &m), 0, "parse(NULL) succeeds");
	is_int(m, BK_PROGRESS_AUTO, "parse(NULL) is AUTO");
	m = BK_PROGRESS_OFF;
	is_int(bk_progress_parse("auto", &m), 0, "parse(auto) succeeds");
	is_int(m, BK_PROGRESS_AUTO, "parse(auto) is AUTO");
	is_int(bk_progress_parse("always", &m), 0, "parse(always) succeeds");
	is_int(m, BK_PROGRESS_ALWAYS, "parse(always) is ALWAYS");
	is_int(bk_progress_parse("never", &m), 0, "parse(never) succeeds");
	is_int(m, BK_PROGRESS_OFF, "parse(never) is OFF");
	is_int(bk_progress_parse("bogus", &m), -1, "parse(bogus) fails");
	is_int(bk_progress_parse("", &m), -1, "parse(\"\") fails");
}

static void
test_meter(void)
{
	struct bk_progress p;
	char out[8192];
	double t0, t1;
	int fds[2], i, mfd, sfd;

	/* OFF writes nothing. */
	xpipe(fds);
	bk_progress_init(&p, fds[1], BK_PROGRESS_OFF, 100);
	is_int(p.on, 0, "OFF: not on");
	bk_progress_add(&p, 50);
	bk_progress_add(&p, 50);
	bk_progress_end(&p);
	is_int(drain(fds[0], out, sizeof(out)), 0, "OFF: nothing written");
	close(fds[0]);
	close(fds[1]);

	/* AUTO into a pipe (not a terminal) writes nothing. */
	xpipe(fds);
	bk_progress_init(&p, fds[1], BK_PROGRESS_AUTO, 0);
	is_int(p.on, 0, "AUTO into a pipe: not on");
	bk_progress_add(&p, MiB);
	bk_progress_end(&p);
	is_int(drain(fds[0], out, sizeof(out)), 0, "AUTO into a pipe: nothing "
	    "written");
	close(fds[0]);
	close(fds[1]);

	/* ALWAYS into a pipe writes lines. */
	xpipe(fds);
	bk_progress_init(&p, fds[1], BK_PROGRESS_ALWAYS, 2 * MiB);
	is_int(p.on, 1, "ALWAYS into a pipe: on");
	is_int(p.tty, 0, "ALWAYS into a pipe: not a terminal");
	bk_progress_add(&p, MiB / 2);
	bk_progress_add(&p, MiB / 2);
	is_int((long long)p.done, (long long)MiB, "done counts the bytes added");
	bk_progress_end(&p);
	drain(fds[0], out, sizeof(out));
	diag("ALWAYS output: \"%.*s\"", (int)strcspn(out, "\n"), out);
	ok(out[0] != '\0', "ALWAYS: something written");
	ok(strlen(out) > 0 && out[strlen(out) - 1] == '\n',
	    "ALWAYS: ends the line");
	ok(strchr(out, '\r') == NULL, "ALWAYS into a pipe: lines, no \\r");
	ok(strstr(out, "50%") != NULL && strstr(out, "MiB") != NULL,
	    "ALWAYS: the final state (1 MiB of 2, 50%%) is shown");
	close(fds[0]);
	close(fds[1]);

	/* Many small updates are not drawn one by one. */
	xpipe(fds);
	bk_progress_init(&p, fds[1], BK_PROGRESS_ALWAYS, 0);
	for (i = 0; i < 100000; i++)
		bk_progress_add(&p, 1);
	bk_progress_end(&p);
	drain(fds[0], out, sizeof(out));
	ok(count(out, '\n') >= 1 && count(out, '\n') <= 5,
	    "100000 quick updates draw at most a few lines (%d)",
	    count(out, '\n'));
	is_int((long long)p.done, 100000, "done is 100000");
	close(fds[0]);
	close(fds[1]);

	/* A redraw happens when time passes, before the end. */
	xpipe(fds);
	bk_progress_init(&p, fds[1], BK_PROGRESS_ALWAYS, 0);
	bk_progress_add(&p, 1000);
	usleep(1200000);
	bk_progress_add(&p, 1000);
	ok(drain(fds[0], out, sizeof(out)) > 0,
	    "after 1.2 s an update is drawn before the end");
	bk_progress_end(&p);
	close(fds[0]);
	close(fds[1]);

	/* AUTO on a terminal draws in place. */
	mfd = posix_openpt(O_RDWR | O_NOCTTY);
	if (mfd == -1 || grantpt(mfd) == -1 || unlockpt(mfd) == -1 ||
	    (sfd = open(ptsname(mfd), O_RDWR | O_NOCTTY)) == -1) {
		skip(3, "no pseudo-terminal");
	} else {
		struct termios tio;

		fcntl(mfd, F_SETFL, O_NONBLOCK);
		/* No output processing: a \r seen is one the meter wrote. */
		if (tcgetattr(sfd, &tio) == 0) {
			tio.c_oflag &= ~(tcflag_t)OPOST;
			tcsetattr(sfd, TCSANOW, &tio);
		}
		bk_progress_init(&p, sfd, BK_PROGRESS_AUTO, 0);
		is_int(p.on, 1, "AUTO on a terminal: on");
		is_int(p.tty, 1, "AUTO on a terminal: tty");
		bk_progress_add(&p, MiB);
		bk_progress_end(&p);
		usleep(100000);
		drain(mfd, out, sizeof(out));
		ok(strchr(out, '\r') != NULL && strstr(out, "MiB") != NULL,
		    "AUTO on a terminal: redraws with \\r");
		close(sfd);
	}
	if (mfd != -1)
		close(mfd);

	t0 = bk_now();
	usleep(100000);
	t1 = bk_now();
	ok(t1 - t0 >= 0.09 && t1 - t0 < 2.0, "bk_now measures 0.1 s (%.3f)",
	    t1 - t0);
}

int
main(void)
{
	test_format();
	test_parse();
	test_meter();
	return done_testing();
}
