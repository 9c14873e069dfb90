# qextfs build. `make` builds build/qextfs and build/fake-tenant; `make check` runs every
# suite; `make demo` mounts the bundled fake tenant at ./mnt. See README.md.

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc
SANITIZE ?=

PKGS     := fuse3 libcurl libcjson libzip libmicrohttpd yaml-0.1
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

VERSION := 0.1.0
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -MMD -MP -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
           -DFUSE_USE_VERSION=31 -DQEXTFS_VERSION='"$(VERSION)"' -pthread -Isrc $(PKG_CFLAGS)
LDLIBS  += $(PKG_LIBS) -pthread -lm
ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=$(SANITIZE)
endif

LIB_SRC  := $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJ  := $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
FAKE_SRC := $(wildcard tests/fake-tenant/*.c)
FAKE_OBJ := $(FAKE_SRC:tests/fake-tenant/%.c=$(BUILD)/obj/fake/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)

.PHONY: all asan tests install uninstall check demo bench stress fuzz format lint clean deps
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

asan:
	$(MAKE) BUILD=build/asan SANITIZE=address,undefined tests

# Installs the build and test dependencies only when one is missing.
deps:
	@scripts/install-deps.sh --if-missing

check: deps
	@$(MAKE) --no-print-directory tests
	@$(MAKE) --no-print-directory asan
	@scripts/check.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

bench: deps all
	@scripts/bench.sh

install: $(BUILD)/qextfs
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BUILD)/qextfs $(DESTDIR)$(PREFIX)/bin/qextfs
	install -m 644 docs/qextfs.1 $(DESTDIR)$(PREFIX)/share/man/man1/qextfs.1
	ln -sf ../bin/qextfs $(DESTDIR)$(PREFIX)/sbin/mount.qextfs
	ln -sf ../bin/qextfs $(DESTDIR)$(PREFIX)/sbin/mount.fuse.qextfs

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/qextfs $(DESTDIR)$(PREFIX)/sbin/mount.qextfs \
	      $(DESTDIR)$(PREFIX)/share/man/man1/qextfs.1 \
	      $(DESTDIR)$(PREFIX)/sbin/mount.fuse.qextfs

format:
	clang-format -i src/*.c src/*.h tests/fake-tenant/*.[ch] tests/unit/*.[ch] $(TOOL_SRC)

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem -Isrc src tests/fake-tenant

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(FAKE_OBJ:.o=.d) $(BUILD)/obj/main.d \
         $(UNIT_SRC:tests/unit/%.c=$(BUILD)/obj/unit/%.d) $(TOOL_SRC:tests/tools/%.c=$(BUILD)/obj/tools/%.d)
