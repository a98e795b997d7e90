/* The core's small things: the hex codec checked against snprintf("%02x") and sscanf on random
 * bytes, the capped growable buffer (growth, the cap, printf, take, reset), and the clocks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/hex.h"

/* A fixed-seed xorshift: the same "random" bytes on every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint8_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint8_t)(rng_state >> 24);
}

static void test_hex_round_trip(void **state)
{
    (void)state;
    for (size_t n = 0; n <= 300; n++) {
        uint8_t raw[300], back[300];
        char hex[601], want[601] = "";
        for (size_t i = 0; i < n; i++) {
            raw[i] = rnd();
            snprintf(want + 2 * i, 3, "%02x", raw[i]);
        }
        memset(hex, 'x', sizeof hex);
        td__hex_encode(raw, n, hex);
        assert_string_equal(hex, want);
        assert_int_equal(td__hex_decode(hex, 2 * n, back), 0);
        assert_memory_equal(back, raw, n);
        assert_int_equal(td__hex_decode_exact(hex, 2 * n, back, n), 0);
        assert_memory_equal(back, raw, n);
    }
    /* Every byte value. */
    for (int v = 0; v < 256; v++) {
        uint8_t b = (uint8_t)v, back;
        char hex[3], want[3];
        snprintf(want, sizeof want, "%02x", v);
        td__hex_encode(&b, 1, hex);
        assert_string_equal(hex, want);
        assert_int_equal(td__hex_decode(hex, 2, &back), 0);
        assert_int_equal(back, v);
    }
}

static void test_hex_upper_case(void **state)
{
    (void)state;
    for (int v = 0; v < 256; v++) {
        char up[3];
        uint8_t back;
        unsigned want;
        snprintf(up, sizeof up, "%02X", v);
        assert_int_equal(sscanf(up, "%2x", &want), 1);
        assert_int_equal(td__hex_decode(up, 2, &back), 0);
        assert_int_equal(back, want);
    }
    uint8_t out[4];
    assert_int_equal(td__hex_decode("DeadBEEF", 8, out), 0);
    assert_memory_equal(out, "\xde\xad\xbe\xef", 4);
}

static void test_hex_refused(void **state)
{
    (void)state;
    uint8_t out[32];
    assert_int_equal(td__hex_decode("abc", 3, out), -1); /* odd length */
    assert_int_equal(td__hex_decode("0g", 2, out), -1);  /* not a digit */
    assert_int_equal(td__hex_decode("g0", 2, out), -1);
    assert_int_equal(td__hex_decode("00 1", 4, out), -1);
    assert_int_equal(td__hex_decode("0x12", 4, out), -1);
    assert_int_equal(td__hex_decode("12\0"
                                    "3",
                                    4, out),
                     -1);                            /* an embedded NUL */
    assert_int_equal(td__hex_decode("", 0, out), 0); /* nothing is fine */
    /* Every character that is not a hex digit, in either position. */
    for (int c = 0; c < 256; c++) {
        int digit = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        char s[2] = {(char)c, '0'};
        assert_int_equal(td__hex_decode(s, 2, out), digit ? 0 : -1);
        s[0] = '0';
        s[1] = (char)c;
        assert_int_equal(td__hex_decode(s, 2, out), digit ? 0 : -1);
        assert_int_equal(td__hex_digit(c) >= 0, digit);
        if (digit) {
            char one[2] = {(char)c, 0};
            assert_int_equal(td__hex_digit(c), (int)strtol(one, NULL, 16));
        }
    }
    assert_int_equal(td__hex_digit(-1), -1);
    assert_int_equal(td__hex_digit(256), -1);
    /* The fixed-size form wants exactly 2n digits. */
    assert_int_equal(td__hex_decode_exact("0011", 4, out, 2), 0);
    assert_int_equal(td__hex_decode_exact("001122", 6, out, 2), -1);
    assert_int_equal(td__hex_decode_exact("00", 2, out, 2), -1);
    assert_int_equal(td__hex_decode_exact("001", 3, out, 2), -1);
    assert_int_equal(td__hex_decode_exact(NULL, 0, out, 0), -1);
}

