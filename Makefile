# hanmeterd - read AMS/HAN smart meters on Linux.
#
#   make            build hanmeterd, hanmeter and libhanmeter.a (build/rel)
#   make check      install missing Debian packages, build with ASan+UBSan
#                   (build/san), run every test
#   make demo       the daemon against the simulated meter, readings shown
#   make bench      benchmarks (release build), figures and ratios
#   make install    PREFIX=/usr/local DESTDIR=
#   make deps       apt-get install what is missing (sudo when not root)
#
# VECTORS= points at the captured meter frames (default ../shared/vectors).

PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
SBINDIR   ?= $(PREFIX)/sbin
MANDIR    ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR   ?= /lib/systemd/system
UDEVDIR   ?= /lib/udev/rules.d
SYSUSERSDIR ?= /usr/lib/sysusers.d
DESTDIR   ?=
VECTORS   ?= $(abspath ../shared/vectors)
VERSION   := 0.1.0

CC        ?= cc
PKG_CONFIG ?= pkg-config

# Debian packages the build, the tests and the demo need.  libnss-myhostname
# makes "localhost" resolve where there is no /etc/hosts (a fresh debootstrap
# chroot has none); the tests resolve it to check names are looked up off the loop.
DEB_PKGS := gcc libc6-dev make pkg-config clang-format python3 libnss-myhostname \
            libserialport-dev libmosquitto-dev libsystemd-dev libinih-dev \
            libcmocka-dev libcurl4-openssl-dev libssl-dev \
            mosquitto mosquitto-clients socat procps openssl
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

ifeq ($(SAN),1)
O        := build/san
OPTFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
O        := build/rel
OPTFLAGS := -O2 -g
endif

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla
CPPFLAGS += -Iinclude -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DHM_VERSION='"$(VERSION)"'
CFLAGS   ?=
CFLAGS   += -std=c11 $(WARN) $(OPTFLAGS)
LDFLAGS  += $(filter -fsanitize=%,$(OPTFLAGS))

# pkg-config is asked only when building, so `make deps` works before the
# libraries are there.
pc = $(shell $(PKG_CONFIG) --$(1) $(2) 2>/dev/null)
CORE_LIBS   = $(call pc,libs,libcrypto)
DAEMON_PKGS := libserialport libmosquitto libsystemd inih libcurl libcrypto
DAEMON_CFLAGS = $(call pc,cflags,$(DAEMON_PKGS))
DAEMON_LIBS   = $(call pc,libs,$(DAEMON_PKGS)) -lm
TEST_LIBS     = $(call pc,libs,cmocka)

