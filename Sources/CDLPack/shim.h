#include <dlpack/dlpack.h>
