/* xml.c - unit tests for lib/xml: element paths and text over expat. */
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "xml.h"

struct seen {
	char	log[4096];
	int	stop_at;	/* stop at the n-th element, 0 never */
	int	n;
};

static int
record(void *arg, const char *path, const char *text, size_t len,
    struct bk_err *err)
{
	struct seen *s = arg;
	size_t l = strlen(s->log);

	snprintf(s->log + l, sizeof(s->log) - l, "%s=[%.*s];", path,
	    (int)len, text);
	if (++s->n == s->stop_at)
		return bk_err_set(err, 3, "stopped at %s", path);
	return 0;
}

static int
parse(const char *doc, struct seen *s, struct bk_err *e)
{
	memset(s->log, 0, sizeof(s->log));
	s->n = 0;
	bk_err_clear(e);
	return bk_xml_parse(doc, strlen(doc), record, s, e);
}

int
main(void)
{
	struct seen s = { "", 0, 0 };
	struct bk_err e;
	char big[BK_XML_TEXTMAX + 200];
	int i;

	plan(14);
	ok(parse("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/"
	    "2006-03-01/\"><Name>b</Name><Contents><Key>a &amp; b"
	    "</Key><Size>12</Size></Contents></ListBucketResult>", &s,
	    &e) == 0, "an S3 listing parses");
	is_str(s.log, "ListBucketResult/Name=[b];"
	    "ListBucketResult/Contents/Key=[a & b];"
	    "ListBucketResult/Contents/Size=[12];"
	    "ListBucketResult/Contents=[];ListBucketResult=[];",
	    "paths in end order, entities decoded, no child text in parents");
	ok(parse("<E>x<C>y</C>z</E>", &s, &e) == 0 &&
	    strcmp(s.log, "E/C=[y];E=[xz];") == 0,
	    "mixed content: a parent keeps its own text only (%s)", s.log);
	ok(parse("<E><K>caf\xc3\xa9 \xe2\x82\xac</K></E>", &s, &e) == 0 &&
	    strstr(s.log, "caf\xc3\xa9 \xe2\x82\xac") != NULL,
	    "UTF-8 text passes through");
	ok(parse("<E><K>a</E>", &s, &e) < 0 &&
	    strstr(e.msg, "malformed XML at line 1") != NULL,
	    "mismatched tags: %s", e.msg);
	ok(parse("<E>", &s, &e) < 0, "an unclosed document is an error");
	ok(parse("", &s, &e) < 0, "an empty document is an error");
	ok(parse("<!DOCTYPE E [<!ENTITY x \"y\">]><E>&x;</E>", &s, &e) < 0 &&
	    strstr(e.msg, "not accepted") != NULL,
	    "a DOCTYPE is refused: %s", e.msg);
	ok(parse("<E>&unknown;</E>", &s, &e) < 0,
	    "an undefined entity is refused");
	{
		char deep[512] = "";

		for (i = 0; i < BK_XML_DEPTH + 1; i++)
			strcat(deep, "<a>");
		for (i = 0; i < BK_XML_DEPTH + 1; i++)
			strcat(deep, "</a>");
		ok(parse(deep, &s, &e) < 0 && strstr(e.msg, "deeply"),
		    "nesting deeper than %d is refused: %s", BK_XML_DEPTH,
		    e.msg);
	}
	strcpy(big, "<E>");
	memset(big + 3, 'x', BK_XML_TEXTMAX + 1);
	strcpy(big + 3 + BK_XML_TEXTMAX + 1, "</E>");
	ok(parse(big, &s, &e) < 0 && strstr(e.msg, "too long"),
	    "text over %d bytes is refused", BK_XML_TEXTMAX);
	s.stop_at = 2;
	ok(parse("<E><A>1</A><B>2</B><C>3</C></E>", &s, &e) < 0 &&
	    strcmp(e.msg, "stopped at E/B") == 0 && s.n == 2,
	    "the callback stops the parse with its own error: %s", e.msg);
	s.stop_at = 0;
	ok(parse("<Error><Code>NoSuchKey</Code><Message>The specified key "
	    "does not exist.</Message><RequestId>tx1</RequestId></Error>",
	    &s, &e) == 0 && strstr(s.log, "Error/Code=[NoSuchKey]"),
	    "an S3 error document");
	ok(parse("<E>\xff\xfe</E>", &s, &e) < 0,
	    "invalid UTF-8 is refused");
	return done_testing();
}
