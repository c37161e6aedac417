/* listing.c - unit tests for lib/listing: the TIME SIZE URL line format. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "listing.h"
#include "tap.h"

/* 2025-11-21T12:00:00Z */
#define T1	((time_t)1763726400)
/* 9999-12-31T23:59:59Z, the last time a listing can hold. */
#define TMAX	((time_t)253402300799LL)

/* --- times ---------------------------------------------------------------- */

static void
time_ok(const char *s, time_t want)
{
	struct bk_err e;
	time_t t = -12345;
	char back[32];
	int rc;

	bk_err_clear(&e);
	rc = bk_listing_parse_time(s, strlen(s), &t, &e);
	if (!ok(rc == 0 && t == want && bk_listing_fmt_time(t, back,
	    sizeof(back), &e) == 0 && strcmp(back, s) == 0,
	    "time %s = %lld and formats back", s, (long long)want))
		diag("  rc %d, t %lld, err \"%s\"", rc, (long long)t, e.msg);
}

/* s is refused, and the message says why (contains want). */
static void
time_bad(const char *s, const char *want)
{
	struct bk_err e;
	time_t t = -12345;
	int rc;

	bk_err_clear(&e);
	rc = bk_listing_parse_time(s, strlen(s), &t, &e);
	if (!ok(rc == -1 && e.code == BK_EXIT_CHECK && t == -12345 &&
	    strstr(e.msg, want) != NULL,
	    "time \"%s\" refused: %s", s, want))
		diag("  rc %d, code %d, err \"%s\"", rc, e.code, e.msg);
}

static void
test_times(void)
{
	struct bk_err e;
	char buf[32];

	time_ok("1970-01-01T00:00:00Z", 0);
	time_ok("2025-11-21T12:00:00Z", T1);
	time_ok("2024-02-29T23:59:59Z", (time_t)1709251199);
	time_ok("2000-02-29T00:00:00Z", (time_t)951782400);
	time_ok("2038-01-19T03:14:08Z", (time_t)2147483648LL);
	time_ok("9999-12-31T23:59:59Z", TMAX);

	/* The calendar: no February 30, no 29th in a common year. */
	time_bad("2026-02-29T00:00:00Z", "no such date");
	time_bad("2026-02-30T00:00:00Z", "no such date");
	time_bad("2100-02-29T00:00:00Z", "no such date");
	time_bad("2026-04-31T00:00:00Z", "no such date");
	time_bad("2026-11-31T12:00:00Z", "no such date");
	/* Fields out of range. */
	time_bad("2026-00-10T00:00:00Z", "month 00 out of range");
	time_bad("2026-13-10T00:00:00Z", "month 13 out of range");
	time_bad("2026-01-00T00:00:00Z", "day 00 out of range");
	time_bad("2026-01-32T00:00:00Z", "day 32 out of range");
	time_bad("2026-01-10T24:00:00Z", "hour 24 out of range");
	time_bad("2026-01-10T23:60:00Z", "minute 60 out of range");
	time_bad("2016-12-31T23:59:60Z", "second 60 out of range");
	time_bad("1969-12-31T23:59:59Z", "before 1970");
	time_bad("0000-01-01T00:00:00Z", "before 1970");
	/* The shape: exactly YYYY-MM-DDTHH:MM:SSZ. */
	time_bad("2026-11-21T02:00:13", "not YYYY-MM-DDTHH:MM:SSZ");
	time_bad("2026-11-21T02:00:13z", "not YYYY-MM-DDTHH:MM:SSZ");
	time_bad("2026-11-21t02:00:13Z", "not YYYY-MM-DDTHH:MM:SSZ");
	time_bad("2026-11-21 02:00:13Z", "not YYYY-MM-DDTHH:MM:SSZ");
	time_bad("2026-11-21T02:00:13.000Z", "not YYYY-MM-DDTHH:MM:SSZ");
	time_bad("2026-11-21T02:00:13+00:00", "not YYYY-MM-DDTHH:MM:SSZ");
	time_bad("2026-11-21T02:00:13ZZ", "not YYYY-MM-DDTHH:MM:SSZ");
	time_bad("2026-11-21T2:00:13Z", "not YYYY-MM-DDTHH:MM:SSZ");
	time_bad("2026-1-21T02:00:13Z", "not YYYY-MM-DDTHH:MM:SSZ");
	time_bad("+2026-11-21T02:00Z", "not YYYY-MM-DDTHH:MM:SSZ");
	time_bad("20261121T020013Z", "not YYYY-MM-DDTHH:MM:SSZ");
	time_bad("2026-11-21T02:0a:13Z", "not YYYY-MM-DDTHH:MM:SSZ");
	time_bad("", "not YYYY-MM-DDTHH:MM:SSZ");
	time_bad("10000-01-01T00:00:00Z", "not YYYY-MM-DDTHH:MM:SSZ");
	time_bad("1763726400", "not YYYY-MM-DDTHH:MM:SSZ");

	/* The formatter's range is the parser's. */
	bk_err_clear(&e);
	ok(bk_listing_fmt_time(-1, buf, sizeof(buf), &e) == -1 &&
	    e.code == BK_EXIT_CHECK, "time -1 is not formatted");
	ok(bk_listing_fmt_time(TMAX + 1, buf, sizeof(buf), &e) == -1 &&
	    e.code == BK_EXIT_CHECK, "time after year 9999 is not formatted");
	ok(bk_listing_fmt_time(T1, buf, BK_LISTING_TIMELEN, &e) == -1,
	    "a buffer one byte short is refused");
	ok(bk_listing_fmt_time(T1, buf, BK_LISTING_TIMELEN + 1, &e) == 0 &&
	    strcmp(buf, "2025-11-21T12:00:00Z") == 0,
	    "a buffer of exactly TIMELEN + 1 bytes is enough");
}

