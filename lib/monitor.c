/* monitor.c - what bk-age decides, and how it says it. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fsstore.h"
#include "io.h"
#include "listing.h"
#include "monitor.h"

#define RECORD_SUFFIX	".sha256"	/* bk-s3put's companion record */
#define JSON_DEPTH	64		/* nesting a journal line may have */
#define CHUNK		65536		/* bytes read at a time */

const char *
bk_mon_state_name(enum bk_mon_state st)
{
	switch (st) {
	case BK_MON_OK:		return "OK";
	case BK_MON_WARNING:	return "WARNING";
	case BK_MON_CRITICAL:	return "CRITICAL";
	default:		return "UNKNOWN";
	}
}

/* --- a growing string ----------------------------------------------------- */

struct sb {
	char	*s;
	size_t	 len;
	size_t	 cap;
	int	 failed;	/* out of memory: the result is NULL */
};

static void
sb_add(struct sb *b, const char *s, size_t n)
{
	char *p;
	size_t cap;

	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap == 0 ? 256 : b->cap;
		while (cap < b->len + n + 1)
			cap *= 2;
		if ((p = realloc(b->s, cap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
sb_printf(struct sb *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sb_printf(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	if (b->failed)
		return;
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return;
	}
	sb_add(b, s, (size_t)n);
	free(s);
}

/* The string built, or NULL (and nothing leaked) if memory ran out. */
static char *
sb_done(struct sb *b)
{
	if (b->failed) {
		free(b->s);
		return NULL;
	}
	if (b->s == NULL)
		return strdup("");
	return b->s;
}

/*
 * The length of the valid UTF-8 sequence at s (n bytes left), or 0 if
 * there is none: no overlong forms, no surrogates, nothing above
 * U+10FFFF.
 */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* s as a JSON string, quotes included (RFC 8259); bytes that are not
 * valid UTF-8 become U+FFFD. */
static void
json_str(struct sb *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), i = 0, k;
	char esc[8];

	sb_add(b, "\"", 1);
	while (i < n) {
		switch (s[i]) {
		case '"':	sb_add(b, "\\\"", 2); i++; continue;
		case '\\':	sb_add(b, "\\\\", 2); i++; continue;
		case '\n':	sb_add(b, "\\n", 2); i++; continue;
		case '\r':	sb_add(b, "\\r", 2); i++; continue;
		case '\t':	sb_add(b, "\\t", 2); i++; continue;
		default:
			break;
		}
		if (s[i] < 0x20 || s[i] == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", s[i]);
			sb_add(b, esc, 6);
			i++;
		} else if ((k = utf8_seq(s + i, n - i)) == 0) {
			sb_add(b, "\\ufffd", 6);
			i++;
		} else {
			sb_add(b, (const char *)s + i, k);
			i += k;
		}
	}
	sb_add(b, "\"", 1);
}

/* A time as YYYY-MM-DDTHH:MM:SSZ, or "?" out of range. */
static const char *
fmt_time(time_t t, char *buf, size_t size)
{
	struct bk_err e;

	if (bk_listing_fmt_time(t, buf, size, &e) < 0)
		snprintf(buf, size, "?");
	return buf;
}

/* --- choosing the newest backup ------------------------------------------- */

/* The name --match applies to: the last path element. */
static const char *
name_of(const char *url)
{
	const char *s = strrchr(url, '/');

	return s != NULL ? s + 1 : url;
}

/* Whether a is newer than b: later time, or the same and a later URL. */
static int
newer(const struct bk_listing_obj *a, const struct bk_listing_obj *b)
{
	if (b == NULL)
		return 1;
	if (a->time != b->time)
		return a->time > b->time;
	return strcmp(a->url, b->url) > 0;
}

static int
cmp_url(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Mark in rec[] the objects that are bk-s3put's records of another
 * object of the listing: "K.sha256" beside "K".  Returns 0 or -1.
 */
static int
find_records(const struct bk_listing *l, unsigned char *rec,
    struct bk_err *err)
{
	const size_t sl = sizeof(RECORD_SUFFIX) - 1;
	char **urls, *base;
	size_t i, n;

	if (l->n == 0)
		return 0;
	if ((urls = calloc(l->n, sizeof(*urls))) == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "listing");
	for (i = 0; i < l->n; i++)
		urls[i] = l->obj[i].url;
	qsort(urls, l->n, sizeof(*urls), cmp_url);
	for (i = 0; i < l->n; i++) {
		n = strlen(l->obj[i].url);
		if (n <= sl || strcmp(l->obj[i].url + n - sl,
		    RECORD_SUFFIX) != 0)
			continue;
		if ((base = strndup(l->obj[i].url, n - sl)) == NULL) {
			free(urls);
			return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM,
			    "listing");
		}
		rec[i] = bsearch(&base, urls, l->n, sizeof(*urls),
		    cmp_url) != NULL;
		free(base);
	}
	free(urls);
	return 0;
}

struct pick {
	size_t				 matched;
	size_t				 count;
	const struct bk_listing_obj	*newest;
	const struct bk_listing_obj	*newest_object;
};

static int
pick(const struct bk_listing *l, const struct bk_mon_opts *o, struct pick *p,
    struct bk_err *err)
{
	unsigned char *rec;
	size_t i;

	memset(p, 0, sizeof(*p));
	if ((rec = calloc(l->n ? l->n : 1, 1)) == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "listing");
	if (find_records(l, rec, err) < 0) {
		free(rec);
		return -1;
	}
	for (i = 0; i < l->n; i++) {
		const struct bk_listing_obj *ob = &l->obj[i];

		if (rec[i] || (o->match != NULL &&
		    fnmatch(o->match, name_of(ob->url), 0) != 0))
			continue;
		p->matched++;
		if (newer(ob, p->newest_object))
			p->newest_object = ob;
		if (ob->size < o->min_size)
			continue;
		p->count++;
		if (newer(ob, p->newest))
			p->newest = ob;
	}
	free(rec);
	return 0;
}

int
bk_mon_newest(const struct bk_listing *l, const struct bk_mon_opts *o,
    const struct bk_listing_obj **newest, struct bk_err *err)
{
	struct pick p;

	*newest = NULL;
	if (pick(l, o, &p, err) < 0)
		return -1;
	*newest = p.newest;
	return 0;
}

/* --- the evaluation ------------------------------------------------------- */

static int
problem(struct bk_mon_result *r, enum bk_mon_state st, struct bk_err *err,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
problem(struct bk_mon_result *r, enum bk_mon_state st, struct bk_err *err,
    const char *fmt, ...)
{
	struct bk_mon_problem *p;
	va_list ap;
	char *s;
	int n;

	p = realloc(r->problem, (r->nproblem + 1) * sizeof(*p));
	if (p == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "result");
	r->problem = p;
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "result");
	p[r->nproblem].state = st;
	p[r->nproblem++].text = s;
	if (st > r->state)
		r->state = st;
	return 0;
}

/* The problems of the newest backups' existence and sizes. */
static int
check_size(struct bk_mon_result *r, struct bk_err *err)
{
	const struct bk_listing_obj *no = r->newest_object;
	char sz[32], min[32], glob[64] = "";

	if (r->opts.match != NULL)
		snprintf(glob, sizeof(glob), " matching '%.40s%s'",
		    r->opts.match, strlen(r->opts.match) > 40 ? "..." : "");
	if (no == NULL)
		return problem(r, BK_MON_CRITICAL, err, "no backup found%s",
		    glob);
	bk_fmt_size(min, sizeof(min), r->opts.min_size);
	if (r->newest == NULL && problem(r, BK_MON_CRITICAL, err,
	    "no backup%s of at least %s", glob, min) < 0)
		return -1;
	if (no != r->newest && no->size == 0)
		return problem(r, BK_MON_CRITICAL, err, "newest object %s "
		    "is empty", no->url);
	if (no != r->newest)
		return problem(r, BK_MON_CRITICAL, err, "newest object %s "
		    "too small (%s < %s)", no->url, bk_fmt_size(sz, sizeof(sz),
		    no->size), min);
	return 0;
}

static int
check_age(struct bk_mon_result *r, struct bk_err *err)
{
	char d[32];

	if (r->newest == NULL)
		return 0;
	if (r->age > r->opts.critical)
		return problem(r, BK_MON_CRITICAL, err, "age over critical %s",
		    bk_fmt_duration(d, sizeof(d), r->opts.critical));
	if (r->age > r->opts.warning)
		return problem(r, BK_MON_WARNING, err, "age over warning %s",
		    bk_fmt_duration(d, sizeof(d), r->opts.warning));
	return 0;
}

static int
check_seal(struct bk_mon_result *r, struct bk_err *err)
{
	if (!r->seal_checked || strcmp(r->seal, "ok") == 0)
		return 0;
	if (r->seal[0] == '\0')
		return problem(r, BK_MON_CRITICAL, err, "newest backup not "
		    "sealed (no seal recorded)");
	return problem(r, BK_MON_CRITICAL, err, "newest backup not sealed "
	    "(seal: %s)", r->seal);
}

static int
check_count(struct bk_mon_result *r, struct bk_err *err)
{
	/* "No backup" says it already. */
	if (r->count == 0 || r->count >= r->opts.min_count)
		return 0;
	return problem(r, BK_MON_WARNING, err, "only %zu backup%s (min %"
	    PRIu64 ")", r->count, r->count == 1 ? "" : "s",
	    r->opts.min_count);
}

static int
check_journal(struct bk_mon_result *r, struct bk_err *err)
{
	uint64_t f = r->journal.failures;

	if (!r->have_journal || r->opts.max_failures == 0 ||
	    f < r->opts.max_failures)
		return 0;
	return problem(r, BK_MON_CRITICAL, err, "%" PRIu64 " consecutive "
	    "failed run%s (max %" PRIu64 ")", f, f == 1 ? "" : "s",
	    r->opts.max_failures);
}

/* "newest backup 3h12m old (URL, 512 MiB); problem; problem". */
static int
summarize(struct bk_mon_result *r, struct bk_err *err)
{
	struct sb b = { NULL, 0, 0, 0 };
	char d[32], sz[32];
	size_t i;

	if (r->newest != NULL)
		sb_printf(&b, "newest backup %s old (%s, %s)",
		    bk_fmt_duration(d, sizeof(d), r->age), r->newest->url,
		    bk_fmt_size(sz, sizeof(sz), r->newest->size));
	for (i = 0; i < r->nproblem; i++)
		sb_printf(&b, "%s%s", b.len > 0 ? "; " : "",
		    r->problem[i].text);
	if ((r->summary = sb_done(&b)) == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "result");
	return 0;
}

int
bk_mon_eval(const struct bk_listing *l, const struct bk_mon_opts *o,
    time_t now, const char *seal, const struct bk_mon_journal *j,
    struct bk_mon_result *r, struct bk_err *err)
{
	struct pick p;

	memset(r, 0, sizeof(*r));
	r->state = BK_MON_OK;
	r->evaluated = 1;
	r->now = now;
	r->opts = *o;
	r->objects = l->n;
	if (pick(l, o, &p, err) < 0)
		return -1;
	r->matched = p.matched;
	r->count = p.count;
	r->newest = p.newest;
	r->newest_object = p.newest_object;
	if (r->newest != NULL && now > r->newest->time)
		r->age = (uint64_t)(now - r->newest->time);
	if (o->require_sealed && r->newest != NULL) {
		r->seal_checked = 1;
		snprintf(r->seal, sizeof(r->seal), "%s", seal ? seal : "");
	}
	if (j != NULL) {
		r->have_journal = 1;
		r->journal = *j;
	}
	if (check_size(r, err) < 0 || check_age(r, err) < 0 ||
	    check_seal(r, err) < 0 || check_count(r, err) < 0 ||
	    check_journal(r, err) < 0 || summarize(r, err) < 0) {
		bk_mon_result_free(r);
		return -1;
	}
	return 0;
}

void
bk_mon_unknown(struct bk_mon_result *r, time_t now, const char *why)
{
	memset(r, 0, sizeof(*r));
	r->state = BK_MON_UNKNOWN;
	r->now = now;
	r->summary = strdup(why);
}

void
bk_mon_result_free(struct bk_mon_result *r)
{
	size_t i;

	for (i = 0; i < r->nproblem; i++)
		free(r->problem[i].text);
	free(r->problem);
	free(r->summary);
	r->problem = NULL;
	r->nproblem = 0;
	r->summary = NULL;
}

/* The summary, never NULL. */
static const char *
summary(const struct bk_mon_result *r)
{
	return r->summary != NULL ? r->summary : "out of memory";
}

/* --- formats -------------------------------------------------------------- */

char *
bk_mon_perfdata(const struct bk_mon_result *r)
{
	struct sb b = { NULL, 0, 0, 0 };
	const struct bk_mon_opts *o = &r->opts;

	if (!r->evaluated)
		return strdup("");
	if (r->newest != NULL)
		sb_printf(&b, "'age'=%" PRIu64 "s", r->age);
	else
		sb_printf(&b, "'age'=U");
	sb_printf(&b, ";%" PRIu64 ";%" PRIu64 ";0", o->warning, o->critical);
	if (r->newest != NULL)
		sb_printf(&b, " 'size'=%" PRIu64 "B", r->newest->size);
	else
		sb_printf(&b, " 'size'=U");
	if (o->min_size > 1)
		sb_printf(&b, ";;%" PRIu64 ":;0", o->min_size);
	else
		sb_printf(&b, ";;;0");
	sb_printf(&b, " 'count'=%zu;", r->count);
	if (o->min_count > 0)
		sb_printf(&b, "%" PRIu64 ":", o->min_count);
	sb_printf(&b, ";;0");
	if (r->have_journal && o->max_failures > 0)
		sb_printf(&b, " 'failures'=%" PRIu64 ";;%" PRIu64 ";0",
		    r->journal.failures, o->max_failures - 1);
	return sb_done(&b);
}

/* Text for a plugin line: '|' would start perfdata, a control character
 * a new line. */
static void
plugin_text(struct sb *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '|')
			sb_add(b, "%7C", 3);
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			sb_add(b, "?", 1);
		else
			sb_add(b, s, 1);
	}
}

/* One detail line of -v output. */
static void
detail(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
detail(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0) {
		b->failed = 1;
		va_end(ap);
		return;
	}
	va_end(ap);
	plugin_text(b, s);
	sb_add(b, "\n", 1);
	free(s);
}

static void
details(struct sb *b, const struct bk_mon_result *r)
{
	const struct bk_mon_opts *o = &r->opts;
	char t[32], sz[32], d1[32], d2[32], min[32], last[32];

	detail(b, "objects: %zu listed, %zu matching%s%s%s, %zu backup%s",
	    r->objects, r->matched, o->match ? " '" : "", o->match ? o->match :
	    "", o->match ? "'" : "", r->count, r->count == 1 ? "" : "s");
	if (r->newest_object != NULL && r->newest_object != r->newest)
		detail(b, "newest object: %s, %s, %s (too small)",
		    r->newest_object->url, fmt_time(r->newest_object->time, t,
		    sizeof(t)), bk_fmt_size(sz, sizeof(sz),
		    r->newest_object->size));
	if (r->newest != NULL)
		detail(b, "newest backup: %s, %s, %" PRIu64 " bytes",
		    r->newest->url, fmt_time(r->newest->time, t, sizeof(t)),
		    r->newest->size);
	if (r->seal_checked)
		detail(b, "seal: %s", r->seal[0] ? r->seal : "none recorded");
	if (r->have_journal) {
		if (r->journal.last_ok != 0)
			fmt_time(r->journal.last_ok, last, sizeof(last));
		else
			snprintf(last, sizeof(last), "never");
		detail(b, "journal: %" PRIu64 " runs, %" PRIu64 " consecutive "
		    "failures, last ok %s%s%s", r->journal.runs,
		    r->journal.failures, last, r->journal.failures &&
		    r->journal.last_error[0] ? ", last error: " : "",
		    r->journal.failures ? r->journal.last_error : "");
	}
	bk_fmt_size(min, sizeof(min), o->min_size);
	detail(b, "thresholds: warning %s, critical %s, min size %s, min "
	    "count %" PRIu64 "%s", bk_fmt_duration(d1, sizeof(d1), o->warning),
	    bk_fmt_duration(d2, sizeof(d2), o->critical), min, o->min_count,
	    o->require_sealed ? ", sealed" : "");
}

char *
bk_mon_format_nagios(const struct bk_mon_result *r, const char *prefix,
    int verbose)
{
	struct sb b = { NULL, 0, 0, 0 };
	char *perf;

	if ((perf = bk_mon_perfdata(r)) == NULL)
		return NULL;
	sb_printf(&b, "%s %s - ", prefix, bk_mon_state_name(r->state));
	plugin_text(&b, summary(r));
	if (perf[0] != '\0')
		sb_printf(&b, " | %s", perf);
	sb_add(&b, "\n", 1);
	free(perf);
	if (verbose && r->evaluated)
		details(&b, r);
	return sb_done(&b);
}

static void
json_obj(struct sb *b, const struct bk_listing_obj *o)
{
	char t[32];

	if (o == NULL) {
		sb_add(b, "null", 4);
		return;
	}
	sb_add(b, "{\"url\":", 7);
	json_str(b, o->url);
	sb_printf(b, ",\"time\":\"%s\",\"size\":%" PRIu64 "}",
	    fmt_time(o->time, t, sizeof(t)), o->size);
}

char *
bk_mon_format_json(const struct bk_mon_result *r)
{
	struct sb b = { NULL, 0, 0, 0 };
	size_t i;

	sb_printf(&b, "{\"state\":\"%s\",\"exit\":%d,\"summary\":",
	    bk_mon_state_name(r->state), (int)r->state);
	json_str(&b, summary(r));
	if (!r->evaluated) {
		sb_printf(&b, ",\"age_seconds\":null,\"newest\":null,"
		    "\"newest_object\":null,\"count\":null,\"matched\":null,"
		    "\"objects\":null,\"seal\":null,\"journal\":null,"
		    "\"problems\":[");
		json_str(&b, summary(r));
		sb_printf(&b, "]}\n");
		return sb_done(&b);
	}
	if (r->newest != NULL)
		sb_printf(&b, ",\"age_seconds\":%" PRIu64, r->age);
	else
		sb_printf(&b, ",\"age_seconds\":null");
	sb_printf(&b, ",\"newest\":");
	json_obj(&b, r->newest);
	sb_printf(&b, ",\"newest_object\":");
	json_obj(&b, r->newest_object);
	sb_printf(&b, ",\"count\":%zu,\"matched\":%zu,\"objects\":%zu,"
	    "\"seal\":", r->count, r->matched, r->objects);
	if (r->seal_checked && r->seal[0] != '\0')
		json_str(&b, r->seal);
	else
		sb_printf(&b, "null");
	if (r->have_journal)
		sb_printf(&b, ",\"journal\":{\"runs\":%" PRIu64 ","
		    "\"consecutive_failures\":%" PRIu64 "}", r->journal.runs,
		    r->journal.failures);
	else
		sb_printf(&b, ",\"journal\":null");
	sb_printf(&b, ",\"problems\":[");
	for (i = 0; i < r->nproblem; i++) {
		if (i > 0)
			sb_add(&b, ",", 1);
		json_str(&b, r->problem[i].text);
	}
	sb_printf(&b, "]}\n");
	return sb_done(&b);
}

/* A label value of the exposition format. */
static void
prom_label(struct sb *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), i = 0, k;

	while (i < n) {
		if (s[i] == '\\')
			sb_add(b, "\\\\", 2), i++;
		else if (s[i] == '"')
			sb_add(b, "\\\"", 2), i++;
		else if (s[i] == '\n')
			sb_add(b, "\\n", 2), i++;
		else if ((k = utf8_seq(s + i, n - i)) == 0)
			sb_add(b, "\xef\xbf\xbd", 3), i++;
		else
			sb_add(b, (const char *)s + i, k), i += k;
	}
}

