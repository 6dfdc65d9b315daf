/* pc_cpu_info on made-up /proc and /sys trees: the cgroup CPU quota from
 * v2's cpu.max and v1's cpu.cfs_quota_us (with and without mountinfo, on
 * the process's cgroup and its parents), no quota, missing files; the
 * physical cores among the affinity CPUs from their thread siblings.
 *
 *     test_sysinfo SCRATCH_DIR */
#include "parconv.h"
#include "testutil.h"

#include <errno.h>
#include <ftw.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[4096];

/* root/rel with its text, its directories made as needed. */
static void put(const char *root, const char *rel, const char *text)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
        *p = 0;
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            CHECK(0, "mkdir %s: %s", path, strerror(errno));
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* A fresh empty tree for one case. */
static const char *tree(const char *name)
{
    static char root[4200];
    snprintf(root, sizeof root, "%s/%s", base, name);
    CHECK(mkdir(root, 0700) == 0, "mkdir %s: %s", root, strerror(errno));
    return root;
}

/* The process's affinity, as pc_cpu_info must find it outside OpenMP's
 * binding (the tests run without OMP_PROC_BIND). */
static unsigned affinity(void)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    if (sched_getaffinity(0, sizeof s, &s) != 0)
        return 0;
    return (unsigned)CPU_COUNT(&s);
}

static void expect_quota(const char *name, const char *root, double quota)
{
    pc_cpu_info ci;
    CHECK(pc_cpu_info_at(root, &ci) == PC_OK, "%s: %s", name, pc_errmsg());
    CHECK(ci.quota == quota, "%s: quota %g, expected %g", name, ci.quota,
          quota);
    /* OpenMP's binding would make the union of its places the answer. */
    unsigned aff = getenv("OMP_PROC_BIND") || getenv("OMP_PLACES")
                       ? ci.affinity : affinity();
    CHECK(ci.affinity == aff, "%s: affinity %u, expected %u", name,
          ci.affinity, aff);
    /* Rounded up, never above the affinity, at least 1. */
    unsigned want = aff;
    char from[64];
    snprintf(from, sizeof from, "affinity %u of %u CPUs", aff, ci.online);
    if (quota > 0 && (unsigned)(quota + 0.999999) < aff) {
        want = (unsigned)(quota + 0.999999);
        snprintf(from, sizeof from, "cgroup quota %.3g", quota);
    }
    CHECK(ci.usable == want, "%s: usable %u, expected %u", name, ci.usable,
          want);
    CHECK(strcmp(ci.from, from) == 0, "%s: from '%s', expected '%s'", name,
          ci.from, from);
}

static const char *const MOUNT_V2 =
    "25 1 0:22 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate\n";
static const char *const MOUNT_V1 =
    "20 1 0:18 / /sys/fs/cgroup rw shared:5 - tmpfs tmpfs rw,mode=755\n"
    "31 20 0:27 / /sys/fs/cgroup/cpuacct rw shared:11 - cgroup cgroup "
    "rw,cpuacct\n"
    "32 20 0:28 / /sys/fs/cgroup/cpu rw shared:12 - cgroup cgroup rw,cpu\n";

