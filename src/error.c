/* Error codes and the per-thread message that goes with the last one. */
#include "parconv.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char errbuf[2048];

static const char *const status_names[] = {
    [PC_OK] = "success",
    [PC_EUSAGE] = "invalid usage",
    [PC_EINPUT] = "invalid input",
    [PC_ENOMEM] = "out of memory",
    [PC_EIO] = "input/output error",
    [PC_ESYS] = "system call failed",
    [PC_EWORKER] = "worker failed",
    [PC_EMISMATCH] = "results differ",
    [PC_EINTERRUPTED] = "interrupted",
};

const char *pc_strerror(int status)
{
    if (status < 0 || (size_t)status >= sizeof status_names / sizeof *status_names)
        return "unknown error";
    return status_names[status];
}

const char *pc_errmsg(void)
{
    return errbuf;
}

int pc_error(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return status;
}
