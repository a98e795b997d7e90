/* The audit log's signing key file (see key.c). */
#ifndef TD_AUDIT_KEY_H
#define TD_AUDIT_KEY_H

#include <stdint.h>

#include "takedown/status.h"

#define TD__AUDIT_KEY_FILE "audit_log.key"

/* Reads dir/audit_log.key, creating it (mode 0600) when missing. sk (64 bytes, in guarded memory
 * supplied by the caller) and pk (32 bytes) receive the Ed25519 key pair. */
__attribute__((warn_unused_result)) td_status td__audit_key_load(const char *dir, uint8_t *sk,
                                                                 uint8_t pk[32], td_error *err);

/* The same for the key file dir/file (another key of the service, e.g. the evidence orders'
 * delivery key, src/eorders/eorders.c). */
__attribute__((warn_unused_result)) td_status
td__key_file_load(const char *dir, const char *file, uint8_t *sk, uint8_t pk[32], td_error *err);

#endif
