/* Helpers shared by the test programs. */
#include "support.h"
#include "store_url.h"
#include "takedown/casework.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static char *next_slot(void)
{
    static char slots[8][4096];
    static int next;
    char *slot = slots[next];
    next = (next + 1) % 8;
    return slot;
}

const char *conf_path(const char *relative)
{
    char *slot = next_slot();
    snprintf(slot, 4096, "%s/%s", TD_CONFORMANCE_DIR, relative);
    return slot;
}

uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    if (fread(buf, 1, (size_t)size, f) != (size_t)size)
        fail_msg("cannot read %s", path);
    fclose(f);
    *len = (size_t)size;
    return buf;
}

const char *temp_path(const char *name)
{
    const char *dir = getenv("TD_TMPDIR");
    char *slot = next_slot();
    snprintf(slot, 4096, "%s/%s", dir ? dir : "/tmp", name);
    return slot;
}

const char *write_temp(const char *name, const void *data, size_t len)
{
    const char *slot = temp_path(name);
    FILE *f = fopen(slot, "wb");
    if (!f)
        fail_msg("cannot create %s", slot);
    if (len && fwrite(data, 1, len, f) != len)
        fail_msg("cannot write %s", slot);
    fclose(f);
    return slot;
}

int run_capture(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    size_t used = 0;
    if (!p)
        return -1;
    for (;;) {
        size_t n = fread(out + used, 1, cap - 1 - used, p);
        used += n;
        if (n == 0 || used >= cap - 1)
            break;
    }
    out[used] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

uint64_t test_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

const char *test_fresh_dir(const char *prefix)
{
    static char dir[4096];
    snprintf(dir, sizeof dir, "%s", temp_path(prefix));
    assert_non_null(mkdtemp(dir));
    return dir;
}

td_service *test_open_service(const char *dir)
{
    td_service_options o;
    td_service *svc = NULL;
    td_error err;
    td_service_options_default(&o);
    o.webhook_worker = 0;
    o.follow_interval_ms = 0;
    o.store_url = td_test_store_url(dir);
    if (td_service_open(dir, &o, &svc, &err))
        fail_msg("open: %s", err.message);
    return svc;
}
