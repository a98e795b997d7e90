/* The moderators' web console (docs/console.md): static files from web/, embedded at
 * build time (src/server/embed.cmake) and served without a key, like the probes. The console
 * itself holds no data: it calls the /v1 API with the key the user pastes. Each file has its own
 * route, so any other path under /console/ is a 404 of the router. The responses carry a strict
 * Content-Security-Policy and nosniff (server.c, TD__F_CONSOLE). */
#include "server/server_int.h"

#include <string.h>

/* The files, by the path their route serves. */
static const struct web_file {
    const char *path, *type;
    const unsigned char *data;
    const size_t *len;
} files[] = {
    {"/", "text/html; charset=utf-8", td__web_index_html, &td__web_index_html_len},
    {"/console/console.css", "text/css; charset=utf-8", td__web_console_css,
     &td__web_console_css_len},
    {"/console/console.js", "text/javascript; charset=utf-8", td__web_console_js,
     &td__web_console_js_len},
    {"/console/review.js", "text/javascript; charset=utf-8", td__web_review_js,
     &td__web_review_js_len},
    {"/console/charts.js", "text/javascript; charset=utf-8", td__web_charts_js,
     &td__web_charts_js_len},
    {"/console/team.js", "text/javascript; charset=utf-8", td__web_team_js, &td__web_team_js_len},
};

void td__h_web_file(td__req *r)
{
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (strcmp(r->path, files[i].path) == 0) {
            td__reply_text(r, 200, files[i].type, (const char *)files[i].data, *files[i].len);
            return;
        }
    td__reply_error(r, 404, "not_found", "no such console file");
}