/* --- lines ---------------------------------------------------------------- */

/* s for a test name: at most 50 bytes, control characters as \xNN. */
static const char *
vis(const char *s, size_t len)
{
	static char buf[256];
	size_t i, n = 0;

	for (i = 0; i < len && i < 50; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n,
			    "\\x%02x", (unsigned char)s[i]);
		else
			buf[n++] = s[i];
	}
	buf[n] = '\0';
	return buf;
}

/* Format o, check the exact line, parse it back to the same object. */
static void
roundtrip(time_t t, uint64_t size, const char *url, const char *want)
{
	struct bk_listing_obj o = { t, size, (char *)url }, back = { 0, 0, 0 };
	char line[BK_LISTING_LINEMAX + 1];
	struct bk_err e;
	int n, rc = -1;

	bk_err_clear(&e);
	n = bk_listing_format(&o, line, sizeof(line), &e);
	if (n > 0)
		rc = bk_listing_parse_line(line, (size_t)n - 1, 1, &back, &e);
	if (!ok(n > 0 && strcmp(line, want) == 0 && (size_t)n ==
	    strlen(want) && rc == 0 && back.time == t && back.size == size &&
	    strcmp(back.url, url) == 0, "round trip: %s",
	    vis(url, strlen(url))))
		diag("  n %d, line \"%s\", rc %d, err \"%s\"", n,
		    n > 0 ? line : "", rc, e.msg);
	free(back.url);
}

/* The line (without newline) is refused at line 7 with a message
 * containing want. */
static void
line_bad(const char *line, size_t len, const char *want)
{
	struct bk_listing_obj o = { -5, 5, NULL };
	struct bk_err e;
	int rc;

	bk_err_clear(&e);
	rc = bk_listing_parse_line(line, len, 7, &o, &e);
	if (!ok(rc == -1 && e.code == BK_EXIT_CHECK &&
	    strncmp(e.msg, "line 7: ", 8) == 0 && strstr(e.msg, want) &&
	    o.url == NULL && o.time == -5 && o.size == 5,
	    "line \"%s\" refused: %s", vis(line, len), want))
		diag("  rc %d, code %d, err \"%s\"", rc, e.code, e.msg);
	free(o.url);
}

#define LINE_BAD(s, want)	line_bad((s), sizeof(s) - 1, (want))

