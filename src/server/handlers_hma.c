/* Meta's HMA ("Hasher-Matcher-Actioner") routes, so that an HMA client switches to takedown by
 * changing its base URL. Shapes follow HMA: banks carry matching_enabled_ratio, signals are
 * keyed by python-threatexchange type names ("pdq", "video_md5"), lookup answers are keyed by
 * bank name with string distances. An HMA "bank content" is one takedown signal here. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "server/fetch.h"
#include "server/serialize.h"
#include "server/handlers_hma.h"
#include "server/server_int.h"

void td__h_hma_status(td__req *r)
{
    td_service *svc = atomic_load(&r->srv->svc);
    if (svc && atomic_load(&r->srv->ready) && td_service_ready(svc)) {
        static const char ok[] = "I-AM-ALIVE";
        td__reply_text(r, 200, "text/plain", ok, sizeof ok - 1);
        return;
    }
    static const char no[] = "INDEX-NOT-LOADED";
    td__reply_text(r, 503, "text/plain", no, sizeof no - 1);
}