/* One gauge: HELP, TYPE and its sample. */
static void
gauge(struct sb *b, const char *name, const char *help, const char *loc,
    const char *value)
{
	sb_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s{location=\"", name,
	    help, name, name);
	prom_label(b, loc);
	sb_printf(b, "\"} %s\n", value);
}

char *
bk_mon_format_prom(const struct bk_mon_result *r, const char *location)
{
	struct sb b = { NULL, 0, 0, 0 };
	const struct bk_listing_obj *n = r->newest;
	char v[32];

	if (r->evaluated) {
		snprintf(v, sizeof(v), "%lld", n ? (long long)n->time : 0LL);
		gauge(&b, "bk_backup_last_success_timestamp_seconds",
		    "Modification time of the newest backup (of at least the "
		    "minimum size), in seconds since the epoch; 0 if there is "
		    "none.", location, v);
		snprintf(v, sizeof(v), "%" PRIu64, n ? n->size : 0);
		gauge(&b, "bk_backup_last_size_bytes", "Size of the newest "
		    "backup in bytes; 0 if there is none.", location, v);
		snprintf(v, sizeof(v), "%zu", r->count);
		gauge(&b, "bk_backup_count", "Number of backups (matching "
		    "objects of at least the minimum size).", location, v);
		if (n != NULL)
			snprintf(v, sizeof(v), "%" PRIu64, r->age);
		else
			snprintf(v, sizeof(v), "NaN");
		gauge(&b, "bk_backup_age_seconds", "Age of the newest backup "
		    "when bk-age ran, in seconds; NaN if there is none.",
		    location, v);
		if (r->have_journal && r->opts.max_failures > 0) {
			snprintf(v, sizeof(v), "%" PRIu64, r->journal.failures);
			gauge(&b, "bk_backup_consecutive_failures", "Failed "
			    "backup runs in a row at the end of the journal.",
			    location, v);
		}
	}
	snprintf(v, sizeof(v), "%d", (int)r->state);
	gauge(&b, "bk_backup_check_state", "State of the bk-age check: 0 OK, "
	    "1 WARNING, 2 CRITICAL, 3 UNKNOWN.", location, v);
	snprintf(v, sizeof(v), "%lld", (long long)r->now);
	gauge(&b, "bk_backup_check_timestamp_seconds", "When bk-age ran, in "
	    "seconds since the epoch.", location, v);
	return sb_done(&b);
}