static void
test_lines(void)
{
	char big[BK_LISTING_LINEMAX + 64];
	char line[BK_LISTING_LINEMAX + 1];
	struct bk_listing_obj o;
	struct bk_err e;
	size_t k;
	int n, rc;

	roundtrip(T1, 1048576, "s3://backups/mydb/mydb-20251121.dump.gz",
	    "2025-11-21T12:00:00Z 1048576 "
	    "s3://backups/mydb/mydb-20251121.dump.gz\n");
	roundtrip(0, 0, "/var/backups/x", "1970-01-01T00:00:00Z 0 "
	    "/var/backups/x\n");
	roundtrip(TMAX, UINT64_MAX, "file:///srv/b/y",
	    "9999-12-31T23:59:59Z 18446744073709551615 file:///srv/b/y\n");
	roundtrip(T1, 7, "s3://b/with spaces/and  two/end ",
	    "2025-11-21T12:00:00Z 7 s3://b/with spaces/and  two/end \n");
	roundtrip(T1, 7, "s3://b/100%25/%Y%m%d/%s/%%",
	    "2025-11-21T12:00:00Z 7 s3://b/100%25/%Y%m%d/%s/%%\n");
	roundtrip(T1, 7, "s3://b/Gr\xc3\xbc\xc3\x9f" "e/\xe6\x97\xa5\xe6\x9c"
	    "\xac/\xf0\x9f\x98\x80.gz",
	    "2025-11-21T12:00:00Z 7 s3://b/Gr\xc3\xbc\xc3\x9f" "e/\xe6\x97"
	    "\xa5\xe6\x9c\xac/\xf0\x9f\x98\x80.gz\n");
	roundtrip(T1, 7, "s3://b/\"quoted\"\\back\\slash",
	    "2025-11-21T12:00:00Z 7 s3://b/\"quoted\"\\back\\slash\n");
	roundtrip(T1, 7, "relative/path", "2025-11-21T12:00:00Z 7 "
	    "relative/path\n");
	/* A URL whose text looks like more fields is still one URL. */
	roundtrip(T1, 7, "2025-11-21T12:00:00Z 5 x",
	    "2025-11-21T12:00:00Z 7 2025-11-21T12:00:00Z 5 x\n");

	/* Missing fields. */
	LINE_BAD("", "blank line");
	LINE_BAD("2025-11-21T12:00:00Z", "missing size and URL");
	LINE_BAD("2025-11-21T12:00:00Z ", "missing size and URL");
	LINE_BAD("2025-11-21T12:00:00Z 12", "missing URL");
	LINE_BAD("2025-11-21T12:00:00Z 12 ", "missing URL");
	LINE_BAD(" 2025-11-21T12:00:00Z 12 s3://b/k", "starts with a blank");
	LINE_BAD("2025-11-21T12:00:00Z  12 s3://b/k", "empty size");
	LINE_BAD("2025-11-21T12:00:00Z 12  s3://b/k",
	    "URL starts with a blank");
	LINE_BAD("s3://b/k", "missing size and URL");
	LINE_BAD("12 s3://b/k", "not YYYY-MM-DDTHH:MM:SSZ");
	/* Bad time, named as such. */
	LINE_BAD("2026-02-30T00:00:00Z 12 s3://b/k",
	    "time \"2026-02-30T00:00:00Z\": no such date");
	LINE_BAD("2026-11-21T25:00:00Z 12 s3://b/k", "hour 25 out of range");
	LINE_BAD("2026-11-21T02:00:13.000Z 12 s3://b/k",
	    "not YYYY-MM-DDTHH:MM:SSZ");
	LINE_BAD("2026-11-21T02:00:13Zx 12 s3://b/k",
	    "not YYYY-MM-DDTHH:MM:SSZ");
	LINE_BAD("2026-11-21 02:00:13Z 12 s3://b/k",
	    "not YYYY-MM-DDTHH:MM:SSZ");
	LINE_BAD("1969-12-31T23:59:59Z 12 s3://b/k", "before 1970");
	/* Bad size. */
	LINE_BAD("2025-11-21T12:00:00Z 12x s3://b/k",
	    "size \"12x\": not a decimal number");
	LINE_BAD("2025-11-21T12:00:00Z -1 s3://b/k", "not a decimal number");
	LINE_BAD("2025-11-21T12:00:00Z +1 s3://b/k", "not a decimal number");
	LINE_BAD("2025-11-21T12:00:00Z 1.5 s3://b/k", "not a decimal number");
	LINE_BAD("2025-11-21T12:00:00Z 1K s3://b/k", "not a decimal number");
	LINE_BAD("2025-11-21T12:00:00Z 0x10 s3://b/k", "not a decimal number");
	LINE_BAD("2025-11-21T12:00:00Z 007 s3://b/k", "leading zero");
	LINE_BAD("2025-11-21T12:00:00Z 00 s3://b/k", "leading zero");
	LINE_BAD("2025-11-21T12:00:00Z 18446744073709551616 s3://b/k",
	    "out of range");
	LINE_BAD("2025-11-21T12:00:00Z 99999999999999999999999 s3://b/k",
	    "out of range");
	/* Control characters, anywhere. */
	LINE_BAD("2025-11-21T12:00:00Z 12 s3://b/k\r", "CRLF");
	LINE_BAD("2025-11-21T12:00:00Z 12 s3://b/\tk",
	    "control character 0x09 at byte 32");
	LINE_BAD("2025-11-21T12:00:00Z\t12 s3://b/k", "control character 0x09");
	LINE_BAD("2025-11-21T12:00:00Z 12 s3://b/\x7f",
	    "control character 0x7f");
	LINE_BAD("2025-11-21T12:00:00Z 12 s3://b/\x1b[31m",
	    "control character 0x1b");
	LINE_BAD("2025-11-21T12:00:00Z 12 s3://b/k\0x",
	    "control character 0x00");
	LINE_BAD("2025-11-21T12:00:00Z 12 s3://b/k\n",
	    "control character 0x0a");

	/* A line of BK_LISTING_LINEMAX bytes with its newline is the
	 * longest; the parser takes it, one more byte is refused. */
	k = BK_LISTING_LINEMAX - 1 - strlen("2025-11-21T12:00:00Z 1 ");
	memcpy(big, "2025-11-21T12:00:00Z 1 ", 23);
	memset(big + 23, 'k', k + 1);
	bk_err_clear(&e);
	memset(&o, 0, sizeof(o));
	rc = bk_listing_parse_line(big, 23 + k, 1, &o, &e);
	ok(rc == 0 && strlen(o.url) == k, "a line of %d bytes is taken",
	    BK_LISTING_LINEMAX);
	free(o.url);
	line_bad(big, 23 + k + 1, "longer than 8192 bytes");

	/* The formatter refuses what the parser would refuse. */
	{
		static const struct {
			time_t		 t;
			const char	*url;
			const char	*why;
		} bad[] = {
			{ T1, "", "empty URL" },
			{ T1, NULL, "empty URL" },
			{ T1, " s3://b/k", "starts with a blank" },
			{ T1, "s3://b/k\n", "control character 0x0a" },
			{ T1, "s3://b/\rk", "control character 0x0d" },
			{ T1, "s3://b/\x7fk", "control character 0x7f" },
			{ -1, "s3://b/k", "out of range" },
			{ TMAX + 1, "s3://b/k", "out of range" },
		};
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			o.time = bad[i].t;
			o.size = 1;
			o.url = (char *)bad[i].url;
			bk_err_clear(&e);
			memset(line, 'Z', sizeof(line));
			n = bk_listing_format(&o, line, sizeof(line), &e);
			if (!ok(n == -1 && e.code == BK_EXIT_CHECK &&
			    strstr(e.msg, bad[i].why) != NULL,
			    "format refuses %s", bad[i].why))
				diag("  n %d, err \"%s\"", n, e.msg);
		}
	}
	/* Too long for a line, and too long for the buffer. */
	memset(big, 'k', BK_LISTING_LINEMAX);
	big[BK_LISTING_LINEMAX] = '\0';
	o.time = T1;
	o.size = 1;
	o.url = big;
	bk_err_clear(&e);
	n = bk_listing_format(&o, line, sizeof(line), &e);
	ok(n == -1 && strstr(e.msg, "longer than 8192 bytes"),
	    "format refuses a line longer than 8192 bytes");
	o.url = "s3://b/k";
	n = bk_listing_format(&o, line, 32, &e);
	ok(n == -1 && strstr(e.msg, "buffer too small"),
	    "format refuses a buffer too small");
	n = bk_listing_format(&o, line, 32 + 1, &e);
	ok(n == 32 && strcmp(line, "2025-11-21T12:00:00Z 1 s3://b/k\n") == 0,
	    "a buffer of exactly the line and its NUL is enough");
}

