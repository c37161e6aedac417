/* listing.c - the listing line format: TIME SIZE URL, one object a line. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "listing.h"

#define CHUNK		65536	/* bytes read at a time */
#define QUOTEMAX	48	/* bytes of a bad field shown in a message */

/* A control character: never part of a listing line. */
static int
isctrl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static int
isdigitc(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Copy the len bytes at s into dst for a message: at most QUOTEMAX of
 * them, control characters as '?', "..." when cut.  dst holds
 * QUOTEMAX + 4 bytes.
 */
static const char *
quote(char *dst, const char *s, size_t len)
{
	size_t i, n = len > QUOTEMAX ? QUOTEMAX : len;

	for (i = 0; i < n; i++)
		dst[i] = isctrl((unsigned char)s[i]) ? '?' : s[i];
	if (n < len) {
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n] = '\0';
	return dst;
}

void
bk_listing_init(struct bk_listing *l)
{
	l->obj = NULL;
	l->n = 0;
	l->cap = 0;
}

void
bk_listing_free(struct bk_listing *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->obj[i].url);
	free(l->obj);
	bk_listing_init(l);
}

/* Append o, taking over its URL.  On failure the URL is the caller's. */
static int
push(struct bk_listing *l, const struct bk_listing_obj *o, struct bk_err *err)
{
	struct bk_listing_obj *p;
	size_t cap;

	if (l->n == l->cap) {
		cap = l->cap == 0 ? 64 : l->cap * 2;
		if (cap > SIZE_MAX / sizeof(*p))
			return bk_err_set(err, BK_EXIT_RUNTIME,
			    "listing: too many objects");
		if ((p = realloc(l->obj, cap * sizeof(*p))) == NULL)
			return bk_err_sys(err, BK_EXIT_RUNTIME, errno,
			    "listing");
		l->obj = p;
		l->cap = cap;
	}
	l->obj[l->n++] = *o;
	return 0;
}

int
bk_listing_add(struct bk_listing *l, time_t t, uint64_t size,
    const char *url, struct bk_err *err)
{
	struct bk_listing_obj o;

	o.time = t;
	o.size = size;
	if ((o.url = strdup(url)) == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "listing");
	if (push(l, &o, err) == -1) {
		free(o.url);
		return -1;
	}
	return 0;
}

/* --- time ----------------------------------------------------------------- */

int
bk_listing_fmt_time(time_t t, char *buf, size_t size, struct bk_err *err)
{
	struct tm tm;

	/* The parser's range: four-digit years, nothing before the epoch
	 * (no object was modified before 1970; a negative time is a bug). */
	if (t < 0 || gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999)
		return bk_err_set(err, BK_EXIT_CHECK,
		    "time %lld: out of range", (long long)t);
	if (size < BK_LISTING_TIMELEN + 1)
		return bk_err_set(err, BK_EXIT_CHECK,
		    "time %lld: buffer too small", (long long)t);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
	return 0;
}

/* The number in the digits s[0..n-1] (checked to be digits). */
static int
num(const char *s, size_t n)
{
	int v = 0;

	while (n-- > 0)
		v = v * 10 + (*s++ - '0');
	return v;
}

int
bk_listing_parse_time(const char *s, size_t len, time_t *t,
    struct bk_err *err)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	char q[QUOTEMAX + 4];
	struct tm tm, back;
	time_t v;
	size_t i;
	int year, mon, day, hour, min, sec;

	if (len != BK_LISTING_TIMELEN)
		goto shape;
	for (i = 0; i < len; i++)
		if (shape[i] == 'd' ? !isdigitc(s[i]) : s[i] != shape[i])
			goto shape;
	year = num(s, 4);
	mon = num(s + 5, 2);
	day = num(s + 8, 2);
	hour = num(s + 11, 2);
	min = num(s + 14, 2);
	sec = num(s + 17, 2);
	quote(q, s, len);
	if (year < 1970)
		return bk_err_set(err, BK_EXIT_CHECK,
		    "time \"%s\": before 1970", q);
	if (mon < 1 || mon > 12)
		return bk_err_set(err, BK_EXIT_CHECK,
		    "time \"%s\": month %02d out of range", q, mon);
	if (day < 1 || day > 31)
		return bk_err_set(err, BK_EXIT_CHECK,
		    "time \"%s\": day %02d out of range", q, day);
	if (hour > 23)
		return bk_err_set(err, BK_EXIT_CHECK,
		    "time \"%s\": hour %02d out of range", q, hour);
	if (min > 59)
		return bk_err_set(err, BK_EXIT_CHECK,
		    "time \"%s\": minute %02d out of range", q, min);
	/* No leap second: S3 and stat(2) never report one, and timegm()
	 * would quietly turn it into the next minute. */
	if (sec > 59)
		return bk_err_set(err, BK_EXIT_CHECK,
		    "time \"%s\": second %02d out of range", q, sec);

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	errno = 0;
	v = timegm(&tm);
	if (v == (time_t)-1 && errno != 0)
		return bk_err_set(err, BK_EXIT_CHECK,
		    "time \"%s\": out of range", q);
	/* timegm() normalizes February 30 to March 2: a day that does not
	 * come back unchanged does not exist. */
	if (gmtime_r(&v, &back) == NULL || back.tm_year != year - 1900 ||
	    back.tm_mon != mon - 1 || back.tm_mday != day)
		return bk_err_set(err, BK_EXIT_CHECK,
		    "time \"%s\": no such date", q);
	*t = v;
	return 0;