static void test_buf_grows(void **state)
{
    (void)state;
    td__buf b;
    td__buf_init(&b, 1 << 20);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    char want[100001];
    for (size_t i = 0; i < 100000; i++) {
        char c = (char)('a' + i % 26);
        want[i] = c;
        assert_int_equal(td__buf_add(&b, &c, 1), TD_OK);
    }
    want[100000] = '\0';
    assert_int_equal(b.len, 100000);
    assert_string_equal(b.p, want); /* NUL-terminated */
    assert_true(b.alloc <= (1 << 20) + 1);
    td__buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.p, "");
    assert_int_equal(td__buf_addstr(&b, "abc"), TD_OK);
    assert_int_equal(td__buf_add(&b, "", 0), TD_OK);
    assert_int_equal(td__buf_printf(&b, "-%d-%s-%05.1f", 42, "x", 2.5), TD_OK);
    assert_string_equal(b.p, "abc-42-x-002.5");
    /* A formatted text longer than the room there is. */
    char big[5000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(td__buf_printf(&b, "[%s]", big), TD_OK);
    assert_int_equal(b.len, 14 + 5001);
    assert_int_equal(b.p[14], '[');
    assert_int_equal(b.p[b.len - 1], ']');
    assert_int_equal(b.p[b.len], '\0');
    size_t len = 0;
    char *taken = td__buf_take(&b, &len);
    assert_non_null(taken);
    assert_int_equal(len, 14 + 5001);
    assert_memory_equal(taken, "abc-42-x-002.5[qqq", 18);
    td__free(taken);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    assert_null(td__buf_take(&b, &len)); /* nothing added */
    assert_int_equal(len, 0);
    td__buf_free(&b);
    td__buf_free(&b); /* twice is fine */
}

static void test_buf_cap(void **state)
{
    (void)state;
    td__buf b;
    td__buf_init(&b, 10);
    assert_int_equal(td__buf_add(&b, "0123456789", 10), TD_OK); /* exactly the cap */
    assert_int_equal(td__buf_add(&b, "x", 1), TD_ERR_LIMIT);
    assert_int_equal(td__buf_addstr(&b, "x"), TD_ERR_LIMIT);
    assert_int_equal(td__buf_printf(&b, "%d", 7), TD_ERR_LIMIT);
    /* Unchanged by the failures. */
    assert_int_equal(b.len, 10);
    assert_string_equal(b.p, "0123456789");
    assert_true(b.alloc <= 11);
    td__buf_reset(&b);
    assert_int_equal(td__buf_printf(&b, "%s", "01234"), TD_OK);
    assert_int_equal(td__buf_printf(&b, "%s", "567890"), TD_ERR_LIMIT);
    assert_string_equal(b.p, "01234");
    assert_int_equal(td__buf_printf(&b, "%s", "56789"), TD_OK);
    assert_string_equal(b.p, "0123456789");
    td__buf_free(&b);

    /* A cap of 0 holds nothing; a huge size is refused without an allocation. */
    td__buf_init(&b, 0);
    assert_int_equal(td__buf_add(&b, "x", 1), TD_ERR_LIMIT);
    assert_int_equal(td__buf_add(&b, "", 0), TD_OK);
    td__buf_free(&b);
    td__buf_init(&b, 100);
    assert_int_equal(td__buf_add(&b, "x", 1), TD_OK);
    assert_int_equal(td__buf_add(&b, "x", SIZE_MAX), TD_ERR_LIMIT);
    td__buf_free(&b);
    /* The largest cap: its arithmetic (cap plus the NUL) does not overflow. */
    td__buf_init(&b, SIZE_MAX);
    assert_int_equal(td__buf_add(&b, "x", 1), TD_OK);
    td__buf_free(&b);
}

static int64_t fixed_clock(void *ctx) { return *(const int64_t *)ctx; }

static void test_clock(void **state)
{
    (void)state;
    /* The system clock agrees with time() (whole seconds, either side of a tick). */
    int64_t before = (int64_t)time(NULL) * 1000;
    int64_t now = td_clock_now(NULL);
    int64_t after = (int64_t)time(NULL) * 1000 + 1000;
    assert_true(now >= before && now <= after);
    td_clock sys = {NULL, NULL};
    int64_t t = td_clock_now(&sys);
    assert_true(t >= now && t <= after);
    assert_true(td__wall_ms() >= t);
    /* An injected clock is what the library reads. */
    int64_t at = 1700000000123;
    td_clock fake = {fixed_clock, &at};
    assert_int_equal(td_clock_now(&fake), 1700000000123);
    at += 5;
    assert_int_equal(td_clock_now(&fake), 1700000000128);
    /* The monotonic clock does not go back, and ns and ms agree. */
    int64_t m0 = td__monotonic_ms(), n0 = td__monotonic_ns(), m1 = td__monotonic_ms();
    assert_true(m1 >= m0);
    assert_true(n0 / 1000000 >= m0 && n0 / 1000000 <= m1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_round_trip), cmocka_unit_test(test_hex_upper_case),
        cmocka_unit_test(test_hex_refused),    cmocka_unit_test(test_buf_grows),
        cmocka_unit_test(test_buf_cap),        cmocka_unit_test(test_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
