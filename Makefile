# logship build. Sources are found by wildcard so that adding a module means
# adding its files, never editing this file:
#   buffer/*.c            -> $(B)/libbuffer.a   (storage engine: libc, zlib, zstd)
#   common/*.c            -> $(B)/libcommon.a   (logging, config, metrics, http)
#   broker/*.c - main.c   -> $(B)/libbroker.a,  broker/main.c -> $(B)/logship-broker
#   agent/ inputs/ filters/ outputs/ (minus agent/main.c) -> $(B)/libagent.a, -> $(B)/logship
#                         (with the agent's stand-ins for OpenSSL and librdkafka,
#                         which only the agent links: see LDLIBS below)
#   cli/*.c               -> $(B)/logshipctl
#   tests/unit/test_*.c   -> $(B)/tests/test_*  (cmocka; linked with every library)
#   tests/tools/*.c       -> $(B)/tests/tools/* (helper programs for integration tests)
#   tests/bench/*.c       -> $(B)/bench/*       (benchmark drivers)
#   tests/fuzz/fuzz_*.c   -> build/fuzz/fuzz_*  (libFuzzer, clang)

B       ?= build
CC      ?= cc
SAN     ?=
OPT     ?= -O2
PKGS    := yaml-0.1 libcurl zlib libzstd rdkafka libsystemd openssl jansson libpcre2-8
CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE -g $(OPT) -Wall -Wextra -Werror -Wshadow \
           -Wno-unused-parameter -fno-strict-aliasing -I. -MMD -MP $(SAN)
CFLAGS  += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# Each binary links only the libraries it calls. Big libraries the agent
# rarely needs are loaded on first use instead (common/lazy_lib.h): libcurl
# (common/curl_lazy.c, never linked by anything), OpenSSL
# (agent/openssl_lazy.c) and librdkafka (outputs/kafka/rdkafka_lazy.c);
# linked, they would cost every agent ~4 MiB of RSS. Their headers are used.
# --as-needed drops what a binary ends up not calling.
pkglibs = $(shell pkg-config --libs $(1) 2>/dev/null)
BASE_LIBS   := $(call pkglibs,yaml-0.1 zlib libzstd libsystemd jansson libpcre2-8) -lpthread -lm
AGENT_LIBS  := $(BASE_LIBS)
BROKER_LIBS := $(call pkglibs,openssl) $(BASE_LIBS)
CLI_LIBS    := $(call pkglibs,rdkafka) $(BASE_LIBS)
# Tests, tools, benches and fuzzers: everything but libcurl.
LDLIBS  := $(filter-out -lcurl,$(call pkglibs,$(PKGS))) -lpthread -lm
TESTLIBS:= $(call pkglibs,cmocka)
LDFLAGS += -Wl,--as-needed $(SAN)

BUFFER_SRC := $(wildcard buffer/*.c)
COMMON_SRC := $(wildcard common/*.c)
BROKER_SRC := $(filter-out broker/main.c,$(wildcard broker/*.c))
AGENT_SRC  := $(filter-out agent/main.c,$(wildcard agent/*.c)) \
              $(wildcard inputs/*.c inputs/*/*.c filters/*.c filters/*/*.c \
                         outputs/*.c outputs/*/*.c)
