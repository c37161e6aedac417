/* verify.c - unit tests for lib/verify: layer detection and the plain
 * dump's ends, through bk_verify() on small streams. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "verify.h"

/* Run bk_verify() on text; returns its code, the report in *r. */
static int
vtext(const char *text, size_t len, struct bk_verify_report *r)
{
	char path[512];
	struct bk_verify_opts o;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/in", tap_tmpdir());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		return -1;
	lseek(fd, 0, SEEK_SET);
	memset(&o, 0, sizeof(o));
	rc = bk_verify(fd, &o, r);
	close(fd);
	return rc;
}

static const char dump15[] =
    "--\n-- PostgreSQL database dump\n--\n\n\\restrict K3y\n\n"
    "SET x = 1;\n\n--\n-- PostgreSQL database dump complete\n--\n\n"
    "\\unrestrict K3y\n\n";
static const char dumpall15[] =
    "--\n-- PostgreSQL database cluster dump\n--\n\n\\restrict Abc\n\n"
    "CREATE ROLE r;\n\n\n\\unrestrict Abc\n\n"
    "--\n-- PostgreSQL database cluster dump complete\n--\n\n";
static const char dumpold[] =
    "--\n-- PostgreSQL database dump\n--\n\nSET x = 1;\n\n"
    "--\n-- PostgreSQL database dump complete\n--\n\n";

int
main(void)
{
	struct bk_verify_report *r = calloc(1, sizeof(*r));
	unsigned char gz[3] = { 0x1f, 0x8b, 8 }, tar[512];
	char buf[512];
	size_t i, n;
	int bad = 0;

	plan(16);
	ok(strcmp(bk_verify_detect((const unsigned char *)
	    "age-encryption.org/v1\n-> X25519", 30), "age") == 0, "age");
	ok(strcmp(bk_verify_detect((const unsigned char *)
	    "-----BEGIN AGE ENCRYPTED FILE-----\n", 35), "age") == 0,
	    "armored age");
	ok(strcmp(bk_verify_detect(gz, 3), "gzip") == 0, "gzip");
	ok(strcmp(bk_verify_detect((const unsigned char *)"PGDMP\1\16", 7),
	    "custom") == 0, "custom");
	memset(tar, 0, sizeof(tar));
	memcpy(tar + 257, "ustar", 5);
	ok(strcmp(bk_verify_detect(tar, 512), "tar") == 0, "tar");
	ok(bk_verify_detect((const unsigned char *)"hello", 5) == NULL &&
	    bk_verify_detect(gz, 2) == NULL, "unknown or too short: none");

	ok(vtext(dump15, sizeof(dump15) - 1, r) == 0, "pg_dump 15.14+: the "
	    "footer, then \\unrestrict: %s", r->msg);
	ok(vtext(dumpall15, sizeof(dumpall15) - 1, r) == 0, "pg_dumpall "
	    "15.14+: \\unrestrict, then the footer: %s", r->msg);
	ok(vtext(dumpold, sizeof(dumpold) - 1, r) == 0, "an older dump "
	    "without \\restrict: %s", r->msg);
	/* every cut that removes more than trailing blank lines fails */
	n = sizeof(dump15) - 1;
	for (i = 1; i < n - 1; i++)
		if (vtext(dump15, i, r) != 1)
			bad++;
	ok(bad == 0, "every cut of a 15.14 dump fails (%d passed)", bad);
	bad = 0;
	n = sizeof(dumpall15) - 1;
	for (i = 1; i < n - 1; i++)
		if (vtext(dumpall15, i, r) != 1)
			bad++;
	ok(bad == 0, "every cut of a 15.14 cluster dump fails (%d passed)",
	    bad);
	snprintf(buf, sizeof(buf), "%s", dump15);
	*strstr(buf, "\\unrestrict K3y") = 'X';
	ok(vtext(buf, strlen(buf), r) == 1,
	    "a broken \\unrestrict line: %s", r->msg);
	snprintf(buf, sizeof(buf), "%s", dump15);
	memcpy(strstr(buf, "\\unrestrict K3y") + 12, "XXX", 3);
	ok(vtext(buf, strlen(buf), r) == 1, "another key in \\unrestrict");
	ok(vtext("", 0, r) == 1 && strstr(r->msg, "empty"), "empty: %s",
	    r->msg);
	ok(vtext("garbage", 7, r) == 1, "unknown content: %s", r->msg);
	ok(vtext(dumpold, sizeof(dumpold) - 1, r) == 0 && r->size ==
	    sizeof(dumpold) - 1 && strlen(r->sha256) == 64 && r->n == 1 &&
	    strcmp(r->layer[0].name, "plain") == 0,
	    "the report: size, SHA-256, one plain layer");
	free(r);
	return done_testing();
}
