#!/bin/bash
# ramverify.sh: builds and runs the unit test of the QEMU verify-and-repair pass (user/ctl/ramverify.c).
set -u
cd "$(dirname "$0")/../.."
. tests/unit/ctest.sh
c_unit_test ramverify user/ctl/ramverify.c user/ctl/wire.c user/ctl/netio.c
