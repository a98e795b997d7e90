/* The documented curl commands cut into words as the shell would, for the tests that replay the
 * documentation's examples (test_docs, test_api_frank). */
#ifndef TD_TEST_DOC_SHELL_H
#define TD_TEST_DOC_SHELL_H

#include <stddef.h>

/* The value of the variable (or command substitution) that starts at p (at its '$'), with the
 * length of its text in *skip; NULL for one the test does not know. */
typedef const char *(*doc_shell_lookup)(const char *p, size_t *skip, void *ctx);

/* strlen(text) if p starts with text and, for a variable name, the name does not go on (no
 * capital letter or '_' follows); 0 otherwise. */
size_t doc_shell_match(const char *p, const char *text);

/* Cuts cmd into at most cap words (each malloc'ed, for the caller to free): blanks and
 * backslash-newline separate words, single quotes keep everything, double quotes keep all but '$'
 * and backslash-newline (removed, as outside quotes), and each '$' outside single quotes is
 * replaced by lookup's value. Returns the number of words, or -1 (no words left allocated) for an
 * unknown variable, an unclosed quote or more than cap words. */
int doc_shell_words(const char *cmd, char **words, int cap, doc_shell_lookup lookup, void *ctx);

#endif
