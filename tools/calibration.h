/* calibration.c: the calibration file (the cost model's constants for
 * --method auto), the one owner of its JSON format. */
#ifndef PC_CALIBRATION_H
#define PC_CALIBRATION_H

#include "cli.h"

#include <jansson.h>
#include <stdbool.h>

/* $PARCONV_CALIBRATION, else $XDG_CONFIG_HOME/parconv/calibration, else
 * ~/.config/parconv/calibration (in buf); NULL if there is no HOME. */
const char *calibration_default_path(char *buf, size_t n);
/* Reads and checks PATH into *root: NULL if there is no such file. A file
 * in the older line format is PC_EINPUT with *old set. */
int calibration_read(const char *path, json_t **root, bool *old);
/* Fills o->conv.cost_direct/cost_fft from the calibration file (the one
 * given, else the default one if it exists); sets *from to its path or
 * "built-in". */
int calibration_load(cli_options *o, const char **from);
/* root with constants.DTYPE.ISA set to cd and cf, the other entries kept;
 * 0, or -1 if out of memory. */
int calibration_set(json_t *root, const char *dt, const char *isa, double cd,
                    double cf);
/* Writes root to path whole or not at all (mkstemp, fsync, rename). */
int calibration_write(const char *path, json_t *root);

#endif
