# Store - build, run, test, install.
#
#   make            build everything into build/
#   make run        install what is missing, build, start the whole store
#   make test       install what is missing, build, run the whole suite
#                   (plain and under ASan+UBSan); ends "N passed, N failed"
#   make bench      benchmarks (see README)
#   make fuzz       build the libFuzzer targets (tests/fuzz/) into build-fuzz/
#                   with clang and run each for FUZZ_SECONDS (60)
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

# libstore's libraries. MongoDB's driver is not among them: the MongoDB
# backend is a module (lib/modules/db_mongo.c -> BUILD/lib/store/db_mongo.so),
# loaded only for a mongodb:// url, so a store on the embedded default never
# maps libmongoc and what it pulls in.
PKGS     = jansson libjwt hiredis libnats libsodium libcurl sqlite3
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
MONGO_PKGS   = libmongoc-1.0 jansson
MONGO_CFLAGS := $(shell pkg-config --cflags $(MONGO_PKGS) 2>/dev/null)
MONGO_LIBS   := $(shell pkg-config --libs $(MONGO_PKGS) 2>/dev/null)

CC      ?= cc
LD      ?= ld
OBJCOPY ?= objcopy
CFLAGS  += -std=c11 -D_GNU_SOURCE -g $(OPT) -Wall -Wextra -Werror -Wno-missing-field-initializers -pthread \
           -ffunction-sections -fdata-sections -Ilib $(PKG_CFLAGS) $(SANFLAGS) -MMD -MP
LDLIBS  += $(PKG_LIBS) -lfcgi -pthread -lm
# --as-needed: a program records only the libraries it calls, so one that
# takes no card payment (libstore's pay member unused) does not load libcurl.
LDFLAGS += $(SANFLAGS) -Wl,--gc-sections -Wl,--as-needed

