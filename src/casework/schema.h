/* The service's versioned schema migrations. */
#ifndef TD_CASEWORK_SCHEMA_H
#define TD_CASEWORK_SCHEMA_H

#include <stddef.h>

#include "takedown/store.h"

const td_store_migration *td__schema(size_t *count);

#endif
