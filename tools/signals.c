/* The run's signal handling: a handler only records the signal; the run
 * heeds it between rows of work and between batches, and main turns it
 * into the exit status 128 + signal. */
#include "signals.h"

#include <signal.h>
#include <string.h>

volatile int signals_stop;

static void on_signal(int sig)
{
    signals_stop = sig;
}

void signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGXFSZ, SIG_IGN);
}
