/*
 * peertext.h: text from a peer, made safe to print. A destination's refusal,
 * a source's abort reason, the lines of a destination started over SSH: a
 * peer writes them, and a terminal acts on its escape sequences (clear the
 * screen, retitle the window, fake a prompt) and a JSON reader on its quotes
 * and newlines. Everything a peer says goes through peer_text() before it is
 * printed anywhere or put in a message of ours.
 */
#ifndef KVMMIG_CTL_PEERTEXT_H
#define KVMMIG_CTL_PEERTEXT_H

#include <stddef.h>

/*
 * Copies @in to @out (@size bytes, NUL-terminated; @size > 0) keeping
 * printable ASCII as it is and showing every other byte as the four
 * characters \xNN: control characters, DEL, ESC (so an escape sequence
 * prints as inert text), and any byte >= 0x80 (8-bit C1 controls, and UTF-8
 * with its bidirectional overrides). The result is printable ASCII only;
 * cleaning it again changes nothing. A text that does not fit is cut at a
 * character boundary. Returns @out.
 */
char *peer_text(char *out, size_t size, const char *in);

#endif /* KVMMIG_CTL_PEERTEXT_H */
