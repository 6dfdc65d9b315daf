/* Command-line parsing: argv into cli_options, driven by the option table
 * (options.c). Every error is one line naming what the user wrote and,
 * when a valid spelling is close, suggesting it (PC_EUSAGE). */
#include "options.h"

#include <getopt.h>
#include <string.h>

/* getopt_long returns a long option as LONG_BASE + its row, a short one
 * as its letter. */
enum { LONG_BASE = 256, NAME_MAX_LEN = 40 };

static void defaults(cli_options *o)
{
    memset(o, 0, sizeof *o);
    o->cmd = CMD_RUN;
    o->rows = o->cols = 1000;
    o->count = 100;
    o->krows = o->kcols = 10;
    o->gen = (pc_gen_params){.seed = 42, .lo = 0, .hi = 100};
    pc_conv_params_default(&o->conv);
    o->conv.method = PC_AUTO;
    for (int s = 0; s < PC_NSTRATEGIES; s++)
        o->strategies[s] = (pc_strategy)s;
    o->nstrategies = PC_NSTRATEGIES;
    o->demo_seconds = 2.5;
    o->nmat = 1;
    o->format = "npy";
    o->deflate = -1;
}

/* sweep ksize times every size six times: a lighter workload than run's
 * and one strategy. sweep threads keeps run's workload. */
static void sweep_defaults(cli_options *o, bool threads)
{
    o->sweep_threads = threads;
    o->sweep_runs = 3;
    /* sweep threads without -S times omp and procs (sweep.c). */
    if (threads) {
        o->nstrategies = 0;
        return;
    }
    o->rows = o->cols = 500;
    o->count = 16;
    o->sweep_step = 2;
    o->strategies[0] = PC_OMP;
    o->nstrategies = 1;
}

/* ---------------------------------------------------------------------
 * Names and suggestions. */

/* Edit distance with adjacent swaps (optimal string alignment), which
 * counts "mdoe" for "mode" as one slip. Names are short; longer words are
 * far from all of them. */
static size_t distance(const char *a, const char *b)
{
    size_t m = strlen(a), n = strlen(b);
    if (m > NAME_MAX_LEN || n > NAME_MAX_LEN)
        return NAME_MAX_LEN;
    unsigned char d[NAME_MAX_LEN + 1][NAME_MAX_LEN + 1];
    for (size_t i = 0; i <= m; i++)
        for (size_t j = 0; j <= n; j++) {
            if (i == 0 || j == 0) {
                d[i][j] = (unsigned char)(i + j);
                continue;
            }
            size_t best = d[i - 1][j - 1] + (size_t)(a[i - 1] != b[j - 1]);
            size_t del = d[i - 1][j] + 1u, ins = d[i][j - 1] + 1u;
            best = del < best ? del : best;
            best = ins < best ? ins : best;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                best = d[i - 2][j - 2] + 1u < best ? d[i - 2][j - 2] + 1u
                                                   : best;
            d[i][j] = (unsigned char)best;
        }
    return d[m][n];
}

/* The name word most likely meant: the one name it begins, else the
 * first nearest within two edits (and fewer edits than word has letters);
 * NULL if none is that close. */
static const char *nearest(const char *word, const char *const *names,
                           size_t n)
{
    const char *prefixed = NULL, *best = NULL;
    size_t nprefixed = 0, best_d = 3, len = strlen(word);
    for (size_t i = 0; i < n; i++) {
        if (len && strncmp(names[i], word, len) == 0) {
            prefixed = names[i];
            nprefixed++;
        }
        size_t d = distance(word, names[i]);
        if (d < best_d && d < len) {
            best = names[i];
            best_d = d;
        }
    }
    return nprefixed == 1 ? prefixed : best;
}

/* names joined as "'a', 'b' and 'c'" (each between pre and post). */
static const char *join(char *buf, size_t size, const char *const *names,
                        size_t n, const char *pre, const char *post,
                        const char *last)
{
    size_t at = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && at < size; i++)
        at += (size_t)snprintf(buf + at, size - at, "%s%s%s%s",
                               i == 0 ? "" : i + 1 == n ? last : ", ", pre,
                               names[i], post);
    return buf;
}

