/*
 * netcheck.c: the QEMU test guest's network workload: receives the UDP
 * datagrams tests/kmod/netsend.py sends to its virtio-net NIC and checks
 * every byte. The NIC's receive buffers are guest pages written by the
 * device (QEMU's virtio-net emulation, or the vhost-net worker with
 * vhost=on), never by a vCPU: a migration that loses such a write hands the
 * guest a stale or torn buffer, and this says so.
 *
 *   netcheck PORT
 *
 * Datagram n (NETCHECK_BYTES bytes) holds in word 0 the value n and in word
 * w the value pattern(n, w). Every second it prints
 *	netcheck: packets <total> ok
 * and, for a datagram that is not exactly that,
 *	netcheck: MISMATCH seq <n> word <w> (<got> bytes)
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#define NETCHECK_BYTES 1024u

static uint64_t pattern(uint64_t seq, uint64_t word)
{
	return (seq << 16 | word) ^ 0x6e6574636b000000ull;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	struct timeval tv = { .tv_sec = 1 };
	uint64_t buf[NETCHECK_BYTES / 8 + 1], total = 0, bad = 0, next;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: netcheck PORT\n");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	sin.sin_port = htons(atoi(argv[1]));
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		perror("netcheck: socket");
		return 1;
	}
	printf("netcheck: start, port %s\n", argv[1]);
	next = now_ms() + 1000;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		uint64_t w;

		if (n >= 0) {
			if (n < 8)
				buf[0] = 0;
			for (w = 1; n == NETCHECK_BYTES && w < NETCHECK_BYTES / 8; w++)
				if (buf[w] != pattern(buf[0], w))
					break;
			if (n != NETCHECK_BYTES || w != NETCHECK_BYTES / 8) {
				printf("netcheck: MISMATCH seq %" PRIu64 " word %" PRIu64
				       " (%zd bytes)\n",
				       buf[0], w, n);
				if (++bad > 20)
					return 2;
			} else {
				total++;
			}
		}
		if (now_ms() >= next) {
			printf("netcheck: packets %" PRIu64 " ok\n", total);
			next = now_ms() + 1000;
		}
	}
}
