/* Unit tests for crc.c: the folded CRC-32 must equal zlib's crc32_z for every length,
 * alignment and starting value, including the lengths where it hands a tail to zlib. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "crc.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define BUF_LEN (1 << 20)

/* A fixed pseudo-random fill, so a failure names the same bytes every run. */
static unsigned char *random_bytes(size_t n, uint32_t seed)
{
    unsigned char *b = malloc(n);
    uint64_t x = 0x9e3779b97f4a7c15ull ^ seed;

    assert_non_null(b);
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b[i] = (unsigned char)x;
    }
    return b;
}

static void known_answers(void **state)
{
    (void)state;
    assert_int_equal(crc_update(0, "", 0), 0);
    assert_int_equal(crc_update(0, "123456789", 9), 0xcbf43926u);
    /* 64 bytes and more take the folding path. */
    unsigned char zeros[4096] = {0};
    assert_int_equal(crc_update(0, zeros, sizeof(zeros)),
                     (uint32_t)crc32_z(0, zeros, sizeof(zeros)));
}

static void every_length_and_alignment_matches_zlib(void **state)
{
    unsigned char *b = random_bytes(4096, 1);

    (void)state;
    for (size_t off = 0; off < 16; off++) {
        for (size_t n = 0; n + off <= 1100; n++) {
            uint32_t want = (uint32_t)crc32_z(0, b + off, n);

            if (crc_update(0, b + off, n) != want)
                fail_msg("length %zu at offset %zu", n, off);
        }
    }
    free(b);
}

static void starting_values_carry_through(void **state)
{
    unsigned char *b = random_bytes(BUF_LEN, 2);
    const uint32_t seeds[] = {0, 1, 0xffffffffu, 0x80000000u, 0xdeadbeefu};

    (void)state;
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        for (size_t n = 64; n <= BUF_LEN; n = n * 3 + 5)
            assert_int_equal(crc_update(seeds[i], b, n), (uint32_t)crc32_z(seeds[i], b, n));
    }
    free(b);
}

/* Chaining pieces of any sizes gives the CRC of the whole, as the download path feeds it. */
static void pieces_chain_to_the_whole(void **state)
{
    unsigned char *b = random_bytes(BUF_LEN, 3);
    const size_t steps[] = {1, 15, 16, 17, 63, 64, 65, 1000, 65536, 100003};
    uint32_t whole = (uint32_t)crc32_z(0, b, BUF_LEN);

    (void)state;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        uint32_t c = 0;

        for (size_t at = 0; at < BUF_LEN; at += steps[i]) {
            size_t k = BUF_LEN - at < steps[i] ? BUF_LEN - at : steps[i];

            c = crc_update(c, b + at, k);
        }
        assert_int_equal(c, whole);
    }
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_answers),
        cmocka_unit_test(every_length_and_alignment_matches_zlib),
        cmocka_unit_test(starting_values_carry_through),
        cmocka_unit_test(pieces_chain_to_the_whole),
    };

    print_message("crc: carry-less multiply %s\n", crc_accelerated() ? "in use" : "not available");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
