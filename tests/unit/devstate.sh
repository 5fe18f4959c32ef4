#!/bin/bash
# devstate.sh: builds and runs the per-device state version unit test (user/vmm/state.c against
# a fake VM and host, no KVM, fast).
set -u
cd "$(dirname "$0")/../.."
out=build/tests/devstate_test
mkdir -p build/tests
if ! gcc -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -Iuser -Iinclude/uapi -fsanitize=address,undefined \
	-o "$out" tests/unit/devstate_test.c 2>build/tests/devstate_test.log; then
	echo "FAIL: devstate: unit test builds: $(grep -m3 error build/tests/devstate_test.log | tr '\n' ' ')"
	exit 1
fi
"$out"