int
bk_mon_write_file(const char *path, const char *text, struct bk_err *err)
{
	char *tmp;
	int fd;

	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "%s", path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s", tmp);
		free(tmp);
		return -1;
	}
	if (fchmod(fd, 0644) < 0) {
		bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s", tmp);
		close(fd);
		goto fail;
	}
	if (bk_io_write_all(fd, text, strlen(text), tmp, err) < 0) {
		close(fd);
		goto fail;
	}
	if (bk_io_close(fd, tmp, err) < 0)
		goto fail;
	if (rename(tmp, path) < 0) {
		bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s", path);
		goto fail;
	}
	free(tmp);
	return 0;
fail:
	unlink(tmp);
	free(tmp);
	return -1;
}

/* --- the journal ---------------------------------------------------------- */

/* A JSON parser for one line: validates all of it, keeps what we need. */
struct jp {
	const char	*s;
	size_t		 len;
	size_t		 pos;
	char		*out;		/* decoded strings */
	size_t		 outsize;
	size_t		 outlen;
	const char	*why;
};

static int
jp_fail(struct jp *p, const char *why)
{
	if (p->why == NULL)
		p->why = why;
	return -1;
}

static void
jp_ws(struct jp *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' ||
	    p->s[p->pos] == '\t' || p->s[p->pos] == '\r' ||
	    p->s[p->pos] == '\n'))
		p->pos++;
}

