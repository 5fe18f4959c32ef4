#!/bin/bash
# secure.sh: builds and runs the secure-channel unit test: the handshake of
# user/ctl/secure.c on a socketpair, with the kernel TLS step recorded.
set -u
cd "$(dirname "$0")/../.."
. tests/unit/ctest.sh
c_unit_test secure user/ctl/secure.c user/ctl/keyfile.c user/ctl/wire.c user/ctl/netio.c user/ctl/peertext.c -lcrypto -lpthread
