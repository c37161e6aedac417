/*
 * prune.c - the plan of bk-prune and its deletions (see prune.h).
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsstore.h"
#include "prune.h"
#include "s3.h"

const char *
bk_prune_name(const char *url)
{
	const char *s = strrchr(url, '/');

	return s != NULL ? s + 1 : url;
}

/* n digits at s, as a number, or -1. */
static int
digits(const char *s, int n)
{
	int v = 0;

	while (n-- > 0) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s++ - '0');
	}
	return v;
}

/* A time at s in one of the three forms; its length, or 0. */
static size_t
time_at(const char *s, time_t *t)
{
	struct tm tm, chk;
	const char *p = s;
	int dash;

	memset(&tm, 0, sizeof(tm));
	if ((tm.tm_year = digits(p, 4)) < 0)
		return 0;
	p += 4;
	dash = *p == '-';
	if (dash)
		p++;
	if ((tm.tm_mon = digits(p, 2)) < 0 || (dash && p[2] != '-'))
		return 0;
	p += 2 + dash;
	if ((tm.tm_mday = digits(p, 2)) < 0 || p[2] != 'T')
		return 0;
	p += 3;
	if ((tm.tm_hour = digits(p, 2)) < 0)
		return 0;
	p += 2;
	if (dash && *p == ':')
		p++;
	if ((tm.tm_min = digits(p, 2)) < 0)
		return 0;
	p += 2;
	if (dash && *p == ':')
		p++;
	if ((tm.tm_sec = digits(p, 2)) < 0 || p[2] != 'Z')
		return 0;
	p += 3;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	chk = tm;
	*t = timegm(&chk);
	/* timegm() normalises: an impossible date comes back changed. */
	if (*t == (time_t)-1 || chk.tm_mday != tm.tm_mday ||
	    chk.tm_mon != tm.tm_mon || chk.tm_hour != tm.tm_hour ||
	    chk.tm_min != tm.tm_min || chk.tm_sec != tm.tm_sec)
		return 0;
	return (size_t)(p - s);
}

int
bk_prune_name_time(const char *name, time_t *t)
{
	const char *p;
	time_t v;
	int found = 0;

	for (p = name; *p != '\0'; p++)
		if (time_at(p, &v) > 0) {
			*t = v;
			found = 1;
		}
	return found ? 0 : -1;
}

void
bk_prune_plan_free(struct bk_prune_plan *plan)
{
	free(plan->idx);
	free(plan->dec);
	memset(plan, 0, sizeof(*plan));
}

int
bk_prune_plan(const struct bk_listing *l, const char *glob,
    const struct bk_retain_policy *p, struct bk_prune_plan *plan,
    struct bk_err *err)
{
	struct bk_listing_obj *objs = NULL;
	size_t i;
	int rc = -1;

	memset(plan, 0, sizeof(*plan));
	if (l->n > 0 && ((plan->idx = calloc(l->n, sizeof(*plan->idx))) ==
	    NULL || (objs = calloc(l->n, sizeof(*objs))) == NULL))
		goto nomem;
	for (i = 0; i < l->n; i++) {
		if (glob != NULL && fnmatch(glob,
		    bk_prune_name(l->obj[i].url), 0) != 0) {
			plan->nother++;
			continue;
		}
		objs[plan->n] = l->obj[i];
		plan->idx[plan->n++] = i;
	}
	if (plan->n > 0 && (plan->dec = calloc(plan->n,
	    sizeof(*plan->dec))) == NULL)
		goto nomem;
	/* Even with nothing to decide on, a bad policy is refused. */
	if (bk_retain(objs, plan->n, p, plan->dec, &plan->nkeep,
	    &plan->ndelete, err) < 0)
		goto out;
	rc = 0;
	goto out;
nomem:
	bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "plan");
out:
	free(objs);
	if (rc < 0)
		bk_prune_plan_free(plan);
	return rc;
}

/* --- listing -------------------------------------------------------------- */

static int
add_s3(void *arg, const struct bk_s3_obj *o, struct bk_err *err)
{
	void **a = arg;
	struct bk_listing *l = a[0];
	const char *bucket = a[1];
	char *url;
	int rc;

	if (asprintf(&url, "s3://%s/%s", bucket, o->key) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "listing");
	rc = bk_listing_add(l, o->mtime, o->size, url, err);
	free(url);
	return rc;
}

static int
add_fs(void *arg, const char *path, uint64_t size, time_t mtime,
    struct bk_err *err)
{
	return bk_listing_add(arg, mtime, size, path, err);
}

int
bk_prune_list(const char *location, struct bk_aws *aws,
    struct bk_listing *l, struct bk_err *err)
{
	struct bk_s3_loc loc;
	struct bk_s3 s;
	void *a[2];
	char *path;
	int rc = -1;

