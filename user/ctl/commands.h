/* commands.h: kvmmig-ctl's subcommands, one file each. */
#ifndef KVMMIG_CTL_COMMANDS_H
#define KVMMIG_CTL_COMMANDS_H

int version_main(int argc, char **argv);
int list_main(int argc, char **argv);
int migrate_main(int argc, char **argv);
int incoming_main(int argc, char **argv);
int status_main(int argc, char **argv);
int cancel_main(int argc, char **argv);
int resume_main(int argc, char **argv);
int debug_main(int argc, char **argv);
int keygen_main(int argc, char **argv);
int qemu_check_main(int argc, char **argv);
/* migrate --qemu and incoming --qemu: a QEMU guest (qemumigrate.c, qemuincoming.c). */
int qemu_migrate_main(int argc, char **argv);
int qemu_incoming_main(int argc, char **argv);
int cpubaseline_main(int argc, char **argv);

#endif /* KVMMIG_CTL_COMMANDS_H */
