# bk - small tools for PostgreSQL backups.  GNU make; no configure step.
#
#   make [all]            build the tools into bin/
#   make check            unit tests (TAP) and integration tests (bats), via prove
#   make bench            side-by-side benchmarks (bench/)
#   make demo [S3=1]      the main job, end to end, on a throwaway database
#                         (into a directory; S3=1: into a throwaway S3 server)
#   make fuzz [FUZZ_TIME=60]  libFuzzer on every parser of untrusted input
#                         (clang; t/fuzz/README), FUZZ_TIME seconds each
#   make deps             install missing build and test dependencies (apt)
#   make install          PREFIX=/usr/local DESTDIR=
#   make SANITIZE=1 ...   build with ASan and UBSan
#   make WERROR=1 ...     warnings are errors (CI)

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
MANDIR	?= $(PREFIX)/share/man
PKG_CONFIG ?= pkg-config
# prove prints what the tests say on the way (the fault trials' counts)
# and each failed test with its diagnostics, not only the summary.
PROVEFLAGS ?= --comments --failures

CC	?= cc
CFLAGS	?= -O2 -g
WARN	= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	  -Wpointer-arith -Wformat=2 -Wvla -Wundef
ifeq ($(WERROR),1)
WARN	+= -Werror
endif
ifeq ($(SANITIZE),1)
CFLAGS	+= -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
	   -fno-omit-frame-pointer
LDFLAGS	+= -fsanitize=address,undefined
endif
BK_CPPFLAGS = -std=c11 -D_GNU_SOURCE -Ilib $(WARN)

# Each tool links only the libraries it needs.
pc_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pc_libs = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null || echo $(2))
zlib_LIBS	:= $(call pc_libs,zlib,-lz)
crypto_LIBS	:= $(call pc_libs,libcrypto,-lcrypto)
pq_LIBS		:= $(call pc_libs,libpq,-lpq)
curl_LIBS	:= $(call pc_libs,libcurl,-lcurl)
expat_LIBS	:= $(call pc_libs,expat,-lexpat)
PKG_CFLAGS	:= $(call pc_cflags,zlib libcrypto libpq libcurl expat)
ALL_LIBS	= $(zlib_LIBS) $(crypto_LIBS) $(pq_LIBS) $(curl_LIBS) \
		  $(expat_LIBS) -lpthread
S3_LIBS		= $(curl_LIBS) $(expat_LIBS) $(crypto_LIBS) -lpthread

