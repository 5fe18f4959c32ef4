# kvmmig: top-level build. `make` builds the module for the running kernel
# (or KDIR=...) and the userspace tools; `make check` runs the test suite.

KDIR ?= /lib/modules/$(shell uname -r)/build
BUILD := $(CURDIR)/build
VERSION := $(shell sed -n 's/^\#define KVMMIG_VERSION "\(.*\)"/\1/p' kmod/version.h)

# The supported kernels' build trees (scripts/kernels: Debian 12's 6.1 and
# bookworm-backports' 6.12 here, Debian 13's 6.12 and trixie-backports' 7.x
# in the Debian 13 tree). A KDIR inside that tree builds inside it.
TRIXIE_ROOT := $(or $(KVMMIG_TRIXIE_ROOT),/var/cache/kvmmig/trixie)
SUPPORTED_KDIRS = $(shell scripts/kernels 2>/dev/null)
# This machine's own installed kernels of a supported series (for DKMS).
INSTALLED_KDIRS = $(wildcard /usr/src/linux-headers-6.1.*-amd64 /usr/src/linux-headers-6.12.*-amd64 /usr/src/linux-headers-7.*-amd64)

kver_of = $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' $(1)/include/generated/utsrelease.h 2>/dev/null)
MODULE_SOURCES := Kbuild $(wildcard kmod/*.c kmod/*.h include/uapi/linux/*.h)

.PHONY: all module module-all user guests test-tools check test clean \
	install module-install dkms-source dkms-install dkms-uninstall

all: user module

# Kbuild writes objects next to the sources, so each kernel gets its own
# tree of symlinks under build/<kver>/ and builds never clobber each other.
define build_module
	@test -f $(1)/Makefile || { echo "No kernel build tree at $(1): install linux-headers-$$(uname -r) or pass KDIR=<kernel build dir>" >&2; exit 1; }
	@kver='$(call kver_of,$(1))'; dir=$(BUILD)/$$kver; \
	mkdir -p $$dir && \
	for f in $(MODULE_SOURCES); do mkdir -p $$dir/$$(dirname $$f); ln -sfn $(CURDIR)/$$f $$dir/$$f; done && \
	$(if $(filter $(TRIXIE_ROOT)/%,$(1)),\
		scripts/in-trixie make -C $(patsubst $(TRIXIE_ROOT)/%,/%,$(1)) M=$$dir modules W=,\
		$(MAKE) -C $(1) M=$$dir modules W=) && \
	echo "built $$dir/kvmmig.ko"
endef

module:
	$(call build_module,$(KDIR))

# Every supported kernel, or an error naming the missing ones.
module-all:
	@scripts/kernels >/dev/null || { echo "module-all: supported kernels' headers are missing (above): run scripts/install-deps" >&2; exit 1; }
	@for k in $(SUPPORTED_KDIRS); do $(MAKE) --no-print-directory module KDIR=$$k || exit 1; done

user:
	$(MAKE) -C user BUILD=$(BUILD) VERSION=$(VERSION)

# Guests the tests run (flat 64-bit payloads built with the host's gcc).
guests:
	$(MAKE) -C tests/guests BUILD=$(BUILD)

# Small programs the tests drive (tests/tools/NAME.c -> build/tests/NAME).
# Programs, and the LD_PRELOAD libraries among them (nl-drop).
TEST_PRELOADS := nl-drop
TEST_TOOLS := $(patsubst tests/tools/%.c,$(BUILD)/tests/%,$(filter-out $(TEST_PRELOADS:%=tests/tools/%.c),$(wildcard tests/tools/*.c))) \
	$(TEST_PRELOADS:%=$(BUILD)/tests/%.so)
test-tools: $(TEST_TOOLS)
$(BUILD)/tests/%.so: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -shared -fPIC -o $@ $< -ldl
$(BUILD)/tests/%: tests/tools/%.c include/uapi/linux/kvmmig.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude/uapi -o $@ $<

check test: user module-all guests test-tools
	tests/run

# Benchmarks, as root (about 20 minutes): build/bench/report.md with plots; a
# full run also updates docs/PERFORMANCE.md. Timings are never asserted.
.PHONY: bench
bench:
	tests/bench/run

clean:
	rm -rf $(BUILD)

# Installing without a package. DESTDIR/PREFIX as usual.
DESTDIR ?=
PREFIX ?= /usr/local
DKMS_SOURCE := /usr/src/kvmmig-$(VERSION)
DKMS_FILES := dkms.conf $(MODULE_SOURCES)

install: user
	install -D -m 0755 $(BUILD)/kvmmig-ctl $(DESTDIR)$(PREFIX)/sbin/kvmmig-ctl
	test ! -f $(BUILD)/kvmmig-vm || install -D -m 0755 $(BUILD)/kvmmig-vm $(DESTDIR)$(PREFIX)/sbin/kvmmig-vm
	for m in $(wildcard user/*/*.8); do install -D -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man8/$$(basename $$m); done
	for c in $(wildcard user/completion/*); do install -D -m 0644 $$c $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$(basename $$c); done

# The module for KDIR's kernel into /lib/modules/<kver>/updates, then depmod.
module-install: module
	@kver='$(call kver_of,$(KDIR))'; \
	install -D -m 0644 $(BUILD)/$$kver/kvmmig.ko $(DESTDIR)/lib/modules/$$kver/updates/kvmmig.ko && \
	depmod $(if $(DESTDIR),-b $(DESTDIR)) $$kver && echo "installed kvmmig.ko for $$kver"

# The module's source tree as DKMS wants it: /usr/src/kvmmig-<version>/.
dkms-source:
	@for f in $(DKMS_FILES); do install -D -m 0644 $$f $(DESTDIR)$(DKMS_SOURCE)/$$f; done

# Registers the source with DKMS and builds/installs it for every supported
# kernel whose headers are installed (new kernels follow via AUTOINSTALL).
dkms-install: dkms-source
	dkms add kvmmig/$(VERSION) 2>/dev/null || dkms status kvmmig/$(VERSION) | grep -q .
	@for k in $(INSTALLED_KDIRS); do \
		dkms install kvmmig/$(VERSION) -k $${k#/usr/src/linux-headers-} || exit 1; done

dkms-uninstall:
	dkms remove kvmmig/$(VERSION) --all
	rm -rf $(DKMS_SOURCE)

# Debug test-host kernels (scripts/debug-kernel, docs/TESTING.md): built once
# per machine into /var/cache/kvmmig/debug-kernel, then kvmmig.ko and the
# debug lane's self-test module (tests/debug/kvmmig_bugs.ko) against each.
.PHONY: debug-kernel debug-kernel-kcsan debug-modules
debug-kernel:
	@dir=$$(scripts/debug-kernel build) && $(MAKE) --no-print-directory debug-modules KDIR=$$dir/build
debug-kernel-kcsan:
	@dir=$$(scripts/debug-kernel --kcsan build) && $(MAKE) --no-print-directory debug-modules KDIR=$$dir/build

debug-modules: module
	@kver='$(call kver_of,$(KDIR))'; dir=$(BUILD)/$$kver/debug; \
	mkdir -p $$dir && ln -sfn $(CURDIR)/tests/debug/Kbuild $$dir/Kbuild && \
	ln -sfn $(CURDIR)/tests/debug/kvmmig_bugs.c $$dir/kvmmig_bugs.c && \
	$(MAKE) -C $(KDIR) M=$$dir modules W= && echo "built $$dir/kvmmig_bugs.ko"