static int
hex4(const char *s, uint32_t *v)
{
	int i;

	*v = 0;
	for (i = 0; i < 4; i++) {
		char c = s[i];

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

static void
jp_put(struct jp *p, uint32_t cp)
{
	unsigned char u[4];
	size_t n;

	if (cp < 0x80)
		u[0] = (unsigned char)cp, n = 1;
	else if (cp < 0x800)
		u[0] = (unsigned char)(0xc0 | cp >> 6),
		u[1] = (unsigned char)(0x80 | (cp & 0x3f)), n = 2;
	else if (cp < 0x10000)
		u[0] = (unsigned char)(0xe0 | cp >> 12),
		u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f)),
		u[2] = (unsigned char)(0x80 | (cp & 0x3f)), n = 3;
	else
		u[0] = (unsigned char)(0xf0 | cp >> 18),
		u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f)),
		u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f)),
		u[3] = (unsigned char)(0x80 | (cp & 0x3f)), n = 4;
	/* The decoded text is never longer than the raw one: it fits. */
	if (p->outlen + n < p->outsize) {
		memcpy(p->out + p->outlen, u, n);
		p->outlen += n;
	}
}

/*
 * A string at p->pos (its opening quote).  Decoded into p->out at
 * *start (NUL-terminated, *dlen bytes) when start is not NULL.
 */
