#!/bin/bash
# ssh.sh: runs on two test hosts (tests/testhost --hosts A,B). Host b runs
# OpenSSH's server (unpacked by scripts/install-deps into build/sshd) and an
# incoming VMM; host a migrates a payload guest with
#
#   kvmmig-ctl migrate vm0 ssh://root@10.250.0.2 --verify
#
# and nothing set up on host b by hand but the VMM: the tool starts the
# destination's `kvmmig-ctl incoming` over SSH, hands it a fresh key on the
# SSH channel, and moves the guest over kernel TLS with that key. First an
# ssh:// migration to a host with no VMM waiting must fail cleanly.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
export PATH=$PWD/build:$PATH
role=$KVMMIG_ROLE self=$KVMMIG_SELF_ADDR peer=$KVMMIG_PEER_ADDR
S=$KVMMIG_SCRATCH
TEST_SUFFIX=" [$role: $(uname -r)]"
trap 'pkill -9 kvmmig-vm 2>/dev/null; pkill -9 sshd 2>/dev/null; wait 2>/dev/null' EXIT
insmod "$KVMMIG_KO" || { fail "module loads" "insmod failed"; exit 1; }

guest=build/guests/dirtymem.bin
log=/tmp/guest.log
signal() { echo "${2:-}" >"$S/$1.tmp" && mv "$S/$1.tmp" "$S/$1"; }
await() { wait_for "${2:-180}" test -e "$S/$1" || { fail "waiting for the peer ($1)" "timed out"; exit 1; }; }
last_iter() { grep -o 'iter [0-9]*' "$1" 2>/dev/null | awk '{print $2}' | sort -n | tail -n1; }
reports() { grep -c ' iter [0-9]* verifies ' "$1" 2>/dev/null; }

if [ "$role" = b ]; then
	# sshd as root's login service, configured in /tmp (a tmpfs per test
	# host): host key, the client key host a made, no PAM, no passwords.
	d=/tmp/sshd
	mkdir -p "$d" /run/sshd && chmod 755 /run/sshd
	if ! getent passwd sshd >/dev/null; then
		# The privilege-separation user, in a copy of /etc/passwd (the host root is read-only).
		{ cat /etc/passwd; echo 'sshd:x:999:65534::/run/sshd:/usr/sbin/nologin'; } >"$d/passwd" &&
			mount --bind "$d/passwd" /etc/passwd
	fi
	ssh-keygen -q -t ed25519 -N '' -f "$d/host_key"
	await client_key
	cat >"$d/sshd_config" <<CFG
ListenAddress $self
HostKey $d/host_key
AuthorizedKeysFile $S/client_key.pub
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
CFG
	if "$PWD/build/sshd/usr/sbin/sshd" -f "$d/sshd_config" -E "$d/sshd.log"; then
		pass "OpenSSH's server runs on host b"
	else
		fail "OpenSSH's server runs on host b" "$(tail -n 2 "$d/sshd.log" | tr '\n' ' ')"
	fi
	signal sshd
	# First attempt: no VMM waits here. Then one does.
	await tried_without_vmm
	kvmmig-vm --incoming --name vm0 --mem 64M --console "file:$log" 2>/tmp/vm0.err &
	wait_for 20 kvmmig-ctl status vm0
	signal ready
	await migrated
	src_last=$(cat "$S/migrated")
	if wait_for 60 sh -c "[ \$(grep -c ' iter [0-9]* verifies ' $log) -ge 3 ]" &&
		[ "$(last_iter "$log")" -gt "${src_last:-0}" ] && ! grep -q 'FAIL\|failures [1-9]' "$log"; then
		pass "after ssh:// the guest goes on at host b ($(uname -r)): iteration $(last_iter "$log") > $src_last, no failures"
	else
		fail "after ssh:// the guest goes on at host b" "$(tail -n 2 "$log" | tr '\n' ' ')"
	fi
	pgrep -f 'kvmmig-ctl.* incoming' >/dev/null && fail "the incoming started over SSH has exited" "still running" ||
		pass "the incoming started over SSH has exited"
	signal checked
else
	# The private key stays in /tmp (ssh wants it mode 600, which the shared
	# scratch directory does not keep); host b reads the public half.
	ssh-keygen -q -t ed25519 -N '' -f /tmp/client_key && cp /tmp/client_key.pub "$S/client_key.pub"
	cat >/tmp/ssh_config <<CFG
Host *
	IdentityFile /tmp/client_key
	StrictHostKeyChecking no
	UserKnownHostsFile /dev/null
	BatchMode yes
	LogLevel ERROR
CFG
	signal client_key
	kvmmig-vm --name vm0 --mem 64M --payload "$guest" --append "pages=4096 rate=16 delay_us=100000 report_ms=100" \
		--console "file:$log" 2>/tmp/vm0.err &
	vmm=$!
	wait_for 30 grep -q ' iter ' "$log" || fail "guest starts on host a" "$(cat /tmp/vm0.err)"
	await sshd
	ssh_args=(--ssh "ssh -F /tmp/ssh_config" --remote-ctl "$PWD/build/kvmmig-ctl")

	out=$(kvmmig-ctl migrate vm0 "ssh://root@$peer" "${ssh_args[@]}" 2>&1)
	rc=$?
	n0=$(reports "$log")
	if [ $rc -eq 1 ] && echo "$out" | grep -q 'unable to reach the VMM of .vm0' &&
		echo "$out" | grep -q 'did not start over SSH.*the guest is running on the source' &&
		wait_for 10 sh -c "[ \$(grep -c ' iter [0-9]* verifies ' $log) -gt $n0 ]"; then
		pass "ssh:// to a host with no VMM waiting: a clear error, the guest runs on at the source"
	else
		fail "ssh:// to a host with no VMM waiting: a clear error, the guest runs on at the source" \
			"exit $rc: $(echo "$out" | tail -n 2 | tr '\n' ' ')"
	fi
	signal tried_without_vmm
	await ready

	out=$(kvmmig-ctl migrate vm0 "ssh://root@$peer" "${ssh_args[@]}" --verify 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && echo "$out" | grep -q '^destination: memory verified: digest [0-9a-f]* matches' &&
		echo "$out" | grep -q '^migrated vm0 .* memory verified$' &&
		wait_for 10 sh -c "! kill -0 $vmm"; then
		pass "migrate ssh://root@$peer --verify ($(uname -r) -> peer): $(echo "$out" | tail -n 1)"
	else
		fail "migrate ssh://root@$peer --verify: succeeds, the destination confirms the digest" \
			"exit $rc: $(echo "$out" | tail -n 3 | tr '\n' ' ')"
	fi
	signal migrated "$(last_iter "$log")"
	await checked
fi
finish
