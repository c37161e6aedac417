/* journal.c - unit tests for lib/journal: JSON lines, append, BK_JOURNAL. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "journal.h"

#define T1	((time_t)1763726400)	/* 2025-11-21T12:00:00Z */

/*
 * A small strict JSON (RFC 8259) reader: enough to validate a line and
 * pull one member of the top-level object out of it.
 */
struct json {
	const char	*p;
	int		 bad;
};

static void	json_value(struct json *, char *, size_t, char *);

static void
json_ws(struct json *j)
{
	while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' ||
	    *j->p == '\r')
		j->p++;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static long
json_hex4(struct json *j)
{
	long v = 0;
	int i, h;

	for (i = 0; i < 4; i++) {
		if ((h = hexval((unsigned char)j->p[i])) < 0) {
			j->bad = 1;
			return 0;
		}
		v = v * 16 + h;
	}
	j->p += 4;
	return v;
}

/* Append byte c to out (size bytes), keeping it a string. */
static void
put(char *out, size_t size, size_t *len, int c)
{
	if (out != NULL && *len + 1 < size) {
		out[(*len)++] = (char)c;
		out[*len] = '\0';
	}
}

/* Parse a string; its decoded bytes go to out (may be NULL). */
static void
json_string(struct json *j, char *out, size_t size)
{
	size_t len = 0;
	long cp, lo;
	unsigned char c;

	if (out != NULL && size > 0)
		out[0] = '\0';
	if (*j->p != '"') {
		j->bad = 1;
		return;
	}
	j->p++;
	while (!j->bad) {
		c = (unsigned char)*j->p++;
		if (c == '"')
			return;
		if (c < 0x20) {		/* includes the terminating NUL */
			j->bad = 1;
			return;
		}
		if (c != '\\') {
			put(out, size, &len, c);
			continue;
		}
		c = (unsigned char)*j->p++;
		switch (c) {
		case '"': case '\\': case '/':
			put(out, size, &len, c);
			break;
		case 'b': put(out, size, &len, '\b'); break;
		case 'f': put(out, size, &len, '\f'); break;
		case 'n': put(out, size, &len, '\n'); break;
		case 'r': put(out, size, &len, '\r'); break;
		case 't': put(out, size, &len, '\t'); break;
		case 'u':
			cp = json_hex4(j);
			if (cp >= 0xD800 && cp < 0xDC00 && j->p[0] == '\\' &&
			    j->p[1] == 'u') {
				j->p += 2;
				lo = json_hex4(j);
				cp = 0x10000 + ((cp - 0xD800) << 10) +
				    (lo - 0xDC00);
			}
			if (cp < 0x80) {
				put(out, size, &len, (int)cp);
			} else if (cp < 0x800) {
				put(out, size, &len, 0xC0 | (int)(cp >> 6));
				put(out, size, &len, 0x80 | (int)(cp & 0x3F));
			} else if (cp < 0x10000) {
				put(out, size, &len, 0xE0 | (int)(cp >> 12));
				put(out, size, &len,
				    0x80 | (int)((cp >> 6) & 0x3F));
				put(out, size, &len, 0x80 | (int)(cp & 0x3F));
			} else {
				put(out, size, &len, 0xF0 | (int)(cp >> 18));
				put(out, size, &len,
				    0x80 | (int)((cp >> 12) & 0x3F));
				put(out, size, &len,
				    0x80 | (int)((cp >> 6) & 0x3F));
				put(out, size, &len, 0x80 | (int)(cp & 0x3F));
			}
			break;
		default:
			j->bad = 1;
			return;
		}
	}
}

static void
json_number(struct json *j)
{
	const char *s = j->p;

	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else {
		j->bad = 1;
		return;
	}
	if (*s == '.') {
		s++;
		if (!(*s >= '0' && *s <= '9')) {
			j->bad = 1;
			return;
		}
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!(*s >= '0' && *s <= '9')) {
			j->bad = 1;
			return;
		}
		while (*s >= '0' && *s <= '9')
			s++;
	}
	j->p = s;
}

