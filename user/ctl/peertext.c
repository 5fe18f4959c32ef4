/* peertext.c: a peer's text made printable (see peertext.h). */
#include <stdio.h>

#include "ctl/peertext.h"

char *peer_text(char *out, size_t size, const char *in)
{
	size_t n = 0;

	for (; *in; in++) {
		unsigned char c = *in;

		if (c >= 0x20 && c < 0x7f) {
			if (n + 1 >= size)
				break;
			out[n++] = c;
		} else {
			if (n + 4 >= size)
				break;
			n += snprintf(out + n, size - n, "\\x%02x", c);
		}
	}
	out[n] = '\0';
	return out;
}
