#!/bin/bash
# policy.sh: builds and runs the policy unit test (pure userspace, fast).
set -u
cd "$(dirname "$0")/../.."
. tests/unit/ctest.sh
c_unit_test policy user/ctl/policy.c
