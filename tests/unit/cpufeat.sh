#!/bin/bash
# cpufeat.sh: builds and runs the CPUID feature-word and CPU-model unit test (no KVM, fast).
set -u
cd "$(dirname "$0")/../.."
. tests/unit/ctest.sh
c_unit_test cpufeat user/common/cpufeat.c user/common/cpumodel.c
