#!/bin/bash
# digest.sh: builds and runs the guest-memory digest unit test (userspace, fast).
set -u
cd "$(dirname "$0")/../.."
. tests/unit/ctest.sh
c_unit_test digest user/vmm/digest.c
