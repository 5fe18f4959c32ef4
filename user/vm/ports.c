/* ports.c: the guest's I/O ports and MMIO: debug console, exit port, reset, CMOS clock, UART. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vm/kvmmig-vm.h"
#include "vm/payload_abi.h"

#define I8042_DATA_PORT		 0x60
#define I8042_COMMAND_PORT	 0x64
#define I8042_CMD_RESET		 0xfe
#define I8042_STATUS_OUTPUT_FULL 0x01
#define CMOS_INDEX_PORT		 0x70
#define CMOS_DATA_PORT		 0x71

static pthread_mutex_t console_line_lock = PTHREAD_MUTEX_INITIALIZER;

static void flush_line(struct vcpu_devices *dev)
{
	if (!dev->line_len)
		return;
	/* Whole lines, so that two vCPUs' reports never interleave. */
	pthread_mutex_lock(&console_line_lock);
	console_write(dev->line, dev->line_len);
	pthread_mutex_unlock(&console_line_lock);
	dev->line_len = 0;
}

static void debug_console_out(struct vmm_vcpu *vcpu, const uint8_t *data, size_t len)
{
	struct vcpu_devices *dev = vcpu->priv;

	for (size_t i = 0; i < len; i++) {
		dev->line[dev->line_len++] = data[i];
		if (data[i] == '\n' || dev->line_len == sizeof(dev->line))
			flush_line(dev);
	}
}

/* A battery-less MC146818 that reads the host's UTC time in BCD, 24-hour mode. */
static uint8_t cmos_index;

static uint8_t bcd(int v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static uint8_t cmos_read(uint8_t index)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	switch (index) {
	case 0x00:
		return bcd(tm.tm_sec);
	case 0x02:
		return bcd(tm.tm_min);
	case 0x04:
		return bcd(tm.tm_hour);
	case 0x06:
		return bcd(tm.tm_wday + 1);
	case 0x07:
		return bcd(tm.tm_mday);
	case 0x08:
		return bcd(tm.tm_mon + 1);
	case 0x09:
		return bcd(tm.tm_year % 100);
	case 0x32:
		return bcd(19 + tm.tm_year / 100);
	case 0x0a:
		return 0x26; /* 32.768 kHz base, no update in progress */
	case 0x0b:
		return 0x02; /* 24-hour, BCD */
	case 0x0d:
		return 0x80; /* RAM and time valid */
	}
	return 0;
}

static void vm_pio(struct vmm_vcpu *vcpu, uint16_t port, bool out, uint8_t *data, uint32_t size)
{
	struct vmm_vm *vm = vcpu->vm;

	if (serial_pio(port, out, data, size))
		return;
	switch (port) {
	case PAYLOAD_PORT_CONSOLE:
		if (out)
			debug_console_out(vcpu, data, size);
		return;
	case PAYLOAD_PORT_EXIT:
		if (out) {
			uint32_t value = 0;

			memcpy(&value, data, size < 4 ? size : 4);
			flush_line(vcpu->priv);
			vmm_vm_request_stop(vm, value & 0xff, "guest wrote %u to the exit port",
					    value);
		}
		return;
	case I8042_COMMAND_PORT:
		/*
		 * Only the reset line of an i8042 is here. Its status says
		 * "ready for a command" (so reboot=k writes 0xfe at once)
		 * and "output full" for ever: Linux's probe drains 16 bytes
		 * and says "No controller found", where a status of 0 kept
		 * it polling for a self-test answer: 10,000 port exits.
		 */
		if (out && data[0] == I8042_CMD_RESET)
			vmm_vm_request_stop(vm, 0, "guest reset through the i8042 (reboot)");
		else if (!out)
			data[0] = I8042_STATUS_OUTPUT_FULL;
		return;
	case I8042_DATA_PORT:
		if (!out)
			data[0] = 0xff;
		return;
	case CMOS_INDEX_PORT:
		if (out)
			cmos_index = data[0] & 0x7f; /* bit 7 is the NMI mask */
		return;
	case CMOS_DATA_PORT:
		if (!out)
			data[0] = cmos_read(cmos_index);
		return;
	}
	/* Anything else: reads float high (already 0xff), writes vanish. */
}

static void vm_pio_string(struct vmm_vcpu *vcpu, uint16_t port, bool out, uint8_t *data,
			  uint32_t size, uint32_t count)
{
	if (out && port == PAYLOAD_PORT_CONSOLE) {
		debug_console_out(vcpu, data, (size_t)size * count);
		return;
	}
	for (uint32_t i = 0; i < count; i++, data += size) {
		if (!out)
			memset(data, 0xff, size);
		vm_pio(vcpu, port, out, data, size);
	}
}

/*
 * The partial lines are device state: a guest paused in the middle of a
 * line (PVM hosts emulate rep outsb a byte per exit) finishes it after a
 * restore, and the line comes out whole on the destination.
 * Saved as: u32 ncpus, then per vCPU u32 length and that many bytes.
 */
static int debugcon_save(void *opaque, void *buf, size_t cap)
{
	struct vmm_vm *vm = opaque;
	uint8_t *p = buf;
	uint32_t n = vm->ncpus;

	if (cap < 4)
		return -ENOSPC;
	memcpy(p, &n, 4);
	p += 4;
	for (int i = 0; i < vm->ncpus; i++) {
		struct vcpu_devices *dev = vm->vcpus[i].priv;
		uint32_t len = dev->line_len;

		if ((size_t)(p - (uint8_t *)buf) + 4 + len > cap)
			return -ENOSPC;
		memcpy(p, &len, 4);
		memcpy(p + 4, dev->line, len);
		p += 4 + len;
	}
	return p - (uint8_t *)buf;
}

static int debugcon_load(void *opaque, uint16_t state_version, const void *data, size_t size,
			 bool apply)
{
	struct vmm_vm *vm = opaque;
	const uint8_t *p = data, *end = p + size;
	uint32_t n;

	(void)state_version; /* version 1 is the only one so far */
	if (size < 4)
		return -EINVAL;
	memcpy(&n, p, 4);
	if (n != (uint32_t)vm->ncpus)
		return -EINVAL;
	p += 4;
	for (int i = 0; i < vm->ncpus; i++) {
		struct vcpu_devices *dev = vm->vcpus[i].priv;
		uint32_t len;

		if (end - p < 4)
			return -EINVAL;
		memcpy(&len, p, 4);
		if (len >= sizeof(dev->line) || (size_t)(end - p - 4) < len)
			return -EINVAL;
		if (apply) {
			memcpy(dev->line, p + 4, len);
			dev->line_len = len;
		}
		p += 4 + len;
	}
	return p == end ? 0 : -EINVAL;
}

static const struct vmm_device_ops debugcon_ops = {
    .name = "debugcon",
    .version = 1,
    .first_version = 1,
    .save = debugcon_save,
    .load = debugcon_load,
};

const struct vmm_exit_ops vm_exit_ops = {
    .pio = vm_pio,
    .pio_string = vm_pio_string,
    .post_mortem = payload_post_mortem,
};

int devices_init(struct vmm_vm *vm)
{
	int err;

	for (int i = 0; i < vm->ncpus; i++) {
		vm->vcpus[i].priv = calloc(1, sizeof(struct vcpu_devices));
		if (!vm->vcpus[i].priv)
			return -ENOMEM;
	}
	err = vmm_device_register(vm, &debugcon_ops, vm);
	return err ? err : serial_init(vm);
}

void devices_flush(struct vmm_vm *vm)
{
	for (int i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].priv)
			flush_line(vm->vcpus[i].priv);
}
