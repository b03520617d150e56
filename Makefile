# Store - build, run, test, install.
#
#   make            build everything into build/
#   make run        install what is missing, build, start the whole store
#   make test       install what is missing, build, run the whole suite
#                   (plain and under ASan+UBSan); ends "N passed, N failed"
#   make bench      benchmarks (see README)
#   make install PREFIX=/usr/local
#   make clean

PREFIX  ?= /usr/local
SAN     ?= 0
ifeq ($(SAN),1)
BUILD   ?= build-san
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT      = -O1
else
BUILD   ?= build
SANFLAGS =
OPT      = -O2
endif

PKGS     = libmongoc-1.0 jansson libjwt hiredis libnats libsodium libcurl sqlite3
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CC      ?= cc
CFLAGS  += -std=c11 -D_GNU_SOURCE -g $(OPT) -Wall -Wextra -Werror -Wno-missing-field-initializers -pthread \
           -Ilib $(PKG_CFLAGS) $(SANFLAGS) -MMD -MP
LDLIBS  += $(PKG_LIBS) -lfcgi -pthread -lm
LDFLAGS += $(SANFLAGS)

LIB_SRC  := $(wildcard lib/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIBSTORE := $(BUILD)/libstore.a

CGI_SRC   := $(wildcard cgi/*.c)
DAEMON_SRC:= $(wildcard daemons/*.c)
BIN_SRC   := $(wildcard bin/*.c)
SERVERS   := $(CGI_SRC:cgi/%.c=$(BUILD)/bin/%) \
             $(DAEMON_SRC:daemons/%.c=$(BUILD)/bin/%)
TOOLS     := $(BIN_SRC:bin/%.c=$(BUILD)/bin/%)
PROGRAMS  := $(SERVERS) $(TOOLS)
SCRIPTS   := bin/store-run bin/store-nginx-conf bin/store-deps

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT      := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH     := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)

.PHONY: all deps run test test-plain test-san bench install clean
all: $(LIBSTORE) $(PROGRAMS) $(UNIT) $(BENCH)

deps:
	@bin/store-deps

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIBSTORE): $(LIB_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(BUILD)/bin/%: $(BUILD)/cgi/%.o $(LIBSTORE)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bin/%: $(BUILD)/daemons/%.o $(LIBSTORE)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bin/%: $(BUILD)/bin/%.o $(LIBSTORE)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIBSTORE)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(LIBSTORE)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

run: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) bin/store-run

# The whole suite, twice: plain, then under AddressSanitizer and
# UndefinedBehaviorSanitizer. One closing line counts both.
test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory SAN=1 all
	@tests/run build build-san

test-plain: all
	@tests/run $(BUILD)

bench: deps all
	@tests/bench/run $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/store \
	  $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man3 \
	  $(DESTDIR)$(PREFIX)/share/man/man7 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 755 $(SERVERS) $(DESTDIR)$(PREFIX)/sbin/
	install -m 755 $(TOOLS) $(SCRIPTS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(LIBSTORE) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 lib/store/*.h $(DESTDIR)$(PREFIX)/include/store/
	sed -e 's|@PREFIX@|$(PREFIX)|g' \
	  -e 's|@REQUIRES@|$(PKGS)|' lib/libstore.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/libstore.pc
	for s in 1 3 7 8; do for f in man/*.$$s; do [ -e "$$f" ] && \
	  install -m 644 "$$f" $(DESTDIR)$(PREFIX)/share/man/man$$s/ || true; done; done

clean:
	rm -rf build build-san

-include $(LIB_OBJ:.o=.d) $(wildcard $(BUILD)/*/*.d) $(wildcard $(BUILD)/tests/unit/*.d) \
         $(wildcard $(BUILD)/tests/bench/*.d)