/*
 * Parse any value.  For a string, out gets the decoded text and *type 's';
 * otherwise out gets the raw text and *type 'n' (number), 'l' (literal),
 * 'o' or 'a'.
 */
static void
json_value(struct json *j, char *out, size_t size, char *type)
{
	const char *start;
	char t = '?';

	json_ws(j);
	start = j->p;
	if (*j->p == '"') {
		json_string(j, out, size);
		if (type != NULL)
			*type = 's';
		return;
	}
	if (*j->p == '{' || *j->p == '[') {
		int obj = *j->p == '{';
		char close = obj ? '}' : ']';

		t = obj ? 'o' : 'a';
		j->p++;
		json_ws(j);
		if (*j->p == close)
			j->p++;
		else
			for (;;) {
				if (obj) {
					json_ws(j);
					json_string(j, NULL, 0);
					json_ws(j);
					if (*j->p++ != ':')
						j->bad = 1;
				}
				json_value(j, NULL, 0, NULL);
				json_ws(j);
				if (j->bad)
					break;
				if (*j->p == ',') {
					j->p++;
					continue;
				}
				if (*j->p++ != close)
					j->bad = 1;
				break;
			}
	} else if (strncmp(j->p, "true", 4) == 0) {
		j->p += 4;
		t = 'l';
	} else if (strncmp(j->p, "false", 5) == 0) {
		j->p += 5;
		t = 'l';
	} else if (strncmp(j->p, "null", 4) == 0) {
		j->p += 4;
		t = 'l';
	} else {
		json_number(j);
		t = 'n';
	}
	if (type != NULL)
		*type = t;
	if (out != NULL && size > 0) {
		size_t n = (size_t)(j->p - start);

		if (n >= size)
			n = size - 1;
		memcpy(out, start, n);
		out[n] = '\0';
	}
}

/* Is line exactly one JSON object, then "\n", then nothing? */
static int
json_line(const char *line)
{
	struct json j = { line, 0 };
	char type = '?';

	while (*j.p == ' ')
		j.p++;
	if (*j.p != '{')
		return 0;
	json_value(&j, NULL, 0, &type);
	while (*j.p == ' ')
		j.p++;
	return !j.bad && type == 'o' && j.p[0] == '\n' && j.p[1] == '\0';
}

/*
 * Find key in the top-level object of line: returns how many times it
 * occurs; the last value goes to out with its type.
 */
static int
json_get(const char *line, const char *key, char *out, size_t size,
    char *type)
{
	struct json j = { line, 0 };
	char k[256];
	int found = 0;

	json_ws(&j);
	if (*j.p++ != '{')
		return 0;
	json_ws(&j);
	if (*j.p == '}')
		return 0;
	for (;;) {
		json_ws(&j);
		json_string(&j, k, sizeof(k));
		json_ws(&j);
		if (j.bad || *j.p++ != ':')
			return 0;
		if (strcmp(k, key) == 0) {
			found++;
			json_value(&j, out, size, type);
		} else
			json_value(&j, NULL, 0, NULL);
		json_ws(&j);
		if (j.bad)
			return 0;
		if (*j.p == ',') {
			j.p++;
			continue;
		}
		break;
	}
	return found;
}

/* Member key of line is the string want (want NULL: is null). */
static void
has_str(const char *line, const char *key, const char *want)
{
	char val[8192], type = '?';
	int n;

	n = json_get(line, key, val, sizeof(val), &type);
	if (want == NULL) {
		if (!ok(n == 1 && type == 'l' && strcmp(val, "null") == 0,
		    "\"%s\" is null", key))
			diag("  found %d, type %c, value %s", n, type, val);
	} else {
		if (!ok(n == 1 && type == 's' && strcmp(val, want) == 0,
		    "\"%s\" is the string \"%.40s\"", key,
		    strpbrk(want, "\n\r\x01") ? "(with control characters)" :
		    want))
			diag("  found %d, type %c, value \"%s\"", n, type, val);
	}
}

/* Member key of line is the number whose text is want. */
static void
has_num(const char *line, const char *key, const char *want)
{
	char val[256], type = '?';
	int n;

	n = json_get(line, key, val, sizeof(val), &type);
	if (!ok(n == 1 && type == 'n' && strcmp(val, want) == 0,
	    "\"%s\" is the number %s", key, want))
		diag("  found %d, type %c, value %s", n, type, val);
}