static const char *command_name(enum cli_command cmd)
{
    return cli_commands[cmd].name;
}

static int find_command(const char *word)
{
    for (int c = 0; c < CMD_COUNT; c++)
        if (strcmp(word, cli_commands[c].name) == 0)
            return c;
    return -1;
}

/* "parconv --help" for run (whose help that is), else "parconv CMD --help". */
static const char *help_hint(enum cli_command cmd, char *buf, size_t n)
{
    if (cmd == CMD_RUN)
        snprintf(buf, n, "parconv --help");
    else
        snprintf(buf, n, "parconv %s --help", command_name(cmd));
    return buf;
}

static int unknown_command(const char *word)
{
    const char *names[CMD_COUNT + 1];
    for (int c = 0; c < CMD_COUNT; c++)
        names[c] = cli_commands[c].name;
    names[CMD_COUNT] = "help";
    const char *near = nearest(word, names, CMD_COUNT + 1);
    if (near)
        return pc_error(PC_EUSAGE, "unknown subcommand '%s'; did you mean "
                        "%s?", word, near);
    return pc_error(PC_EUSAGE, "unknown subcommand '%s' (see parconv "
                    "--help)", word);
}

/* The word after sweep or demo: *k is its index in the command's words. */
static int find_word(enum cli_command cmd, const char *word, int *k)
{
    const cli_word *w = cli_commands[cmd].words;
    const char *names[8];
    size_t n = 0;
    for (; w[n].name && n < 8; n++) {
        if (strcmp(word, w[n].name) == 0) {
            *k = (int)n;
            return PC_OK;
        }
        names[n] = w[n].name;
    }
    const char *near = nearest(word, names, n);
    const char *c = command_name(cmd);
    char list[128];
    if (near)
        return pc_error(PC_EUSAGE, "%s: unknown %s '%s'; did you mean %s?",
                        c, c, word, near);
    return pc_error(PC_EUSAGE, "%s: unknown %s '%s' (choose %s)", c, c, word,
                    join(list, sizeof list, names, n, "", "", " or "));
}

/* The subcommands that take opt, as "'run' and 'sweep'". */
static const char *takers(const cli_opt *opt, char *buf, size_t size)
{
    const char *names[CMD_COUNT];
    size_t n = 0;
    for (int c = 0; c < CMD_COUNT; c++)
        if (opt->cmds & (1u << c))
            names[n++] = cli_commands[c].name;
    return join(buf, size, names, n, "'", "'", " and ");
}

/* The options of cmd (all of them if cmd is CMD_COUNT) whose long names
 * begin with prefix; returns how many. */
static size_t options_named(const char *prefix, enum cli_command cmd,
                            const char **names)
{
    size_t n = 0, len = strlen(prefix);
    for (size_t i = 0; i < cli_nopts; i++)
        if ((cmd == CMD_COUNT || (cli_opts[i].cmds & (1u << cmd))) &&
            strncmp(cli_opts[i].name, prefix, len) == 0)
            names[n++] = cli_opts[i].name;
    return n;
}

static const cli_opt *option_by_name(const char *name)
{
    for (size_t i = 0; i < cli_nopts; i++)
        if (strcmp(cli_opts[i].name, name) == 0)
            return &cli_opts[i];
    return NULL;
}

