/* The program's options and subcommands, each written once as a table row.
 * From the rows come getopt_long's arrays and the per-subcommand check
 * (cli.c) and every help text (help.c). */
#ifndef PC_OPTIONS_H
#define PC_OPTIONS_H

#include "cli.h"

#include <stddef.h>

/* Which subcommands take an option: bit 1 << cli_command. */
#define IN_RUN (1u << CMD_RUN)
#define IN_GEN (1u << CMD_GEN)
#define IN_DEMO (1u << CMD_DEMO)
#define IN_PEAK (1u << CMD_PEAK)
#define IN_CALIBRATE (1u << CMD_CALIBRATE)
#define IN_SWEEP (1u << CMD_SWEEP)
#define IN_MERGE (1u << CMD_MERGE)
#define IN_ALL ((1u << CMD_COUNT) - 1)

/* The help's sections, in the order printed. */
enum cli_group { GRP_INPUTS, GRP_CONV, GRP_STRATEGIES, GRP_SWEEP, GRP_DEMO,
                 GRP_OUTPUT, GRP_GENERAL, GRP_COUNT };
extern const char *const cli_group_titles[GRP_COUNT];

/* The setters' answers for --help and --version: the parser prints the
 * help (which depends on how the subcommand was named) or the version,
 * and the program stops with status 0. */
#define CLI_HELP (-1)
#define CLI_VERSION (-2)

typedef struct cli_opt cli_opt;
/* Stores arg (NULL for an option without a value) into o; 0, CLI_HELP,
 * CLI_VERSION, or
 * PC_EUSAGE with a message naming the option. */
typedef int (*cli_setter)(cli_options *o, const cli_opt *opt, const char *arg);

struct cli_opt {
    const char *name;    /* the long name, without "--" */
    char letter;         /* the short name, 0: none */
    const char *arg;     /* the value's name in the help; NULL: no value */
    unsigned cmds;       /* IN_* of the subcommands that take it */
    enum cli_group group;
    const char *help;    /* lines separated by '\n' */
    const char *dflt;    /* shown as [dflt]; '\n' breaks it; NULL: none */
    cli_setter set;
    /* For the shared setters: where the value goes (offsetof in
     * cli_options), the largest value, what an empty value would be. */
    size_t off, off2, max;
    const char *choices; /* the values accepted, "a, b, c" */
    unsigned given;      /* G_* recorded when the option is given */
    int (*parse)(const char *s); /* set_choice: a name's value, or -1 */
    bool repeat;         /* may be given several times */
};
extern const cli_opt cli_opts[];
/* The parser's arrays hold up to this many options. */
#define CLI_MAX_OPTS 64
extern const size_t cli_nopts;

/* A word that may follow a subcommand (sweep ksize, demo lock). */
typedef struct {
    const char *name, *help;
} cli_word;

typedef struct {
    const char *name;
    const char *synopsis; /* usage lines, '\n' separated */
    const char *summary;  /* one line for the overview */
    const char *about;    /* what it does */
    const cli_word *words; /* the words it takes first, NULL-terminated */
    const char *words_title;
    const char *notes;    /* printed after the options */
} cli_command_info;
extern const cli_command_info cli_commands[CMD_COUNT];

/* A different help line or default for an option in one subcommand (the
 * option is parsed the same way everywhere). */
typedef struct {
    unsigned cmds;
    const char *name, *help, *dflt;
} cli_opt_note;
extern const cli_opt_note cli_opt_notes[];
extern const size_t cli_nopt_notes;

/* help.c: the help of subcommand cmd as 'parconv CMD --help' shows it;
 * without a subcommand named (named false: 'parconv --help'), the
 * overview of every subcommand followed by run's help. */
void help_print(FILE *f, enum cli_command cmd, bool named);

#endif