static double
get_double(const char *line, const char *key)
{
	char val[256], type = '?';

	if (json_get(line, key, val, sizeof(val), &type) != 1 || type != 'n')
		return -12345.0;
	return strtod(val, NULL);
}

static struct bk_journal_rec
rec_ok(void)
{
	struct bk_journal_rec r;

	memset(&r, 0, sizeof(r));
	r.time = T1;
	r.tool = "bk-gz";
	r.outcome = "ok";
	r.exit = 0;
	r.bytes_in = 12345;
	r.bytes_out = 678;
	r.seconds = 1.234;
	r.seal = "ok";
	return r;
}

static const char nasty[] = "say \"hi\" \\ C:\\dir\nline2\r\x01\x1f\t"
    "caf\xc3\xa9 </script> \x7f end";

static struct bk_journal_rec
rec_failed(void)
{
	struct bk_journal_rec r;

	memset(&r, 0, sizeof(r));
	r.time = T1 + 86400 + 3661;
	r.tool = "bk-gz";
	r.outcome = "upstream-failed";
	r.exit = 4;
	r.bytes_in = UINT64_MAX;
	r.bytes_out = 0;
	r.seconds = 86400.5;
	r.seal = "failed";
	r.destination = "s3://backups/mydb/x.dump.gz";
	r.sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
	    "7852b855";
	r.error = nasty;
	return r;
}

static const char *keys[] = {
	"time", "tool", "outcome", "exit", "bytes_in", "bytes_out", "seconds",
	"seal", "destination", "sha256", "error"
};