shape:
	return bk_err_set(err, BK_EXIT_CHECK,
	    "time \"%s\": not YYYY-MM-DDTHH:MM:SSZ", quote(q, s, len));
}

/* --- writing -------------------------------------------------------------- */

/* Refuse a URL the parser would refuse, so that every line written reads
 * back. */
static int
check_url(const char *url, struct bk_err *err)
{
	char q[QUOTEMAX + 4];
	const char *p;

	if (url == NULL || *url == '\0')
		return bk_err_set(err, BK_EXIT_CHECK, "empty URL");
	if (*url == ' ')
		return bk_err_set(err, BK_EXIT_CHECK,
		    "URL \"%s\": starts with a blank", quote(q, url,
		    strlen(url)));
	for (p = url; *p != '\0'; p++)
		if (isctrl((unsigned char)*p))
			return bk_err_set(err, BK_EXIT_CHECK,
			    "URL \"%s\": control character 0x%02x",
			    quote(q, url, strlen(url)), (unsigned char)*p);
	return 0;
}

int
bk_listing_format(const struct bk_listing_obj *o, char *buf, size_t size,
    struct bk_err *err)
{
	char when[BK_LISTING_TIMELEN + 1], q[QUOTEMAX + 4];
	int n;

	if (check_url(o->url, err) == -1 ||
	    bk_listing_fmt_time(o->time, when, sizeof(when), err) == -1)
		return -1;
	n = snprintf(buf, size, "%s %" PRIu64 " %s\n", when, o->size,
	    o->url);
	if (n < 0 || n > BK_LISTING_LINEMAX)
		return bk_err_set(err, BK_EXIT_CHECK,
		    "URL \"%s\": line longer than %d bytes",
		    quote(q, o->url, strlen(o->url)), BK_LISTING_LINEMAX);
	if ((size_t)n >= size)
		return bk_err_set(err, BK_EXIT_CHECK,
		    "URL \"%s\": buffer too small",
		    quote(q, o->url, strlen(o->url)));
	return n;
}

int
bk_listing_write(FILE *fp, const struct bk_listing_obj *o,
    struct bk_err *err)
{
	char line[BK_LISTING_LINEMAX + 1];
	int n;

	if ((n = bk_listing_format(o, line, sizeof(line), err)) == -1)
		return -1;
	if (fwrite(line, 1, (size_t)n, fp) != (size_t)n)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno,
		    "write listing");
	return 0;
}

/* Whether the NUL-terminated s is valid UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF). */
static int
utf8_valid(const unsigned char *s)
{
	unsigned char lo, hi;
	int more;

	while (*s != '\0') {
		if (*s < 0x80) {
			s++;
			continue;
		}
		lo = 0x80;
		hi = 0xbf;
		if (*s >= 0xc2 && *s <= 0xdf)
			more = 1;
		else if (*s >= 0xe0 && *s <= 0xef) {
			more = 2;
			if (*s == 0xe0)
				lo = 0xa0;	/* overlong */
			else if (*s == 0xed)
				hi = 0x9f;	/* surrogates */
		} else if (*s >= 0xf0 && *s <= 0xf4) {
			more = 3;
			if (*s == 0xf0)
				lo = 0x90;	/* overlong */
			else if (*s == 0xf4)
				hi = 0x8f;	/* above U+10FFFF */
		} else
			return 0;
		s++;
		/* Only the first continuation byte has the narrowed range;
		 * a NUL fails the range check and ends the walk. */
		if (*s < lo || *s > hi)
			return 0;
		for (s++; --more > 0; s++)
			if (*s < 0x80 || *s > 0xbf)
				return 0;
	}
	return 1;
}