/* --WORD that getopt_long did not take: ambiguous, misspelt or unknown. */
static int unknown_long(const char *token, enum cli_command cmd)
{
    char word[128], buf[256], hint[64];
    snprintf(word, sizeof word, "%.*s", (int)strcspn(token + 2, "="),
             token + 2);
    if (!*word)
        return pc_error(PC_EUSAGE, "unknown option '%s' (see %s)", token,
                        help_hint(cmd, hint, sizeof hint));
    const char *here[CLI_MAX_OPTS], *all[CLI_MAX_OPTS];
    size_t nall = options_named(word, CMD_COUNT, all);
    size_t nhere = options_named(word, cmd, here);
    if (nall > 1 && nhere == 1)
        return pc_error(PC_EUSAGE, "option '--%s' is ambiguous; did you mean "
                        "--%s?", word, here[0]);
    if (nall > 1)
        return pc_error(PC_EUSAGE, "option '--%s' is ambiguous: %s", word,
                        join(buf, sizeof buf, nhere ? here : all,
                             nhere ? nhere : nall, "--", "", " or "));
    /* Rather an option of this subcommand; else say whose it is. */
    nhere = options_named("", cmd, here);
    nall = options_named("", CMD_COUNT, all);
    const char *near = nearest(word, here, nhere);
    if (near)
        return pc_error(PC_EUSAGE, "unknown option '--%s'; did you mean "
                        "--%s?", word, near);
    near = nearest(word, all, nall);
    if (near)
        return pc_error(PC_EUSAGE, "unknown option '--%s'; did you mean --%s "
                        "(an option of %s)?", word, near,
                        takers(option_by_name(near), buf, sizeof buf));
    return pc_error(PC_EUSAGE, "unknown option '--%s' (see %s)", word,
                    help_hint(cmd, hint, sizeof hint));
}

static const cli_opt *option_by_val(int val)
{
    if (val >= LONG_BASE)
        return (size_t)(val - LONG_BASE) < cli_nopts
               ? &cli_opts[val - LONG_BASE] : NULL;
    for (size_t i = 0; val > 0 && i < cli_nopts; i++)
        if (cli_opts[i].letter == val)
            return &cli_opts[i];
    return NULL;
}

/* What getopt_long refused: kind is '?' or ':', token the argument it
 * stopped at, optopt the option it was reading (0: an unknown long one). */
static int bad_option(int kind, const char *token, enum cli_command cmd)
{
    char hint[64], what[64];
    const cli_opt *opt = option_by_val(optopt);
    if (!opt && optopt)
        return pc_error(PC_EUSAGE, "unknown option '-%c' (see %s)", optopt,
                        help_hint(cmd, hint, sizeof hint));
    if (!opt)
        return unknown_long(token, cmd);
    /* The option as written: a short letter, or the long name (perhaps
     * abbreviated) before any '='. */
    if (optopt < LONG_BASE)
        snprintf(what, sizeof what, "-%c", optopt);
    else
        snprintf(what, sizeof what, "%.*s", (int)strcspn(token, "="), token);
    if (kind == '?')
        return pc_error(PC_EUSAGE, "option '%s' takes no value", what);
    if (opt->choices && strstr(opt->choices, ", ")) {
        /* "full, same, valid" reads "full, same or valid". */
        const char *last = strrchr(opt->choices, ',');
        return pc_error(PC_EUSAGE, "option '%s' needs a value (%.*s or %s)",
                        what, (int)(last - opt->choices), opt->choices,
                        last + 2);
    }
    return pc_error(PC_EUSAGE, "option '%s' needs a value (%s)", what,
                    opt->arg);
}

/* ---------------------------------------------------------------------
 * Parsing. */

/* getopt_long's arrays, made from the table. */
static void getopt_arrays(struct option *lo, char *shorts)
{
    *shorts++ = ':'; /* a missing value is reported as ':' */
    for (size_t i = 0; i < cli_nopts; i++) {
        const cli_opt *opt = &cli_opts[i];
        lo[i] = (struct option){opt->name, opt->arg ? required_argument
                                                    : no_argument,
                                NULL, LONG_BASE + (int)i};
        if (opt->letter) {
            *shorts++ = opt->letter;
            if (opt->arg)
                *shorts++ = ':';
        }
    }
    lo[cli_nopts] = (struct option){NULL, 0, NULL, 0};
    *shorts = 0;
}