CORE_SRC   := $(wildcard src/core/*.c src/core/profiles/*.c)
COMMON_SRC := $(wildcard src/common/*.c)
DAEMON_SRC := $(filter-out src/daemon/main.c,$(wildcard src/daemon/*.c src/source/*.c src/sink/*.c))
TOOL_SRC   := $(wildcard src/tool/*.c)
SIM_SRC    := $(wildcard src/sim/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
BENCH_SRC  := $(wildcard bench/*.c)

obj = $(patsubst %.c,$(O)/obj/%.o,$(1))
CORE_OBJ   := $(call obj,$(CORE_SRC))
COMMON_OBJ := $(call obj,$(COMMON_SRC))
DAEMON_OBJ := $(call obj,$(DAEMON_SRC))
TOOL_OBJ   := $(call obj,$(TOOL_SRC))
SIM_OBJ    := $(call obj,$(SIM_SRC))
UNIT_BIN   := $(patsubst tests/unit/%.c,$(O)/tests/%,$(UNIT_SRC))
BENCH_BIN  := $(patsubst bench/%.c,$(O)/bench/%,$(BENCH_SRC))

LIBCORE    := $(O)/libhanmeter.a
LIBCOMMON  := $(O)/libhmcommon.a
LIBDAEMON  := $(O)/libhanmeterd.a

.PHONY: all check check-build check-run deps demo bench install clean format check-format
.DELETE_ON_ERROR:

all: $(O)/hanmeterd $(O)/hanmeter $(if $(SIM_SRC),$(O)/hanmeter-sim) $(LIBCORE)

$(O)/obj/src/core/%.o: src/core/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Isrc -Isrc/daemon $(DAEMON_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIBCORE): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(LIBCOMMON): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(LIBDAEMON): $(DAEMON_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(O)/hanmeterd: $(call obj,src/daemon/main.c) $(LIBDAEMON) $(LIBCOMMON) $(LIBCORE)
	$(CC) $(LDFLAGS) -o $@ $^ $(DAEMON_LIBS) $(CORE_LIBS)

$(O)/hanmeter: $(TOOL_OBJ) $(LIBCOMMON) $(LIBCORE)
	$(CC) $(LDFLAGS) -o $@ $^ $(DAEMON_LIBS) $(CORE_LIBS)

$(O)/hanmeter-sim: $(SIM_OBJ) $(LIBCOMMON) $(LIBCORE)
	$(CC) $(LDFLAGS) -o $@ $^ $(DAEMON_LIBS) $(CORE_LIBS)

$(O)/tests/%: tests/unit/%.c $(LIBDAEMON) $(LIBCOMMON) $(LIBCORE)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Isrc -Isrc/daemon -Itests/unit $(DAEMON_CFLAGS) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< \
		$(LIBDAEMON) $(LIBCOMMON) $(LIBCORE) $(TEST_LIBS) $(DAEMON_LIBS) $(CORE_LIBS)

$(O)/bench/%: bench/%.c $(LIBCORE)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Ibench $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(LIBCORE) $(CORE_LIBS)

# The load generator encodes its lists with the simulator's own code.
$(O)/bench/loadgen: bench/loadgen.c $(call obj,src/sim/meter.c src/sim/frame.c) $(LIBCORE)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Isrc $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(filter %.o,$^) $(LIBCORE) -lm $(CORE_LIBS)

# --- Debian packages ---------------------------------------------------------
deps:
	@missing=""; for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q || \
			echo "deps: apt-get update reported errors; trying the install anyway"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	else echo "deps: all $(words $(DEB_PKGS)) packages present"; fi

# --- tests -------------------------------------------------------------------
# check installs what is missing, then builds and runs in a second make so
# that pkg-config sees the freshly installed libraries.  The release build
# (what make demo, bench and install use) is built too: -O2 warns about
# things -O1 does not see, and -Werror makes those failures.
check: deps
	$(MAKE) --no-print-directory all
	$(MAKE) --no-print-directory SAN=1 check-run

check-build: all $(UNIT_BIN)

check-run: check-build
	HM_BUILD=$(abspath $(O)) VECTORS=$(VECTORS) HM_SRCDIR=$(CURDIR) tests/run $(UNIT_BIN)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

check-format:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

# --- demo and bench ----------------------------------------------------------
demo: deps
	$(MAKE) --no-print-directory all
	HM_BUILD=$(abspath $(O)) tests/demo

bench: deps
	$(MAKE) --no-print-directory bench-run

bench-run: all $(BENCH_BIN)
	HM_BUILD=$(abspath $(O)) VECTORS=$(VECTORS) bench/run $(BENCH_BIN)

# --- install -----------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR) \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(UDEVDIR)
	install -m 755 $(O)/hanmeterd $(DESTDIR)$(SBINDIR)/hanmeterd
	install -m 755 $(O)/hanmeter $(O)/hanmeter-sim $(DESTDIR)$(BINDIR)/
	install -m 644 man/hanmeter.1 man/hanmeter-sim.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 man/hanmeterd.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 644 man/hanmeterd.8 $(DESTDIR)$(MANDIR)/man8/
	[ -e $(DESTDIR)$(SYSCONFDIR)/hanmeterd.conf ] || install -m 640 etc/hanmeterd.conf $(DESTDIR)$(SYSCONFDIR)/hanmeterd.conf
	sed 's|@SBINDIR@|$(SBINDIR)|g' systemd/hanmeterd.service.in > $(DESTDIR)$(UNITDIR)/hanmeterd.service
	chmod 644 $(DESTDIR)$(UNITDIR)/hanmeterd.service
	install -m 644 udev/60-hanmeter.rules $(DESTDIR)$(UDEVDIR)/
	install -D -m 644 systemd/hanmeterd.sysusers $(DESTDIR)$(SYSUSERSDIR)/hanmeterd.conf
	# the service user (User=hanmeterd) reads the mode-640 configuration through its group
	[ -n "$(DESTDIR)" ] || { systemd-sysusers $(SYSUSERSDIR)/hanmeterd.conf && \
		chgrp hanmeterd $(SYSCONFDIR)/hanmeterd.conf; } || echo "install: create user hanmeterd and chgrp $(SYSCONFDIR)/hanmeterd.conf"

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)

# --- hardening: fuzzing, 32-bit ARM, valgrind --------------------------------
#   make fuzz [FUZZ_SECONDS=30]  the libFuzzer entries tests/fuzz/fuzz_*.c (clang),
#                       seeded from $(VECTORS) at run time, each run FUZZ_SECONDS;
#                       prints executions/s and coverage per entry
#   make fuzz-replay    the same entries as plain programs ($(O)/fuzz/replay_NAME),
#                       which tests/fuzz/regress.test runs under `make check`
#   make check-arm      the core and its unit tests cross-built for 32-bit ARM
#                       (armhf), run under qemu-arm
#   make check-valgrind the unit tests and replays (no sanitizers) under valgrind
# An entry lists the files it needs on a " * needs: FILE..." line of its
# header comment; entries whose files have not landed yet are left out.
# These targets install their own packages; `make check` does not need them.
FUZZ_PKGS     := clang libclang-rt-14-dev python3
ARM_PKGS      := gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user python3
VALGRIND_PKGS := valgrind python3
FUZZ_SECONDS  ?= 30
FUZZ_CC       ?= clang
FUZZ_O        := build/fuzz
FUZZ_CFLAGS   := -std=c11 $(WARN) -O1 -g -fno-omit-frame-pointer \
                 -fsanitize=address,undefined -fno-sanitize-recover=undefined

fuzz_needs   = $(shell sed -n 's/^ \* needs: //p' tests/fuzz/fuzz_$(1).c)
fuzz_ready   = $(if $(strip $(foreach f,$(call fuzz_needs,$(1)),$(if $(wildcard $(f)),,x))),,$(1))
fuzz_daemon  = $(filter src/daemon/%,$(call fuzz_needs,$(1)))
FUZZ_ALL     := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES   := $(foreach e,$(FUZZ_ALL),$(call fuzz_ready,$(e)))
FUZZ_HDRS    := $(wildcard tests/fuzz/*.h include/hanmeter/*.h)
fobj = $(patsubst %.c,$(FUZZ_O)/obj/%.o,$(1))

.PHONY: fuzz fuzz-run fuzz-replay fuzz-entries fuzz-deps check-arm arm-deps check-valgrind valgrind-deps

# apt-get install the packages in $(1) that are missing.
define pkg_install
	@missing=""; for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi
endef

fuzz-deps:
	$(call pkg_install,$(FUZZ_PKGS))
arm-deps:
	$(call pkg_install,$(ARM_PKGS))
valgrind-deps:
	$(call pkg_install,$(VALGRIND_PKGS))

fuzz: deps fuzz-deps
	$(MAKE) --no-print-directory fuzz-run

fuzz-run: $(addprefix $(FUZZ_O)/fuzz_,$(FUZZ_NAMES))
	HM_SRCDIR=$(CURDIR) VECTORS=$(VECTORS) tests/fuzz/run-fuzz $(FUZZ_O) $(FUZZ_SECONDS) $(FUZZ_NAMES)

$(FUZZ_O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -Isrc -Isrc/daemon $(DAEMON_CFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_O)/libcore.a: $(call fobj,$(CORE_SRC))
$(FUZZ_O)/libcommon.a: $(call fobj,$(COMMON_SRC))
$(FUZZ_O)/libdaemon.a: $(call fobj,$(DAEMON_SRC))
$(FUZZ_O)/libcore.a $(FUZZ_O)/libcommon.a $(FUZZ_O)/libdaemon.a:
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

.SECONDEXPANSION:
$(FUZZ_O)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_HDRS) $$(if $$(call fuzz_daemon,$$*),$(FUZZ_O)/libdaemon.a) \
		$(FUZZ_O)/libcommon.a $(FUZZ_O)/libcore.a
	$(FUZZ_CC) $(CPPFLAGS) -Isrc -Isrc/daemon -Itests/fuzz $(DAEMON_CFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer \
		-o $@ $< $(filter %.a,$^) $(if $(call fuzz_daemon,$*),$(DAEMON_LIBS)) $(CORE_LIBS)

fuzz-replay: $(addprefix $(O)/fuzz/replay_,$(FUZZ_NAMES))
fuzz-entries:
	@echo $(FUZZ_NAMES)

$(O)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(FUZZ_HDRS) \
		$$(if $$(call fuzz_daemon,$$*),$(LIBDAEMON)) $(LIBCOMMON) $(LIBCORE)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Isrc -Isrc/daemon -Itests/fuzz $(DAEMON_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ \
		$< tests/fuzz/replay.c $(filter %.a,$^) $(if $(call fuzz_daemon,$*),$(DAEMON_LIBS)) $(CORE_LIBS)

check-arm: deps arm-deps
	HM_SRCDIR=$(CURDIR) VECTORS=$(VECTORS) tests/arm/check-arm

check-valgrind: deps valgrind-deps
	$(MAKE) --no-print-directory $(UNIT_BIN) fuzz-replay
	HM_BUILD=$(abspath $(O)) HM_SRCDIR=$(CURDIR) VECTORS=$(VECTORS) tests/fuzz/valgrind $(UNIT_BIN)

# --- soak: a compressed month with faults; valgrind over the replays ----------
#   make soak [SOAK_SECONDS=180] [SOAK_DAYS=30] [SOAK_SEED=n]
#                       a month of three simulated meters (pty and TCP) plus real
#                       captures through the release build in SOAK_SECONDS, with
#                       the broker killed, lines dropped, garbage, bit flips and
#                       SIGHUP on a seeded schedule; prints a summary table
#   make check-valgrind-replay
#                       the daemon (release build) under valgrind memcheck for the
#                       replay scenarios: zero errors, zero definite leaks
SOAK_SECONDS ?= 180
SOAK_DAYS    ?= 30
.PHONY: soak check-valgrind-replay

soak: deps
	$(MAKE) --no-print-directory all
	HM_BUILD=$(abspath $(O)) VECTORS=$(VECTORS) SOAK_SECONDS=$(SOAK_SECONDS) SOAK_DAYS=$(SOAK_DAYS) \
		tests/soak/soak.py

check-valgrind-replay: deps valgrind-deps
	$(MAKE) --no-print-directory all
	HM_BUILD=$(abspath $(O)) HM_SRCDIR=$(CURDIR) VECTORS=$(VECTORS) tests/soak/valgrind-replay
