#!/bin/bash
# policy.sh: builds and runs the policy unit test (pure userspace, fast).
set -u
cd "$(dirname "$0")/../.."
out=build/tests/policy_test
mkdir -p build/tests
if ! gcc -O2 -Wall -Wextra -Werror -Iuser -o "$out" tests/unit/policy_test.c user/ctl/policy.c 2>build/tests/policy_test.log; then
	echo "FAIL: policy: unit test builds: $(head -n 3 build/tests/policy_test.log | tr '\n' ' ')"
	exit 1
fi
"$out"
