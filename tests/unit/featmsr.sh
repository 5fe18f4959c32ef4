#!/bin/bash
# featmsr.sh: builds and runs the feature-MSR check's unit test (user/vmm/featmsr.c against fake
# Intel hosts; no KVM, fast): PERF_CAPABILITIES and the VMX capability MSRs by KVM's own rules.
set -u
cd "$(dirname "$0")/../.."
. tests/unit/ctest.sh
c_unit_test featmsr