static void
test_format(void)
{
	struct bk_journal_rec r;
	char buf[8192], small[600];
	size_t i;
	int n, len, intact;

	r = rec_ok();
	memset(buf, 'Z', sizeof(buf));
	len = bk_journal_format(&r, buf, sizeof(buf));
	diag("ok record: %.*s", len > 0 ? len - 1 : 8, len > 0 ? buf : "(failed)");
	ok(len > 0 && (size_t)len == strlen(buf),
	    "format returns the length of the line");
	ok(len > 0 && buf[len - 1] == '\n', "the line ends with \\n");
	ok(strchr(buf, '\n') == buf + len - 1, "exactly one newline");
	ok(json_line(buf), "the line is one valid JSON object");
	for (i = 0, n = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		n += json_get(buf, keys[i], NULL, 0, NULL) == 1;
	is_int(n, 11, "all 11 members are there, once each");
	has_str(buf, "time", "2025-11-21T12:00:00Z");
	has_str(buf, "tool", "bk-gz");
	has_str(buf, "outcome", "ok");
	has_num(buf, "exit", "0");
	has_num(buf, "bytes_in", "12345");
	has_num(buf, "bytes_out", "678");
	ok(get_double(buf, "seconds") > 1.2335 &&
	    get_double(buf, "seconds") < 1.2345, "\"seconds\" is 1.234");
	has_str(buf, "seal", "ok");
	has_str(buf, "destination", NULL);
	has_str(buf, "sha256", NULL);
	has_str(buf, "error", NULL);

	r = rec_failed();
	len = bk_journal_format(&r, buf, sizeof(buf));
	diag("failed record: %.*s", len > 0 ? len - 1 : 8,
	    len > 0 ? buf : "(failed)");
	ok(len > 0 && json_line(buf),
	    "a record with control characters is valid JSON");
	has_str(buf, "time", "2025-11-22T13:01:01Z");
	has_str(buf, "outcome", "upstream-failed");
	has_num(buf, "exit", "4");
	has_num(buf, "bytes_in", "18446744073709551615");
	has_num(buf, "bytes_out", "0");
	ok(get_double(buf, "seconds") > 86400.4 &&
	    get_double(buf, "seconds") < 86400.6, "\"seconds\" is 86400.5");
	has_str(buf, "seal", "failed");
	has_str(buf, "destination", "s3://backups/mydb/x.dump.gz");
	has_str(buf, "sha256", r.sha256);
	has_str(buf, "error", nasty);
	ok(strstr(buf, "\\\"hi\\\"") != NULL, "quotes are escaped as \\\"");
	ok(strstr(buf, " \\\\ ") != NULL, "a backslash is escaped as \\\\");
	ok(strstr(buf, "\\n") != NULL, "a newline is escaped as \\n");
	ok(strcasestr(buf, "\\u0001") != NULL, "\\x01 is escaped as \\u0001");
	ok(strcasestr(buf, "\\u001f") != NULL, "\\x1f is escaped as \\u001f");
	ok(strstr(buf, "caf\xc3\xa9") != NULL || strcasestr(buf, "\\u00e9"),
	    "UTF-8 text survives");

	/* NULL seal, tool: null. */
	r = rec_ok();
	r.seal = NULL;
	r.outcome = "failed";
	r.exit = 3;
	r.error = "write stdout: No space left on device";
	len = bk_journal_format(&r, buf, sizeof(buf));
	ok(len > 0 && json_line(buf), "a failed record is valid JSON");
	has_str(buf, "seal", NULL);
	has_num(buf, "exit", "3");
	has_str(buf, "error", "write stdout: No space left on device");

	/* Local time zone does not leak in. */
	setenv("TZ", "America/New_York", 1);
	tzset();
	r = rec_ok();
	len = bk_journal_format(&r, buf, sizeof(buf));
	has_str(buf, "time", "2025-11-21T12:00:00Z");
	unsetenv("TZ");
	tzset();

	/* Too small a buffer: -1, nothing written past it. */
	r = rec_failed();
	len = bk_journal_format(&r, buf, sizeof(buf));
	ok(len > 0 && (size_t)len + 1 <= sizeof(small),
	    "the failed record is %d bytes", len);
	if (len > 0 && (size_t)len + 1 <= sizeof(small)) {
		is_int(bk_journal_format(&r, small, (size_t)len + 1), len,
		    "it fits in len + 1 bytes");
		memset(small, 'Z', sizeof(small));
		is_int(bk_journal_format(&r, small, (size_t)len - 1), -1,
		    "it does not fit in len - 1 bytes");
		intact = 1;
		for (i = (size_t)len - 1; i < sizeof(small); i++)
			if (small[i] != 'Z')
				intact = 0;
		ok(intact, "nothing written past the buffer");
	} else
		skip(3, "record too long");
	memset(small, 'Z', sizeof(small));
	is_int(bk_journal_format(&r, small, 16), -1, "16 bytes: -1");
	intact = 1;
	for (i = 16; i < sizeof(small); i++)
		if (small[i] != 'Z')
			intact = 0;
	ok(intact, "16 bytes: nothing written past the buffer");
	is_int(bk_journal_format(&r, small, 1), -1, "1 byte: -1");
}

/* Read a whole small file into buf. */
static size_t
slurp(const char *path, char *buf, size_t size)
{
	FILE *f;
	size_t n;

	buf[0] = '\0';
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
	return n;
}

/* Are all lines of text valid JSON objects?  Returns their count or -1. */
static int
all_lines_json(char *text)
{
	char *line = text, *nl;
	int n = 0;
	char save;

	while (*line != '\0') {
		if ((nl = strchr(line, '\n')) == NULL)
			return -1;
		save = nl[1];
		nl[1] = '\0';
		if (!json_line(line))
			return -1;
		nl[1] = save;
		line = nl + 1;
		n++;
	}
	return n;
}

static int
dir_entries(const char *dir)
{
	DIR *d;
	struct dirent *de;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..")
		    != 0)
			n++;
	closedir(d);
	return n;
}