/* --- JSON ----------------------------------------------------------------- */

static void
json_ok(uint64_t size, const char *url, const char *want)
{
	struct bk_listing_obj o = { T1, size, (char *)url };
	char buf[512];
	struct bk_err e;
	int n;

	bk_err_clear(&e);
	n = bk_listing_format_json(&o, buf, sizeof(buf), &e);
	if (!ok(n > 0 && (size_t)n == strlen(want) && strcmp(buf, want) == 0,
	    "json: %s", want))
		diag("  n %d, got %s, err \"%s\"", n, n > 0 ? buf : "", e.msg);
}

static void
json_bad(const char *url, const char *name)
{
	struct bk_listing_obj o = { T1, 1, (char *)url };
	char buf[512];
	struct bk_err e;
	int n;

	bk_err_clear(&e);
	n = bk_listing_format_json(&o, buf, sizeof(buf), &e);
	if (!ok(n == -1 && e.code == BK_EXIT_CHECK &&
	    strstr(e.msg, "not UTF-8") != NULL, "json refuses %s", name))
		diag("  n %d, err \"%s\"", n, e.msg);
}

static void
test_json(void)
{
	struct bk_listing_obj o = { T1, 5, "s3://b/k" };
	struct bk_err e;
	char buf[128], *text = NULL;
	size_t len = 0;
	FILE *fp;
	int n;

	json_ok(1048576, "s3://backups/mydb/x.dump.gz",
	    "{\"time\":\"2025-11-21T12:00:00Z\",\"size\":1048576,"
	    "\"url\":\"s3://backups/mydb/x.dump.gz\"}");
	json_ok(UINT64_MAX, "/a b/c%20d",
	    "{\"time\":\"2025-11-21T12:00:00Z\",\"size\":18446744073709551615,"
	    "\"url\":\"/a b/c%20d\"}");
	json_ok(0, "s3://b/\"q\"\\b/",
	    "{\"time\":\"2025-11-21T12:00:00Z\",\"size\":0,"
	    "\"url\":\"s3://b/\\\"q\\\"\\\\b/\"}");
	/* Control characters cannot come from a listing line, but an
	 * object built otherwise is still escaped correctly. */
	json_ok(0, "a\nb\tc\rd\be\ff\x01g\x1fh\x7fi",
	    "{\"time\":\"2025-11-21T12:00:00Z\",\"size\":0,"
	    "\"url\":\"a\\nb\\tc\\rd\\be\\ff\\u0001g\\u001fh\\u007fi\"}");
	/* UTF-8 passes as it is, including U+2028 and the top of Unicode. */
	json_ok(0, "s3://b/Gr\xc3\xbc\xc3\x9f" "e/\xe2\x80\xa8/"
	    "\xf4\x8f\xbf\xbf",
	    "{\"time\":\"2025-11-21T12:00:00Z\",\"size\":0,"
	    "\"url\":\"s3://b/Gr\xc3\xbc\xc3\x9f" "e/\xe2\x80\xa8/"
	    "\xf4\x8f\xbf\xbf\"}");
	json_ok(0, "/\xef\xbf\xbf\xed\x9f\xbf\xee\x80\x80",
	    "{\"time\":\"2025-11-21T12:00:00Z\",\"size\":0,"
	    "\"url\":\"/\xef\xbf\xbf\xed\x9f\xbf\xee\x80\x80\"}");

	json_bad("/latin1-\xe9t\xe9", "Latin-1 bytes");
	json_bad("/\xff", "byte 0xff");
	json_bad("/\xc0\x80", "an overlong NUL");
	json_bad("/\xc1\xbf", "an overlong 2-byte form");
	json_bad("/\xe0\x80\xaf", "an overlong 3-byte form");
	json_bad("/\xf0\x8f\xbf\xbf", "an overlong 4-byte form");
	json_bad("/\xed\xa0\x80", "a surrogate");
	json_bad("/\xf4\x90\x80\x80", "a code point above U+10FFFF");
	json_bad("/\xe2\x82", "a truncated sequence");
	json_bad("/\xe2\x82x", "a sequence cut by ASCII");
	json_bad("/\x80", "a lone continuation byte");

	bk_err_clear(&e);
	n = bk_listing_format_json(&o, buf, 57, &e);
	ok(n == -1 && strstr(e.msg, "buffer too small"),
	    "json refuses a buffer too small");
	n = bk_listing_format_json(&o, buf, 58, &e);
	ok(n == 57, "json: a buffer of exactly the object and NUL is enough");
	o.time = -1;
	n = bk_listing_format_json(&o, buf, sizeof(buf), &e);
	ok(n == -1 && strstr(e.msg, "out of range"),
	    "json refuses a time out of range");

	/* write_json: one object a line. */
	o.time = T1;
	fp = open_memstream(&text, &len);
	ok(fp != NULL && bk_listing_write_json(fp, &o, &e) == 0 &&
	    bk_listing_write_json(fp, &o, &e) == 0 && fclose(fp) == 0 &&
	    strcmp(text, "{\"time\":\"2025-11-21T12:00:00Z\",\"size\":5,"
	    "\"url\":\"s3://b/k\"}\n{\"time\":\"2025-11-21T12:00:00Z\","
	    "\"size\":5,\"url\":\"s3://b/k\"}\n") == 0,
	    "write_json writes JSON lines");
	free(text);
}

