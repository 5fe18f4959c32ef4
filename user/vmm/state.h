/* state.h: a paused VM's complete state as a versioned, length-checked blob: save, restore. */
#ifndef KVMMIG_VMM_STATE_H
#define KVMMIG_VMM_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/vmm.h"

/*
 * The state blob, version 2. All integers little-endian (x86 only).
 *
 *   header (32 bytes)
 *	0   char  magic[8]	"KVMMIGVS"
 *	8   u32   version	2 (this writer); a reader takes 1 and 2, refuses others
 *	12  u32   header_size	32
 *	16  u64   total_size	header + all records; must equal the blob's size
 *	24  u32   crc32		CRC-32 (IEEE, as zlib) of bytes [32, total_size)
 *	28  u32   record_count
 *   then record_count records, each
 *	0   u32   type		enum kvmmig_state_type
 *	4   u32   index		vCPU index, irqchip id, or device number
 *	8   u32   size		payload bytes (without padding)
 *	12  u16   version	the payload's format version, from 1
 *	14  u16   flags		KVMMIG_STATE_F_MUST_UNDERSTAND; other bits 0
 *	16  payload, then zero padding up to a multiple of 8 bytes
 *
 * What the format promises, so that hosts upgrade one at a time (a host
 * being upgraded is evacuated onto hosts of the old or the new VMM):
 *   - The header version changes only when the header or the record head
 *     changes. A new record type, or a new version of a record's payload,
 *     leaves it at 2.
 *   - A reader skips a record whose type it does not know, or whose version
 *     is newer than the newest it reads, unless the record is flagged
 *     must-understand; then it refuses the blob, naming the record, before
 *     anything is applied (the guest stays at the source). A writer flags a
 *     record must-understand when restoring without it would be wrong
 *     (every record of version 1 of the format is); a record that only
 *     refines another, which an older reader can do without, is optional
 *     (SREGS2 next to SREGS).
 *   - A record's payload layout changes only with its version, and a reader
 *     keeps reading every version it ever read. A device's state (DEVICE)
 *     is versioned by the device: it writes one version and reads every
 *     version from the first it wrote (struct vmm_device_ops); a DEVICE
 *     record of a version it does not read is refused naming the device
 *     and both versions when must-understand (every DEVICE record written
 *     so far), and skipped when optional, the device keeping its reset
 *     state. A version-1 blob carries version-1 device state only: a VMM
 *     with a device of a newer state version writes no version-1 blob.
 *   - Version-1 blobs (VMMs before record versions; bytes 12-15 of a record
 *     head 0) are read as every record version 1, must-understand. A VMM
 *     of version 1 reads no version-2 blob: a host of the old VMM is a
 *     source for hosts of the new one, not a destination.
 *
 * Payloads are KVM's own uAPI structs (their layout is ABI) or the small
 * structs below. A blob is accepted only if all of this holds, checked
 * before anything is applied: magic, version, header size, total size,
 * CRC, every record inside the blob, no unknown flag, every must-understand
 * record of a known type and version, index in range, the exact size of a
 * fixed-size payload or a consistent count in a variable one, zero padding
 * and reserved fields, no record twice, every required record present,
 * every device's state of a version the device reads, the VM shape (vCPU
 * count, memslots) equal to the VM's, END last, every CPUID feature bit supported by this host's
 *KVM (vmm/cpuid.h), every feature MSR value one it can give (vmm/featmsr.h).
 *
 * Record types, all version 1 and must-understand unless said otherwise.
 * Per vCPU (index = vCPU index), all required except XCRS (present when
 * the source had KVM_CAP_XCRS) and exactly one of XSAVE / FPU:
 *	VCPU_REGS	struct kvm_regs
 *	VCPU_SREGS	struct kvm_sregs
 *	VCPU_XSAVE	KVM_GET_XSAVE2 area, size a multiple of 4, 4096 to the
 *			destination's KVM_CAP_XSAVE2 size
 *	VCPU_FPU	struct kvm_fpu (hosts without XSAVE)
 *	VCPU_XCRS	struct kvm_xcrs
 *	VCPU_MSRS	struct kvm_msrs header + nmsrs struct kvm_msr_entry;
 *			feature MSRs (ARCH_CAPABILITIES, PERF_CAPABILITIES, the
 *			VMX capabilities...: vmm/featmsr.h) are checked against
 *			what this host's KVM can give before anything is applied;
 *			every MSR of KVM_GET_MSR_INDEX_LIST, the MTRRs (when
 *			the guest's CPUID has MTRR), MCG_CAP and the MCE banks
 *			it announces, that KVM_GET_MSRS could read. Restored
 *			in calls of at most 255 (KVM's limit); MCG_CAP through
 *			KVM_X86_SETUP_MCE when it differs; the TSC deadline in
 *			a call of its own, last
 *	VCPU_LAPIC	struct kvm_lapic_state
 *	VCPU_EVENTS	struct kvm_vcpu_events (NMI-pending and SIPI flags set)
 *	VCPU_MP_STATE	struct kvm_mp_state
 *	VCPU_DEBUGREGS	struct kvm_debugregs
 *	VCPU_CPUID	struct kvm_cpuid2 header + nent struct kvm_cpuid_entry2
 *	VCPU_TSC_KHZ	u32, the guest TSC frequency (KVM_GET_TSC_KHZ)
 *	VCPU_SREGS2	struct kvm_sregs2 (KVM_GET_SREGS2, with the PDPTRs a PAE
 *			guest has loaded), optional: when the source has
 *			KVM_CAP_SREGS2. A destination with it restores these
 *			with KVM_SET_SREGS2 instead of SREGS, one without it
 *			(or a reader that does not know the record) restores
 *			SREGS, and KVM reloads the PDPTRs from guest memory
 * Per VM:
 *	VM_INFO		struct kvmmig_state_vm_info (index 0), first record
 *	VM_IRQCHIP	struct kvm_irqchip, index = chip id: 0 PIC master,
 *			1 PIC slave, 2 IOAPIC; each exactly once, and the
 *			payload's chip_id equal to the index
 *	VM_PIT		struct kvm_pit_state2
 *	VM_CLOCK	struct kvm_clock_data (kvmclock at save)
 *	DEVICE		struct kvmmig_state_device_head + the device's bytes;
 *			index = 0..n-1, each once; every device the VMM
 *			registered, no other (found by name); the record
 *			version is the device's state version (kvmmig-vm's
 *			serial0 and debugcon: 1), not bound to 1 as the other
 *			record types are
 *	END		empty, last
 *
 * Save order: MP_STATE (KVM_GET_MP_STATE applies a latched INIT/SIPI and
 * changes CS, RIP, the LAPIC), EVENTS, then the rest.
 * Restore order (REGS before EVENTS, as QEMU's kvm_arch_put_registers:
 * KVM_SET_REGS drops a pending exception; LAPIC after the APIC base in
 * SREGS and before the TSC-deadline MSR): TSC frequency, CPUID, REGS,
 * SREGS or SREGS2, LAPIC, MSRS (the TSC among them: the guest's TSC resumes where it
 * was saved, never backwards), XCRS, XSAVE/FPU, EVENTS, MP_STATE,
 * DEBUGREGS; then the irqchips, PIT, kvmclock (KVM_SET_CLOCK: guest time
 * continues from the save), devices. Restore is accepted only by an
 * incoming VM whose vCPUs never ran; if KVM refuses a value half-way the
 * VM stays incoming and cannot be resumed: never half-applied and running.
 */

