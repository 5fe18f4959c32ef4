/* kvmmig-vm.h: what the parts of the reference VMM (loaders, devices, console) share. */
#ifndef KVMMIG_VM_H
#define KVMMIG_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/vmm.h"

/* The console: guest output (serial, debug port) and input (serial). */
enum console_kind {
	CONSOLE_STDIO,
	CONSOLE_FILE,
	CONSOLE_NONE,
};

int console_open(const char *spec);
void console_close(void);
void console_write(const void *data, size_t len);
/* The fd to poll for guest input, or -1. */
int console_input_fd(void);

/* 8250 UART at 0x3f8, IRQ 4, with its state in the state blob as "serial0". */
#define SERIAL_PORT_BASE 0x3f8
#define SERIAL_IRQ	 4
int serial_init(struct vmm_vm *vm);
bool serial_pio(uint16_t port, bool out, uint8_t *data, uint32_t size);
void serial_receive(const uint8_t *data, size_t len);

/* Port and MMIO dispatch for every guest kind (ports.c). */
extern const struct vmm_exit_ops vm_exit_ops;
/* Per-vCPU state of the devices; vcpu->priv points at one. */
struct vcpu_devices {
	char line[256]; /* debug console output not yet ended by a newline */
	size_t line_len;
};
int devices_init(struct vmm_vm *vm);
void devices_flush(struct vmm_vm *vm);

/* Loaders: they fill guest memory and set every vCPU's entry state. */
int payload_load(struct vmm_vm *vm, const char *path, const char *cmdline);
/* After a triple fault: is what payload_load() put in memory still there? */
void payload_post_mortem(struct vmm_vm *vm);
int linux_load(struct vmm_vm *vm, const char *kernel, const char *initrd, const char *cmdline);

/* Sets vCPU @vcpu to 64-bit mode with CR3 @cr3 and the GDT at @gdt (code 0x8, data 0x10). */
int setup_long_mode(struct vmm_vcpu *vcpu, uint64_t gdt, uint64_t cr3);
/* Writes a GDT with the flat segments setup_long_mode() uses. */
int write_boot_gdt(struct vmm_vm *vm, uint64_t gdt);
/* Identity-maps [0, 4 GiB) with 2 MiB pages: PML4 at @pml4, PDPT after it, then 4 PDs. */
int write_identity_page_tables(struct vmm_vm *vm, uint64_t pml4);

#endif /* KVMMIG_VM_H */
