# engage - build, run and test.
#   make            build build/engage
#   make run        install what is missing, build, serve the demo store
#   make test       install what is missing, build, run every test
#   make test SANITIZE=1   the same, built with ASan and UBSan
#   make bench      benchmark against nginx and the peers (bench/README.md)
#   make fuzz       each libFuzzer driver of fuzz/ for FUZZ_SECONDS (300)
#   make crash-test 20 SIGKILL rounds of tests/crash (CRASH_ROUNDS)
CC       ?= cc
PKGS     := libmicrohttpd jansson sqlite3 libsodium libpq
CSTD     := -std=c17 -D_GNU_SOURCE
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 \
            -Wvla -Wno-missing-field-initializers
OPT      ?= -O2 -g
ifeq ($(SANITIZE),1)
BUILD    ?= build/san
OPT      := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
            -fno-sanitize-recover=undefined
else
BUILD    ?= build
endif
CFLAGS   += $(CSTD) $(WARN) $(OPT) -Isrc $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
LDFLAGS  += $(filter -fsanitize=%,$(OPT))

SRCS     := $(shell find src -name '*.c' | sort)
LIBSRCS  := $(filter-out src/main.c,$(SRCS))
OBJS     := $(SRCS:src/%.c=$(BUILD)/obj/%.o)
LIBOBJS  := $(LIBSRCS:src/%.c=$(BUILD)/obj/%.o)
UNITSRCS := $(sort $(wildcard tests/unit/test_*.c))
UNITBINS := $(UNITSRCS:tests/unit/%.c=$(BUILD)/tests/%)
MIGRATIONS := $(sort $(wildcard src/store/migrations/*.sql))
MIGRATIONS_PG := $(sort $(wildcard src/store/migrations_pg/*.sql))
# Generated sources: the migrations and the OpenAPI document, compiled in.
GENOBJS  := $(BUILD)/obj/store/migrations.o $(BUILD)/obj/store/migrations_pg.o \
            $(BUILD)/obj/http/spec.o
OBJS     += $(GENOBJS)
LIBOBJS  += $(GENOBJS)

.PHONY: all run test unit api conformance deps clean bench
all: $(BUILD)/engage

$(BUILD)/engage: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
	@if [ "$(BUILD)" = build/san ]; then mkdir -p build && cp $@ build/engage-san; fi

$(BUILD)/obj/%.o: src/%.c $(shell find src -name '*.h')
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The numbered SQL migrations are compiled in, so the binary stands alone.
$(BUILD)/obj/store/migrations.o: $(BUILD)/gen/migrations.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<
$(BUILD)/gen/migrations.c: $(MIGRATIONS) scripts/embed-migrations.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-migrations.sh $(MIGRATIONS) > $@
$(BUILD)/obj/store/migrations_pg.o: $(BUILD)/gen/migrations_pg.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<
$(BUILD)/gen/migrations_pg.c: $(MIGRATIONS_PG) scripts/embed-migrations.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-migrations.sh --name eg_pg_migrations $(MIGRATIONS_PG) > $@
# The OpenAPI document served at {base}/openapi.yaml (C1).
$(BUILD)/obj/http/spec.o: $(BUILD)/gen/spec.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<
$(BUILD)/gen/spec.c: docs/openapi.yaml scripts/embed-file.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-file.sh eg_spec docs/openapi.yaml > $@

$(BUILD)/tests/%: tests/unit/%.c $(LIBOBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBOBJS) $(LDLIBS) -lcmocka

deps:
	@sh scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/run-demo.sh

test:
	@sh scripts/deps.sh --test
	@$(MAKE) --no-print-directory all $(UNITBINS) $(if $(filter 1,$(SANITIZE)),,fuzzers)
	@ENGAGE_BIN=$(abspath $(BUILD)/engage) BUILD=$(BUILD) \
	 $(if $(filter 1,$(SANITIZE)),,FUZZ_BIN_DIR=$(abspath $(FUZZ_DIR)) FUZZ_SECONDS=$(FUZZ_TEST_SECONDS)) \
	 sh tests/run.sh

# ---- libFuzzer drivers (fuzz/README.md): clang, ASan and UBSan; the same
# sources as engage, compiled again with coverage. `make test` runs each for
# FUZZ_TEST_SECONDS (not under SANITIZE=1: they are sanitizer builds already).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 300
FUZZ_TEST_SECONDS ?= 60
FUZZ_DIR     := build/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
# (clang's -Wformat=2 also flags vsnprintf in a logger without a format
# attribute, which gcc accepts: not an error here.)
FUZZ_CFLAGS  := $(CSTD) $(WARN) -Wno-format-nonliteral -O1 -g \
                -fno-omit-frame-pointer $(FUZZ_SAN) -fsanitize=fuzzer-no-link -Isrc \
                $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZ_LIBOBJS := $(LIBSRCS:src/%.c=$(FUZZ_DIR)/obj/%.o) \
                $(patsubst %.o,$(FUZZ_DIR)/gen/%.o,$(notdir $(GENOBJS)))
FUZZ_BINS    := $(patsubst fuzz/%.c,$(FUZZ_DIR)/%,$(wildcard fuzz/fuzz_*.c))

.PHONY: fuzz fuzzers crash-test
.SECONDARY: $(FUZZ_LIBOBJS) $(FUZZ_DIR)/common.o
fuzzers: $(FUZZ_BINS)
fuzz: fuzzers
	@FUZZ_BIN_DIR=$(abspath $(FUZZ_DIR)) sh fuzz/run.sh $(FUZZ_SECONDS)

$(FUZZ_DIR)/obj/%.o: src/%.c $(shell find src -name '*.h')
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<
$(FUZZ_DIR)/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<
$(FUZZ_DIR)/common.o: fuzz/common.c fuzz/common.h $(shell find src -name '*.h')
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<
$(FUZZ_DIR)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_DIR)/common.o $(FUZZ_LIBOBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_DIR)/common.o \
	    $(FUZZ_LIBOBJS) $(LDLIBS)

# C27 under SIGKILL, more rounds than `make test` runs (tests/crash).
crash-test: all
	@ENGAGE_BIN=$(abspath $(BUILD)/engage) CRASH_ROUNDS=$${CRASH_ROUNDS:-20} \
	 /usr/bin/python3 -m pytest -q -s -p no:cacheprovider tests/crash

# Issue #4's workloads side by side with nginx, Prism mock and json-server.
bench: all
	@sh bench/run.sh

clean:
	rm -rf build
