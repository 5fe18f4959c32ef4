#!/bin/bash
# downtime.sh: builds and runs the downtime-breakdown unit test (pure userspace, fast).
set -u
cd "$(dirname "$0")/../.."
. tests/unit/ctest.sh
c_unit_test downtime user/ctl/downtime.c -ljansson