#define KVMMIG_STATE_MAGIC	      "KVMMIGVS"
#define KVMMIG_STATE_VERSION	      2
#define KVMMIG_STATE_VERSION_MIN      1 /* the oldest header version a reader takes */
#define KVMMIG_STATE_HEADER_SIZE      32
#define KVMMIG_STATE_RECORD_HEAD_SIZE 16

enum kvmmig_state_type {
	KVMMIG_STATE_VM_INFO = 0x01,
	KVMMIG_STATE_VCPU_REGS = 0x10,
	KVMMIG_STATE_VCPU_SREGS = 0x11,
	KVMMIG_STATE_VCPU_FPU = 0x12,
	KVMMIG_STATE_VCPU_XSAVE = 0x13,
	KVMMIG_STATE_VCPU_XCRS = 0x14,
	KVMMIG_STATE_VCPU_MSRS = 0x15,
	KVMMIG_STATE_VCPU_LAPIC = 0x16,
	KVMMIG_STATE_VCPU_EVENTS = 0x17,
	KVMMIG_STATE_VCPU_MP_STATE = 0x18,
	KVMMIG_STATE_VCPU_DEBUGREGS = 0x19,
	KVMMIG_STATE_VCPU_CPUID = 0x1a,
	KVMMIG_STATE_VCPU_TSC_KHZ = 0x1b,
	KVMMIG_STATE_VCPU_SREGS2 = 0x1c,
	KVMMIG_STATE_VM_IRQCHIP = 0x20,
	KVMMIG_STATE_VM_PIT = 0x21,
	KVMMIG_STATE_VM_CLOCK = 0x22,
	KVMMIG_STATE_DEVICE = 0x30,
	KVMMIG_STATE_END = 0xffff,
};

