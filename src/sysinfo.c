/* What the machine offers: CPUs, cores, memory, a clock. */
#include "base.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
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

/* ---- the process's CPUs ---------------------------------------------- */

cpu_set_t *pc_process_cpus(size_t *size)
{
    cpu_set_t *set = NULL;
    int n = 1024;
    /* The kernel refuses a mask shorter than its own (EINVAL): grow it. */
    for (;;) {
        if (!(set = CPU_ALLOC(n)))
            return NULL;
        *size = CPU_ALLOC_SIZE(n);
        CPU_ZERO_S(*size, set);
        if (sched_getaffinity(0, *size, set) == 0)
            break;
        CPU_FREE(set);
        if (n >= (1 << 20))
            return NULL;
        n *= 2;
    }
    /* With OMP_PROC_BIND, libgomp binds the initial thread to its first
     * place before main runs; its places were made from the affinity the
     * process started with, so their union is the process's CPUs. */
    int places = omp_get_proc_bind() != omp_proc_bind_false
                     ? omp_get_num_places() : 0;
    for (int p = 0; p < places; p++) {
        int m = omp_get_place_num_procs(p);
        int *ids = m > 0 ? malloc((size_t)m * sizeof *ids) : NULL;
        if (!ids)
            continue;
        omp_get_place_proc_ids(p, ids);
        for (int i = 0; i < m; i++)
            if (ids[i] >= 0 && ids[i] < n)
                CPU_SET_S((size_t)ids[i], *size, set);
        free(ids);
    }
    return set;
}

cpu_set_t *pc_thread_widen(size_t *size)
{
    size_t all_size;
    cpu_set_t *all = pc_process_cpus(&all_size);
    cpu_set_t *old = all ? CPU_ALLOC((int)(8 * all_size)) : NULL;
    if (old && sched_getaffinity(0, all_size, old) == 0 &&
        !CPU_EQUAL_S(all_size, old, all) &&
        sched_setaffinity(0, all_size, all) == 0) {
        *size = all_size;
        CPU_FREE(all);
        return old;
    }
    if (old)
        CPU_FREE(old);
    if (all)
        CPU_FREE(all);
    return NULL;
}

void pc_thread_restore(cpu_set_t *old, size_t size)
{
    if (!old)
        return;
    sched_setaffinity(0, size, old);
    CPU_FREE(old);
}

/* The first line of root/path into buf; false if it cannot be read. */
static bool read_line(const char *root, const char *path, char *buf, size_t n)
{
    char full[PATH_MAX];
    if ((size_t)snprintf(full, sizeof full, "%s%s", root, path) >= sizeof full)
        return false;
    FILE *f = fopen(full, "r");
    if (!f)
        return false;
    bool ok = fgets(buf, (int)n, f) != NULL;
    fclose(f);
    return ok;
}

/* Physical cores among the CPUs of set: each CPU's core is named by the
 * first CPU of its thread_siblings_list, so hyperthreads count once.
 * CPUs without a topology (offline) are left out; 0 if none has one. */
static unsigned cores_of(const char *root, const cpu_set_t *set, size_t size)
{
    int ncpu = (int)(8 * size), have = CPU_COUNT_S(size, set);
    long *seen = malloc((size_t)(have > 0 ? have : 1) * sizeof *seen);
    unsigned n = 0;
    for (int c = 0; seen && c < ncpu; c++) {
        if (!CPU_ISSET_S((size_t)c, size, set))
            continue;
        char path[96], buf[256];
        snprintf(path, sizeof path,
                 "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list",
                 c);
        char *end;
        long key = read_line(root, path, buf, sizeof buf)
                       ? strtol(buf, &end, 10) : -1;
        if (key < 0 || end == buf)
            continue;
        unsigned i = 0;
        while (i < n && seen[i] != key)
            i++;
        if (i == n)
            seen[n++] = key;
    }
    free(seen);
    return n;
}

unsigned pc_physical_cores(void)
{
    long conf = sysconf(_SC_NPROCESSORS_CONF);
    if (conf <= 0 || conf > (1 << 20))
        return 0;
    cpu_set_t *all = CPU_ALLOC((int)conf);
    if (!all)
        return 0;
    size_t size = CPU_ALLOC_SIZE((int)conf);
    CPU_ZERO_S(size, all);
    for (long c = 0; c < conf; c++)
        CPU_SET_S((size_t)c, size, all);
    unsigned n = cores_of("", all, size);
    CPU_FREE(all);
    /* Never more cores than online CPUs (offline siblings, containers). */
    unsigned online = pc_online_cpus();
    return n > online ? online : n;
}

/* The quota in CPUs that the cgroup directory dir (under root) sets: v2's
 * cpu.max "QUOTA PERIOD" ("max PERIOD": none), v1's cpu.cfs_quota_us
 * (-1: none) over cpu.cfs_period_us; 0 if none. */
static double dir_quota(const char *root, const char *dir)
{
    char path[PATH_MAX], buf[64];
    long long q = -1, per = 0;
    snprintf(path, sizeof path, "%s/cpu.max", dir);
    if (read_line(root, path, buf, sizeof buf)) {
        if (sscanf(buf, "%lld %lld", &q, &per) != 2)
            return 0;
    } else {
        snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
        if (!read_line(root, path, buf, sizeof buf) ||
            sscanf(buf, "%lld", &q) != 1)
            return 0;
        snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
        if (!read_line(root, path, buf, sizeof buf) ||
            sscanf(buf, "%lld", &per) != 1)
            return 0;
    }
    return q > 0 && per > 0 ? (double)q / (double)per : 0;
}