static int
jp_string(struct jp *p, size_t *start, size_t *dlen)
{
	uint32_t cp, lo;
	unsigned char c;
	size_t begin = p->outlen;

	p->pos++;
	for (;;) {
		if (p->pos >= p->len)
			return jp_fail(p, "unterminated string");
		c = (unsigned char)p->s[p->pos++];
		if (c == '"')
			break;
		if (c < 0x20)
			return jp_fail(p, "control character in a string");
		if (c != '\\') {
			if (start != NULL && p->outlen + 1 < p->outsize)
				p->out[p->outlen++] = (char)c;
			continue;
		}
		if (p->pos >= p->len)
			return jp_fail(p, "unterminated string");
		c = (unsigned char)p->s[p->pos++];
		switch (c) {
		case '"': case '\\': case '/':	cp = c; break;
		case 'b':	cp = '\b'; break;
		case 'f':	cp = '\f'; break;
		case 'n':	cp = '\n'; break;
		case 'r':	cp = '\r'; break;
		case 't':	cp = '\t'; break;
		case 'u':
			if (p->pos + 4 > p->len || hex4(p->s + p->pos, &cp) < 0)
				return jp_fail(p, "bad \\u escape");
			p->pos += 4;
			if (cp >= 0xd800 && cp <= 0xdbff &&
			    p->pos + 6 <= p->len && p->s[p->pos] == '\\' &&
			    p->s[p->pos + 1] == 'u' &&
			    hex4(p->s + p->pos + 2, &lo) == 0 &&
			    lo >= 0xdc00 && lo <= 0xdfff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
				p->pos += 6;
			} else if (cp >= 0xd800 && cp <= 0xdfff) {
				cp = 0xfffd;	/* a lone surrogate */
			}
			break;
		default:
			return jp_fail(p, "bad escape in a string");
		}
		if (start != NULL)
			jp_put(p, cp);
	}
	if (start != NULL) {
		*start = begin;
		*dlen = p->outlen - begin;
		p->out[p->outlen++] = '\0';
	}
	return 0;
}