static void cgroup_cases(void)
{
    const char *r;
    /* v2: no limit on the process's cgroup, 1.5 CPUs on its parent. */
    r = tree("v2-parent");
    put(r, "proc/self/cgroup", "0::/job/step\n");
    put(r, "proc/self/mountinfo", MOUNT_V2);
    put(r, "sys/fs/cgroup/job/step/cpu.max", "max 100000\n");
    put(r, "sys/fs/cgroup/job/cpu.max", "150000 100000\n");
    expect_quota("v2 parent 1.5", r, 1.5);
    /* v2: "max": none. */
    r = tree("v2-max");
    put(r, "proc/self/cgroup", "0::/a\n");
    put(r, "proc/self/mountinfo", MOUNT_V2);
    put(r, "sys/fs/cgroup/a/cpu.max", "max 100000\n");
    expect_quota("v2 max", r, 0);
    /* v2 without mountinfo: the usual place; half a CPU gives 1. */
    r = tree("v2-nomountinfo");
    put(r, "proc/self/cgroup", "0::/\n");
    put(r, "sys/fs/cgroup/cpu.max", "50000 100000\n");
    expect_quota("v2 no mountinfo 0.5", r, 0.5);
    /* v2 in a container: the mount shows the container's cgroup as its
     * root, the process is in a child of it. */
    r = tree("v2-container");
    put(r, "proc/self/cgroup", "0::/docker/c1/app\n");
    put(r, "proc/self/mountinfo",
        "25 1 0:22 /docker/c1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
    put(r, "sys/fs/cgroup/app/cpu.max", "max 100000\n");
    put(r, "sys/fs/cgroup/cpu.max", "100000 100000\n");
    expect_quota("v2 container 1", r, 1);
    /* v1: the cpu controller's hierarchy, quota over period. */
    r = tree("v1");
    put(r, "proc/self/cgroup",
        "5:cpuacct:/slurm/job7\n4:cpu:/slurm/job7\n1:name=systemd:/\n");
    put(r, "proc/self/mountinfo", MOUNT_V1);
    put(r, "sys/fs/cgroup/cpu/slurm/job7/cpu.cfs_quota_us", "250000\n");
    put(r, "sys/fs/cgroup/cpu/slurm/job7/cpu.cfs_period_us", "100000\n");
    /* cpuacct has no quota of its own: it must not be read as cpu. */
    put(r, "sys/fs/cgroup/cpuacct/slurm/job7/cpu.cfs_quota_us", "1000\n");
    put(r, "sys/fs/cgroup/cpuacct/slurm/job7/cpu.cfs_period_us", "100000\n");
    expect_quota("v1 2.5", r, 2.5);
    /* v1: -1 is no quota. */
    r = tree("v1-none");
    put(r, "proc/self/cgroup", "4:cpu,cpuacct:/\n");
    put(r, "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
    put(r, "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
    expect_quota("v1 -1", r, 0);
    /* v1 without mountinfo, quota without period: none. */
    r = tree("v1-noperiod");
    put(r, "proc/self/cgroup", "4:cpu:/\n");
    put(r, "sys/fs/cgroup/cpu/cpu.cfs_quota_us", "50000\n");
    expect_quota("v1 quota without period", r, 0);
    /* Nothing at all; garbage. */
    expect_quota("missing files", tree("empty"), 0);
    r = tree("garbage");
    put(r, "proc/self/cgroup", "what\n0::\n");
    put(r, "sys/fs/cgroup/cpu.max", "lots\n");
    expect_quota("garbage", r, 0);
}

/* Every affinity CPU a hyperthread of CPU 0's core: one core; each its
 * own: as many cores as CPUs; no topology: unknown (0). */
static void core_cases(void)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    sched_getaffinity(0, sizeof s, &s);
    char one[4300], own[4300];
    snprintf(one, sizeof one, "%s", tree("cores-one"));
    snprintf(own, sizeof own, "%s", tree("cores-own"));
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, &s))
            continue;
        char rel[96], text[32];
        snprintf(rel, sizeof rel,
                 "sys/devices/system/cpu/cpu%d/topology/thread_siblings_list",
                 c);
        put(one, rel, "0-4095\n");
        snprintf(text, sizeof text, "%d\n", c);
        put(own, rel, text);
    }
    pc_cpu_info ci;
    pc_cpu_info_at(one, &ci);
    CHECK(ci.cores == 1, "siblings of one core: %u cores", ci.cores);
    pc_cpu_info_at(own, &ci);
    CHECK(ci.cores == affinity(), "a core each: %u cores of %u CPUs",
          ci.cores, affinity());
    pc_cpu_info_at(tree("cores-none"), &ci);
    CHECK(ci.cores == 0, "no topology: %u cores", ci.cores);
    /* The real machine: at least one core, no more than its CPUs. */
    CHECK(pc_cpu_info_get(&ci) == PC_OK && ci.usable >= 1 &&
          ci.usable <= ci.affinity && ci.affinity <= ci.online &&
          ci.cores <= ci.affinity, "this machine: online %u affinity %u "
          "usable %u cores %u", ci.online, ci.affinity, ci.usable, ci.cores);
}

static int rm_one(const char *path, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    mkdir(dir, 0700);
    snprintf(base, sizeof base, "%s/sysinfo-XXXXXX", dir);
    if (!mkdtemp(base)) {
        printf("test_sysinfo: cannot make a directory in %s\n", dir);
        return 1;
    }
    cgroup_cases();
    core_cases();
    nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return t_summary("sysinfo");
}
