/* tar.c - unit tests for lib/tar: headers (ustar, prefix, pax) and the
 * walker that strips an archive's end-of-archive blocks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "tar.h"

static unsigned char arch[64 * 1024];	/* an archive built by the tests */
static size_t archlen;
static unsigned char got[64 * 1024];	/* what the walker passed on */
static size_t gotlen;
static int fail_after = -1;		/* out() fails after n calls */

static int
out(void *arg, const void *buf, size_t n, struct bk_err *err)
{
	(void)arg;
	if (fail_after == 0)
		return bk_err_set(err, BK_EXIT_RUNTIME, "out failed");
	if (fail_after > 0)
		fail_after--;
	if (gotlen + n > sizeof(got))
		return bk_err_set(err, BK_EXIT_RUNTIME, "out overflow");
	memcpy(got + gotlen, buf, n);
	gotlen += n;
	return 0;
}

/* Append a member (header, data, padding) to arch. */
static void
add(const char *name, const char *data, char type)
{
	struct bk_tar_entry e;
	struct bk_err err;
	size_t n = strlen(data);
	ssize_t h;

	memset(&e, 0, sizeof(e));
	e.name = name;
	e.size = type == '0' ? n : 0;
	e.mode = type == '5' ? 0700 : 0600;
	e.type = type;
	e.uid = 101;
	e.gid = 104;
	e.uname = "postgres";
	e.gname = "postgres";
	e.mtime = 1700000000;
	h = bk_tar_header(&e, arch + archlen, sizeof(arch) - archlen, &err);
	if (h < 0) {
		diag("header: %s", err.msg);
		exit(2);
	}
	archlen += (size_t)h;
	if (type == '0') {
		memcpy(arch + archlen, data, n);
		archlen += n;
		memset(arch + archlen, 0, bk_tar_pad(n));
		archlen += bk_tar_pad(n);
	}
}

static void
build(void)
{
	archlen = 0;
	add("backup_label", "START WAL LOCATION: 0/2000028\n", '0');
	add("base/", "", '5');
	add("base/1/1259", "relation data that is not block aligned", '0');
	add("global/pg_control", "", '0');
}

/* Feed arch plus tail (bytes after the members) in chunks of k. */
static int
walk(size_t k, const unsigned char *tail, size_t tlen, struct bk_tar_walk *w,
    struct bk_err *err)
{
	unsigned char all[sizeof(arch) + 4096];
	size_t off, n;

	memcpy(all, arch, archlen);
	if (tlen > 0)
		memcpy(all + archlen, tail, tlen);
	bk_tar_walk_init(w);
	gotlen = 0;
	for (off = 0; off < archlen + tlen; off += n) {
		n = archlen + tlen - off < k ? archlen + tlen - off : k;
		if (bk_tar_walk_feed(w, all + off, n, out, NULL, err) < 0)
			return -1;
	}
	return bk_tar_walk_end(w, err);
}

/* Does GNU tar list file as the given names (one per line)? */
static void
tar_lists(const char *file, const char *want, const char *what)
{
	char cmd[1024], buf[4096];
	size_t n;
	FILE *p;

	if (access("/bin/tar", X_OK) != 0 && access("/usr/bin/tar", X_OK)) {
		skip(1, "no tar");
		return;
	}
	snprintf(cmd, sizeof(cmd), "tar -tf %s 2>&1", file);
	if ((p = popen(cmd, "r")) == NULL) {
		skip(1, "popen failed");
		return;
	}
	n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = '\0';
	if (!ok(pclose(p) == 0 && strcmp(buf, want) == 0, "tar -t: %s",
	    what))
		diag("got: %s", buf);
}

static void
test_numbers(void)
{
	unsigned char f[12];
	uint64_t v;

	ok(bk_tar_number((const unsigned char *)"0000644\0", 8, &v) == 0 &&
	    v == 0644, "octal with NUL");
	ok(bk_tar_number((const unsigned char *)"   644 \0", 8, &v) == 0 &&
	    v == 0644, "octal with blanks");
	ok(bk_tar_number((const unsigned char *)"0000648\0", 8, &v) < 0,
	    "8 is not octal");
	ok(bk_tar_number((const unsigned char *)"\0\0\0\0\0\0\0\0", 8, &v) < 0,
	    "an empty field is not a number");
	memset(f, 0, sizeof(f));
	f[0] = 0x80;
	f[7] = 0x02;	/* 2 << 32 */
	ok(bk_tar_number(f, 12, &v) == 0 && v == 2ULL << 32,
	    "base-256: %llu", (unsigned long long)v);
	f[0] = 0xff;
	ok(bk_tar_number(f, 12, &v) < 0, "negative base-256 refused");
	is_int(bk_tar_pad(0), 0, "pad 0");
	is_int(bk_tar_pad(1), 511, "pad 1");
	is_int(bk_tar_pad(512), 0, "pad 512");
	is_int(bk_tar_pad(513), 511, "pad 513");
}