static void
test_append(void)
{
	static char text[4 * 1024 * 1024];
	struct bk_journal_rec r;
	struct bk_err e;
	struct stat sb;
	char path[700], dir[512], cwd[1024], big[3000], outcome[64];
	mode_t old;
	pid_t pids[4];
	int i, k, status, rc, good;

	snprintf(dir, sizeof(dir), "%s/j", tap_tmpdir());
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/journal.jsonl", dir);

	old = umask(0);
	r = rec_ok();
	bk_err_clear(&e);
	rc = bk_journal_append(path, &r, &e);
	if (!is_int(rc, 0, "append creates the journal"))
		diag("  err \"%s\"", e.msg);
	r = rec_failed();
	is_int(bk_journal_append(path, &r, &e), 0, "second append");
	umask(old);
	ok(stat(path, &sb) == 0 && (sb.st_mode & 07777) == 0600,
	    "the journal is created with mode 0600 (got %04o)",
	    (unsigned)(sb.st_mode & 07777));
	slurp(path, text, sizeof(text));
	is_int(all_lines_json(text), 2, "two appends: two JSON lines");
	ok(json_get(text, "outcome", outcome, sizeof(outcome), NULL) == 1 &&
	    strcmp(outcome, "ok") == 0, "first line is the first record");
	{
		char *second = strchr(text, '\n');

		ok(second != NULL && json_get(second + 1, "outcome", outcome,
		    sizeof(outcome), NULL) == 1 &&
		    strcmp(outcome, "upstream-failed") == 0,
		    "second line is the second record");
	}

	/* An existing journal keeps its lines and its mode. */
	chmod(path, 0640);
	r = rec_ok();
	bk_journal_append(path, &r, &e);
	slurp(path, text, sizeof(text));
	is_int(all_lines_json(text), 3, "a third append adds a third line");
	ok(stat(path, &sb) == 0 && (sb.st_mode & 07777) == 0640,
	    "an existing journal's mode is left alone");

	/* A journal that cannot be opened. */
	bk_err_clear(&e);
	snprintf(big, sizeof(big), "%s/no/such/dir/journal", tap_tmpdir());
	rc = bk_journal_append(big, &r, &e);
	is_int(rc, -1, "append into a missing directory fails");
	ok(e.code != 0 && strstr(e.msg, "no/such/dir") != NULL,
	    "with a code and a message naming the file (\"%s\")", e.msg);

	/* Concurrent runs do not interleave. */
	unlink(path);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fflush(stdout);
	for (k = 0; k < 4; k++) {
		if ((pids[k] = fork()) == 0) {
			struct bk_err ce;

			r = rec_failed();
			big[0] = (char)('A' + k);
			r.error = big;
			for (i = 0; i < 100; i++)
				if (bk_journal_append(path, &r, &ce) != 0)
					_exit(1);
			_exit(0);
		}
	}
	good = 1;
	for (k = 0; k < 4; k++)
		if (waitpid(pids[k], &status, 0) == -1 ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			good = 0;
	ok(good, "4 processes appended 100 records each");
	slurp(path, text, sizeof(text));
	is_int(all_lines_json(text), 400,
	    "400 whole, valid lines: no interleaving");

	/* BK_JOURNAL */
	snprintf(dir, sizeof(dir), "%s/env", tap_tmpdir());
	mkdir(dir, 0700);
	if (getcwd(cwd, sizeof(cwd)) == NULL || chdir(dir) != 0) {
		skip(6, "chdir failed");
		return;
	}
	unsetenv("BK_JOURNAL");
	r = rec_ok();
	bk_err_clear(&e);
	is_int(bk_journal_env(&r, &e), 0, "BK_JOURNAL unset: returns 0");
	is_int(dir_entries(dir), 0, "BK_JOURNAL unset: nothing written");
	setenv("BK_JOURNAL", "", 1);
	is_int(bk_journal_env(&r, &e), 0, "BK_JOURNAL empty: returns 0");
	is_int(dir_entries(dir), 0, "BK_JOURNAL empty: nothing written");
	snprintf(path, sizeof(path), "%s/env.jsonl", dir);
	setenv("BK_JOURNAL", path, 1);
	is_int(bk_journal_env(&r, &e), 0, "BK_JOURNAL set: returns 0");
	slurp(path, text, sizeof(text));
	is_int(all_lines_json(text), 1, "BK_JOURNAL set: one line appended");
	unsetenv("BK_JOURNAL");
	if (chdir(cwd) != 0)
		diag("could not return to %s", cwd);
}

int
main(void)
{
	test_format();
	test_append();
	return done_testing();
}
