/*
 * keyfile.h: the migration key, a secret both hosts hold. A key file is 64
 * hex digits (32 random bytes) and a newline, readable by root only;
 * `kvmmig-ctl keygen` writes one. Copy it to both hosts, or let
 * `migrate ssh://` agree a fresh one per migration over SSH.
 */
#ifndef KVMMIG_CTL_KEYFILE_H
#define KVMMIG_CTL_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#define KVMMIG_DEFAULT_KEY "/etc/kvmmig/migration.key"
#define KVMMIG_KEY_LEN 32

struct migration_key {
	uint8_t bytes[KVMMIG_KEY_LEN];
};

/*
 * Reads @path ("-": one line on standard input). Returns 0, or -1 with a one-line reason (and what to do) in
 * @why: missing, unreadable, readable by others, or not 64 hex digits.
 */
int key_load(const char *path, struct migration_key *key, char *why, size_t len);

/* Parses 64 hex digits (a trailing newline allowed). 0 or -1. */
int key_parse(const char *text, struct migration_key *key);

/* 32 bytes from the kernel's CSPRNG. 0 or -1. */
int key_random(struct migration_key *key);

/* Writes @key as 64 hex digits and a newline into @out (at least 66 bytes). */
void key_format(const struct migration_key *key, char *out);

#endif /* KVMMIG_CTL_KEYFILE_H */