static void
test_headers(void)
{
	char name[300], path[600], rec[64];
	unsigned char h[BK_TAR_HDRMAX];
	struct bk_tar_entry e;
	struct bk_err err;
	uint64_t v;
	ssize_t n;
	FILE *f;
	int i;

	memset(&e, 0, sizeof(e));
	e.name = "globals.sql";
	e.size = 526;
	e.mode = 0600;
	e.type = '0';
	e.mtime = 1700000000;
	n = bk_tar_header(&e, h, sizeof(h), &err);
	is_int(n, 512, "a short name: one block");
	ok(memcmp(h + 257, "ustar\0" "00", 8) == 0, "ustar magic");
	ok(memcmp(h + 124, "00000001016\0", 12) == 0, "size in octal");
	ok(bk_tar_number(h + 148, 8, &v) == 0, "checksum field parses");

	/* 150 bytes with a slash: ustar prefix + name. */
	memset(name, 'a', 150);
	name[50] = '/';
	name[150] = '\0';
	e.name = name;
	n = bk_tar_header(&e, h, sizeof(h), &err);
	is_int(n, 512, "a long name that splits: still one block");
	ok(h[345] == 'a' && h[345 + 50] == '\0' && h[0] == 'a',
	    "split into prefix and name");

	/* 200 bytes and no slash to split at: pax path. */
	memset(name, 'b', 200);
	name[200] = '\0';
	n = bk_tar_header(&e, h, sizeof(h), &err);
	is_int(n, 3 * 512, "an unsplittable name: pax header + block");
	ok(h[156] == 'x', "pax header type x");
	snprintf(rec, sizeof(rec), "%d path=", 200 + 10);
	ok(memcmp(h + 512, rec, strlen(rec)) == 0, "pax path record %s",
	    rec);
	ok(h[1024 + 156] == '0', "then the file's own header");

	/* And GNU tar agrees. */
	snprintf(path, sizeof(path), "%s/long.tar", tap_tmpdir());
	if ((f = fopen(path, "w")) == NULL) {
		diag("cannot write %s", path);
		exit(2);
	}
	e.size = 3;
	n = bk_tar_header(&e, h, sizeof(h), &err);
	fwrite(h, 1, (size_t)n, f);
	fwrite("abc", 1, 3, f);
	for (i = 0; i < 509 + 1024; i++)
		fputc(0, f);
	fclose(f);
	{
		char want[sizeof(name) + 2];

		snprintf(want, sizeof(want), "%s\n", name);
		tar_lists(path, want, "pax path read back");
	}

	/* 10 GiB: pax size, and base-256 in the ustar field. */
	e.name = "db.dump";
	e.size = 10ULL << 30;
	n = bk_tar_header(&e, h, sizeof(h), &err);
	is_int(n, 3 * 512, "10 GiB: pax header + block");
	ok(strstr((char *)h + 512, "size=10737418240\n") != NULL,
	    "pax size record");
	ok(bk_tar_number(h + 1024 + 124, 12, &v) == 0 && v == 10ULL << 30,
	    "base-256 size in the ustar block");

	e.name = "";
	ok(bk_tar_header(&e, h, sizeof(h), &err) < 0, "empty name refused");
	e.name = "x";
	ok(bk_tar_header(&e, h, 100, &err) < 0, "small buffer refused");
}

static void
test_walk(void)
{
	static const unsigned char zeros[4096];
	static const size_t chunks[] = { 1, 7, 511, 512, 513, 4096, 65536 };
	unsigned char tail[2048];
	struct bk_tar_walk w;
	struct bk_err err;
	char path[600];
	size_t i;
	FILE *f;

	build();
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		if (!ok(walk(chunks[i], zeros, 1024, &w, &err) == 0 &&
		    gotlen == archlen && memcmp(got, arch, archlen) == 0 &&
		    w.ended && w.members == 4,
		    "chunks of %zu: members passed, end held back",
		    chunks[i]))
			diag("%s", err.msg);
	}
	ok(w.owner_set && w.uid == 101 && w.gid == 104 &&
	    strcmp(w.uname, "postgres") == 0, "owner of the first member");

	/* The walker's output plus our own end is a valid archive. */
	snprintf(path, sizeof(path), "%s/walk.tar", tap_tmpdir());
	if ((f = fopen(path, "w")) == NULL)
		exit(2);
	fwrite(got, 1, gotlen, f);
	fwrite(zeros, 1, 1024, f);
	fclose(f);
	tar_lists(path, "backup_label\nbase/\nbase/1/1259\nglobal/pg_control\n",
	    "walked archive");

	ok(walk(100, zeros, 4096, &w, &err) == 0, "more zero blocks are fine");
	ok(walk(100, NULL, 0, &w, &err) == 0 && !w.ended,
	    "no end blocks at all: fine at a member boundary");

	memset(tail, 0, sizeof(tail));
	tail[1500] = 'x';
	ok(walk(300, tail, sizeof(tail), &w, &err) < 0 &&
	    strstr(err.msg, "after the end") != NULL,
	    "data after the end refused: %s", err.msg);

	ok(walk(64, NULL, 0, &w, &err) == 0, "again");
	archlen -= 600;
	ok(walk(64, NULL, 0, &w, &err) < 0 &&
	    strstr(err.msg, "truncated") != NULL, "truncated member: %s",
	    err.msg);
	build();
	archlen -= 100;	/* inside the last header (it has no data) */
	ok(walk(64, NULL, 0, &w, &err) < 0 && strstr(err.msg, "header"),
	    "truncated header: %s", err.msg);

	build();
	arch[512 + 100 + 30] ^= 1;	/* in the data, not a header */
	ok(walk(512, zeros, 1024, &w, &err) == 0, "data is not checked");
	build();
	arch[1024 + 2] ^= 1;		/* the second header's name */
	ok(walk(512, zeros, 1024, &w, &err) < 0 &&
	    strstr(err.msg, "checksum") != NULL &&
	    strstr(err.msg, "offset 1024") != NULL, "bad checksum: %s",
	    err.msg);

	build();
	fail_after = 2;
	ok(walk(512, zeros, 1024, &w, &err) < 0 &&
	    strcmp(err.msg, "out failed") == 0, "output errors come back");
	fail_after = -1;
}

int
main(void)
{
	test_numbers();
	test_headers();
	test_walk();
	return done_testing();
}
