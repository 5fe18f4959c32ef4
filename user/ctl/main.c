/* main.c: kvmmig-ctl's entry point: dispatch to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "ctl/commands.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *description;
} subcommands[] = {
    {"migrate", migrate_main, "Live-migrate a VM to a destination host"},
    {"incoming", incoming_main, "Receive a VM migrated from another host"},
    {"status", status_main, "Show what the VMM and the module say about a VM"},
    {"cancel", cancel_main, "Cancel a VM's migration; the guest goes on at the source"},
    {"resume", resume_main, "Resume a paused guest"},
    {"qemu-check", qemu_check_main, "Check that kvmmig can move a QEMU guest's memory (QMP)"},
    {"list", list_main, "List the VMs attached to kvmmig"},
    {"keygen", keygen_main, "Write a new migration key (both hosts need the same)"},
    {"cpu-baseline", cpubaseline_main, "The best CPU model that every host given runs"},
    {"version", version_main, "Print the tool's and the kernel module's versions"},
    {"debug", debug_main, "Drive the module's data path by hand (tests only)"},
};

static void show_usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: kvmmig-ctl <command> [<args>]\n\nAvailable commands:\n");
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-12s %s\n", subcommands[i].name, subcommands[i].description);
	fprintf(f, "\nkvmmig-ctl <command> --help shows a command's usage.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2)
		return list_main(1, (char *[]){"list", NULL});
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		show_usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version"))
		return version_main(1, (char *[]){"version", NULL});

	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].fn(argc - 1, argv + 1);

	fprintf(stderr, "kvmmig-ctl: unknown command '%s'\n", argv[1]);
	show_usage(stderr);
	return 1;
}
