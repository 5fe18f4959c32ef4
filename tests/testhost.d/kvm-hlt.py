#!/usr/bin/env python3
"""Proves /dev/kvm runs a guest: one vCPU executes HLT at the reset vector.

Prints "kvm-hlt: ok" and exits 0 when KVM_RUN returns KVM_EXIT_HLT.
"""
import ctypes
import fcntl
import mmap
import os
import struct
import sys

KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01
KVM_GET_VCPU_MMAP_SIZE = 0xAE04
KVM_CREATE_VCPU = 0xAE41
KVM_SET_USER_MEMORY_REGION = 0x4020AE46
KVM_RUN = 0xAE80
KVM_EXIT_HLT = 5


def main():
    kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    api = fcntl.ioctl(kvm, KVM_GET_API_VERSION)
    if api != 12:
        sys.exit(f"kvm-hlt: KVM API version {api}, expected 12")
    vm = fcntl.ioctl(kvm, KVM_CREATE_VM, 0)

    # The vCPU resets to CS base 0xffff0000, IP 0xfff0: the last page below
    # 4 GiB holds HLT at its offset 0xff0.
    mem = mmap.mmap(-1, 4096, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    mem[0xFF0] = 0xF4
    addr = ctypes.addressof(ctypes.c_char.from_buffer(mem))
    region = struct.pack("=IIQQQ", 0, 0, 0xFFFFF000, 4096, addr)
    fcntl.ioctl(vm, KVM_SET_USER_MEMORY_REGION, region)

    vcpu = fcntl.ioctl(vm, KVM_CREATE_VCPU, 0)
    run_size = fcntl.ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE)
    run = mmap.mmap(vcpu, run_size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    fcntl.ioctl(vcpu, KVM_RUN, 0)
    (reason,) = struct.unpack_from("=I", run, 8)
    if reason != KVM_EXIT_HLT:
        sys.exit(f"kvm-hlt: exit reason {reason}, expected {KVM_EXIT_HLT} (HLT)")
    print("kvm-hlt: ok")


if __name__ == "__main__":
    main()
