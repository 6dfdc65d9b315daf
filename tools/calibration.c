/* The calibration file, the one owner of its format: the cost model's
 * constants, measured by `parconv calibrate` (calibrate.c), kept in a
 * JSON file written and read with jansson, read for --method auto:
 *
 *   {"parconv": "calibration", "version": 1, "comment": "...",
 *    "constants": {"f64": {"avx512": {"direct": 2.3e-11, "fft": 1.9e-10}},
 *                  "f32": {...}}}
 *
 * direct is seconds per output x tap, fft seconds per P*Q*log2(P*Q) of a
 * tile. The file is read by its fields, so one that another tool
 * re-indented or re-ordered reads the same. */
#include "calibration.h"

#include "jsontext.h"
#include "outdir.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CAL_VERSION 1
#define CAL_COMMENT "seconds per output x tap (direct) and per " \
                    "P*Q*log2(P*Q) of a tile (fft)"

/* The default file: $PARCONV_CALIBRATION, else ~/.config/parconv/calibration. */
const char *calibration_default_path(char *buf, size_t n)
{
    const char *env = getenv("PARCONV_CALIBRATION");
    if (env && *env)
        return env;
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(buf, n, "%s/parconv/calibration", xdg);
    else if (home && *home)
        snprintf(buf, n, "%s/.config/parconv/calibration", home);
    else
        return NULL;
    return buf;
}

/* Does the first line that is not a comment read like the line format of
 * older parconvs ("f64 avx512 direct 2.3e-11 fft 1.9e-10")? Such a file is
 * only recognised, to say what to do with it, not read. */
static bool old_format(FILE *f)
{
    char line[256];
    rewind(f);
    while (fgets(line, sizeof line, f)) {
        const char *sep = " \t\r\n";
        char *save, *dt = strtok_r(line, sep, &save);
        if (!dt || dt[0] == '#')
            continue;
        char *isa = strtok_r(NULL, sep, &save);
        char *word = strtok_r(NULL, sep, &save);
        return pc_dtype_parse(dt) >= 0 && pc_isa_parse(isa) >= 0 && word &&
               strcmp(word, "direct") == 0;
    }
    return false;
}

/* constants.DTYPE.ISA: {"direct": SECONDS, "fft": SECONDS}, both finite
 * and > 0, nothing else. 0, or 1 with why. */
static int check_entry(const char *dt, const char *isa, json_t *e, char *why,
                       size_t n)
{
    static const char *const keys[] = {"direct", "fft"};
    int i = pc_isa_parse(isa);
    if (i < 0 || i == PC_ISA_AUTO) {
        snprintf(why, n, "constants.%s: unknown ISA '%.40s' (generic, avx2 "
                 "or avx512)", dt, isa);
        return 1;
    }
    if (!json_is_object(e)) {
        snprintf(why, n, "constants.%s.%s is not {\"direct\": SECONDS, "
                 "\"fft\": SECONDS}", dt, isa);
        return 1;
    }
    const char *key;
    json_t *v;
    /* A misspelt field is named, not reported as a missing one. */
    json_object_foreach(e, key, v) {
        if (strcmp(key, keys[0]) != 0 && strcmp(key, keys[1]) != 0) {
            snprintf(why, n, "constants.%s.%s: unknown field '%.40s' (direct "
                     "and fft)", dt, isa, key);
            return 1;
        }
    }
    for (int k = 0; k < 2; k++) {
        v = json_object_get(e, keys[k]);
        double x = json_number_value(v);
        if (json_is_number(v) && isfinite(x) && x > 0)
            continue;
        char *text = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        snprintf(why, n, "constants.%s.%s.%s is %.40s, not a number of "
                 "seconds > 0", dt, isa, keys[k], text ? text : "missing");
        free(text);
        return 1;
    }
    return 0;
}

/* Is root a calibration file of this version, every entry well formed
 * (the ones for other dtypes and ISAs too, so that a file is accepted or
 * refused whatever the run)? 0, or 1 with why. */
static int check_file(json_t *root, char *why, size_t n)
{
    json_t *tag = json_object_get(root, "parconv");
    json_t *version = json_object_get(root, "version");
    json_t *constants = json_object_get(root, "constants");
    if (!json_is_string(tag) || strcmp(json_string_value(tag),
                                       "calibration") != 0) {
        snprintf(why, n, "not a parconv calibration file (no \"parconv\": "
                 "\"calibration\")");
        return 1;
    }
    if (!json_is_integer(version) ||
        json_integer_value(version) != CAL_VERSION) {
        snprintf(why, n, "\"version\" is not %d (a file of another parconv?)",
                 CAL_VERSION);
        return 1;
    }
    if (!json_is_object(constants)) {
        snprintf(why, n, "no \"constants\" object");
        return 1;
    }
    const char *dt, *isa;
    json_t *per, *e;
    json_object_foreach(constants, dt, per) {
        int d = pc_dtype_parse(dt);
        /* One spelling per dtype, so no two entries say the same. */
        if (d < 0 || strcmp(pc_dtype_name((pc_dtype)d), dt) != 0) {
            snprintf(why, n, "constants: unknown dtype '%.40s' (f64 or f32)",
                     dt);
            return 1;
        }
        if (!json_is_object(per)) {
            snprintf(why, n, "constants.%s is not an object of ISAs", dt);
            return 1;
        }
        json_object_foreach(per, isa, e)
            if (check_entry(dt, isa, e, why, n))
                return 1;
    }
    return 0;
}

