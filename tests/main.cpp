// The Catch2 main for every minigpt test file (test_*.cpp).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