int
bk_listing_format_json(const struct bk_listing_obj *o, char *buf,
    size_t size, struct bk_err *err)
{
	char when[BK_LISTING_TIMELEN + 1], q[QUOTEMAX + 4], esc[8];
	const unsigned char *p;
	size_t n, k;
	int m;

	if (o->url == NULL)
		return bk_err_set(err, BK_EXIT_CHECK, "empty URL");
	if (bk_listing_fmt_time(o->time, when, sizeof(when), err) == -1)
		return -1;
	if (!utf8_valid((const unsigned char *)o->url))
		return bk_err_set(err, BK_EXIT_CHECK,
		    "URL \"%s\": not UTF-8, which JSON cannot carry",
		    quote(q, o->url, strlen(o->url)));
	m = snprintf(buf, size, "{\"time\":\"%s\",\"size\":%" PRIu64
	    ",\"url\":\"", when, o->size);
	if (m < 0 || (size_t)m >= size)
		goto small;
	n = (size_t)m;
	for (p = (const unsigned char *)o->url; *p != '\0'; p++) {
		switch (*p) {
		case '"':	memcpy(esc, "\\\"", 3); break;
		case '\\':	memcpy(esc, "\\\\", 3); break;
		case '\b':	memcpy(esc, "\\b", 3); break;
		case '\f':	memcpy(esc, "\\f", 3); break;
		case '\n':	memcpy(esc, "\\n", 3); break;
		case '\r':	memcpy(esc, "\\r", 3); break;
		case '\t':	memcpy(esc, "\\t", 3); break;
		default:
			if (isctrl(*p))
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
			else {
				esc[0] = (char)*p;
				esc[1] = '\0';
			}
		}
		k = strlen(esc);
		if (n + k >= size)
			goto small;
		memcpy(buf + n, esc, k);
		n += k;
	}
	if (n + 2 >= size)
		goto small;
	memcpy(buf + n, "\"}", 3);
	return (int)(n + 2);
small:
	return bk_err_set(err, BK_EXIT_CHECK, "URL \"%s\": buffer too small",
	    quote(q, o->url, strlen(o->url)));
}

int
bk_listing_write_json(FILE *fp, const struct bk_listing_obj *o,
    struct bk_err *err)
{
	char *buf;
	size_t size;
	int n;

	/* Worst case: every URL byte a \u00XX escape. */
	size = (o->url != NULL ? strlen(o->url) * 6 : 0) + 128;
	if ((buf = malloc(size)) == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "write listing");
	if ((n = bk_listing_format_json(o, buf, size - 1, err)) == -1) {
		free(buf);
		return -1;
	}
	buf[n++] = '\n';
	if (fwrite(buf, 1, (size_t)n, fp) != (size_t)n) {
		free(buf);
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno,
		    "write listing");
	}
	free(buf);
	return 0;
}

/* --- reading -------------------------------------------------------------- */

/* Parse the size field: digits only, no leading zero, at most
 * UINT64_MAX. */