static int
isdig(char c)
{
	return c >= '0' && c <= '9';
}

static int
jp_number(struct jp *p)
{
	const char *s = p->s;

	if (p->pos < p->len && s[p->pos] == '-')
		p->pos++;
	if (p->pos < p->len && s[p->pos] == '0')
		p->pos++;
	else if (p->pos < p->len && isdig(s[p->pos]))
		while (p->pos < p->len && isdig(s[p->pos]))
			p->pos++;
	else
		return jp_fail(p, "bad number");
	if (p->pos < p->len && s[p->pos] == '.') {
		p->pos++;
		if (p->pos >= p->len || !isdig(s[p->pos]))
			return jp_fail(p, "bad number");
		while (p->pos < p->len && isdig(s[p->pos]))
			p->pos++;
	}
	if (p->pos < p->len && (s[p->pos] == 'e' || s[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->len && (s[p->pos] == '+' || s[p->pos] == '-'))
			p->pos++;
		if (p->pos >= p->len || !isdig(s[p->pos]))
			return jp_fail(p, "bad number");
		while (p->pos < p->len && isdig(s[p->pos]))
			p->pos++;
	}
	return 0;
}

static int
jp_literal(struct jp *p, const char *lit)
{
	size_t n = strlen(lit);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, lit, n) != 0)
		return jp_fail(p, "not a JSON value");
	p->pos += n;
	return 0;
}

static int jp_value(struct jp *p, int depth);

