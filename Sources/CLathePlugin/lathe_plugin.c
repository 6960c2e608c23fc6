/* The SDK is header-only; this file exists because a SwiftPM C target needs a source file.
 * It also checks at compile time that the header stands alone. */
#include "lathe_plugin.h"

_Static_assert(sizeof(lathe_head) == 8, "lathe_head is 8 bytes");