	if (strncmp(location, "s3://", 5) != 0) {
		if (bk_fs_path(location, &path, err) < 0)
			return -1;
		rc = bk_fs_list(path, add_fs, l, err);
		free(path);
		return rc;
	}
	if (bk_s3_loc_parse(&loc, location, err) < 0)
		return -1;
	if (bk_s3_open(&s, aws, err) == 0) {
		a[0] = l;
		a[1] = loc.bucket;
		rc = bk_s3_list(&s, loc.bucket, loc.key, 0, add_s3, a, err);
		bk_s3_close(&s);
	}
	bk_s3_loc_free(&loc);
	return rc;
}

/* --- deleting ------------------------------------------------------------- */

struct batch {
	const struct bk_listing		*l;
	bk_prune_done_fn		 done;
	void				*arg;
	const char			**keys;	/* object keys and records */
	size_t				*obj;	/* listing index per key, or -1 */
	size_t				 n;
	int				 nfail;
	const char			*why_all;	/* the request failed */
	char				 why[BK_ERR_MSGMAX];
};

/* DeleteObjects named a key it could not delete. */
static void
del_failed(void *arg, const char *key, const char *code, const char *msg)
{
	struct batch *b = arg;
	size_t i;

	for (i = 0; i < b->n; i++)
		if (strcmp(b->keys[i], key) == 0 && b->obj[i] != (size_t)-1) {
			snprintf(b->why, sizeof(b->why), "%s: %s", code, msg);
			b->done(b->arg, &b->l->obj[b->obj[i]], 0, b->why);
			b->obj[i] = (size_t)-1;	/* reported */
			b->nfail++;
		}
}

/* Send one batch (objects at even places, their records after them);
 * report every object. */
static void
flush(struct bk_s3 *s, const char *bucket, struct batch *b)
{
	struct bk_err err;
	size_t i;
	int r;

	if (b->n == 0)
		return;
	r = bk_s3_delete(s, bucket, b->keys, b->n, del_failed, b, &err);
	for (i = 0; i < b->n; i += 2) {
		if (b->obj[i] == (size_t)-1)
			continue;	/* reported by del_failed() */
		if (r < 0) {
			b->done(b->arg, &b->l->obj[b->obj[i]], 0, err.msg);
			b->nfail++;
		} else {
			b->done(b->arg, &b->l->obj[b->obj[i]], 1, NULL);
		}
	}
	for (i = 1; i < b->n; i += 2)
		free((char *)b->keys[i]);
	b->n = 0;
}

static int
delete_s3(const char *location, struct bk_aws *aws,
    const struct bk_listing *l, const struct bk_prune_plan *plan,
    bk_prune_done_fn done, void *arg, struct bk_err *err)
{
	struct bk_s3_loc loc;
	struct bk_s3 s;
	struct batch b;
	size_t i, pre, keycap = BK_S3_DELETE_MAX;
	int rc = -1, s_ok = 0;

	memset(&b, 0, sizeof(b));
	if (bk_s3_loc_parse(&loc, location, err) < 0)
		return -1;
	pre = strlen("s3://") + strlen(loc.bucket) + 1;
	/* Every object must be in the bucket: a listing from stdin can say
	 * anything. */
	for (i = 0; i < plan->n; i++) {
		const char *u = l->obj[plan->idx[i]].url;

		if (plan->dec[i].keep)
			continue;
		if (strncmp(u, location, strlen(location)) != 0 ||
		    strlen(u) <= pre) {
			bk_err_set(err, BK_EXIT_USAGE, "%s: not under %s", u,
			    location);
			goto out;
		}
	}
	if (bk_s3_open(&s, aws, err) < 0)
		goto out;
	s_ok = 1;
	b.l = l;
	b.done = done;
	b.arg = arg;
	b.keys = calloc(keycap, sizeof(*b.keys));
	b.obj = calloc(keycap, sizeof(*b.obj));
	if (b.keys == NULL || b.obj == NULL) {
		bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "delete");
		goto out;
	}
	for (i = 0; i < plan->n; i++) {
		const char *key;
		char *rec;

		if (plan->dec[i].keep)
			continue;
		key = l->obj[plan->idx[i]].url + pre;
		if (asprintf(&rec, "%s.sha256", key) < 0) {
			bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "delete");
			goto out;
		}
		/* The object, then its record (if any; none is fine). */
		b.keys[b.n] = key;
		b.obj[b.n++] = plan->idx[i];
		b.keys[b.n] = rec;
		b.obj[b.n++] = (size_t)-1;
		if (b.n + 2 > keycap)
			flush(&s, loc.bucket, &b);
	}
	flush(&s, loc.bucket, &b);
	rc = b.nfail;
