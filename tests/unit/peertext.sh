#!/bin/bash
# peertext.sh: a peer's text never reaches a terminal raw nor breaks a --json
# line. A fake destination refuses kvmmig-ctl migrate, and a fake source
# aborts at kvmmig-ctl incoming, with a text of quotes, a newline that starts
# a forged JSON event and terminal escape sequences (tests/unit/
# hostile_peer.py). Runs on this machine: the refusals come before the tool
# needs kvmmig.ko (a fake VMM control socket says "kvmmig attached").
#
#   kvmmig-ctl migrate --json ──TCP──► hostile_peer.py dest  (REFUSE "nope\"...\n{...}\e[2J...")
#   kvmmig-ctl incoming ◄──TCP── hostile_peer.py source      (ABORT, same text)
#        │ unix socket
#   hostile_peer.py vmm (status: running / incoming, kvmmig attached)
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
ctl=$PWD/build/kvmmig-ctl
peer=tests/unit/hostile_peer.py
[ -x "$ctl" ] || { fail "peertext: kvmmig-ctl is built" "no $ctl: run make user"; finish; exit; }

tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
export KVMMIG_RUN_DIR=$tmp
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_bg READY-LINE LOG CMD...: starts CMD, waits for its READY-LINE.
start_bg() {
	local ready=$1 log=$2
	shift 2
	"$@" >"$log" 2>&1 &
	pids+=($!)
	wait_for 10 grep -q "$ready" "$log"
}

# Bytes a terminal could act on: anything but printable ASCII and the newline.
raw_controls() {
	python3 -c 'import sys
d = sys.stdin.buffer.read()
bad = sorted({b for b in d if not (0x20 <= b < 0x7f or b == 0x0a)})
print(" ".join("0x%02x" % b for b in bad))'
}

# Each stdout line is one JSON object; exactly one "failed" event whose
# reason carries the text (quotes kept, controls made visible), nothing forged.
check_json() {
	python3 - "$1" <<'EOF'
import json, sys
lines = open(sys.argv[1], "rb").read().decode("ascii", "replace").splitlines()
objs = [json.loads(l) for l in lines]
failed = [o for o in objs if o.get("event") == "failed"]
assert len(objs) == 1 and len(failed) == 1, "%d lines, %d failed events: %r" % (len(objs), len(failed), lines)
r = failed[0]["reason"]
assert 'nope", "event":"done' in r, "the quotes did not survive: %r" % r
assert "\\x1b[2J" in r and "\\x0a" in r, "controls not shown escaped: %r" % r
assert not any(ord(c) < 0x20 or 0x7f <= ord(c) < 0xa0 for c in r), "a control character in the reason: %r" % r
assert "forged" not in objs[0], "a forged key: %r" % objs[0]
print("ok")
EOF
}

start_bg "vmm ready" "$tmp/vmm-src.log" python3 "$peer" vmm "$tmp" src running ||
	{ fail "peertext: fake VMM starts" "$(cat "$tmp/vmm-src.log")"; finish; exit; }

for when in auth hello; do
	port=$(free_port)
	start_bg "dest ready" "$tmp/dest-$when.log" python3 "$peer" dest "$port" "$when" ||
		{ fail "peertext: fake destination starts [$when]" "$(cat "$tmp/dest-$when.log")"; continue; }
	"$ctl" migrate src "127.0.0.1:$port" --insecure --json >"$tmp/out-$when" 2>"$tmp/err-$when"
	rc=$?
	if [ $rc = 1 ] && grep -q "the destination refused" "$tmp/out-$when" "$tmp/err-$when"; then
		pass "migrate fails on the destination's refusal [$when]"
	else
		fail "migrate fails on the destination's refusal [$when]" "exit $rc: $(cat "$tmp/err-$when")"
	fi
	if why=$(check_json "$tmp/out-$when" 2>&1); then
		pass "--json: every line is valid JSON, one failed event, the refusal escaped [$when]"
	else
		fail "--json: every line is valid JSON, one failed event, the refusal escaped [$when]" \
			"$(echo "$why" | tail -n 1); stdout: $(head -c 300 "$tmp/out-$when" | od -c | head -n 4 | tr -s ' \n' ' ')"
	fi
	bad=$(cat "$tmp/out-$when" "$tmp/err-$when" | raw_controls)
	if [ -z "$bad" ]; then
		pass "migrate --json prints no raw control character [$when]"
	else
		fail "migrate --json prints no raw control character [$when]" "found $bad"
	fi