CLI_SRC    := $(wildcard cli/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
TOOL_SRC   := $(wildcard tests/tools/*.c)
BENCH_SRC  := $(wildcard tests/bench/*.c)
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))
LIBS := $(B)/libagent.a $(B)/libbroker.a $(B)/libcommon.a $(B)/libbuffer.a
# Dependencies point one way (agent, broker, cli -> common -> buffer): each
# daemon links only its own layers.
CORE_LIBS := $(B)/libcommon.a $(B)/libbuffer.a

BINS := $(if $(wildcard agent/main.c),$(B)/logship) \
        $(if $(wildcard broker/main.c),$(B)/logship-broker) \
        $(if $(CLI_SRC),$(B)/logshipctl)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
TOOL_BINS  := $(patsubst tests/tools/%.c,$(B)/tests/tools/%,$(TOOL_SRC))
BENCH_BINS := $(patsubst tests/bench/%.c,$(B)/bench/%,$(BENCH_SRC))

.PHONY: all deps test check fuzz bench run clean install deb bins tests-build
all: deps-ok $(BINS)
# The binaries alone, without the package check (debian/rules builds this).
bins: $(BINS)

# Every entry point first checks the Debian packages (installs them as root).
.PHONY: deps-ok
deps-ok:
	@tools/deps.sh
deps:
	@tools/deps.sh

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(B)/libbuffer.a: $(call obj,$(BUFFER_SRC))
$(B)/libcommon.a: $(call obj,$(COMMON_SRC))
$(B)/libbroker.a: $(call obj,$(BROKER_SRC))
$(B)/libagent.a:  $(call obj,$(AGENT_SRC))
$(LIBS):
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

# The agent's group: libcommon.a's calls into OpenSSL (common/tls_server.c)
# bind to the stand-ins in libagent.a, whatever the order of the pulls.
$(B)/logship: $(call obj,agent/main.c) $(B)/libagent.a $(CORE_LIBS)
	$(CC) $(LDFLAGS) $< -Wl,--start-group $(filter %.a,$^) -Wl,--end-group $(AGENT_LIBS) -o $@
$(B)/logship-broker: $(call obj,broker/main.c) $(B)/libbroker.a $(CORE_LIBS)
	$(CC) $(LDFLAGS) $^ $(BROKER_LIBS) -o $@
$(B)/logshipctl: $(call obj,$(CLI_SRC)) $(CORE_LIBS)
	$(CC) $(LDFLAGS) $^ $(CLI_LIBS) -o $@

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) $(TESTLIBS) -o $@
$(B)/tests/tools/%: $(B)/obj/tests/tools/%.o $(CORE_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) $(TESTLIBS) -o $@
$(B)/bench/%: $(B)/obj/tests/bench/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

tests-build: $(BINS) $(UNIT_BINS) $(TOOL_BINS)

# make test: every suite (unit, integration, crash); last line "N passed, N failed".
# T=pattern runs only the tests whose file name contains pattern.
test: deps-ok
	@mkdir -p $(B) && $(MAKE) --no-print-directory tests-build >$(B)/build.log 2>&1 || \
	    { cat $(B)/build.log; echo "0 passed, 1 failed"; exit 1; }
	@tests/run.sh $(B) $(T)

# make check: the same suites under AddressSanitizer and UndefinedBehaviorSanitizer.
check: deps-ok
	@$(MAKE) --no-print-directory test B=build/check OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"

# make fuzz: each libFuzzer target for FUZZ_SECONDS (default 30) with clang.
FUZZ_SECONDS ?= 30
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
fuzz: deps-ok
	@$(MAKE) --no-print-directory fuzz-build B=build/fuzz CC=clang OPT=-O1 \
	    SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
	         -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION"
	@tests/fuzz/run.sh build/fuzz $(FUZZ_SECONDS)
.PHONY: fuzz-build
fuzz-build: $(patsubst tests/fuzz/%.c,$(B)/%,$(FUZZ_SRC))
$(B)/fuzz_%: $(B)/obj/tests/fuzz/fuzz_%.o $(LIBS)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer $^ $(LDLIBS) -o $@

# make bench: prints figures; never fails on a timing.
bench: deps-ok
	@$(MAKE) --no-print-directory $(BINS) $(BENCH_BINS) $(TOOL_BINS)
	@tests/bench/run.sh $(B)

# make run: a local broker and agent on the shipped config, events flowing.
run: all $(TOOL_BINS)
	@tools/run.sh $(B)

clean:
	rm -rf build

# make install: binaries, default configs, man pages, systemd units, data dirs.
#   make install [DESTDIR=/stage] [PREFIX=/usr/local] [sysconfdir=/etc]
# Installs what $(B) holds (run `make` first); the units and the man pages get
# the install's paths. The Debian package installs with PREFIX=/usr.
PREFIX        ?= /usr/local
prefix        ?= $(PREFIX)
bindir        ?= $(prefix)/bin
sbindir       ?= $(prefix)/sbin
mandir        ?= $(prefix)/share/man
docdir        ?= $(prefix)/share/doc/logship
sysconfdir    ?= /etc
localstatedir ?= /var
# systemd reads /usr/local/lib/systemd/system too; /usr uses systemd's own dir.
systemdunitdir ?= $(if $(filter /usr,$(prefix)),$(or $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null),/lib/systemd/system),$(prefix)/lib/systemd/system)
INSTALL ?= install
# Paths written in the units and man pages as shipped (the Debian layout),
# rewritten for this install.
PKG_SED := -e 's,/usr/sbin/,$(sbindir)/,g' -e 's,/usr/bin/,$(bindir)/,g' \
           -e 's,/etc/logship,$(sysconfdir)/logship,g'
install:
	@for f in $(B)/logship $(B)/logship-broker $(B)/logshipctl; do \
	    [ -x $$f ] || { echo "make install: $$f is missing: run make first" >&2; exit 1; }; done
	$(INSTALL) -d $(DESTDIR)$(sbindir) $(DESTDIR)$(bindir) $(DESTDIR)$(mandir)/man1 \
	    $(DESTDIR)$(mandir)/man8 $(DESTDIR)$(sysconfdir)/logship/conf.d \
	    $(DESTDIR)$(systemdunitdir)
	$(INSTALL) -m 0755 $(B)/logship $(B)/logship-broker $(DESTDIR)$(sbindir)/
	$(INSTALL) -m 0755 $(B)/logshipctl $(DESTDIR)$(bindir)/
	$(INSTALL) -m 0644 conf.d/logship.yaml conf.d/broker.yaml $(DESTDIR)$(sysconfdir)/logship/
	$(INSTALL) -m 0644 packaging/conf.d-README $(DESTDIR)$(sysconfdir)/logship/conf.d/README
	sed $(PKG_SED) packaging/man/logship.8 >$(DESTDIR)$(mandir)/man8/logship.8
	sed $(PKG_SED) packaging/man/logship-broker.8 >$(DESTDIR)$(mandir)/man8/logship-broker.8
	sed $(PKG_SED) packaging/man/logshipctl.1 >$(DESTDIR)$(mandir)/man1/logshipctl.1
	chmod 0644 $(DESTDIR)$(mandir)/man8/logship.8 $(DESTDIR)$(mandir)/man8/logship-broker.8 \
	    $(DESTDIR)$(mandir)/man1/logshipctl.1
	sed $(PKG_SED) packaging/systemd/logship.service >$(DESTDIR)$(systemdunitdir)/logship.service
	sed $(PKG_SED) packaging/systemd/logship-broker.service \
	    >$(DESTDIR)$(systemdunitdir)/logship-broker.service
	chmod 0644 $(DESTDIR)$(systemdunitdir)/logship.service \
	    $(DESTDIR)$(systemdunitdir)/logship-broker.service
	$(INSTALL) -d -m 0750 $(DESTDIR)$(localstatedir)/lib/logship $(DESTDIR)$(localstatedir)/lib/logship-broker

# make deb: the Debian packages logship and logship-broker (+ -dbgsym) in
# build/deb/, built by dpkg-buildpackage from packaging/debian/, then lintian.
deb: deps-ok
	@tools/deb.sh

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
