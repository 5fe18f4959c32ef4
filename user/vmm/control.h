/* control.h: the control socket server of a VMM (protocol in ctlproto/ctlproto.h). */
#ifndef KVMMIG_VMM_CONTROL_H
#define KVMMIG_VMM_CONTROL_H

#include "vmm/vmm.h"

struct vmm_control;

/*
 * Binds the control socket of @vm (path from its name, or @path when not
 * NULL) and serves it on its own threads until vmm_control_close().
 * save-memory writes only into @image_dir (NULL: the run directory).
 * @guest_kind is what status reports as "guest". A live socket of the same
 * path is an error (-EADDRINUSE, the name is in use); a stale one is replaced.
 */
int vmm_control_open(struct vmm_control **out, struct vmm_vm *vm, const char *path,
		     const char *image_dir, const char *guest_kind);
void vmm_control_close(struct vmm_control *ctl);
const char *vmm_control_path(const struct vmm_control *ctl);

#endif /* KVMMIG_VMM_CONTROL_H */