done

# The terminal output of a plain migrate (its stderr line).
port=$(free_port)
if start_bg "dest ready" "$tmp/dest-plain.log" python3 "$peer" dest "$port" hello; then
	"$ctl" migrate src "127.0.0.1:$port" --insecure >"$tmp/out-plain" 2>"$tmp/err-plain"
	bad=$(cat "$tmp/out-plain" "$tmp/err-plain" | raw_controls)
	lines=$(grep -c 'refused' "$tmp/err-plain")
	if [ -z "$bad" ] && [ "$lines" = 1 ] && grep -q 'x1b\[2J' "$tmp/err-plain"; then
		pass "migrate: the refusal is one terminal line, escape sequences shown, not sent"
	else
		fail "migrate: the refusal is one terminal line, escape sequences shown, not sent" \
			"raw: ${bad:-none}, $lines line(s): $(od -c "$tmp/err-plain" | head -n 6 | tr -s ' \n' ' ')"
	fi
fi

# ssh://: the remote side's lines come back through the tool. A fake ssh
# says where the destination listens, then prints the hostile text.
port=$(free_port)
printf '#!/bin/sh\ncat >/dev/null\necho "waiting for src on *:%s"\npython3 %s text\n' "$port" "$PWD/$peer" >"$tmp/fake-ssh"
chmod +x "$tmp/fake-ssh"
if start_bg "dest ready" "$tmp/dest-ssh.log" python3 "$peer" dest "$port" auth; then
	"$ctl" migrate src "ssh://127.0.0.1" --ssh "$tmp/fake-ssh" --json >"$tmp/out-ssh" 2>"$tmp/err-ssh"
	bad=$(cat "$tmp/out-ssh" "$tmp/err-ssh" | raw_controls)
	if [ -z "$bad" ] && python3 - "$tmp/out-ssh" <<'PY'; then
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1], "rb").read().decode("ascii").splitlines()]
dest = [o["text"] for o in objs if o["event"] == "destination"]
assert objs[-1]["event"] == "failed", objs
assert any("\\x1b[2J" in t for t in dest) and len(dest) >= 3, objs
assert not any("forged" in o for o in objs), objs
PY
		pass "migrate ssh:// --json: the remote side's lines are destination events, escaped"
	else
		fail "migrate ssh:// --json: the remote side's lines are destination events, escaped" \
			"raw: ${bad:-none}: $(head -c 400 "$tmp/out-ssh" | tr '\n' '|')"
	fi
fi

# The destination side: a source that aborts the handshake with that text.
start_bg "vmm ready" "$tmp/vmm-dst.log" python3 "$peer" vmm "$tmp" dst incoming ||
	{ fail "peertext: fake incoming VMM starts" "$(cat "$tmp/vmm-dst.log")"; finish; exit; }
port=$(free_port)
"$ctl" incoming dst --listen "127.0.0.1:$port" --insecure --timeout 4 >"$tmp/out-in" 2>"$tmp/err-in" &
in_pid=$!
pids+=($in_pid)
wait_for 10 grep -q "waiting for dst" "$tmp/out-in" && python3 "$peer" source "$port"
wait "$in_pid"
bad=$(cat "$tmp/out-in" "$tmp/err-in" | raw_controls)
if grep -q "the source refused" "$tmp/err-in" && [ -z "$bad" ]; then
	pass "incoming: the source's abort text is logged with no raw control character"
else
	fail "incoming: the source's abort text is logged with no raw control character" \
		"raw: ${bad:-none}: $(od -c "$tmp/err-in" | head -n 6 | tr -s ' \n' ' ')"
fi
finish