/* An object or array at p->pos, skipped. */
static int
jp_container(struct jp *p, int depth)
{
	char close = p->s[p->pos] == '{' ? '}' : ']';
	int first = 1;

	if (depth >= JSON_DEPTH)
		return jp_fail(p, "nested too deep");
	p->pos++;
	for (;;) {
		jp_ws(p);
		if (p->pos >= p->len)
			return jp_fail(p, "cut short");
		if (p->s[p->pos] == close && first) {
			p->pos++;
			return 0;
		}
		if (close == '}') {
			if (p->s[p->pos] != '"')
				return jp_fail(p, "expected a member name");
			if (jp_string(p, NULL, NULL) < 0)
				return -1;
			jp_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != ':')
				return jp_fail(p, "expected ':'");
			p->pos++;
		}
		if (jp_value(p, depth + 1) < 0)
			return -1;
		jp_ws(p);
		first = 0;
		if (p->pos >= p->len)
			return jp_fail(p, "cut short");
		if (p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->s[p->pos] == close) {
			p->pos++;
			return 0;
		}
		return jp_fail(p, "expected ',' or a closing bracket");
	}
}

static int
jp_value(struct jp *p, int depth)
{
	jp_ws(p);
	if (p->pos >= p->len)
		return jp_fail(p, "expected a value");
	switch (p->s[p->pos]) {
	case '{': case '[':	return jp_container(p, depth);
	case '"':		return jp_string(p, NULL, NULL);
	case 't':		return jp_literal(p, "true");
	case 'f':		return jp_literal(p, "false");
	case 'n':		return jp_literal(p, "null");
	default:		return jp_number(p);
	}
}

/* The members kept, as offsets into p->out; -1: absent, -2: null. */
enum { M_TOOL, M_OUTCOME, M_DEST, M_ERROR, M_TIME, M_N };
static const char *const members[M_N] = {
	"tool", "outcome", "destination", "error", "time"
};

static int
jp_record(struct jp *p, long at[M_N], size_t dl[M_N])
{
	size_t kstart, klen, vstart, vlen, mark;
	int i, first = 1;

	for (i = 0; i < M_N; i++)
		at[i] = -1;
	jp_ws(p);
	if (p->pos >= p->len || p->s[p->pos] != '{')
		return jp_fail(p, "not a JSON object");
	p->pos++;
	for (;;) {
		jp_ws(p);
		if (p->pos < p->len && p->s[p->pos] == '}' && first) {
			p->pos++;
			break;
		}
		if (p->pos >= p->len || p->s[p->pos] != '"')
			return jp_fail(p, "expected a member name");
		mark = p->outlen;
		if (jp_string(p, &kstart, &klen) < 0)
			return -1;
		for (i = 0; i < M_N; i++)
			if (strlen(members[i]) == klen &&
			    memcmp(p->out + kstart, members[i], klen) == 0)
				break;
		p->outlen = mark;	/* the name is not kept */
		jp_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != ':')
			return jp_fail(p, "expected ':'");
		p->pos++;
		jp_ws(p);
		if (i < M_N && p->pos < p->len && p->s[p->pos] == '"') {
			if (jp_string(p, &vstart, &vlen) < 0)
				return -1;
			if (strlen(p->out + vstart) != vlen)
				return jp_fail(p, "NUL in a string");
			at[i] = (long)vstart;
			dl[i] = vlen;
		} else if (i < M_N && p->pos < p->len && p->s[p->pos] == 'n') {
			if (jp_literal(p, "null") < 0)
				return -1;
			at[i] = -2;
		} else if (i < M_N) {
			return jp_fail(p, i == M_TOOL ? "\"tool\" is not a "
			    "string" : i == M_OUTCOME ? "\"outcome\" is not a "
			    "string" : i == M_TIME ? "\"time\" is not a string" :
			    "\"destination\" or \"error\" is not a string or "
			    "null");
		} else if (jp_value(p, 1) < 0) {
			return -1;
		}
		first = 0;
		jp_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == '}') {
			p->pos++;
			break;
		}
		return jp_fail(p, p->pos >= p->len ? "cut short" :
		    "expected ',' or '}'");
	}
	jp_ws(p);
	if (p->pos != p->len)
		return jp_fail(p, "text after the object");
	return 0;
}

