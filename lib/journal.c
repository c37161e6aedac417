/* journal.c - the run journal: one JSON line per run. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "io.h"
#include "journal.h"

struct out {
	char	*buf;
	size_t	 size;
	size_t	 len;
	int	 full;
};

static void
put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->size - o->len)
		o->full = 1;
	else
		o->len += (size_t)n;
}

/* A JSON string (RFC 8259): quotes, backslash and control characters are
 * escaped; other bytes pass as they are. */
static void
putstr(struct out *o, const char *key, const char *s)
{
	const unsigned char *p;

	put(o, ",\"%s\":", key);
	if (s == NULL) {
		put(o, "null");
		return;
	}
	put(o, "\"");
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '"':	put(o, "\\\""); break;
		case '\\':	put(o, "\\\\"); break;
		case '\n':	put(o, "\\n"); break;
		case '\r':	put(o, "\\r"); break;
		case '\t':	put(o, "\\t"); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				put(o, "\\u%04x", *p);
			else
				put(o, "%c", *p);
		}
	}
	put(o, "\"");
}

int
bk_journal_format(const struct bk_journal_rec *rec, char *buf, size_t size)
{
	struct out o = { buf, size, 0, 0 };
	char when[32];
	struct tm tm;

	if (size == 0)
		return -1;
	if (gmtime_r(&rec->time, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(when, sizeof(when), "1970-01-01T00:00:00Z");
	put(&o, "{\"time\":\"%s\"", when);
	putstr(&o, "tool", rec->tool);
	putstr(&o, "outcome", rec->outcome);
	put(&o, ",\"exit\":%d,\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64
	    ",\"seconds\":%.3f", rec->exit, rec->bytes_in, rec->bytes_out,
	    rec->seconds < 0 ? 0 : rec->seconds);
	putstr(&o, "seal", rec->seal);
	putstr(&o, "destination", rec->destination);
	putstr(&o, "sha256", rec->sha256);
	putstr(&o, "error", rec->error);
	put(&o, "}\n");
	return o.full ? -1 : (int)o.len;
}

int
bk_journal_append(const char *path, const struct bk_journal_rec *rec,
    struct bk_err *err)
{
	char line[4096];
	int fd, n, rc = 0;

	n = bk_journal_format(rec, line, sizeof(line));
	if (n < 0)
		return bk_err_set(err, BK_EXIT_RUNTIME,
		    "journal %s: record too long", path);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "journal %s",
		    path);
	/* O_APPEND makes each write land at the end; the lock keeps a
	 * reader that takes a shared lock from seeing half a line. */
	while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
		;
	if (bk_io_write_all(fd, line, (size_t)n, path, err) < 0)
		rc = bk_err_prefix(err, "journal");
	if (close(fd) < 0 && rc == 0)
		rc = bk_err_sys(err, BK_EXIT_RUNTIME, errno, "journal %s",
		    path);
	return rc;
}

int
bk_journal_env(const struct bk_journal_rec *rec, struct bk_err *err)
{
	const char *path = getenv("BK_JOURNAL");

	if (path == NULL || *path == '\0')
		return 0;
	return bk_journal_append(path, rec, err);
}