TOOLS	= $(patsubst bin/%.c,%,$(wildcard bin/bk-*.c))
LIBSRC	= $(wildcard lib/*.c)
LIBOBJ	= $(LIBSRC:.c=.o)
UNITSRC	= $(wildcard t/unit/*.c)
UNITBIN	= $(UNITSRC:.c=.t)
MAN	= $(wildcard man/*.[17])

# Fuzzing: libFuzzer targets in t/fuzz/, built by clang with the library
# compiled apart (t/fuzz/obj/) so that the normal build is untouched.
CC_FUZZ	?= clang
FUZZ_TIME ?= 60
FUZZ_CFLAGS = -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZSRC	= $(filter-out t/fuzz/main.c,$(wildcard t/fuzz/*.c))
FUZZBIN	= $(FUZZSRC:.c=)
FUZZOBJ	= $(patsubst lib/%.c,t/fuzz/obj/%.o,$(LIBSRC))
REPLAY	= $(FUZZSRC:.c=.replay)

bk-gz_LIBS	= $(zlib_LIBS) -lpthread
bk-crypt_LIBS	= $(crypto_LIBS)
bk-dump_LIBS	= $(pq_LIBS) $(zlib_LIBS)
bk-s3put_LIBS	= $(S3_LIBS)
bk-s3get_LIBS	= $(S3_LIBS)
bk-s3ls_LIBS	= $(S3_LIBS)
bk-age_LIBS	= $(S3_LIBS)
bk-prune_LIBS	= $(S3_LIBS)
bk-verify_LIBS	= $(zlib_LIBS) $(crypto_LIBS) $(pq_LIBS) -lpthread

all: $(addprefix bin/,$(TOOLS))

# Rebuild everything when the flags change (SANITIZE=1, WERROR=1, CC=...).
FLAGS_NOW = $(CC) $(CFLAGS) $(BK_CPPFLAGS) $(PKG_CFLAGS) $(LDFLAGS)
.flags: FORCE
	@echo '$(FLAGS_NOW)' | cmp -s - $@ || echo '$(FLAGS_NOW)' > $@

%.o: %.c .flags
	$(CC) $(CFLAGS) $(BK_CPPFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

lib/libbk.a: $(LIBOBJ)
	rm -f $@
	$(AR) rcs $@ $^

bin/%: bin/%.o lib/libbk.a
	$(CC) $(LDFLAGS) -o $@ $< lib/libbk.a $($*_LIBS)

t/tap.o: t/tap.c .flags
	$(CC) $(CFLAGS) $(BK_CPPFLAGS) -It -MMD -MP -c -o $@ $<

t/unit/%.o: t/unit/%.c .flags
	$(CC) $(CFLAGS) $(BK_CPPFLAGS) $(PKG_CFLAGS) -It -MMD -MP -c -o $@ $<

t/unit/%.t: t/unit/%.o t/tap.o lib/libbk.a
	$(CC) $(LDFLAGS) -o $@ $< t/tap.o lib/libbk.a $(ALL_LIBS)

# The fuzz targets without libFuzzer: replay a corpus (t/fuzz/main.c).
t/fuzz/%.replay: t/fuzz/%.o t/fuzz/main.o lib/libbk.a
	$(CC) $(LDFLAGS) -o $@ $< t/fuzz/main.o lib/libbk.a $(ALL_LIBS)

# The unit tests, then the integration tests; prove prints each summary.
# Missing dependencies are installed first (make deps), so that
# "make check" works on a fresh machine on its own.
check: deps
	@$(MAKE) --no-print-directory all $(UNITBIN) $(REPLAY)
	@echo '== unit tests'
	prove $(PROVEFLAGS) $(UNITBIN)
	@echo '== fuzz corpora, replayed'
	@for r in $(REPLAY); do n=$${r%.replay}; $$r t/fuzz/corpus/$${n##*/} || exit 1; done
	@echo '== man pages'
	mandoc -Tlint -Wwarning $(MAN)
	@echo '== integration tests'
	BK_SANITIZE=$(SANITIZE) prove $(PROVEFLAGS) --exec 'bats --tap' \
	    $(or $(BATS),$(wildcard t/*.bats))

t/fuzz/obj/%.o: lib/%.c
	@mkdir -p t/fuzz/obj
	$(CC_FUZZ) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined \
	    $(BK_CPPFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(FUZZBIN): t/fuzz/%: t/fuzz/%.c t/fuzz/fuzz.h $(FUZZOBJ)
	$(CC_FUZZ) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined \
	    $(BK_CPPFLAGS) $(PKG_CFLAGS) -It/fuzz -o $@ $< $(FUZZOBJ) $(ALL_LIBS)

fuzz-build: $(FUZZBIN)

fuzz: fuzz-build
	FUZZ_TIME=$(FUZZ_TIME) t/fuzz/run $(notdir $(FUZZBIN))

bench: deps
	@$(MAKE) --no-print-directory all
	bench/run

demo: deps
	@$(MAKE) --no-print-directory all
	S3=$(S3) contrib/demo.sh

deps:
	@.ci/deps

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(addprefix bin/,$(TOOLS)) $(DESTDIR)$(BINDIR)
	install -m 644 $(filter %.1,$(MAN)) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(filter %.7,$(MAN)) $(DESTDIR)$(MANDIR)/man7

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(TOOLS))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(filter %.1,$(MAN))))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(filter %.7,$(MAN))))

clean:
	rm -f bin/*.o bin/*.d lib/*.o lib/*.d lib/libbk.a t/*.o t/*.d \
	    t/unit/*.o t/unit/*.d t/unit/*.t .flags $(addprefix bin/,$(TOOLS)) \
	    $(FUZZBIN) t/fuzz/*.o t/fuzz/*.d $(REPLAY)
	rm -rf t/fuzz/obj

.PHONY: all check bench demo deps install uninstall clean fuzz fuzz-build FORCE
.SECONDARY:
-include $(wildcard bin/*.d lib/*.d t/*.d t/unit/*.d t/fuzz/*.d)