/* The options in av[1..ac), which follow the subcommand's words. */
static int parse_options(int ac, char **av, cli_options *o, bool named,
                         bool *exit_now)
{
    struct option lo[CLI_MAX_OPTS + 1];
    char shorts[2 * CLI_MAX_OPTS + 2];
    bool seen[CLI_MAX_OPTS] = {false};
    char what[64], buf[256];
    getopt_arrays(lo, shorts);
    /* Our own messages only: every error is a single line. */
    optind = 1;
    opterr = 0;
    for (;;) {
        int index = -1;
        int val = getopt_long(ac, av, shorts, lo, &index);
        if (val == -1)
            break;
        if (val == '?' || val == ':')
            return bad_option(val, av[optind - 1], o->cmd);
        const cli_opt *opt = option_by_val(val);
        if (index >= 0)
            snprintf(what, sizeof what, "--%s", opt->name);
        else
            snprintf(what, sizeof what, "-%c (--%s)", opt->letter, opt->name);
        if (!(opt->cmds & (1u << o->cmd)))
            return pc_error(PC_EUSAGE, "option %s does not apply to '%s': it "
                            "is an option of %s", what, command_name(o->cmd),
                            takers(opt, buf, sizeof buf));
        if (seen[opt - cli_opts] && !opt->repeat)
            return pc_error(PC_EUSAGE, "option %s is given twice", what);
        seen[opt - cli_opts] = true;
        o->given |= opt->given;
        int st = opt->set(o, opt, optarg);
        if (st == CLI_HELP)
            help_print(stdout, o->cmd, named);
        else if (st == CLI_VERSION)
            printf("parconv %s\n", PC_VERSION);
        if (st == CLI_HELP || st == CLI_VERSION) {
            *exit_now = true;
            return PC_OK;
        }
        if (st)
            return st;
    }
    if (optind < ac && find_command(av[optind]) >= 0)
        return pc_error(PC_EUSAGE, "unexpected argument '%s' (the subcommand "
                        "comes first: 'parconv %s ...')", av[optind],
                        av[optind]);
    if (optind < ac)
        return pc_error(PC_EUSAGE, "unexpected argument '%s' (see %s)",
                        av[optind], help_hint(o->cmd, what, sizeof what));
    return PC_OK;
}

/* The subcommand argv[1] names, and the word after it (merge DIR, sweep
 * ksize, demo lock); *first is where the options begin, *word says
 * whether the word was given. */
static int subcommand(int argc, char **argv, cli_options *o, int *first,
                      bool *named, bool *word)
{
    *first = 1;
    *named = *word = false;
    if (argc < 2 || argv[1][0] == '-')
        return PC_OK;
    int c = find_command(argv[1]);
    if (c < 0)
        return unknown_command(argv[1]);
    o->cmd = (enum cli_command)c;
    *named = true;
    *first = 2;
    const char *w = argc > 2 && argv[2][0] != '-' ? argv[2] : NULL;
    int k = -1;
    if (w && c == CMD_MERGE)
        o->merge_dir = w;
    else if (w && cli_commands[c].words && find_word(o->cmd, w, &k))
        return PC_EUSAGE;
    if (c == CMD_DEMO && k >= 0)
        o->demo = cli_commands[c].words[k].name;
    if (c == CMD_SWEEP)
        sweep_defaults(o, k >= 0 && strcmp(w, "threads") == 0);
    *word = o->merge_dir || k >= 0;
    if (*word)
        *first = 3;
    return PC_OK;
}

/* What no single option can refuse: combinations, and the word a
 * subcommand needs (checked after the options, so that '--help' works
 * without it). */