out:
	for (i = 0; i < b.n; i++)
		if (i % 2 == 1)
			free((char *)b.keys[i]);
	free(b.keys);
	free(b.obj);
	if (s_ok)
		bk_s3_close(&s);
	bk_s3_loc_free(&loc);
	return rc;
}

static int
delete_fs(const char *location, const struct bk_listing *l,
    const struct bk_prune_plan *plan, bk_prune_done_fn done, void *arg,
    struct bk_err *err)
{
	struct bk_err e;
	char *path;
	size_t i, pl;
	int nfail = 0;

	if (bk_fs_path(location, &path, err) < 0)
		return -1;
	pl = strlen(path);
	for (i = 0; i < plan->n; i++) {
		const char *u = l->obj[plan->idx[i]].url;

		if (!plan->dec[i].keep && strncmp(u, path, pl) != 0) {
			bk_err_set(err, BK_EXIT_USAGE, "%s: not under %s", u,
			    path);
			free(path);
			return -1;
		}
	}
	free(path);
	for (i = 0; i < plan->n; i++) {
		const struct bk_listing_obj *o = &l->obj[plan->idx[i]];

		if (plan->dec[i].keep)
			continue;
		if (bk_fs_delete(o->url, 1, &e) < 0) {
			done(arg, o, 0, e.msg);
			nfail++;
		} else {
			done(arg, o, 1, NULL);
		}
	}
	return nfail;
}

int
bk_prune_delete(const char *location, struct bk_aws *aws,
    const struct bk_listing *l, const struct bk_prune_plan *plan,
    bk_prune_done_fn done, void *arg, struct bk_err *err)
{
	if (plan->ndelete == 0)
		return 0;
	if (strncmp(location, "s3://", 5) == 0)
		return delete_s3(location, aws, l, plan, done, arg, err);
	return delete_fs(location, l, plan, done, arg, err);
}

/* --- incomplete uploads --------------------------------------------------- */

struct stale {
	struct bk_s3	*s;
	const char	*bucket;
	time_t		 before;
	void		(*fn)(void *, const char *, time_t);
	void		*arg;
	int		 n;
	/* collected first: aborting while paging would move the markers */
	char		**key, **id;
	time_t		*when;
	size_t		 cnt, cap;
};

static int
collect(void *arg, const struct bk_s3_upload *u, struct bk_err *err)
{
	struct stale *st = arg;

	if (u->initiated == 0 || u->initiated >= st->before)
		return 0;
	if (st->cnt == st->cap) {
		size_t cap = st->cap ? 2 * st->cap : 16;
		char **k = realloc(st->key, cap * sizeof(*k));
		char **i = k ? realloc(st->id, cap * sizeof(*i)) : NULL;
		time_t *w = i ? realloc(st->when, cap * sizeof(*w)) : NULL;

		if (k != NULL)
			st->key = k;
		if (i != NULL)
			st->id = i;
		if (w == NULL)
			return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM,
			    "uploads");
		st->when = w;
		st->cap = cap;
	}
	st->key[st->cnt] = strdup(u->key);
	st->id[st->cnt] = strdup(u->upload_id);
	st->when[st->cnt] = u->initiated;
	if (st->key[st->cnt] == NULL || st->id[st->cnt] == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "uploads");
	st->cnt++;
	return 0;
}

int
bk_prune_abort_incomplete(const char *location, struct bk_aws *aws,
    time_t now, uint64_t age, int dry, void (*fn)(void *, const char *, time_t),
    void *arg, struct bk_err *err)
{
	struct bk_s3_loc loc;
	struct bk_s3 s;
	struct stale st;
	size_t i;
	int rc = -1;

	if (strncmp(location, "s3://", 5) != 0)
		return bk_err_set(err, BK_EXIT_USAGE, "--abort-incomplete: "
		    "only for s3:// locations");
	memset(&st, 0, sizeof(st));
	if (bk_s3_loc_parse(&loc, location, err) < 0)
		return -1;
	if (bk_s3_open(&s, aws, err) < 0)
		goto out_loc;
	st.before = now - (time_t)age;
	if (bk_s3_list_uploads(&s, loc.bucket, loc.key, collect, &st,
	    err) < 0)
		goto out;
	for (i = 0; i < st.cnt; i++) {
		if (!dry && bk_s3_abort(&s, loc.bucket, st.key[i], st.id[i],
		    err) < 0)
			goto out;
		if (fn != NULL)
			fn(arg, st.key[i], st.when[i]);
	}
	rc = (int)st.cnt;
out:
	for (i = 0; i < st.cnt; i++) {
		free(st.key[i]);
		free(st.id[i]);
	}
	free(st.key);
	free(st.id);
	free(st.when);
	bk_s3_close(&s);
out_loc:
	bk_s3_loc_free(&loc);
	return rc;
}