struct kvmmig_state_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	uint64_t total_size;
	uint32_t crc32;
	uint32_t record_count;
};

struct kvmmig_state_record {
	uint32_t type;
	uint32_t index;
	uint32_t size;
	uint16_t version; /* 0 in a version-1 blob: read as 1 */
	uint16_t flags;	  /* 0 in a version-1 blob: read as must-understand */
};

/* A reader that does not know this record (type, or version) must refuse the blob. */
#define KVMMIG_STATE_F_MUST_UNDERSTAND 0x0001

struct kvmmig_state_vm_info {
	uint32_t ncpus;
	uint32_t nslots;
	uint32_t cpu_model; /* enum cpu_model_id: a model's name and version */
	uint32_t reserved;
	struct {
		uint32_t slot;
		uint32_t reserved;
		uint64_t gpa;
		uint64_t size;
	} slots[VMM_MAX_MEMSLOTS]; /* nslots used, the rest zero */
};

struct kvmmig_state_device_head {
	char name[16]; /* NUL-padded */
};

/* Bounds on variable records: far above what KVM has, low enough to refuse garbage. */
#define KVMMIG_STATE_MAX_MSRS	1024
#define KVMMIG_STATE_MAX_CPUID	256
#define KVMMIG_STATE_MAX_XSAVE	(1 << 20)
#define KVMMIG_STATE_MAX_DEVICE 4096

/*
 * Saves a paused VM as a blob of @version (0: KVMMIG_STATE_VERSION; 1 for a
 * reader that predates record versions: no optional records, see
 * put_record_flags()): *@blob is malloc'ed, *@size its length. -errno on
 * failure, -EPROTONOSUPPORT for a version this VMM does not write, -ERANGE
 * for version 1 when a device's state is newer than 1 (put_devices()), -EBUSY
 * if the VM is not paused, -ENODATA if it is incoming: a VM waiting for its
 * state has none of its own (its vCPUs as created, its memory perhaps half
 * received), and a blob of it restored elsewhere would start a blank guest.
 */
int vmm_state_save(struct vmm_vm *vm, uint32_t version, uint8_t **blob, size_t *size);
/*
 * Checks @blob whole, then applies it to an incoming VM. On failure, fills
 * @err (if not NULL) with a message saying what was wrong and where.
 */
int vmm_state_restore(struct vmm_vm *vm, const uint8_t *blob, size_t size, char *err,
		      size_t err_size);
/* A device's state versions are in order: 1 <= first_version <= version (vmm_device_register()). */
bool vmm_device_versions_valid(const struct vmm_device_ops *ops);
/* Only the format checks that need no VM (magic, version, sizes, CRC, record framing). */
int vmm_state_check_framing(const uint8_t *blob, size_t size, char *err, size_t err_size);
uint32_t vmm_crc32(uint32_t crc, const void *data, size_t len);

#endif /* KVMMIG_VMM_STATE_H */