/* --- reading -------------------------------------------------------------- */

/* Write len bytes of s to a fresh file; return its path. */
static const char *
putfile(const char *s, size_t len)
{
	static char path[512];
	static int seq;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/listing.%d", tap_tmpdir(), seq++);
	if ((fp = fopen(path, "w")) == NULL ||
	    fwrite(s, 1, len, fp) != len || fclose(fp) != 0) {
		diag("cannot write %s", path);
		exit(1);
	}
	return path;
}

/*
 * Read the listing s (len bytes) both through a descriptor and through a
 * stdio stream.  Returns the number of objects, or -1 with the message
 * in msg (the same from both readers, else a failure is reported).
 */
static int
readboth(const char *s, size_t len, struct bk_listing *l, char *msg)
{
	struct bk_listing l2;
	struct bk_err e1, e2;
	const char *path = putfile(s, len);
	FILE *fp;
	int fd, rc1, rc2;
	size_t i;

	bk_listing_init(l);
	bk_listing_init(&l2);
	bk_err_clear(&e1);
	bk_err_clear(&e2);
	if ((fd = open(path, O_RDONLY)) == -1 ||
	    (fp = fopen(path, "r")) == NULL) {
		diag("cannot open %s", path);
		exit(1);
	}
	rc1 = bk_listing_read(fd, "in", l, &e1);
	rc2 = bk_listing_read_file(fp, "in", &l2, &e2);
	close(fd);
	fclose(fp);
	if (rc1 != rc2 || strcmp(e1.msg, e2.msg) != 0 || e1.code != e2.code ||
	    l->n != l2.n) {
		diag("  fd and FILE readers differ: %d \"%s\" / %d \"%s\"",
		    rc1, e1.msg, rc2, e2.msg);
		rc1 = -2;
	}
	for (i = 0; rc1 == 0 && i < l->n; i++)
		if (l->obj[i].time != l2.obj[i].time ||
		    l->obj[i].size != l2.obj[i].size ||
		    strcmp(l->obj[i].url, l2.obj[i].url) != 0) {
			diag("  fd and FILE readers differ at %zu", i);
			rc1 = -2;
		}
	bk_listing_free(&l2);
	strcpy(msg, e1.msg);
	if (rc1 == -1 && e1.code != BK_EXIT_CHECK) {
		diag("  code %d, not BK_EXIT_CHECK", e1.code);
		rc1 = -2;
	}
	return rc1 == 0 ? (int)l->n : rc1;
}

