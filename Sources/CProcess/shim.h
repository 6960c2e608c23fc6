#include <signal.h>
#include <sys/prctl.h>

/* prctl is variadic, which Swift cannot call: ask the kernel to SIGKILL this process when its
 * parent dies (a trial must not outlive a killed sweep). Returns 0 on success. */
static inline int lathe_die_with_parent(void) { return prctl(PR_SET_PDEATHSIG, SIGKILL); }
