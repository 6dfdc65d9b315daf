/* The help texts, made from the option and subcommand tables: a
 * subcommand's help lists only the options it takes. */
#include "options.h"

#include <string.h>

enum { HELP_COL = 24,   /* where an option's help starts */
       DFLT_COL = 63,   /* where its [default] goes, if there is room */
       WIDTH = 79 };

/* The length of the line that starts at s. */
static size_t line_len(const char *s)
{
    return strcspn(s, "\n");
}

/* The lines of text, the first where the caller left off, the others
 * after indent columns; tail ends the last. */
static void print_lines(FILE *f, int indent, const char *text,
                        const char *tail)
{
    for (const char *s = text;; s++) {
        size_t n = line_len(s);
        fwrite(s, 1, n, f);
        s += n;
        if (!*s)
            break;
        fprintf(f, "\n%*s", indent, "");
    }
    fprintf(f, "%s\n", tail);
}

/* The help line and default of opt in subcommand cmd. */
static void option_text(const cli_opt *opt, enum cli_command cmd,
                        const char **help, const char **dflt)
{
    *help = opt->help;
    *dflt = opt->dflt;
    for (size_t i = 0; i < cli_nopt_notes; i++) {
        const cli_opt_note *n = &cli_opt_notes[i];
        if ((n->cmds & (1u << cmd)) && strcmp(n->name, opt->name) == 0) {
            *help = n->help ? n->help : *help;
            *dflt = n->dflt ? n->dflt : *dflt;
        }
    }
}

/* The help line (counted from 0) that gets the [default] of dlen
 * characters, and its column: the first line with room at DFLT_COL, else
 * the first with room anywhere (right-aligned); -1 if none has room.
 * The first line starts at column first, the others at HELP_COL. */
static int default_place(const char *help, int first, int dlen, int *at)
{
    for (int pass = 0; pass < 2; pass++) {
        int col = first, line = 0;
        for (const char *s = help;; s++, line++, col = HELP_COL) {
            int end = col + (int)line_len(s);
            int pos = end + 2 > DFLT_COL ? end + 2 : DFLT_COL;
            if (pass == 1 && pos + dlen > WIDTH)
                pos = WIDTH - dlen;
            if (pos + dlen <= WIDTH && (pass == 1 || pos == DFLT_COL) &&
                pos >= end + 2) {
                *at = pos;
                return line;
            }
            s += line_len(s);
            if (!*s)
                break;
        }
    }
    return -1;
}

/* "  -n, --size RxC        matrix size ...   [1000x1000]". */
static void print_option(FILE *f, const cli_opt *opt, enum cli_command cmd)
{
    const char *help, *dflt;
    option_text(opt, cmd, &help, &dflt);
    char left[64], letter[8] = "    ";
    if (opt->letter)
        snprintf(letter, sizeof letter, "-%c, ", opt->letter);
    int col = snprintf(left, sizeof left, "  %s--%s%s%s", letter, opt->name,
                       opt->arg ? " " : "", opt->arg ? opt->arg : "");
    col = col + 2 > HELP_COL ? col + 2 : HELP_COL;
    fprintf(f, "%-*s", col, left);
    /* A default broken in lines by the table goes below the help. */
    int at = 0, dline = -1;
    if (dflt && !strchr(dflt, '\n'))
        dline = default_place(help, col, (int)strlen(dflt) + 2, &at);
    for (int line = 0;; line++) {
        size_t n = line_len(help);
        fwrite(help, 1, n, f);
        if (line == dline)
            fprintf(f, "%*s[%s]", at - col - (int)n, "", dflt);
        fputc('\n', f);
        help += n;
        if (!*help++)
            break;
        col = HELP_COL;
        fprintf(f, "%*s", col, "");
    }
    if (dflt && dline < 0) {
        fprintf(f, "%*s[", HELP_COL, "");
        print_lines(f, HELP_COL + 1, dflt, "]");
    }
}

/* The options cmd takes, in the table's order, under their groups'
 * titles. */
static void print_options(FILE *f, enum cli_command cmd)
{
    for (int g = 0; g < GRP_COUNT; g++) {
        bool titled = false;
        for (size_t i = 0; i < cli_nopts; i++) {
            const cli_opt *opt = &cli_opts[i];
            if (opt->group != (enum cli_group)g || !(opt->cmds & (1u << cmd)))
                continue;
            if (!titled)
                fprintf(f, "\n%s\n", cli_group_titles[g]);
            titled = true;
            print_option(f, opt, cmd);
        }
    }
}

static void print_command(FILE *f, enum cli_command cmd, bool usage)
{
    const cli_command_info *c = &cli_commands[cmd];
    if (usage) {
        fputs("Usage: ", f);
        print_lines(f, 7, c->synopsis, "");
        fputc('\n', f);
    }
    print_lines(f, 0, c->about, "");
    if (c->words) {
        int w = 0;
        for (const cli_word *wd = c->words; wd->name; wd++)
            w = (int)strlen(wd->name) > w ? (int)strlen(wd->name) : w;
        fprintf(f, "\n%s\n", c->words_title);
        for (const cli_word *wd = c->words; wd->name; wd++) {
            fprintf(f, "  %-*s  ", w, wd->name);
            print_lines(f, w + 4, wd->help, "");
        }
    }
    print_options(f, cmd);
    if (c->notes) {
        fputc('\n', f);
        print_lines(f, 0, c->notes, "");
    }
    fputs("\nExit status: 0 success, 1 run-time failure or strategies "
          "disagree,\n2 bad usage or bad input, 128+N stopped by signal "
          "N.\n", f);
}

/* Every subcommand: one line each, and how each is called. */
static void print_overview(FILE *f)
{
    fputs("Usage: parconv [SUBCOMMAND] [OPTIONS]\n\nSubcommands:\n", f);
    for (int c = 0; c < CMD_COUNT; c++)
        fprintf(f, "  %-10s %s\n", cli_commands[c].name,
                cli_commands[c].summary);
    fputs("\nCalled as:\n", f);
    for (int c = 0; c < CMD_COUNT; c++) {
        fputs("  ", f);
        print_lines(f, 2, cli_commands[c].synopsis, "");
    }
    fputs("  parconv help [SUBCOMMAND] | -h, --help | -V, --version\n\n"
          "'parconv SUBCOMMAND --help' (or 'parconv help SUBCOMMAND') shows "
          "that\nsubcommand's options only.\n", f);
}

void help_print(FILE *f, enum cli_command cmd, bool named)
{
    if (named) {
        print_command(f, cmd, true);
        return;
    }
    print_overview(f);
    fputs("\n-------------------------------------------------------------"
          "-----------------\nrun, the default subcommand:\n\n", f);
    print_command(f, CMD_RUN, false);
}
