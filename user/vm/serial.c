/* serial.c: a 16550A UART at 0x3f8 (IRQ 4), the Linux guest's console, and its saved state. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vm/kvmmig-vm.h"

#define UART_RX	 0 /* in: receive buffer */
#define UART_TX	 0 /* out: transmit holding */
#define UART_IER 1
#define UART_IIR 2 /* in */
#define UART_FCR 2 /* out */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_IER_RDI	      0x01
#define UART_IER_THRI	      0x02
#define UART_IIR_NO_INT	      0x01
#define UART_IIR_THRI	      0x02
#define UART_IIR_RDI	      0x04
#define UART_IIR_FIFO_ENABLED 0xc0
#define UART_FCR_ENABLE_FIFO  0x01
#define UART_FCR_CLEAR_RCVR   0x02
#define UART_LCR_DLAB	      0x80
#define UART_MCR_DTR	      0x01
#define UART_MCR_RTS	      0x02
#define UART_MCR_OUT1	      0x04
#define UART_MCR_OUT2	      0x08
#define UART_MCR_LOOP	      0x10
#define UART_LSR_DR	      0x01
#define UART_LSR_THRE	      0x20
#define UART_LSR_TEMT	      0x40
#define UART_MSR_CTS	      0x10
#define UART_MSR_DSR	      0x20
#define UART_MSR_RI	      0x40
#define UART_MSR_DCD	      0x80

#define RX_FIFO_SIZE	     64
#define SERIAL_STATE_VERSION 1

/*
 * The saved state is this struct, byte for byte: every field is a byte.
 * Its version is the DEVICE record's (serial_ops); the byte of its own
 * predates record versions and stays, as version 1's layout has it.
 */
struct serial_regs {
	uint8_t version;
	uint8_t ier;
	uint8_t lcr;
	uint8_t mcr;
	uint8_t scr;
	uint8_t dll;
	uint8_t dlm;
	uint8_t fcr;
	uint8_t thr_interrupt; /* THR empty and not yet acknowledged by an IIR read */
	uint8_t irq_level;
	uint8_t rx_head;
	uint8_t rx_len;
	uint8_t rx[RX_FIFO_SIZE];
};

static struct {
	pthread_mutex_t lock;
	struct vmm_vm *vm;
	struct serial_regs r;
} uart = {.lock = PTHREAD_MUTEX_INITIALIZER};

static uint8_t iir_locked(void)
{
	uint8_t iir = UART_IIR_NO_INT;

	if ((uart.r.ier & UART_IER_RDI) && uart.r.rx_len)
		iir = UART_IIR_RDI;
	else if ((uart.r.ier & UART_IER_THRI) && uart.r.thr_interrupt)
		iir = UART_IIR_THRI;
	if (uart.r.fcr & UART_FCR_ENABLE_FIFO)
		iir |= UART_IIR_FIFO_ENABLED;
	return iir;
}

