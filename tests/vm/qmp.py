#!/usr/bin/env python3
"""qmp.py: test-side QMP one-shots against a QEMU (tests only; kvmmig-ctl has its own client).

  qmp.py SOCKET CMD [ARGS-JSON]   runs CMD, prints its "return" as JSON (exit 1 on an error)
  qmp.py SOCKET ram-migrated      migrates to /dev/null with x-ignore-shared on and prints
                                  query-migrate's ram.total: the bytes of RAM QEMU would
                                  copy itself (QEMU's own verdict on which blocks it skips)
"""
import json
import socket
import sys
import time

s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")


def cmd(c, a=None):
    m = {"execute": c}
    if a is not None:
        m["arguments"] = a
    f.write(json.dumps(m) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "event" not in r:
            return r


f.readline()
cmd("qmp_capabilities")
if sys.argv[2] == "ram-migrated":
    cmd("migrate-set-capabilities",
        {"capabilities": [{"capability": "x-ignore-shared", "state": True}]})
    cmd("migrate", {"uri": "exec:cat >/dev/null"})
    for _ in range(100):
        r = cmd("query-migrate")["return"]
        if r.get("status") in ("completed", "failed"):
            break
        time.sleep(0.1)
    if r.get("status") != "completed":
        sys.exit("migration to /dev/null did not complete: %r" % r)
    print(r["ram"]["total"])
else:
    r = cmd(sys.argv[2], json.loads(sys.argv[3]) if len(sys.argv) > 3 else None)
    if "error" in r:
        sys.exit("QEMU refused %s: %s" % (sys.argv[2], r["error"]["desc"]))
    print(json.dumps(r["return"]))
