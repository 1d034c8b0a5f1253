# engage - build, run and test.
#   make            build build/engage
#   make run        install what is missing, build, serve the demo store
#   make test       install what is missing, build, run every test
#   make test SANITIZE=1   the same, built with ASan and UBSan
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

.PHONY: all run test unit api conformance deps clean
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
	@$(MAKE) --no-print-directory all $(UNITBINS)
	@ENGAGE_BIN=$(abspath $(BUILD)/engage) BUILD=$(BUILD) sh tests/run.sh

clean:
	rm -rf build
