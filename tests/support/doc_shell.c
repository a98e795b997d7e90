/* The documented curl commands cut into words as the shell would (see doc_shell.h). */
#include "doc_shell.h"

#include <stdlib.h>
#include <string.h>

#define WORD_MAX 16384 /* longer words are cut */

size_t doc_shell_match(const char *p, const char *text)
{
    size_t n = strlen(text);
    if (strncmp(p, text, n) != 0)
        return 0;
    if (n >= 2 && text[1] == '(') /* a command substitution: its text is all of it */
        return n;
    return p[n] == '_' || (p[n] >= 'A' && p[n] <= 'Z') ? 0 : n;
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\n'; }

static int fail(char **words, int n)
{
    for (int i = 0; i < n; i++)
        free(words[i]);
    return -1;
}

int doc_shell_words(const char *cmd, char **words, int cap, doc_shell_lookup lookup, void *ctx)
{
    int n = 0;
    const char *p = cmd;
    char *word = malloc(WORD_MAX);
    if (!word)
        return -1;
    while (*p) {
        while (is_blank(*p) || (p[0] == '\\' && p[1] == '\n'))
            p += *p == '\\' ? 2 : 1;
        if (!*p)
            break;
        size_t w = 0;
        char quote = 0;
        while (*p && (quote || !is_blank(*p))) {
            if (!quote && (*p == '\'' || *p == '"')) {
                quote = *p++;
                continue;
            }
            if (quote && *p == quote) {
                quote = 0;
                p++;
                continue;
            }
            if (quote != '\'' && *p == '\\' && p[1] == '\n') {
                p += 2;
                continue;
            }
            if (quote != '\'' && *p == '$') {
                size_t skip = 0;
                const char *value = lookup(p, &skip, ctx);
                if (!value || skip == 0) {
                    free(word);
                    return fail(words, n);
                }
                for (size_t i = 0; value[i] && w + 1 < WORD_MAX; i++)
                    word[w++] = value[i];
                p += skip;
                continue;
            }
            if (w + 1 < WORD_MAX)
                word[w++] = *p;
            p++;
        }
        if (quote || n >= cap) {
            free(word);
            return fail(words, n);
        }
        word[w] = '\0';
        if (!(words[n] = strdup(word))) {
            free(word);
            return fail(words, n);
        }
        n++;
    }
    free(word);
    return n;
}
