# logship build. Sources are found by wildcard so that adding a module means
# adding its files, never editing this file:
#   buffer/*.c            -> $(B)/libbuffer.a   (storage engine: libc, zlib, zstd)
#   common/*.c            -> $(B)/libcommon.a   (logging, config, metrics, http)
#   broker/*.c - main.c   -> $(B)/libbroker.a,  broker/main.c -> $(B)/logship-broker
#   agent/ inputs/ outputs/ (minus agent/main.c) -> $(B)/libagent.a, -> $(B)/logship
#   cli/*.c               -> $(B)/logshipctl
#   tests/unit/test_*.c   -> $(B)/tests/test_*  (cmocka; linked with every library)
#   tests/tools/*.c       -> $(B)/tests/tools/* (helper programs for integration tests)
#   tests/bench/*.c       -> $(B)/bench/*       (benchmark drivers)
#   tests/fuzz/fuzz_*.c   -> build/fuzz/fuzz_*  (libFuzzer, clang)

B       ?= build
CC      ?= cc
SAN     ?=
OPT     ?= -O2
PKGS    := yaml-0.1 libcurl zlib libzstd rdkafka libsystemd libmicrohttpd openssl
CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE -g $(OPT) -Wall -Wextra -Werror -Wshadow \
           -Wno-unused-parameter -fno-strict-aliasing -I. -MMD -MP $(SAN)
CFLAGS  += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
TESTLIBS:= $(shell pkg-config --libs cmocka 2>/dev/null)
LDFLAGS += $(SAN)

BUFFER_SRC := $(wildcard buffer/*.c)
COMMON_SRC := $(wildcard common/*.c)
BROKER_SRC := $(filter-out broker/main.c,$(wildcard broker/*.c))
AGENT_SRC  := $(filter-out agent/main.c,$(wildcard agent/*.c)) \
              $(wildcard inputs/*.c inputs/*/*.c outputs/*.c outputs/*/*.c)
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

.PHONY: all deps test check fuzz bench run clean install tests-build
all: deps-ok $(BINS)

# Every entry point first checks the Debian packages (installs them as root).
.PHONY: deps-ok
deps-ok:
	@tools/deps.sh
deps:
	@tools/deps.sh

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/libbuffer.a: $(call obj,$(BUFFER_SRC))
$(B)/libcommon.a: $(call obj,$(COMMON_SRC))
$(B)/libbroker.a: $(call obj,$(BROKER_SRC))
$(B)/libagent.a:  $(call obj,$(AGENT_SRC))
$(LIBS):
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(B)/logship: $(call obj,agent/main.c) $(B)/libagent.a $(CORE_LIBS)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@
$(B)/logship-broker: $(call obj,broker/main.c) $(B)/libbroker.a $(CORE_LIBS)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@
$(B)/logshipctl: $(call obj,$(CLI_SRC)) $(CORE_LIBS)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

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
	    SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer"
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

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
