# SPDX-License-Identifier: GPL-2.0
#
# virtio over PCIe endpoint: top-level entry points.
#
#   make demo      boot the rig interactively (endpoint console login)
#   make test      run the test suite in the rig (TAP, "N passed, N failed")
#   make test-two  the two-machine groups alone (stock Debian host VM)
#   make bench     run the benchmarks (never part of the tests)
#   make bench-two the benchmarks across the two-machine rig
#   make modules   build the modules against KDIR (default: the rig kernel)
#   make lint      checkpatch --strict (and sparse) on the project's sources
#   make check-builds  the modules with W=1 against every supported kernel
#   make deb       the DKMS Debian package of the product modules (build/deb/)
#   make check-deb the package installed and built by dkms in a fresh chroot
#   make series    the functions as a patch series against 7.2 (build/series/)
#   make check-series  "make series", then git am, build (W=1, sparse),
#                  checkpatch --strict and kernel-doc on it in a 7.2 tree
#
# KVER selects the rig kernel (7.2 by default, 6.12 also supported).

KVER ?= 7.2
TOP := $(CURDIR)

ifeq ($(KDIR),)
rig_kdir = $(shell $(TOP)/scripts/deps.sh >&2 && $(TOP)/scripts/kernel.sh $(KVER))
else
rig_kdir = $(KDIR)
endif

SOURCES = $(shell git -C $(TOP) ls-files -- '*.c' '*.h' 2>/dev/null)

.PHONY: all modules kernel test test-two demo bench bench-two lint \
	check-builds deb check-deb series check-series clean

all: modules

kernel:
	@echo $(rig_kdir)

modules:
	$(MAKE) -C $(rig_kdir) M=$(TOP) W=1 modules

test:
	$(TOP)/scripts/deps.sh
	KVER=$(KVER) $(TOP)/scripts/test.sh

test-two:
	$(TOP)/scripts/deps.sh
	VEP_TWO=1 KVER=$(KVER) $(TOP)/scripts/test.sh $(notdir $(basename \
		$(wildcard $(TOP)/tests/two/*.sh)))

demo:
	$(TOP)/scripts/deps.sh
	KVER=$(KVER) $(TOP)/scripts/demo.sh

bench:
	KVER=$(KVER) $(TOP)/scripts/bench.sh

bench-two:
	KVER=$(KVER) $(TOP)/scripts/bench.sh -s two

lint:
	$(TOP)/scripts/lint.sh $(SOURCES)

check-builds:
	$(TOP)/scripts/deps.sh
	+$(TOP)/scripts/check-builds.sh

deb:
	$(TOP)/scripts/deb.sh

check-deb:
	$(TOP)/scripts/deps.sh
	$(TOP)/scripts/deb-check.sh

# The series is made against the newest rig kernel, whatever KVER says
SERIES_KVER ?= 7.2

series:
	$(TOP)/scripts/series.sh $(SERIES_KVER)

check-series: series
	$(TOP)/scripts/deps.sh
	$(TOP)/scripts/check-series.sh $(TOP)/build/series $(SERIES_KVER)

clean:
	rm -rf $(TOP)/build
	find $(TOP) \( -name '*.o' -o -name '*.ko' -o -name '*.mod' \
		-o -name '*.mod.c' -o -name '.*.cmd' -o -name '*.order' \
		-o -name Module.symvers \) -not -path '*/.git/*' -delete
