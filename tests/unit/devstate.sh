#!/bin/bash
# devstate.sh: builds and runs the per-device state version unit test (user/vmm/state.c against
# a fake VM and host, no KVM, fast).
set -u
cd "$(dirname "$0")/../.."
. tests/unit/ctest.sh
c_unit_test devstate
