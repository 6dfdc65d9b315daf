/* Small helpers for building JSON values with jansson, shared by the
 * reports and the output directory. */
#ifndef PC_JSONTEXT_H
#define PC_JSONTEXT_H

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A C string as a JSON value. jansson takes only UTF-8; file names and
 * environment values are bytes, so the bytes that are not UTF-8 become
 * '?'. NULL becomes null. */
static inline json_t *json_text(const char *s)
{
    if (!s)
        return json_null();
    json_t *v = json_string(s);
    if (v)
        return v;
    /* Keep ASCII, replace the rest: a report names the file, if oddly. */
    char *copy = strdup(s);
    if (!copy)
        return NULL;
    for (unsigned char *p = (unsigned char *)copy; *p; p++)
        if (*p >= 0x80)
            *p = '?';
    v = json_string(copy);
    free(copy);
    return v;
}

/* A number rounded to `decimals` decimals (json_fixed) or `digits`
 * significant digits (json_sig), as the text report prints it, so that it
 * reads as it was measured; JSON has no NaN or Inf: null. */
static inline json_t *json_rounded(double v, int precision, bool fixed)
{
    char buf[64];
    if (!isfinite(v))
        return json_null();
    if (fixed)
        snprintf(buf, sizeof buf, "%.*f", precision, v);
    else
        snprintf(buf, sizeof buf, "%.*g", precision, v);
    return json_real(strtod(buf, NULL));
}

static inline json_t *json_fixed(double v, int decimals)
{
    return json_rounded(v, decimals, true);
}

static inline json_t *json_sig(double v, int digits)
{
    return json_rounded(v, digits, false);
}

/* A 64-bit checksum or hash as parconv writes them: 16 hex digits. */
static inline json_t *json_hex64(uint64_t v)
{
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, v);
    return json_string(hex);
}

/* [a, b] */
static inline json_t *json_pair(size_t a, size_t b)
{
    return json_pack("[I, I]", (json_int_t)a, (json_int_t)b);
}

/* Flags for the reports: two-space indentation, 15 significant digits
 * (the rounded numbers then print as they were rounded). */
#define JSON_REPORT_FLAGS (JSON_INDENT(2) | JSON_REAL_PRECISION(15))

#endif
