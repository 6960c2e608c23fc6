#include <ffi.h>

/* libffi's ffi_type_* are mutable C globals, which Swift 6 will not touch from nonisolated code;
 * these accessors hand out their addresses. */
static inline ffi_type *lathe_ffi_pointer(void) { return &ffi_type_pointer; }
static inline ffi_type *lathe_ffi_sint32(void) { return &ffi_type_sint32; }
static inline ffi_type *lathe_ffi_sint64(void) { return &ffi_type_sint64; }
static inline ffi_type *lathe_ffi_float(void) { return &ffi_type_float; }
static inline ffi_type *lathe_ffi_double(void) { return &ffi_type_double; }
static inline ffi_type *lathe_ffi_uint8(void) { return &ffi_type_uint8; }