/* The smallest quota from the cgroup directory mount + rel up to mount. */
static double path_quota(const char *root, const char *mount, const char *rel)
{
    char dir[PATH_MAX];
    size_t top = strlen(mount);
    if ((size_t)snprintf(dir, sizeof dir, "%s%s", mount, rel) >= sizeof dir)
        return 0;
    double best = 0;
    for (;;) {
        size_t len = strlen(dir);
        while (len > top && dir[len - 1] == '/')
            dir[--len] = 0;
        double q = dir_quota(root, dir);
        if (q > 0 && (best == 0 || q < best))
            best = q;
        char *slash = strrchr(dir, '/');
        if (len <= top || !slash || (size_t)(slash - dir) < top)
            return best;
        *slash = 0;
    }
}

/* Whether the comma-separated list holds the word. */
static bool has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; p; p = strchr(p, ',')) {
        if (*p == ',')
            p++;
        if (strncmp(p, word, n) == 0 && (p[n] == ',' || p[n] == 0 ||
                                         p[n] == '\n'))
            return true;
    }
    return false;
}

/* The mount of the v2 hierarchy (v1: the one with the cpu controller)
 * from /proc/self/mountinfo: its mount point and the cgroup it shows as
 * its root (a container's own, for example). */
static bool find_mount(const char *root, int v1, char *point, char *top)
{
    char path[PATH_MAX], line[4096];
    snprintf(path, sizeof path, "%s/proc/self/mountinfo", root);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        char fs[64], opts[1024];
        const char *dash = strstr(line, " - ");
        if (!dash || sscanf(line, "%*s %*s %*s %4095s %4095s", top, point) != 2 ||
            sscanf(dash + 3, "%63s %*s %1023s", fs, opts) != 2)
            continue;
        found = v1 ? strcmp(fs, "cgroup") == 0 && has_word(opts, "cpu")
                   : strcmp(fs, "cgroup2") == 0;
    }
    fclose(f);
    return found;
}

/* The cgroup CPU quota of this process (see pc_cpu_info), 0 if none. */
static double cgroup_quota(const char *root)
{
    char path[PATH_MAX], line[4096];
    snprintf(path, sizeof path, "%s/proc/self/cgroup", root);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    double best = 0;
    while (fgets(line, sizeof line, f)) {
        /* "0::/path" (v2) or "4:cpu,cpuacct:/path" (v1). */
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = 0;
        char *cg = c2 + 1;
        cg[strcspn(cg, "\n")] = 0;
        int v1 = c1[1] != 0;
        if (v1 && !has_word(c1 + 1, "cpu"))
            continue;
        char point[PATH_MAX], top[PATH_MAX];
        const char *rel = cg;
        if (find_mount(root, v1, point, top)) {
            /* The cgroup as seen below the mount's own root. */
            size_t n = strlen(top);
            if (strcmp(top, "/") != 0)
                rel = strncmp(cg, top, n) == 0 && (cg[n] == '/' || !cg[n])
                          ? cg + n : "";
        } else {
            /* No mountinfo: where systemd and most distributions put them. */
            snprintf(point, sizeof point, "%s",
                     !v1 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/cpu,cpuacct");
            snprintf(path, sizeof path, "%s%s", root, point);
            if (v1 && access(path, F_OK) != 0)
                snprintf(point, sizeof point, "/sys/fs/cgroup/cpu");
        }
        double q = path_quota(root, point, rel);
        if (q > 0 && (best == 0 || q < best))
            best = q;
    }
    fclose(f);
    return best;
}

int pc_cpu_info_at(const char *root, pc_cpu_info *ci)
{
    memset(ci, 0, sizeof *ci);
    if (!root || strcmp(root, "/") == 0)
        root = "";
    ci->online = pc_online_cpus();
    size_t size;
    cpu_set_t *set = pc_process_cpus(&size);
    int aff = set ? CPU_COUNT_S(size, set) : 0;
    ci->affinity = aff > 0 ? (unsigned)aff : ci->online;
    ci->cores = set ? cores_of(root, set, size) : 0;
    if (set)
        CPU_FREE(set);
    ci->quota = cgroup_quota(root);
    double q = ceil(ci->quota);
    if (ci->quota > 0 && q < (double)ci->affinity) {
        ci->usable = q >= 1 ? (unsigned)q : 1;
        snprintf(ci->from, sizeof ci->from, "cgroup quota %.3g", ci->quota);
    } else {
        ci->usable = ci->affinity;
        snprintf(ci->from, sizeof ci->from, "affinity %u of %u CPUs",
                 ci->affinity, ci->online);
    }
    return PC_OK;
}

int pc_cpu_info_get(pc_cpu_info *ci)
{
    return pc_cpu_info_at(NULL, ci);
}

int pc_env_count(const char *name, unsigned *n)
{
    *n = 0;
    const char *s = getenv(name);
    if (!s)
        return PC_OK;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    while (*end == ' ')
        end++;
    if (errno || end == s || (*end && *end != ',') || v < 1 || v > 4096 ||
        s[0] == '-')
        return pc_error(PC_EUSAGE, "%s='%s' is not a thread count from 1 to "
                        "4096", name, s);
    *n = (unsigned)v;
    return PC_OK;
}

/* ---- memory ------------------------------------------------------------- */

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
