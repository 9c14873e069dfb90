# qextfs build. `make` builds build/qextfs and build/fake-tenant; `make check` runs every
# suite; `make demo` mounts the bundled fake tenant at ./mnt. See README.md.

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc
SANITIZE ?=

PKGS     := fuse3 libcurl libcjson libzip libmicrohttpd yaml-0.1 zlib
# pkg-config's own message names what is missing; the Makefile still parses so that
# `make deps`, `make demo` and `make check` can install it (scripts/install-deps.sh).
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
ifneq ($(.SHELLSTATUS),0)
$(warning pkg-config cannot find all of $(PKGS): run `make deps` (scripts/install-deps.sh))
endif
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

VERSION := 0.1.0
# CFLAGS and LDFLAGS given on the command line (make CFLAGS=-O0) add to the flags the
# build needs instead of replacing them, hence override.
CFLAGS  ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -MMD -MP -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
           -DFUSE_USE_VERSION=31 -DQEXTFS_VERSION='"$(VERSION)"' -pthread -Isrc $(PKG_CFLAGS)
override LDLIBS += $(PKG_LIBS) -pthread -lm
ifneq ($(SANITIZE),)
override CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
override LDFLAGS += -fsanitize=$(SANITIZE)
endif

LIB_SRC  := $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJ  := $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
FAKE_SRC := $(wildcard tests/fake-tenant/*.c)
FAKE_OBJ := $(FAKE_SRC:tests/fake-tenant/%.c=$(BUILD)/obj/fake/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)

.PHONY: all asan tsan tests install uninstall check demo bench stress fuzz format lint clean deps
all: $(BUILD)/qextfs $(BUILD)/fake-tenant

$(BUILD)/libqextfs.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(BUILD)/qextfs: $(BUILD)/obj/main.o $(BUILD)/libqextfs.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/fake-tenant: $(FAKE_OBJ) $(BUILD)/libqextfs.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/fake/%.o: tests/fake-tenant/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/fake-tenant -c -o $@ $<

$(BUILD)/obj/unit/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit -c -o $@ $<

$(BUILD)/tests/%: $(BUILD)/obj/unit/%.o $(BUILD)/libqextfs.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/obj/tools/%.o: tests/tools/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tools/%: $(BUILD)/obj/tools/%.o $(BUILD)/libqextfs.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

tests: all $(UNIT_BIN) $(TOOL_BIN)

# The unit and tool objects are made only by pattern rules, so make would count them as
# intermediate and delete them after the first build; the next run then finds their .d files
# naming them and compiles them again. Kept, a second build does nothing.
.SECONDARY: $(UNIT_SRC:tests/unit/%.c=$(BUILD)/obj/unit/%.o) \
            $(TOOL_SRC:tests/tools/%.c=$(BUILD)/obj/tools/%.o)

asan:
	$(MAKE) BUILD=build/asan SANITIZE=address,undefined tests

# ThreadSanitizer for the unit tests that race threads on purpose (block cache, scheduler).
TSAN_TESTS := test_blockcache test_staging test_http
tsan:
	$(MAKE) BUILD=build/tsan SANITIZE=thread $(TSAN_TESTS:%=build/tsan/tests/%)

# Installs the build and test dependencies only when one is missing.
deps:
	@scripts/install-deps.sh --if-missing

# check.sh does the builds itself (deps, tests, asan, tsan, fuzz-replay-build), so a build
# that fails is counted as a failure and the summary is still the last line it prints.
check:
	@MAKE="$(MAKE)" scripts/check.sh

# DEMO_ARGS=--check: the demo without a terminal, verified step by step (scripts/demo.sh).
demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh $(DEMO_ARGS)

bench: deps all
	@scripts/bench.sh

# The long soak (60 s of writers and readers under faults) and the fsx checker at length.
# Their reliability figures go to build/test-logs/figures-stress.jsonl (tests/lib/figures.bash).
stress: deps tests
	@mkdir -p build/test-logs && rm -f build/test-logs/figures-stress.jsonl
	SOAK_SECONDS=60 FSX_OPS=20000 QEXTFS_FIGURES=$(CURDIR)/build/test-logs/figures-stress.jsonl \
	  bats --tap tests/e2e/soak.bats tests/e2e/fsx.bats

# QEXTFS_INSTALL_BIN lets the tests install the binary they run (e.g. the ASan build).
QEXTFS_INSTALL_BIN ?= $(BUILD)/qextfs
install: $(BUILD)/qextfs
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(QEXTFS_INSTALL_BIN) $(DESTDIR)$(PREFIX)/bin/qextfs
	install -m 644 docs/qextfs.1 $(DESTDIR)$(PREFIX)/share/man/man1/qextfs.1
	ln -sf ../bin/qextfs $(DESTDIR)$(PREFIX)/sbin/mount.qextfs
	ln -sf ../bin/qextfs $(DESTDIR)$(PREFIX)/sbin/mount.fuse.qextfs

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/qextfs $(DESTDIR)$(PREFIX)/sbin/mount.qextfs \
	      $(DESTDIR)$(PREFIX)/share/man/man1/qextfs.1 \
	      $(DESTDIR)$(PREFIX)/sbin/mount.fuse.qextfs

FORMAT_SRC = src/*.c src/*.h tests/fake-tenant/*.[ch] tests/unit/*.[ch] tests/fuzz/*.c $(TOOL_SRC)

format:
	clang-format -i $(FORMAT_SRC)

# cppcheck over everything that is compiled (a few seconds). clang-tidy's analyzer takes
# minutes here and mostly reports false positives (va_list), so it is not part of lint.
lint:
	clang-format --dry-run -Werror $(FORMAT_SRC)
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem -Isrc -Itests/fake-tenant -Itests/unit \
	  -Itests/fuzz src tests/fake-tenant tests/unit tests/fuzz tests/tools

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(FAKE_OBJ:.o=.d) $(BUILD)/obj/main.d \
         $(UNIT_SRC:tests/unit/%.c=$(BUILD)/obj/unit/%.d) $(TOOL_SRC:tests/tools/%.c=$(BUILD)/obj/tools/%.d)

# --- fuzzing (tests/fuzz/) ---------------------------------------------------------------
# `make fuzz` builds each libFuzzer target with clang (coverage + ASan + UBSan, the sources it
# tests compiled in directly) into $(BUILD)/fuzz/ and runs it for FUZZ_SECONDS on a copy of
# its seed corpus in $(BUILD)/fuzz/corpus-<target>/; crashes land in
# $(BUILD)/fuzz/artifacts-<target>/. `make fuzz-replay` runs the checked-in corpus through
# the same targets built with gcc under ASan+UBSan, no libFuzzer needed (`make check` does
# this too). Seeds are made by tests/fuzz/make_corpus.py. FUZZ_TARGETS picks targets.
FUZZ_TARGETS ?= archive json path headers multipart
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_CFLAGS  := -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=undefined -std=gnu11 -Wall -Wextra -D_GNU_SOURCE \
                -D_FILE_OFFSET_BITS=64 -DFUSE_USE_VERSION=31 -DQEXTFS_VERSION='"$(VERSION)"' \
                -pthread -Isrc -Itests/fuzz $(PKG_CFLAGS)
FUZZ_SRC_archive := src/archive.c src/crc.c src/path.c src/log.c
FUZZ_SRC_json    := src/api.c src/http.c src/path.c src/log.c
FUZZ_SRC_path    := src/path.c
FUZZ_SRC_headers := src/http.c src/log.c
# multipart: http_do sends the upload to an in-process server that reads it with the fake
# tenant's own multipart reader (upload.c, blob.c).
FUZZ_SRC_multipart := src/http.c src/log.c tests/fake-tenant/upload.c tests/fake-tenant/blob.c
FUZZ_FAKE_OBJ_multipart := $(BUILD)/obj/fake/upload.o $(BUILD)/obj/fake/blob.o
$(BUILD)/fuzz/fuzz_multipart: FUZZ_CFLAGS += -Itests/fake-tenant
$(BUILD)/obj/fuzz/fuzz_multipart.o: override CFLAGS += -Itests/fake-tenant

.PHONY: fuzz-build fuzz-replay fuzz-replay-build fuzz-replay-bins
fuzz-build: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)

.SECONDEXPANSION:
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(wildcard src/*.h) $$(FUZZ_SRC_$$*)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRC_$*) $(PKG_LIBS) -pthread -lm

fuzz: fuzz-build
	@tests/fuzz/run.sh $(BUILD)/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The replay programs are built in the ASan tree: build/asan/fuzz-replay-<target>.
fuzz-replay-build:
	@$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=address,undefined fuzz-replay-bins

# No recipe, so `make -q fuzz-replay-build` can say the programs are up to date.
fuzz-replay-bins: $(FUZZ_TARGETS:%=$(BUILD)/fuzz-replay-%)

fuzz-replay: fuzz-replay-build
	@rc=0; for t in $(FUZZ_TARGETS); do \
	  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    build/asan/fuzz-replay-$$t tests/fuzz/corpus/$$t || rc=1; \
	done; exit $$rc

$(BUILD)/obj/fuzz/replay-%.o: tests/fuzz/replay.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/fuzz -DFUZZ_TARGET='"fuzz_$*"' -c -o $@ $<

$(BUILD)/obj/fuzz/fuzz_%.o: tests/fuzz/fuzz_%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/fuzz -c -o $@ $<

.SECONDARY: $(FUZZ_TARGETS:%=$(BUILD)/obj/fuzz/replay-%.o) \
            $(FUZZ_TARGETS:%=$(BUILD)/obj/fuzz/fuzz_%.o)
$(BUILD)/fuzz-replay-%: $(BUILD)/obj/fuzz/replay-%.o $(BUILD)/obj/fuzz/fuzz_%.o \
                       $$(FUZZ_FAKE_OBJ_$$*) $(BUILD)/libqextfs.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/fuzz/%.d: ;
-include $(wildcard $(BUILD)/obj/fuzz/*.d)
