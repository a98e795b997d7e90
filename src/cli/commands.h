/* The takedown subcommands. Each takes the arguments after its name (argv[0] is the command
 * name) and returns the process exit status. Output goes to stdout, diagnostics to stderr. */
#ifndef TD_CLI_COMMANDS_H
#define TD_CLI_COMMANDS_H

int td_cli_hash(int argc, char **argv);
int td_cli_compare(int argc, char **argv);
int td_cli_match(int argc, char **argv);
int td_cli_index(int argc, char **argv);
int td_cli_serve(int argc, char **argv);
int td_cli_key(int argc, char **argv);
int td_cli_audit(int argc, char **argv);
int td_cli_report(int argc, char **argv);
int td_cli_evidence(int argc, char **argv);
int td_cli_frank(int argc, char **argv);

/* Usage text of each command, printed by `takedown help COMMAND`. */
extern const char td_cli_hash_usage[];
extern const char td_cli_compare_usage[];
extern const char td_cli_match_usage[];
extern const char td_cli_index_usage[];
extern const char td_cli_serve_usage[];
extern const char td_cli_key_usage[];
extern const char td_cli_audit_usage[];
extern const char td_cli_report_usage[];
extern const char td_cli_evidence_usage[];
extern const char td_cli_frank_usage[];

#endif
