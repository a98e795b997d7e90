/* The moderators' web console (docs/console.md): static files from web/, embedded at
 * build time (src/server/embed.cmake) and served without a key, like the probes. The console
 * itself holds no data: it calls the /v1 API with the key the user pastes. Each file has its own
 * route, so any other path under /console/ is a 404 of the router. The responses carry a strict
 * Content-Security-Policy and nosniff (server.c, TD__F_CONSOLE). */
#include "server/server_int.h"

void td__h_web_index(td__req *r)
{
    td__reply_text(r, 200, "text/html; charset=utf-8", (const char *)td__web_index_html,
                   td__web_index_html_len);
}

void td__h_web_css(td__req *r)
{
    td__reply_text(r, 200, "text/css; charset=utf-8", (const char *)td__web_console_css,
                   td__web_console_css_len);
}

void td__h_web_js(td__req *r)
{
    td__reply_text(r, 200, "text/javascript; charset=utf-8", (const char *)td__web_console_js,
                   td__web_console_js_len);
}

void td__h_web_review_js(td__req *r)
{
    td__reply_text(r, 200, "text/javascript; charset=utf-8", (const char *)td__web_review_js,
                   td__web_review_js_len);
}

void td__h_web_charts_js(td__req *r)
{
    td__reply_text(r, 200, "text/javascript; charset=utf-8", (const char *)td__web_charts_js,
                   td__web_charts_js_len);
}

void td__h_web_team_js(td__req *r)
{
    td__reply_text(r, 200, "text/javascript; charset=utf-8", (const char *)td__web_team_js,
                   td__web_team_js_len);
}
