/* libFuzzer harness: proof documents (`takedown audit check-proof`, the HTTP proof endpoints)
 * come from anyone. Any input must parse or fail with a status; what parses must format and
 * parse back to the same document, and verifying it must give an answer, never a crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "takedown/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    td_audit_doc doc, back;
    td_error err;
    static const uint8_t pub[TD_AUDIT_PUBKEY_LEN] = {
        0x5f, 0xa7, 0xb6, 0x5a, 0xb4, 0x69, 0xd9, 0xac, 0x24, 0x3e, 0x41,
        0xa3, 0xa0, 0x28, 0x1a, 0x49, 0xf9, 0x57, 0x2a, 0xed, 0x88, 0x54,
        0x4a, 0x30, 0x27, 0xc1, 0xf5, 0x74, 0x4f, 0x95, 0x66, 0xf0};
    if (td_audit_doc_parse((const char *)data, size, &doc, &err) != TD_OK) {
        if (doc.entry)
            abort(); /* a failed parse leaves nothing behind */
        return 0;
    }
    if (doc.proof.n_path > TD_AUDIT_MAX_PATH)
        abort();
    td_status v1 = td_audit_doc_verify(&doc, pub, &err);
    char *text;
    size_t len;
    if (td_audit_doc_format(&doc, &text, &len, &err) != TD_OK)
        abort();
    if (td_audit_doc_parse(text, len, &back, &err) != TD_OK)
        abort();
    if (back.type != doc.type || back.proof.n_path != doc.proof.n_path ||
        back.proof.index != doc.proof.index || back.proof.size != doc.proof.size ||
        memcmp(back.proof.path, doc.proof.path, doc.proof.n_path * TD_AUDIT_HASH_LEN) != 0 ||
        memcmp(&back.checkpoint, &doc.checkpoint, sizeof doc.checkpoint) != 0 ||
        back.entry_len != doc.entry_len ||
        (doc.entry && memcmp(back.entry, doc.entry, doc.entry_len) != 0))
        abort();
    /* Verification depends on the document only. */
    if (td_audit_doc_verify(&back, pub, &err) != v1)
        abort();
    td_free(text);
    td_audit_doc_clear(&back);
    td_audit_doc_clear(&doc);
    return 0;
}
