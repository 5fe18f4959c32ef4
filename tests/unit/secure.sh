#!/bin/bash
# secure.sh: builds and runs the secure-channel unit test: the handshake of
# user/ctl/secure.c on a socketpair, with the kernel TLS step recorded.
set -u
cd "$(dirname "$0")/../.."
out=build/tests/secure_test
mkdir -p build/tests
if ! gcc -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -Iuser -Iinclude/uapi -o "$out" tests/unit/secure_test.c \
	user/ctl/secure.c user/ctl/keyfile.c user/ctl/wire.c user/ctl/netio.c user/ctl/peertext.c -lcrypto -lpthread \
	2>build/tests/secure_test.log; then
	echo "FAIL: secure: unit test builds: $(head -n 3 build/tests/secure_test.log | tr '\n' ' ')"
	exit 1
fi
"$out"
