/* The subcommands, one file each: main.c's table calls them. Each returns
 * 0 or a PC_E* status with pc_errmsg() set; main turns that into the exit
 * status. */
#ifndef PC_COMMANDS_H
#define PC_COMMANDS_H

#include "job.h"

int run_cmd(cli_options *o);       /* run.c: the convolution run */
int gen_cmd(cli_options *o);       /* gen.c: write the inputs as .npy */
int peak_cmd(cli_options *o);      /* peak.c: the FMA ceiling */
int calibrate_cmd(cli_options *o); /* calibrate.c: the cost constants */
int sweep_cmd(cli_options *o);     /* sweep.c: ksize or threads sweeps */
int merge_cmd(cli_options *o);     /* merge.c: shards into one result */


#endif
