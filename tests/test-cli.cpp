#include <gtest/gtest.h>
TEST(cli, placeholder_replaced_below) { }
