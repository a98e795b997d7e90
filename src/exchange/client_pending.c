/* Placeholder clients until their modules land: every fetch fails as unsupported. */
#include "core/error.h"
#include "exchange/client.h"

static td_status none(td__xconn *x, const char *checkpoint, td__xpage *page, td_error *err)
{
    (void)checkpoint;
    (void)page;
    x->outcome = TD__XFETCH_FAILED;
    return td__error_set(err, TD_ERR_UNSUPPORTED, "this exchange type is not built in");
}

const td__xclient td__xclient_threatexchange = {"threatexchange", none, NULL, NULL};
const td__xclient td__xclient_tcap = {"tcap", none, NULL, NULL};
