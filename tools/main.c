/* parconv: the command-line program. main parses the options and calls
 * the subcommand's function from a table; each subcommand is a file of its
 * own (run.c, gen.c, demo.c, peak.c, calibrate.c, sweep.c, merge.c). The
 * library does the work. */
#include "commands.h"
#include "signals.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static int demo_cmd(cli_options *o)
{
    return demo_run(o->demo, o->demo_seconds);
}

static int (*const commands[CMD_COUNT])(cli_options *) = {
    [CMD_RUN] = run_cmd,
    [CMD_GEN] = gen_cmd,
    [CMD_DEMO] = demo_cmd,
    [CMD_PEAK] = peak_cmd,
    [CMD_CALIBRATE] = calibrate_cmd,
    [CMD_SWEEP] = sweep_cmd,
    [CMD_MERGE] = merge_cmd,
};

/* Usage and input errors exit 2, a run stopped by a signal 128 + that
 * signal, everything else 1. */
static int exit_code(int st)
{
    if (st == PC_OK)
        return 0;
    if (st == PC_EINTERRUPTED)
        return 128 + (signals_stop ? signals_stop : SIGTERM);
    return st == PC_EUSAGE || st == PC_EINPUT ? 2 : 1;
}

static int fail(int st)
{
    const char *msg = pc_errmsg();
    fprintf(stderr, "parconv: %s\n", *msg ? msg : pc_strerror(st));
    return exit_code(st);
}

int main(int argc, char **argv)
{
    /* A worker leaves with _exit: its results are in the shared mapping,
     * and skipping the libraries' exit handlers shortens the time its
     * parent waits. */
    if (argc > 1 && strcmp(argv[1], PC_WORKER_FLAG) == 0)
        _exit(pc_worker_main(argc, argv));
    if (argc > 1 && strcmp(argv[1], DEMO_TASK_FLAG) == 0)
        return demo_task_worker(argc, argv);

    cli_options o;
    bool exit_now;
    int st = cli_parse(argc, argv, &o, &exit_now);
    if (st)
        return fail(st);
    if (!exit_now && o.cmd < CMD_COUNT)
        st = commands[o.cmd](&o);
    /* A report that could not be written is a failure too (disk full,
     * closed pipe). */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (!st)
            st = pc_error(PC_EIO, "cannot write to standard output");
    }
    return st ? fail(st) : 0;
}