static int
parse_size(const char *s, size_t len, uint64_t *out, struct bk_err *err)
{
	char q[QUOTEMAX + 4];
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < len; i++)
		if (!isdigitc(s[i]))
			return bk_err_set(err, BK_EXIT_CHECK,
			    "size \"%s\": not a decimal number",
			    quote(q, s, len));
	if (len > 1 && s[0] == '0')
		return bk_err_set(err, BK_EXIT_CHECK,
		    "size \"%s\": leading zero", quote(q, s, len));
	for (i = 0; i < len; i++) {
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return bk_err_set(err, BK_EXIT_CHECK,
			    "size \"%s\": out of range", quote(q, s, len));
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int
bk_listing_parse_line(const char *line, size_t len, unsigned long lineno,
    struct bk_listing_obj *o, struct bk_err *err)
{
	const char *sp, *size, *url;
	size_t i, tlen, slen, ulen;
	uint64_t sz = 0;
	time_t t = 0;
	char *u;

	if (len == 0)
		return bk_err_set(err, BK_EXIT_CHECK, "line %lu: blank line",
		    lineno);
	if (len >= BK_LISTING_LINEMAX)
		return bk_err_set(err, BK_EXIT_CHECK,
		    "line %lu: longer than %d bytes", lineno,
		    BK_LISTING_LINEMAX);
	for (i = 0; i < len; i++) {
		if (!isctrl((unsigned char)line[i]))
			continue;
		if (line[i] == '\r' && i == len - 1)
			return bk_err_set(err, BK_EXIT_CHECK,
			    "line %lu: carriage return at the end (CRLF "
			    "line ends?)", lineno);
		return bk_err_set(err, BK_EXIT_CHECK,
		    "line %lu: control character 0x%02x at byte %zu", lineno,
		    (unsigned char)line[i], i + 1);
	}

	if ((sp = memchr(line, ' ', len)) == NULL)
		return bk_err_set(err, BK_EXIT_CHECK,
		    "line %lu: missing size and URL", lineno);
	if ((tlen = (size_t)(sp - line)) == 0)
		return bk_err_set(err, BK_EXIT_CHECK,
		    "line %lu: starts with a blank", lineno);
	if (bk_listing_parse_time(line, tlen, &t, err) == -1)
		return bk_err_prefix(err, "line %lu", lineno);

	size = sp + 1;
	slen = len - tlen - 1;
	if (slen == 0)
		return bk_err_set(err, BK_EXIT_CHECK,
		    "line %lu: missing size and URL", lineno);
	if ((sp = memchr(size, ' ', slen)) == NULL)
		return bk_err_set(err, BK_EXIT_CHECK,
		    "line %lu: missing URL", lineno);
	if ((slen = (size_t)(sp - size)) == 0)
		return bk_err_set(err, BK_EXIT_CHECK,
		    "line %lu: empty size (two blanks after the time?)",
		    lineno);
	if (parse_size(size, slen, &sz, err) == -1)
		return bk_err_prefix(err, "line %lu", lineno);

	url = sp + 1;
	ulen = len - (size_t)(url - line);
	if (ulen == 0)
		return bk_err_set(err, BK_EXIT_CHECK,
		    "line %lu: missing URL", lineno);
	if (url[0] == ' ')
		return bk_err_set(err, BK_EXIT_CHECK,
		    "line %lu: URL starts with a blank (two blanks after the "
		    "size?)", lineno);
	if ((u = malloc(ulen + 1)) == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "line %lu",
		    lineno);
	memcpy(u, url, ulen);
	u[ulen] = '\0';
	o->time = t;
	o->size = sz;
	o->url = u;
	return 0;
}

/* Where a listing comes from: a descriptor, or a stdio stream. */
struct src {
	int	 fd;
	FILE	*fp;
};

/* Read up to n bytes; fewer only at end of file.  Returns the count or
 * -1 with err. */
static ssize_t
src_read(struct src *s, char *buf, size_t n, const char *what,
    struct bk_err *err)
{
	size_t k;

	if (s->fp == NULL)
		return bk_io_read_full(s->fd, buf, n, what, err);
	k = fread(buf, 1, n, s->fp);
	if (k < n && ferror(s->fp))
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "read %s",
		    what);
	return (ssize_t)k;
}

static int
read_listing(struct src *s, const char *what, struct bk_listing *l,
    struct bk_err *err)
{
	struct bk_listing_obj o;
	unsigned long lineno = 1;
	char *chunk, *line, *p, *end, *nl;
	size_t llen = 0, k;
	ssize_t n;
	int rc = -1;

	chunk = malloc(CHUNK);
	line = malloc(BK_LISTING_LINEMAX);
	if (chunk == NULL || line == NULL) {
		bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s", what);
		goto out;
	}
	/* Lines are gathered in a bounded buffer: a line that does not
	 * fit is refused as soon as it overflows, whatever its length. */
	for (;;) {
		if ((n = src_read(s, chunk, CHUNK, what, err)) == -1)
			goto out;
		if (n == 0)
			break;
		for (p = chunk, end = chunk + n; p < end; p = nl + 1) {
			nl = memchr(p, '\n', (size_t)(end - p));
			k = (size_t)((nl != NULL ? nl : end) - p);
			if (llen + k >= BK_LISTING_LINEMAX) {
				bk_err_set(err, BK_EXIT_CHECK,
				    "%s: line %lu: longer than %d bytes",
				    what, lineno, BK_LISTING_LINEMAX);
				goto out;
			}
			memcpy(line + llen, p, k);
			llen += k;
			if (nl == NULL)
				break;
			if (bk_listing_parse_line(line, llen, lineno, &o,
			    err) == -1) {
				bk_err_prefix(err, "%s", what);
				goto out;
			}
			if (push(l, &o, err) == -1) {
				free(o.url);
				goto out;
			}
			lineno++;
			llen = 0;
		}
		if (n < CHUNK)
			break;
	}
	if (llen > 0) {
		bk_err_set(err, BK_EXIT_CHECK,
		    "%s: line %lu: no newline at the end (listing cut short?)",
		    what, lineno);
		goto out;
	}
	rc = 0;
out:
	free(chunk);
	free(line);
	return rc;
}

int
bk_listing_read(int fd, const char *what, struct bk_listing *l,
    struct bk_err *err)
{
	struct src s = { fd, NULL };

	return read_listing(&s, what, l, err);
}

int
bk_listing_read_file(FILE *fp, const char *what, struct bk_listing *l,
    struct bk_err *err)
{
	struct src s = { -1, fp };

	return read_listing(&s, what, l, err);
}