static int check_options(const cli_options *o, bool word)
{
    bool sweep = o->cmd == CMD_SWEEP, ksize = sweep && !o->sweep_threads;
    if (o->cmd == CMD_MERGE && !word)
        return pc_error(PC_EUSAGE, "merge needs the output directory: "
                        "'parconv merge DIR'");
    if (o->cmd == CMD_DEMO && !word)
        return pc_error(PC_EUSAGE, "demo needs 'sleep', 'lock' or 'task'");
    if (sweep && !word)
        return pc_error(PC_EUSAGE, "sweep: say what to sweep: 'sweep ksize "
                        "--from A --to B' or 'sweep threads'");
    if (o->resume && !o->outdir)
        return pc_error(PC_EUSAGE, "--resume needs -o DIR (the directory to "
                        "resume)");
    if ((o->given & G_MATRICES) && o->nmatrix_paths)
        return pc_error(PC_EUSAGE, "--matrices generates the matrices, -m "
                        "reads them: give one of them");
    if ((o->given & G_COMPRESS) && strcmp(o->format, "hdf5") != 0)
        return pc_error(PC_EUSAGE, "--compress applies to --format hdf5 "
                        "(this run writes %s)", o->format);
    if ((o->worker_timeout > 0 || o->retries) && o->cmd == CMD_RUN) {
        bool procs = false;
        for (int i = 0; i < o->nstrategies; i++)
            procs |= o->strategies[i] == PC_PROCS;
        if (!procs)
            return pc_error(PC_EUSAGE, "--worker-timeout and --retries apply "
                            "to the procs strategy, which %s leaves out",
                            o->compute_once ? "the default with -o (omp "
                                              "only; add -S procs)"
                                            : "-S");
    }
    if (o->cmd == CMD_GEN && !o->outdir)
        return pc_error(PC_EUSAGE, "gen needs -o DIR");
    if (sweep && o->sweep_threads &&
        (o->sweep_from || o->sweep_to || o->sweep_step != 0))
        return pc_error(PC_EUSAGE, "sweep threads takes --max, not --from, "
                        "--to or --step");
    if (ksize && (o->given & G_METHOD))
        return pc_error(PC_EUSAGE, "sweep ksize times both methods: --method "
                        "does not apply");
    if (ksize && (o->given & G_KSIZE))
        return pc_error(PC_EUSAGE, "sweep ksize varies the kernel size: "
                        "--ksize does not apply");
    if (ksize && o->bank_path)
        return pc_error(PC_EUSAGE, "sweep ksize varies the kernel size, which "
                        "-b fixes: give -b to 'sweep threads'");
    if (ksize && o->sweep_max)
        return pc_error(PC_EUSAGE, "--max goes with 'sweep threads'");
    if (ksize && (!o->sweep_from || !o->sweep_to))
        return pc_error(PC_EUSAGE, "sweep ksize needs --from A and --to B");
    if (ksize && o->sweep_from > o->sweep_to)
        return pc_error(PC_EUSAGE, "sweep ksize: --from %zu is above --to %zu",
                        o->sweep_from, o->sweep_to);
    if (ksize && o->nstrategies != 1)
        return pc_error(PC_EUSAGE, "sweep times one strategy: give -S with "
                        "one name");
    return PC_OK;
}

/* 'parconv help [SUBCOMMAND]' is 'parconv [SUBCOMMAND] --help'. */
static int help_command(int argc, char **argv)
{
    if (argc > 3)
        return pc_error(PC_EUSAGE, "unexpected argument '%s' (help takes one "
                        "subcommand)", argv[3]);
    if (argc < 3 || argv[2][0] == '-') {
        help_print(stdout, CMD_RUN, false);
        return PC_OK;
    }
    int c = find_command(argv[2]);
    if (c < 0)
        return unknown_command(argv[2]);
    help_print(stdout, (enum cli_command)c, true);
    return PC_OK;
}

int cli_parse(int argc, char **argv, cli_options *o, bool *exit_now)
{
    defaults(o);
    *exit_now = false;
    if (argc > 1 && strcmp(argv[1], "help") == 0) {
        *exit_now = true;
        return help_command(argc, argv);
    }
    int first;
    bool named, word;
    int st = subcommand(argc, argv, o, &first, &named, &word);
    if (!st)
        st = parse_options(argc - first + 1, argv + first - 1, o, named,
                           exit_now);
    /* A run that writes its results computes them once, with omp: the
     * strategy comparison is what runs without -o are for. */
    if (!st && o->cmd == CMD_RUN && o->outdir && !(o->given & G_STRATEGY)) {
        o->strategies[0] = PC_OMP;
        o->nstrategies = 1;
        o->compute_once = true;
    }
    if (!st && !*exit_now)
        st = check_options(o, word);
    return st;
}
