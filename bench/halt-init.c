/* bench/halt-init: a container init that halts at once, for `bench/lifecycle --halt-init` (the
 * graceful stop of the targets: "an init that halts at once"). It waits for a power-off
 * signal and exits, which ends its PID namespace: SIGPWR (what `berth stop` sends an init that is
 * neither systemd nor busybox), SIGTERM (`crun kill`'s default), SIGINT, SIGUSR2 (busybox's
 * poweroff) and SIGRTMIN+4 (systemd's). The signals are blocked and taken with sigwait: a PID
 * namespace's init gets no signal it has no handler for, but a blocked one is queued. Built
 * static by bench/lifecycle (cc -static). */
#include <signal.h>
#include <stddef.h>

int main(void) {
  sigset_t set;
  int sig = 0;
  sigemptyset(&set);
  sigaddset(&set, SIGPWR);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR2);
  sigaddset(&set, SIGRTMIN + 4);
  sigprocmask(SIG_BLOCK, &set, NULL);
  sigwait(&set, &sig);
  return 0;
}
