/* Unit tests for bdi.c: finding a mount's device in /proc/self/mountinfo text, including
 * escaped mount points and a mount stacked over another. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bdi.h"

#include <errno.h>
#include <string.h>

static const char *const info =
    "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "40 22 0:39 / /mnt/q rw,nosuid,nodev shared:20 - fuse.qextfs qextfs rw,user_id=0\n"
    "41 22 0:40 / /mnt/with\\040space rw - fuse.qextfs qextfs rw\n"
    "42 22 0:41 / /mnt/back\\134slash rw - fuse.qextfs qextfs rw\n"
    "43 40 0:42 / /mnt/q rw - fuse.qextfs qextfs rw\n";

static void finds_the_last_mount_on_a_path(void **state)
{
    char dev[32];

    (void)state;
    assert_int_equal(bdi_find_device(info, "/mnt/q", dev, sizeof(dev)), 0);
    assert_string_equal(dev, "0:42");
    assert_int_equal(bdi_find_device(info, "/", dev, sizeof(dev)), 0);
    assert_string_equal(dev, "254:1");
}

static void decodes_escaped_mount_points(void **state)
{
    char dev[32];

    (void)state;
    assert_int_equal(bdi_find_device(info, "/mnt/with space", dev, sizeof(dev)), 0);
    assert_string_equal(dev, "0:40");
    assert_int_equal(bdi_find_device(info, "/mnt/back\\slash", dev, sizeof(dev)), 0);
    assert_string_equal(dev, "0:41");
    assert_int_equal(bdi_find_device(info, "/mnt/with\\040space", dev, sizeof(dev)), -ENOENT);
}

static void misses_and_garbage(void **state)
{
    char dev[4];

    (void)state;
    assert_int_equal(bdi_find_device(info, "/mnt", dev, sizeof(dev)), -ENOENT);
    assert_int_equal(bdi_find_device("", "/", dev, sizeof(dev)), -ENOENT);
    assert_int_equal(bdi_find_device("garbage\n\n  \nx y\n", "y", dev, sizeof(dev)), -ENOENT);
    /* a device that does not fit the buffer is not reported half */
    assert_int_equal(bdi_find_device("1 2 12345:678 / /m rw - x y z\n", "/m", dev, sizeof(dev)),
                     -ENOENT);
    /* no trailing newline */
    assert_int_equal(bdi_find_device("1 2 0:5 / /m rw - x y z", "/m", dev, sizeof(dev)), 0);
    assert_string_equal(dev, "0:5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(finds_the_last_mount_on_a_path),
        cmocka_unit_test(decodes_escaped_mount_points),
        cmocka_unit_test(misses_and_garbage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