static void set_irq_line(uint8_t level)
{
	struct kvm_irq_level irq = {.irq = SERIAL_IRQ, .level = level};

	if (ioctl(uart.vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		vmm_log("unable to set serial IRQ %d to %u: %s", SERIAL_IRQ, level,
			strerror(errno));
}

static void update_irq_locked(void)
{
	/* OUT2 gates the interrupt on PCs; Linux sets it when it wants interrupts. */
	uint8_t level = !(iir_locked() & UART_IIR_NO_INT) && (uart.r.mcr & UART_MCR_OUT2);

	if (level != uart.r.irq_level) {
		uart.r.irq_level = level;
		set_irq_line(level);
	}
}

static uint8_t read_reg(unsigned int reg)
{
	uint8_t v;

	switch (reg) {
	case UART_RX:
		if (uart.r.lcr & UART_LCR_DLAB)
			return uart.r.dll;
		if (!uart.r.rx_len)
			return 0;
		v = uart.r.rx[uart.r.rx_head];
		uart.r.rx_head = (uart.r.rx_head + 1) % RX_FIFO_SIZE;
		uart.r.rx_len--;
		return v;
	case UART_IER:
		if (uart.r.lcr & UART_LCR_DLAB)
			return uart.r.dlm;
		return uart.r.ier;
	case UART_IIR:
		v = iir_locked();
		/* Reading IIR acknowledges a THR-empty interrupt. */
		if ((v & 0x0f) == UART_IIR_THRI)
			uart.r.thr_interrupt = 0;
		return v;
	case UART_LCR:
		return uart.r.lcr;
	case UART_MCR:
		return uart.r.mcr;
	case UART_LSR:
		/* Output leaves at once: the transmitter is always empty. */
		return UART_LSR_THRE | UART_LSR_TEMT | (uart.r.rx_len ? UART_LSR_DR : 0);
	case UART_MSR:
		if (uart.r.mcr & UART_MCR_LOOP) {
			v = 0;
			if (uart.r.mcr & UART_MCR_RTS)
				v |= UART_MSR_CTS;
			if (uart.r.mcr & UART_MCR_DTR)
				v |= UART_MSR_DSR;
			if (uart.r.mcr & UART_MCR_OUT1)
				v |= UART_MSR_RI;
			if (uart.r.mcr & UART_MCR_OUT2)
				v |= UART_MSR_DCD;
			return v;
		}
		return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	case UART_SCR:
		return uart.r.scr;
	}
	return 0xff;
}

static void write_reg(unsigned int reg, uint8_t v)
{
	switch (reg) {
	case UART_TX:
		if (uart.r.lcr & UART_LCR_DLAB) {
			uart.r.dll = v;
			break;
		}
		if (uart.r.mcr & UART_MCR_LOOP) {
			if (uart.r.rx_len < RX_FIFO_SIZE) {
				uart.r.rx[(uart.r.rx_head + uart.r.rx_len) % RX_FIFO_SIZE] = v;
				uart.r.rx_len++;
			}
		} else {
			console_write(&v, 1);
		}
		uart.r.thr_interrupt = 1;
		break;
	case UART_IER:
		if (uart.r.lcr & UART_LCR_DLAB) {
			uart.r.dlm = v;
			break;
		}
		/* Enabling THRI while THR is empty raises it, as real 16550s do. */
		if (!(uart.r.ier & UART_IER_THRI) && (v & UART_IER_THRI))
			uart.r.thr_interrupt = 1;
		uart.r.ier = v & 0x0f;
		break;
	case UART_FCR:
		uart.r.fcr = v & (UART_FCR_ENABLE_FIFO | 0xc0);
		if (v & UART_FCR_CLEAR_RCVR)
			uart.r.rx_len = uart.r.rx_head = 0;
		break;
	case UART_LCR:
		uart.r.lcr = v;
		break;
	case UART_MCR:
		uart.r.mcr = v & 0x1f;
		break;
	case UART_SCR:
		uart.r.scr = v;
		break;
	}
}

bool serial_pio(uint16_t port, bool out, uint8_t *data, uint32_t size)
{
	if (port < SERIAL_PORT_BASE || port >= SERIAL_PORT_BASE + 8)
		return false;
	pthread_mutex_lock(&uart.lock);
	for (uint32_t i = 0; i < size && port + i < SERIAL_PORT_BASE + 8; i++) {
		if (out)
			write_reg(port + i - SERIAL_PORT_BASE, data[i]);
		else
			data[i] = read_reg(port + i - SERIAL_PORT_BASE);
	}
	update_irq_locked();
	pthread_mutex_unlock(&uart.lock);
	return true;
}

void serial_receive(const uint8_t *data, size_t len)
{
	pthread_mutex_lock(&uart.lock);
	for (size_t i = 0; i < len && uart.r.rx_len < RX_FIFO_SIZE; i++) {
		uart.r.rx[(uart.r.rx_head + uart.r.rx_len) % RX_FIFO_SIZE] = data[i];
		uart.r.rx_len++;
	}
	update_irq_locked();
	pthread_mutex_unlock(&uart.lock);
}

static int serial_save(void *opaque, void *buf, size_t cap)
{
	(void)opaque;
	if (cap < sizeof(uart.r))
		return -ENOSPC;
	pthread_mutex_lock(&uart.lock);
	memcpy(buf, &uart.r, sizeof(uart.r));
	pthread_mutex_unlock(&uart.lock);
	return sizeof(uart.r);
}

static int serial_load(void *opaque, uint16_t state_version, const void *data, size_t len,
		       bool apply)
{
	struct serial_regs r;

	(void)opaque, (void)state_version; /* version 1 is the only one so far */
	if (len != sizeof(r))
		return -EINVAL;
	memcpy(&r, data, sizeof(r));
	if (r.version != SERIAL_STATE_VERSION || r.rx_head >= RX_FIFO_SIZE ||
	    r.rx_len > RX_FIFO_SIZE || r.irq_level > 1 || r.thr_interrupt > 1)
		return -EINVAL;
	if (!apply)
		return 0;
	pthread_mutex_lock(&uart.lock);
	uart.r = r;
	/* The new VM's line starts low: drive it to the saved level. */
	if (uart.r.irq_level)
		set_irq_line(1);
	pthread_mutex_unlock(&uart.lock);
	return 0;
}

static const struct vmm_device_ops serial_ops = {
    .name = "serial0",
    .version = SERIAL_STATE_VERSION,
    .first_version = 1,
    .save = serial_save,
    .load = serial_load,
};

int serial_init(struct vmm_vm *vm)
{
	uart.vm = vm;
	memset(&uart.r, 0, sizeof(uart.r));
	uart.r.version = SERIAL_STATE_VERSION;
	return vmm_device_register(vm, &serial_ops, NULL);
}