int
bk_mon_journal_line(const char *line, size_t len, unsigned long lineno,
    char *buf, size_t size, struct bk_mon_jrec *rec, struct bk_err *err)
{
	struct jp p = { line, len, 0, buf, size, 0, NULL };
	long at[M_N];
	size_t dl[M_N];
	struct bk_err e;

	memset(rec, 0, sizeof(*rec));
	if (size < len + 1)
		return bk_err_set(err, BK_EXIT_RUNTIME, "line %lu: buffer too "
		    "small", lineno);
	if (len == 0)
		return bk_err_set(err, BK_EXIT_CHECK, "line %lu: blank line",
		    lineno);
	if (jp_record(&p, at, dl) < 0)
		return bk_err_set(err, BK_EXIT_CHECK, "line %lu: %s (at byte "
		    "%zu)", lineno, p.why, p.pos + 1);
	if (at[M_TOOL] < 0 || at[M_OUTCOME] < 0)
		return bk_err_set(err, BK_EXIT_CHECK, "line %lu: no \"%s\"",
		    lineno, at[M_TOOL] < 0 ? "tool" : "outcome");
	if (at[M_TIME] == -2)
		return bk_err_set(err, BK_EXIT_CHECK, "line %lu: \"time\" is "
		    "null", lineno);
	if (at[M_TIME] >= 0 && bk_listing_parse_time(buf + at[M_TIME],
	    dl[M_TIME], &rec->time, &e) < 0)
		return bk_err_set(err, BK_EXIT_CHECK, "line %lu: %s", lineno,
		    e.msg);
	rec->tool = buf + at[M_TOOL];
	rec->outcome = buf + at[M_OUTCOME];
	rec->destination = at[M_DEST] >= 0 ? buf + at[M_DEST] : NULL;
	rec->error = at[M_ERROR] >= 0 ? buf + at[M_ERROR] : NULL;
	return 0;
}

int
bk_mon_dest_match(const char *prefix, const char *dest)
{
	struct bk_err e;
	char *pp, *dp;
	int m;

	if (prefix == NULL)
		return 1;
	if (dest == NULL)
		return 0;
	if (strncmp(dest, prefix, strlen(prefix)) == 0)
		return 1;
	if (strncmp(prefix, "s3://", 5) == 0 || strncmp(dest, "s3://", 5) == 0)
		return 0;
	if (bk_fs_path(prefix, &pp, &e) < 0)
		return 0;
	if (bk_fs_path(dest, &dp, &e) < 0) {
		free(pp);
		return 0;
	}
	m = strncmp(dp, pp, strlen(pp)) == 0;
	free(pp);
	free(dp);
	return m;
}

/* Count one record into j. */
static void
count_run(struct bk_mon_journal *j, const struct bk_mon_jrec *rec)
{
	j->runs++;
	j->last_run = rec->time;
	if (strcmp(rec->outcome, "ok") == 0) {
		j->failures = 0;
		j->last_ok = rec->time;
		j->last_error[0] = '\0';
		return;
	}
	j->failures++;
	snprintf(j->last_error, sizeof(j->last_error), "%s", rec->error ?
	    rec->error : rec->outcome);
}

int
bk_mon_journal_read(int fd, const char *what, const char *tool,
    const char *dest, struct bk_mon_journal *j, struct bk_err *err)
{
	struct bk_mon_jrec rec;
	char *line = NULL, *dec = NULL, *chunk = NULL;
	size_t ll = 0, i;
	unsigned long lineno = 0;
	ssize_t n;
	int rc = -1;

	memset(j, 0, sizeof(*j));
	line = malloc(BK_MON_JOURNAL_LINEMAX);
	dec = malloc(BK_MON_JOURNAL_LINEMAX + 1);
	chunk = malloc(CHUNK);
	if (line == NULL || dec == NULL || chunk == NULL) {
		bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "%s", what);
		goto out;
	}
	/* Appends are one write(2) under an exclusive lock: with a shared
	 * one no half line is seen.  Where locks do not work, go on. */
	while (flock(fd, LOCK_SH) < 0 && errno == EINTR)
		;
	for (;;) {
		n = read(fd, chunk, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s", what);
			goto out;
		}
		if (n == 0)
			break;
		for (i = 0; i < (size_t)n; i++) {
			if (chunk[i] != '\n') {
				/* The newline counts in the limit. */
				if (ll + 1 >= BK_MON_JOURNAL_LINEMAX) {
					bk_err_set(err, BK_EXIT_CHECK, "%s: line "
					    "%lu: longer than %d bytes", what,
					    lineno + 1, BK_MON_JOURNAL_LINEMAX);
					goto out;
				}
				line[ll++] = chunk[i];
				continue;
			}
			lineno++;
			if (bk_mon_journal_line(line, ll, lineno, dec,
			    BK_MON_JOURNAL_LINEMAX + 1, &rec, err) < 0) {
				bk_err_prefix(err, "%s", what);
				goto out;
			}
			j->records++;
			if ((tool == NULL || strcmp(rec.tool, tool) == 0) &&
			    bk_mon_dest_match(dest, rec.destination))
				count_run(j, &rec);
			ll = 0;
		}
	}
	if (ll > 0) {
		bk_err_set(err, BK_EXIT_CHECK, "%s: line %lu: no newline at "
		    "the end (cut short)", what, lineno + 1);
		goto out;
	}
	rc = 0;
out:
	free(line);
	free(dec);
	free(chunk);
	return rc;
}
