/* tar.c - tar headers, and a walker that strips an archive's end. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tar.h"

#define USTAR_NAME	100
#define USTAR_PREFIX	155
#define OCTAL_SIZE_MAX	077777777777ULL		/* 11 octal digits */

/* Header field offsets (POSIX ustar). */
#define H_NAME		0
#define H_MODE		100
#define H_UID		108
#define H_GID		116
#define H_SIZE		124
#define H_MTIME		136
#define H_CHKSUM	148
#define H_TYPE		156
#define H_MAGIC		257
#define H_VERSION	263
#define H_UNAME		265
#define H_GNAME		297
#define H_PREFIX	345

size_t
bk_tar_pad(uint64_t size)
{
	return (size_t)((BK_TAR_BLOCK - size % BK_TAR_BLOCK) % BK_TAR_BLOCK);
}

/*
 * Store v in a numeric field of len bytes: octal with a NUL terminator if
 * it fits, else GNU base-256 (high bit of the first byte set).
 */
static void
put_number(unsigned char *f, size_t len, uint64_t v)
{
	uint64_t lim = 1;
	size_t i;

	for (i = 0; i < len - 1; i++)
		lim = lim > UINT64_MAX / 8 ? UINT64_MAX : lim * 8;
	if (v < lim) {
		f[len - 1] = '\0';
		for (i = len - 1; i > 0; i--) {
			f[i - 1] = (unsigned char)('0' + (v & 7));
			v >>= 3;
		}
		return;
	}
	memset(f, 0, len);
	f[0] = 0x80;
	for (i = len - 1; i > 0 && v > 0; i--) {
		f[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

int
bk_tar_number(const unsigned char *f, size_t len, uint64_t *v)
{
	uint64_t r = 0;
	size_t i = 0;

	if (f[0] & 0x80) {
		if (f[0] != 0x80)
			return -1;	/* negative or too large */
		for (i = 1; i < len; i++) {
			if (r > UINT64_MAX >> 8)
				return -1;
			r = r << 8 | f[i];
		}
		*v = r;
		return 0;
	}
	while (i < len && f[i] == ' ')
		i++;
	if (i == len || f[i] < '0' || f[i] > '7')
		return -1;
	for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
		if (r > UINT64_MAX >> 3)
			return -1;
		r = r << 3 | (uint64_t)(f[i] - '0');
	}
	for (; i < len; i++)
		if (f[i] != ' ' && f[i] != '\0')
			return -1;
	*v = r;
	return 0;
}

/* The header checksum: the sum of its bytes, the checksum field as spaces. */
static unsigned long
chksum(const unsigned char *h)
{
	unsigned long sum = 0;
	size_t i;

	for (i = 0; i < BK_TAR_BLOCK; i++)
		sum += i >= H_CHKSUM && i < H_CHKSUM + 8 ? ' ' : h[i];
	return sum;
}

static void
put_string(unsigned char *f, size_t len, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	memcpy(f, s != NULL ? s : "", n < len ? n : len);
}

/*
 * Fill one ustar block.  name goes into the name field, prefix (may be
 * NULL) into the prefix field; both must fit.
 */
static void
ustar_block(unsigned char *h, const struct bk_tar_entry *e, const char *name,
    size_t namelen, const char *prefix, size_t prefixlen, char type,
    uint64_t size)
{
	unsigned long sum;

	memset(h, 0, BK_TAR_BLOCK);
	memcpy(h + H_NAME, name, namelen);
	put_number(h + H_MODE, 8, e->mode & 07777);
	put_number(h + H_UID, 8, e->uid);
	put_number(h + H_GID, 8, e->gid);
	put_number(h + H_SIZE, 12, size);
	put_number(h + H_MTIME, 12, e->mtime < 0 ? 0 : (uint64_t)e->mtime);
	h[H_TYPE] = (unsigned char)type;
	memcpy(h + H_MAGIC, "ustar", 6);
	memcpy(h + H_VERSION, "00", 2);
	put_string(h + H_UNAME, 32, e->uname);
	put_string(h + H_GNAME, 32, e->gname);
	if (prefix != NULL)
		memcpy(h + H_PREFIX, prefix, prefixlen);
	sum = chksum(h);
	snprintf((char *)h + H_CHKSUM, 8, "%06lo", sum & 0777777);
	h[H_CHKSUM + 7] = ' ';
}

/* Append the pax record "LEN key=value\n" at rec + *off. */
static int
pax_record(char *rec, size_t size, size_t *off, const char *key,
    const char *value)
{
	size_t base = 1 + strlen(key) + 1 + strlen(value) + 1, len, d = 1;
	int n;

	/* The length counts its own digits. */
	for (len = base + d; snprintf(NULL, 0, "%zu", len) != (int)d;
	    len = base + d)
		d++;
	if (*off + len + 1 > size)
		return -1;
	n = snprintf(rec + *off, size - *off, "%zu %s=%s\n", len, key,
	    value);
	if (n < 0 || (size_t)n != len)
		return -1;
	*off += len;
	return 0;
}

ssize_t
bk_tar_header(const struct bk_tar_entry *e, unsigned char *buf, size_t size,
    struct bk_err *err)
{
	char rec[BK_TAR_NAMEMAX + 128], num[32], pname[USTAR_NAME];
	const char *name = e->name, *base;
	size_t len = strlen(name), i, split = 0, off = 0, out = 0;
	int pax_path = 0, pax_size = e->size > OCTAL_SIZE_MAX;

	if (len == 0 || len > BK_TAR_NAMEMAX)
		return bk_err_set(err, BK_EXIT_RUNTIME, "tar member name %s",
		    len == 0 ? "is empty" : "is too long");
	if (len > USTAR_NAME) {
		/* Split at a slash: prefix "/" name. */
		for (i = len - 1; i > 0; i--) {
			if (name[i] != '/')
				continue;
			if (len - i - 1 > USTAR_NAME)
				break;
			if (i <= USTAR_PREFIX && len - i - 1 > 0) {
				split = i;
				break;
			}
		}
		pax_path = split == 0;
	}
	if (pax_path || pax_size) {
		if (pax_path && pax_record(rec, sizeof(rec), &off, "path",
		    name) < 0)
			return bk_err_set(err, BK_EXIT_RUNTIME,
			    "tar member name is too long");
		snprintf(num, sizeof(num), "%" PRIu64, e->size);
		if (pax_size && pax_record(rec, sizeof(rec), &off, "size",
		    num) < 0)
			return bk_err_set(err, BK_EXIT_RUNTIME,
			    "tar pax header overflow");
		if (size < 2 * BK_TAR_BLOCK + off + bk_tar_pad(off))
			return bk_err_set(err, BK_EXIT_RUNTIME,
			    "tar header buffer too small");
		base = strrchr(name, '/');
		base = base != NULL && base[1] != '\0' ? base + 1 : name;
		i = (size_t)snprintf(pname, sizeof(pname), "PaxHeader/%.80s",
		    base);
		ustar_block(buf, e, pname, i, NULL, 0, 'x', off);
		memcpy(buf + BK_TAR_BLOCK, rec, off);
		memset(buf + BK_TAR_BLOCK + off, 0, bk_tar_pad(off));
		out = BK_TAR_BLOCK + off + bk_tar_pad(off);
	}
	if (size < out + BK_TAR_BLOCK)
		return bk_err_set(err, BK_EXIT_RUNTIME,
		    "tar header buffer too small");
	if (split > 0)
		ustar_block(buf + out, e, name + split + 1, len - split - 1,
		    name, split, e->type, e->size);
	else
		ustar_block(buf + out, e, name, len < USTAR_NAME ? len :
		    USTAR_NAME, NULL, 0, e->type, e->size);
	return (ssize_t)(out + BK_TAR_BLOCK);
}

void
bk_tar_walk_init(struct bk_tar_walk *w)
{
	memset(w, 0, sizeof(*w));
}

static int
all_zero(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* A complete header is in w->hdr: check it and set w->left. */
static int
take_header(struct bk_tar_walk *w, struct bk_err *err)
{
	uint64_t sum, size, at = w->offset - BK_TAR_BLOCK;
	unsigned char t = w->hdr[H_TYPE];

	if (bk_tar_number(w->hdr + H_CHKSUM, 8, &sum) < 0 ||
	    sum != chksum(w->hdr))
		return bk_err_set(err, BK_EXIT_RUNTIME, "tar header at offset "
		    "%" PRIu64 ": bad checksum", at);
	if (bk_tar_number(w->hdr + H_SIZE, 12, &size) < 0)
		return bk_err_set(err, BK_EXIT_RUNTIME, "tar header at offset "
		    "%" PRIu64 ": bad size field", at);
	/* Links, devices, FIFOs and directories carry no data. */
	if (t >= '1' && t <= '6')
		size = 0;
	w->left = size + bk_tar_pad(size);
	if (!w->owner_set) {
		w->owner_set = 1;
		if (bk_tar_number(w->hdr + H_UID, 8, &sum) == 0)
			w->uid = (uint32_t)sum;
		if (bk_tar_number(w->hdr + H_GID, 8, &sum) == 0)
			w->gid = (uint32_t)sum;
		memcpy(w->uname, w->hdr + H_UNAME, 32);
		memcpy(w->gname, w->hdr + H_GNAME, 32);
		w->uname[32] = w->gname[32] = '\0';
	}
	w->members++;
	return 0;
}

int
bk_tar_walk_feed(struct bk_tar_walk *w, const void *buf, size_t n,
    bk_tar_out_fn out, void *arg, struct bk_err *err)
{
	const unsigned char *p = buf;
	size_t k, i;

	while (n > 0) {
		if (w->ended) {
			for (i = 0; i < n; i++)
				if (p[i] != 0)
					return bk_err_set(err, BK_EXIT_RUNTIME,
					    "tar: data after the end of the "
					    "archive at offset %" PRIu64,
					    w->offset + i);
			w->offset += n;
			return 0;
		}
		if (w->left > 0) {
			k = w->left < n ? (size_t)w->left : n;
			if (out(arg, p, k, err) < 0)
				return -1;
			w->left -= k;
		} else {
			k = BK_TAR_BLOCK - w->have < n ?
			    BK_TAR_BLOCK - w->have : n;
			memcpy(w->hdr + w->have, p, k);
			w->have += k;
		}
		p += k;
		n -= k;
		w->offset += k;
		if (w->have < BK_TAR_BLOCK)
			continue;
		w->have = 0;
		if (all_zero(w->hdr, BK_TAR_BLOCK)) {
			w->ended = 1;
			continue;
		}
		if (take_header(w, err) < 0 ||
		    out(arg, w->hdr, BK_TAR_BLOCK, err) < 0)
			return -1;
	}
	return 0;
}

int
bk_tar_walk_end(const struct bk_tar_walk *w, struct bk_err *err)
{
	if (w->have != 0 || w->left != 0)
		return bk_err_set(err, BK_EXIT_RUNTIME, "tar: archive "
		    "truncated at offset %" PRIu64 " (inside a %s)", w->offset,
		    w->have != 0 ? "header" : "member");
	return 0;
}
