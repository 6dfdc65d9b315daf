/* What the machine offers: CPUs, cores, memory, a clock. */
#include "base.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double pc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

unsigned pc_online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

unsigned pc_physical_cores(void)
{
    /* Count distinct (package, core) pairs of the online CPUs. */
    enum { MAXCPU = 4096 };
    static long seen[MAXCPU];
    unsigned n = 0;
    long ncpu = sysconf(_SC_NPROCESSORS_CONF);
    if (ncpu <= 0 || ncpu > MAXCPU)
        return 0;
    for (long c = 0; c < ncpu; c++) {
        char path[128];
        long core = -1, pkg = -1;
        snprintf(path, sizeof path,
                 "/sys/devices/system/cpu/cpu%ld/topology/core_id", c);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fscanf(f, "%ld", &core) != 1)
            core = -1;
        fclose(f);
        snprintf(path, sizeof path,
                 "/sys/devices/system/cpu/cpu%ld/topology/physical_package_id", c);
        if ((f = fopen(path, "r"))) {
            if (fscanf(f, "%ld", &pkg) != 1)
                pkg = 0;
            fclose(f);
        }
        if (core < 0)
            continue;
        long key = pkg * 65536 + core;
        unsigned i;
        for (i = 0; i < n && seen[i] != key; i++)
            ;
        if (i == n)
            seen[n++] = key;
    }
    /* Never more cores than online CPUs (offline siblings, containers). */
    unsigned online = pc_online_cpus();
    return n > online ? online : n;
}

static uint64_t read_u64_file(const char *path, int *ok)
{
    char buf[64];
    *ok = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char *r = fgets(buf, sizeof buf, f);
    fclose(f);
    uint64_t v;
    if (r && sscanf(buf, "%" SCNu64, &v) == 1) {
        *ok = 1;
        return v;
    }
    return 0;
}

uint64_t pc_available_memory(void)
{
    uint64_t avail = 0;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            uint64_t kb;
            if (sscanf(line, "MemAvailable: %" SCNu64 " kB", &kb) == 1) {
                avail = kb * 1024;
                break;
            }
        }
        fclose(f);
    }
    /* A cgroup (v2, then v1) limit below that is the real ceiling. */
    int ok;
    uint64_t lim = read_u64_file("/sys/fs/cgroup/memory.max", &ok);
    if (ok) {
        uint64_t used = read_u64_file("/sys/fs/cgroup/memory.current", &ok);
        uint64_t room = ok && used < lim ? lim - used : lim;
        if (!avail || room < avail)
            avail = room;
    } else {
        lim = read_u64_file("/sys/fs/cgroup/memory/memory.limit_in_bytes", &ok);
        if (ok && lim < (1ULL << 60)) {
            uint64_t used =
                read_u64_file("/sys/fs/cgroup/memory/memory.usage_in_bytes", &ok);
            uint64_t room = ok && used < lim ? lim - used : lim;
            if (!avail || room < avail)
                avail = room;
        }
    }
    return avail;
}