/* Reads and checks PATH into *root: NULL if there is no such file. A file
 * in the older line format is PC_EINPUT with *old set. */
int calibration_read(const char *path, json_t **root, bool *old)
{
    *root = NULL;
    *old = false;
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        return pc_error(PC_EINPUT, "calibration file '%s' is not a regular "
                        "file", path);
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? PC_OK
                               : pc_error(PC_EINPUT, "cannot read calibration "
                                          "file '%s': %s", path,
                                          strerror(errno));
    json_error_t err;
    json_t *j = json_loadf(f, JSON_REJECT_DUPLICATES, &err);
    int e = errno;
    bool unreadable = ferror(f);
    *old = !j && !unreadable && old_format(f);
    fclose(f);
    char why[256];
    if (unreadable) {
        json_decref(j);
        return pc_error(PC_EINPUT, "cannot read calibration file '%s': %s",
                        path, strerror(e));
    }
    if (*old)
        return pc_error(PC_EINPUT, "%s: a calibration file of an older "
                        "parconv (one line per dtype and ISA); run 'parconv "
                        "calibrate' again to rewrite it", path);
    if (!j)
        return pc_error(PC_EINPUT, "%s:%d:%d: not a JSON calibration file: %s",
                        path, err.line, err.column, err.text);
    if (check_file(j, why, sizeof why)) {
        json_decref(j);
        return pc_error(PC_EINPUT, "%s: %s", path, why);
    }
    *root = j;
    return PC_OK;
}

int calibration_load(cli_options *o, const char **from)
{
    char buf[4096];
    const char *path = o->calibration ? o->calibration
                                      : calibration_default_path(buf, sizeof buf);
    pc_isa isa = o->conv.isa == PC_ISA_AUTO ? pc_isa_best() : o->conv.isa;
    *from = "built-in";
    if (!path)
        return PC_OK;
    json_t *root;
    bool old;
    int st = calibration_read(path, &root, &old);
    if (st)
        return st;
    /* A file named on the command line must exist; the default one need
     * not. */
    if (!root)
        return o->calibration ? pc_error(PC_EINPUT, "cannot read calibration "
                                         "file '%s': %s", path,
                                         strerror(ENOENT))
                              : PC_OK;
    json_t *e = json_object_get(json_object_get(json_object_get(root,
        "constants"), pc_dtype_name(o->conv.dtype)), pc_isa_name(isa));
    if (e) {
        static char used[4096];
        o->conv.cost_direct = json_number_value(json_object_get(e, "direct"));
        o->conv.cost_fft = json_number_value(json_object_get(e, "fft"));
        snprintf(used, sizeof used, "%s", path);
        *from = used;
    }
    json_decref(root);
    return PC_OK;
}

/* root with constants.DTYPE.ISA set to cd and cf (4 significant digits, as
 * measured), the other entries kept. 0, or -1 if out of memory. */
int calibration_set(json_t *root, const char *dt, const char *isa, double cd,
                    double cf)
{
    json_t *constants = json_object_get(root, "constants"), *per = NULL;
    int bad = json_object_set_new(root, "parconv", json_string("calibration")) |
              json_object_set_new(root, "version", json_integer(CAL_VERSION)) |
              json_object_set_new(root, "comment", json_string(CAL_COMMENT));
    if (!constants)
        bad |= json_object_set_new(root, "constants",
                                   constants = json_object());
    if (!bad && !(per = json_object_get(constants, dt)))
        bad |= json_object_set_new(constants, dt, per = json_object());
    if (!bad)
        bad |= json_object_set_new(per, isa, json_pack("{s:o, s:o}", "direct",
                                   json_sig(cd, 4), "fft", json_sig(cf, 4)));
    return bad ? -1 : 0;
}

/* Writes root to path, whole or not at all: a temporary file beside it
 * (outdir_file: O_EXCL, a name no one can guess or plant a link at),
 * synced, then renamed over path. */
int calibration_write(const char *path, json_t *root)
{
    char dir[4096];
    if ((size_t)snprintf(dir, sizeof dir, "%s", path) >= sizeof dir)
        return pc_error(PC_EUSAGE, "calibration file name too long");
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        int st = outdir_prepare(dir);
        if (st)
            return st;
    }
    outdir_file f;
    int st = outdir_file_open(&f, path, false);
    return st ? st : outdir_file_json(&f, root, JSON_REPORT_FLAGS);
}