/* Reading s is refused with exactly the message want. */
static void
read_bad(const char *s, size_t len, const char *want, const char *name)
{
	char msg[BK_ERR_MSGMAX];
	struct bk_listing l;
	int rc;

	rc = readboth(s, len, &l, msg);
	if (!ok(rc == -1 && strcmp(msg, want) == 0, "read refuses %s", name))
		diag("  rc %d, got \"%s\", want \"%s\"", rc, msg, want);
	bk_listing_free(&l);
}

#define READ_BAD(s, want, name)	read_bad((s), sizeof(s) - 1, (want), (name))

#define L1	"2026-11-21T02:00:13Z 1048576 s3://b/mydb/a.dump\n"
#define L2	"2026-11-22T02:00:14Z 0 file:///srv/backups/b c.dump\n"
#define L3	"2026-11-23T02:00:15Z 77 relative/d%20\xc3\xa9.dump\n"

static void
test_read(void)
{
	char msg[BK_ERR_MSGMAX], *text, *p;
	struct bk_listing l;
	struct bk_err e;
	size_t i, len, nlines = 5000;
	int rc, pfd[2], status;
	pid_t pid;

	rc = readboth(L1 L2 L3, strlen(L1 L2 L3), &l, msg);
	ok(rc == 3 && l.obj[0].time == (time_t)1795226413 &&
	    l.obj[0].size == 1048576 &&
	    strcmp(l.obj[0].url, "s3://b/mydb/a.dump") == 0 &&
	    l.obj[1].size == 0 &&
	    strcmp(l.obj[1].url, "file:///srv/backups/b c.dump") == 0 &&
	    l.obj[2].time == (time_t)1795399215 &&
	    strcmp(l.obj[2].url, "relative/d%20\xc3\xa9.dump") == 0,
	    "a listing of three lines reads in order");
	bk_listing_free(&l);
	ok(l.n == 0 && l.obj == NULL, "free leaves an empty listing");

	rc = readboth("", 0, &l, msg);
	ok(rc == 0 && l.n == 0, "empty input is an empty listing");
	bk_listing_free(&l);

	READ_BAD(L1 L2 "2026-11-23T02:00:15Z 77 s3://b/cut",
	    "in: line 3: no newline at the end (listing cut short?)",
	    "a last line without newline");
	READ_BAD(L1 "2026-11-2", "in: line 2: no newline at the end "
	    "(listing cut short?)", "a listing cut in the time");
	READ_BAD("2026", "in: line 1: no newline at the end (listing cut "
	    "short?)", "a first line cut short");
	READ_BAD(L1 "\n" L2, "in: line 2: blank line", "a blank line");
	READ_BAD(L1 L2 "\n", "in: line 3: blank line", "a blank last line");
	READ_BAD("\n", "in: line 1: blank line", "a lone newline");
	READ_BAD(L1 L2 "2026-02-30T00:00:00Z 1 s3://b/k\n" L3,
	    "in: line 3: time \"2026-02-30T00:00:00Z\": no such date",
	    "February 30 on line 3");
	READ_BAD(L1 "2026-11-21T02:00:13Z 1 s3://b/k\r\n",
	    "in: line 2: carriage return at the end (CRLF line ends?)",
	    "CRLF line ends");
	READ_BAD(L1 L2 L3 L1 "2026-11-21T02:00:13Z 1e3 s3://b/k\n",
	    "in: line 5: size \"1e3\": not a decimal number", "a bad size");
	READ_BAD(L1 "2026-11-21T02:00:13Z 1 s3://b/\0k\n",
	    "in: line 2: control character 0x00 at byte 31", "a NUL byte");
	READ_BAD("\xef\xbb\xbf" L1, "in: line 1: time \"\xef\xbb\xbf"
	    "2026-11-21T02:00:13Z\": not YYYY-MM-DDTHH:MM:SSZ", "a BOM");

	/* Line length: 8192 bytes with the newline is the longest. */
	text = malloc(3 * BK_LISTING_LINEMAX);
	len = (size_t)sprintf(text, "%s", L1);
	p = text + len;
	p += sprintf(p, "2026-11-21T02:00:13Z 1 ");
	memset(p, 'k', BK_LISTING_LINEMAX);
	i = BK_LISTING_LINEMAX - 1 - (size_t)(p - (text + len));
	p[i] = '\n';
	len = (size_t)(p + i + 1 - text);
	rc = readboth(text, len, &l, msg);
	ok(rc == 2 && strlen(l.obj[1].url) == i,
	    "a line of exactly 8192 bytes is read");
	bk_listing_free(&l);
	p[i] = 'k';
	p[i + 1] = '\n';
	read_bad(text, len + 1, "in: line 2: longer than 8192 bytes",
	    "a line of 8193 bytes");
	/* A very long line is refused without reading it all. */
	memset(p, 'k', 2 * BK_LISTING_LINEMAX);
	read_bad(text, (size_t)(p - text) + 2 * BK_LISTING_LINEMAX,
	    "in: line 2: longer than 8192 bytes", "a long unterminated line");
	free(text);

	/* Many lines: chunk boundaries fall inside lines. */
	text = malloc(nlines * 64);
	for (i = 0, p = text; i < nlines; i++)
		p += sprintf(p, "2026-11-21T02:%02zu:%02zuZ %zu s3://b/k/%zu\n",
		    i / 60 % 60, i % 60, i * 1000, i);
	len = (size_t)(p - text);
	rc = readboth(text, len, &l, msg);
	for (i = 0; rc == (int)nlines && i < nlines; i++) {
		char url[64];

		snprintf(url, sizeof(url), "s3://b/k/%zu", i);
		if (l.obj[i].size != i * 1000 ||
		    strcmp(l.obj[i].url, url) != 0 ||
		    l.obj[i].time != (time_t)1795226400 + (time_t)(i % 3600))
			break;
	}
	ok(rc == (int)nlines && i == nlines, "%zu lines (%zu bytes) read back",
	    nlines, len);
	bk_listing_free(&l);

	/* Through a pipe, written in small pieces by another process. */
	if (pipe(pfd) == -1 || (pid = fork()) == -1) {
		diag("pipe/fork: %s", strerror(errno));
		exit(1);
	}
	if (pid == 0) {
		close(pfd[0]);
		for (i = 0; i < len; i += 1000)
			if (write(pfd[1], text + i, len - i < 1000 ? len - i :
			    1000) == -1)
				_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	bk_listing_init(&l);
	bk_err_clear(&e);
	rc = bk_listing_read(pfd[0], "pipe", &l, &e);
	close(pfd[0]);
	waitpid(pid, &status, 0);
	ok(rc == 0 && l.n == nlines && strcmp(l.obj[nlines - 1].url,
	    "s3://b/k/4999") == 0, "a listing through a pipe reads whole");
	bk_listing_free(&l);
	free(text);

	/* A read error is a runtime error, not bad data. */
	bk_listing_init(&l);
	bk_err_clear(&e);
	rc = bk_listing_read(-1, "stdin", &l, &e);
	ok(rc == -1 && e.code == BK_EXIT_RUNTIME && e.sys == EBADF &&
	    strncmp(e.msg, "read stdin: ", 12) == 0,
	    "a read error is BK_EXIT_RUNTIME (%s)", e.msg);
	bk_listing_free(&l);

	/* Objects read before a bad line stay in the listing. */
	rc = readboth(L1 L2 "x\n", strlen(L1 L2 "x\n"), &l, msg);
	ok(rc == -1 && l.n == 2, "objects before the bad line are kept");
	bk_listing_free(&l);
}

/* --- writing and add ------------------------------------------------------ */

#define FIRST3	"2025-11-21T12:00:00Z 1 s3://b/one\n" \
		"2025-11-22T12:00:00Z 22 s3://b/two words\n" \
		"1970-01-01T00:00:00Z 0 /epoch\n"

static void
test_write(void)
{
	struct bk_listing l, back;
	struct bk_err e;
	char *text = NULL, msg[BK_ERR_MSGMAX];
	size_t len = 0, i;
	FILE *fp;
	int rc = 0;

	bk_listing_init(&l);
	bk_err_clear(&e);
	ok(bk_listing_add(&l, T1, 1, "s3://b/one", &e) == 0 &&
	    bk_listing_add(&l, T1 + 86400, 22, "s3://b/two words", &e) == 0 &&
	    bk_listing_add(&l, 0, 0, "/epoch", &e) == 0 && l.n == 3,
	    "add appends three objects");
	for (i = 0; i < 200; i++) {
		char url[32];

		snprintf(url, sizeof(url), "s3://b/n/%zu", i);
		rc |= bk_listing_add(&l, T1 + (time_t)i, i, url, &e);
	}
	ok(rc == 0 && l.n == 203 && l.cap >= 203, "the array grows");

	fp = open_memstream(&text, &len);
	for (i = 0; i < l.n; i++)
		rc |= bk_listing_write(fp, &l.obj[i], &e);
	fclose(fp);
	ok(rc == 0 && strncmp(text, FIRST3, strlen(FIRST3)) == 0,
	    "write writes listing lines");
	ok(readboth(text, len, &back, msg) == 203,
	    "what write wrote reads back");
	for (i = 0; i < l.n && i < back.n; i++)
		if (l.obj[i].time != back.obj[i].time ||
		    l.obj[i].size != back.obj[i].size ||
		    strcmp(l.obj[i].url, back.obj[i].url) != 0)
			break;
	ok(i == 203, "... to the same objects");
	bk_listing_free(&back);
	free(text);

	/* A write error is reported, with its errno. */
	if ((fp = fopen("/dev/full", "w")) != NULL) {
		setvbuf(fp, NULL, _IONBF, 0);
		bk_err_clear(&e);
		rc = bk_listing_write(fp, &l.obj[0], &e);
		ok(rc == -1 && e.code == BK_EXIT_RUNTIME && e.sys == ENOSPC,
		    "write to /dev/full fails (%s)", e.msg);
		bk_err_clear(&e);
		rc = bk_listing_write_json(fp, &l.obj[0], &e);
		ok(rc == -1 && e.code == BK_EXIT_RUNTIME && e.sys == ENOSPC,
		    "write_json to /dev/full fails (%s)", e.msg);
		fclose(fp);
	} else
		skip(2, "no /dev/full");
	/* A bad object is refused before anything is written. */
	text = NULL;
	fp = open_memstream(&text, &len);
	l.obj[0].time = -1;
	rc = bk_listing_write(fp, &l.obj[0], &e);
	fclose(fp);
	ok(rc == -1 && e.code == BK_EXIT_CHECK && len == 0,
	    "write refuses a bad object and writes nothing");
	free(text);
	bk_listing_free(&l);
}

int
main(void)
{
	/* Times are UTC whatever the local zone. */
	setenv("TZ", "America/New_York", 1);
	tzset();

	test_times();
	test_lines();
	test_json();
	test_read();
	test_write();
	return done_testing();
}