LIB_SRC  := $(wildcard lib/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIBSTORE := $(BUILD)/libstore.a
# The archive's two members: payments (the only user of libcurl) and the rest.
PAY_SRC  := lib/pay.c lib/pay_sandbox.c lib/pay_stripe.c lib/payments.c
PAY_OBJ  := $(PAY_SRC:%.c=$(BUILD)/%.o)
CORE_OBJ := $(filter-out $(PAY_OBJ),$(LIB_OBJ))
# The backends built as modules, loaded by lib/db_module.c.
MODULES  := $(BUILD)/lib/store/db_mongo.so

# Programs with more than one file live in a folder of their own, built
# apart from libstore (which holds only the shared code): the web front in
# cgi/store-web/, storectl in bin/storectl/. WEB_APP and CTL_APP are their
# files less main, for the unit tests and fuzz targets that reach into them.
CGI_SRC   := $(wildcard cgi/*.c)
DAEMON_SRC:= $(wildcard daemons/*.c)
WEB_SRC   := $(wildcard cgi/store-web/*.c)
CTL_SRC   := $(wildcard bin/storectl/*.c)
WEB_APP   := $(filter-out cgi/store-web/store-web.c,$(WEB_SRC))
CTL_APP   := $(filter-out bin/storectl/storectl.c,$(CTL_SRC))
# Programs of one file in bin/ (store-nothp) need no library, not even
# libstore: they go with the servers, into sbin.
RUNNER_SRC:= $(wildcard bin/*.c)
SERVERS   := $(CGI_SRC:cgi/%.c=$(BUILD)/bin/%) \
             $(DAEMON_SRC:daemons/%.c=$(BUILD)/bin/%) $(BUILD)/bin/store-web \
             $(RUNNER_SRC:bin/%.c=$(BUILD)/bin/%)
TOOLS     := $(BUILD)/bin/storectl
PROGRAMS  := $(SERVERS) $(TOOLS)
SCRIPTS   := bin/store-run bin/store-nginx-conf bin/store-deps

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT      := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH     := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)

.PHONY: all deps run test test-plain test-san bench install clean fuzz fuzz-build
# Objects made through pattern rules alone (the programs') are kept, not
# deleted as intermediate files after the link.
.SECONDARY:
all: $(LIBSTORE) $(MODULES) $(PROGRAMS) $(UNIT) $(BENCH)

deps:
	@bin/store-deps

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# libstore exports only its API, the store_ names: its files are linked into
# two objects (the payments and the rest, which calls none of theirs) whose
# other globals (the modules' private helpers shared between their files)
# become local. A program pulls the payments member only if it calls it.
$(LIBSTORE): $(CORE_OBJ) $(PAY_OBJ)
	@mkdir -p $(@D)
	@rm -f $@
	$(LD) -r -o $(BUILD)/libstore.o $(CORE_OBJ)
	$(LD) -r -o $(BUILD)/libstore-pay.o $(PAY_OBJ)
	$(OBJCOPY) --wildcard --keep-global-symbol='store_*' $(BUILD)/libstore.o
	$(OBJCOPY) --wildcard --keep-global-symbol='store_*' $(BUILD)/libstore-pay.o
	$(AR) rcs $@ $(BUILD)/libstore.o $(BUILD)/libstore-pay.o

# A module exports only its entry point (hidden visibility) and links
# against no libstore symbol (-z defs, checked where no sanitizer runtime
# stands in for the program's symbols).
$(BUILD)/lib/modules/%.o: CFLAGS += -fPIC -fvisibility=hidden $(MONGO_CFLAGS)
$(BUILD)/lib/store/db_%.so: $(BUILD)/lib/modules/db_%.o
	@mkdir -p $(@D)
	$(CC) -shared $(SANFLAGS) $(if $(SANFLAGS),,-Wl,-z,defs) -Wl,--as-needed \
	  -o $@ $< $(MONGO_LIBS) -pthread

$(BUILD)/bin/%: $(BUILD)/cgi/%.o $(LIBSTORE)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bin/%: $(BUILD)/daemons/%.o $(LIBSTORE)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bin/store-web: $(WEB_SRC:%.c=$(BUILD)/%.o) $(LIBSTORE)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
# bin/NAME.c: its object in BUILD/runners/, linked with libc alone.
$(BUILD)/runners/%.o: bin/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<
$(BUILD)/bin/%: $(BUILD)/runners/%.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^
# storectl's objects go to BUILD/storectl/ (BUILD/bin/storectl is the program).
$(BUILD)/storectl/%.o: bin/storectl/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<
$(BUILD)/bin/storectl: $(CTL_SRC:bin/storectl/%.c=$(BUILD)/storectl/%.o) $(LIBSTORE)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
# The web front's unit tests reach into its files.
WEB_TESTS := $(BUILD)/tests/test_web $(BUILD)/tests/test_web_form
$(WEB_TESTS:$(BUILD)/tests/%=$(BUILD)/tests/unit/%.o): CFLAGS += -Icgi/store-web
$(WEB_TESTS): $(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(WEB_APP:%.c=$(BUILD)/%.o) $(LIBSTORE)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
# test_bus reaches into the listeners' reader (bus_impl.h), which libstore
# keeps to itself (only store_* is global there): it links that file again.
$(BUILD)/tests/test_bus: $(BUILD)/lib/bus_pull.o
# tests/unit/servers.c: the real servers the unit tests start (servers.h).
$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/tests/unit/servers.o $(LIBSTORE)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(LIBSTORE)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# make run and make test build with JOBS jobs, one per CPU: the three builds
# of make test took 105 s one file at a time, 53-63 s with two jobs.
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
JOBS_FLAG = -j$(JOBS)

run: deps
	@$(MAKE) --no-print-directory $(JOBS_FLAG) all
	@BUILD=$(BUILD) bin/store-run

# The whole suite, twice: plain, then under AddressSanitizer and
# UndefinedBehaviorSanitizer, then the fuzz targets over their corpora.
# One closing line counts all.
test: deps
	@$(MAKE) --no-print-directory $(JOBS_FLAG) all
	@$(MAKE) --no-print-directory $(JOBS_FLAG) SAN=1 all
	@$(MAKE) --no-print-directory $(JOBS_FLAG) fuzz-build
	@STORE_FUZZ_BUILD=$(FUZZ_BUILD) tests/run build build-san

test-plain: all
	@tests/run $(BUILD)

bench: deps all
	@tests/bench/run $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/lib/store \
	  $(DESTDIR)$(PREFIX)/include/store \
	  $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man3 \
	  $(DESTDIR)$(PREFIX)/share/man/man7 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 755 $(SERVERS) $(DESTDIR)$(PREFIX)/sbin/
	install -m 755 $(TOOLS) $(SCRIPTS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(LIBSTORE) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(MODULES) $(DESTDIR)$(PREFIX)/lib/store/
	install -m 644 lib/store/*.h $(DESTDIR)$(PREFIX)/include/store/
	sed -e 's|@PREFIX@|$(PREFIX)|g' \
	  -e 's|@REQUIRES@|$(PKGS)|' lib/libstore.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/libstore.pc
	for s in 1 3 7 8; do for f in man/*.$$s; do [ -e "$$f" ] && \
	  install -m 644 "$$f" $(DESTDIR)$(PREFIX)/share/man/man$$s/ || true; done; done

# Fuzzing (README, "Fuzzing"): libFuzzer targets built by clang into
# build-fuzz/, the library instrumented for coverage (fuzzer-no-link) and
# both under AddressSanitizer and UndefinedBehaviorSanitizer.
FUZZ_BUILD   ?= build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer
FUZZ_CFLAGS   = -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror \
                -Wno-missing-field-initializers -pthread -Ilib $(PKG_CFLAGS) \
                $(FUZZ_SAN) -MMD -MP
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_LIB     := $(FUZZ_BUILD)/libstore.a
FUZZ_APP_OBJ := $(WEB_APP:%.c=$(FUZZ_BUILD)/%.o) $(CTL_APP:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_APP     := $(FUZZ_BUILD)/libapps.a
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ         := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)

fuzz-build: $(FUZZ)

fuzz: deps fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run $(FUZZ_BUILD)

$(FUZZ_BUILD)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/cgi/%.o: cgi/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/bin/%.o: bin/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	$(AR) rcs $@ $^

# The web front's and storectl's own files, for the targets that parse
# their input (forms, money, command lines).
$(FUZZ_APP): $(FUZZ_APP_OBJ)
	$(AR) rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_APP) $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Icgi/store-web -Ibin/storectl -fsanitize=fuzzer -o $@ $< \
	  $(FUZZ_APP) $(FUZZ_LIB) $(LDLIBS)

clean:
	rm -rf build build-san $(FUZZ_BUILD)

-include $(LIB_OBJ:.o=.d) $(wildcard $(BUILD)/lib/modules/*.d) $(wildcard $(BUILD)/*/*.d) $(wildcard $(BUILD)/*/*/*.d) \
         $(wildcard $(BUILD)/tests/unit/*.d) \
         $(wildcard $(BUILD)/tests/bench/*.d) $(wildcard $(FUZZ_BUILD)/*.d) \
         $(wildcard $(FUZZ_BUILD)/lib/*.d) $(wildcard $(FUZZ_BUILD)/*/*/*.d)
