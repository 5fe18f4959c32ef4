#!/bin/bash
# ynl-spec.sh: the YNL spec (Documentation/netlink/specs/kvmmig.yaml) says
# what the uapi header and kmod/netlink.c implement: same commands,
# attributes, enums and values, same admin-only ops and multicast group.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
out=$(/usr/bin/python3 - <<'PY' 2>&1
import re, sys, yaml
spec = yaml.safe_load(open("Documentation/netlink/specs/kvmmig.yaml"))
hdr = open("include/uapi/linux/kvmmig.h").read()
nl = open("kmod/netlink.c").read()
errs = []

def enum_body(name):
    m = re.search(r"enum %s \{(.*?)\};" % name, hdr, re.S)
    if not m:
        errs.append("no enum %s in the header" % name)
        return []
    return [l.strip().rstrip(",") for l in m.group(1).splitlines()
            if l.strip() and not l.strip().startswith("__")]

def cname(prefix, n):
    return (prefix + n).upper().replace("-", "_")

def check_seq(what, names, body, start=0):
    vals = {}
    v = start - 1
    for e in body:
        k, _, val = e.partition("=")
        v = int(val.strip().replace("<<", "<<"), 0) if val and "<<" not in val else (eval(val) if val else v + 1)
        vals[k.strip()] = v
    for i, n in enumerate(names):
        if n not in vals:
            errs.append("%s: %s not in the header" % (what, n))
        elif vals[n] != start + i:
            errs.append("%s: %s is %d in the header, %d in the spec" % (what, n, vals[n], start + i))
    if len(names) != len(vals):
        errs.append("%s: %d in the spec, %d in the header" % (what, len(names), len(vals)))

ops = spec["operations"]
names = [cname(ops["name-prefix"], o["name"]) for o in ops["list"]]
check_seq("commands", ["KVMMIG_CMD_UNSPEC"] + names, enum_body("kvmmig_cmd"))
for s, enum in (("kvmmig", "kvmmig_attr"), ("vm", "kvmmig_vm_attr"), ("stats", "kvmmig_stats_attr")):
    aset = next(a for a in spec["attribute-sets"] if a["name"] == s)
    names = [cname(aset["name-prefix"], "unspec")] + [cname(aset["name-prefix"], a["name"]) for a in aset["attributes"]]
    check_seq("attribute set " + s, names, enum_body(enum))
for d in spec["definitions"]:
    names = [cname(d["name-prefix"], e if isinstance(e, str) else e["name"]) for e in d["entries"]]
    body = enum_body({"vm-state": "kvmmig_vm_state", "event": "kvmmig_event", "round-flags": "kvmmig_round_flags"}[d["name"]])
    if d["type"] == "flags":
        for i, n in enumerate(names):
            if not any(e.startswith(n) and "1 << %d" % i in e for e in body):
                errs.append("flag %s is not 1 << %d in the header" % (n, i))
    else:
        check_seq("enum " + d["name"], names, body, d.get("value-start", 0))
# Every do-operation is implemented, admin-only, in kmod/netlink.c.
for o in ops["list"]:
    if "do" in o or "dump" in o:
        c = cname(ops["name-prefix"], o["name"])
        m = re.search(r"\.cmd = %s,(.*?)\}" % c, nl, re.S)
        if not m:
            errs.append("operation %s not registered in kmod/netlink.c" % c)
        elif "GENL_ADMIN_PERM" not in m.group(1):
            errs.append("operation %s is not admin-only" % c)
        if m and ("dump" in o) != (".dumpit" in m.group(1)):
            errs.append("operation %s: dump in spec and code disagree" % c)
if spec["mcast-groups"]["list"][0]["name"] != re.search(r'KVMMIG_MCGRP_EVENTS "(\w+)"', hdr).group(1):
    errs.append("multicast group name differs")
print("\n".join(errs) if errs else "ok")
sys.exit(1 if errs else 0)
PY
)
if [ "$out" = ok ]; then pass "YNL spec matches the uapi header and kmod/netlink.c"
else fail "YNL spec matches the uapi header and kmod/netlink.c" "$(echo "$out" | head -n 5 | tr '\n' ';')"; fi
finish
