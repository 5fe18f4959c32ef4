# console.sh (sourced): the Linux test guest's console lines (tests/guests/linux/init),
# read from a console file.
#
#   guest_counters FILE   memcounter's counters with checksum ok, one per line
#   guest_beats FILE      CPU 1's heartbeat numbers (2+ vCPUs), one per line
guest_counters() { sed -n 's/^memcounter: counter \([0-9]*\) checksum [0-9]* ok\r\?$/\1/p' "$1"; }
guest_beats() { sed -n 's/^cpu1: alive \([0-9]*\)\r\?$/\1/p' "$1"; }
