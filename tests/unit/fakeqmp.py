#!/usr/bin/env python3
"""fakeqmp.py: a fake QEMU on a QMP socket, for kvmmig-ctl's QMP client.

  fakeqmp.py SOCKET SCENARIO

Serves one client. Answers qemu-check's commands as QEMU 10.0 with a good
configuration would (memory-backend-file on /dev/shm), except:

  events     an event before every reply (the client must skip them)
  error      query-kvm fails with an error whose text has an escape sequence
  huge       the greeting is a line of 5 MiB
  deep       the greeting nests 100000 arrays (a recursive parser's stack)
  notjson    the reply to qmp_capabilities is not JSON
  duplicate  the reply to qmp_capabilities has the key "return" twice
  wrongid    the reply to query-kvm carries another id
  silent     never answers query-kvm
  vhostuser  a vhost-user-blk-pci device and a vhost-user netdev
  smm        the machine has smm=on
"""
import json
import os
import socket
import sys
import time

path, scenario = sys.argv[1], sys.argv[2]
ls = socket.socket(socket.AF_UNIX)
ls.bind(path)
ls.listen(1)
print("ready", flush=True)
c, _ = ls.accept()
f = c.makefile("rwb")


def send(obj):
    f.write(json.dumps(obj).encode() + b"\r\n")
    f.flush()


def event(name):
    send({"timestamp": {"seconds": 1, "microseconds": 2}, "event": name, "data": {}})


shm = "/dev/shm"
answers = {
    "qmp_capabilities": {},
    "query-kvm": {"enabled": True, "present": True},
    "query-migrate": {},
    "query-migrate-capabilities": [{"capability": "x-ignore-shared", "state": False},
                                   {"capability": "postcopy-ram", "state": False}],
    "qom-list /objects": [{"name": "type", "type": "string"},
                          {"name": "mem", "type": "child<memory-backend-file>"}],
    "qom-list /machine/peripheral": [{"name": "type", "type": "string"}],
    "qom-list /machine/peripheral-anon": [{"name": "type", "type": "string"}],
    "qom-get smm": "on" if scenario == "smm" else "off",
    "qom-get share": True, "qom-get size": 64 << 20, "qom-get mem-path": shm,
    "human-monitor-command": "hub 0\n \\ hub0port0: #net0: index=0,type=user,net=10.0.2.0\n",
}
if scenario == "vhostuser":
    answers["qom-list /machine/peripheral"].append({"name": "disk0", "type": "child<vhost-user-blk-pci>"})
    answers["human-monitor-command"] = "virtio-net-pci.0: index=0,type=nic,model=virtio-net-pci\n \\ net0: index=0,type=vhost-user,vhost-user to vhost0\n"

if scenario == "huge":
    f.write(b'{"QMP": {"version": ' + b" " * (5 << 20) + b"\r\n")
    f.flush()
    time.sleep(5)
    sys.exit(0)
if scenario == "deep":
    f.write(b'{"QMP": ' + b"[" * 100000 + b"]" * 100000 + b"}\r\n")
    f.flush()
    time.sleep(5)
    sys.exit(0)
send({"QMP": {"version": {"qemu": {"micro": 2, "minor": 0, "major": 10}, "package": "fake"},
              "capabilities": ["oob"]}})
for line in f:
    req = json.loads(line)
    cmd, args, rid = req["execute"], req.get("arguments", {}), req.get("id")
    key = cmd
    if cmd == "qom-list":
        key = "qom-list " + args["path"]
    elif cmd == "qom-get":
        key = "qom-get " + args["property"]
    if scenario == "events":
        event("RTC_CHANGE")
    if cmd == "qmp_capabilities" and scenario == "notjson":
        f.write(b"{'return': {}}\r\n")
        f.flush()
        continue
    if cmd == "qmp_capabilities" and scenario == "duplicate":
        f.write(b'{"return": {}, "return": {}, "id": %d}\r\n' % rid)
        f.flush()
        continue
    if cmd == "query-kvm" and scenario == "silent":
        time.sleep(10)
        break
    if cmd == "query-kvm" and scenario == "wrongid":
        rid += 7
    if cmd == "query-kvm" and scenario == "error":
        send({"error": {"class": "GenericError", "desc": "no \x1b[2Jway\nreally"}, "id": rid})
        continue
    if key not in answers:
        send({"error": {"class": "CommandNotFound", "desc": "The command %s has not been found" % cmd}, "id": rid})
        continue
    send({"return": answers[key], "id": rid})
