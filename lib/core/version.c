/* Run-time version queries and the header/library compatibility check. */
#include "internal/alae_internal.h"

ALAE_API uint32_t alae_version_number(void) { return ALAE_VERSION_NUMBER; }

ALAE_API const char *alae_version_string(void) { return ALAE_VERSION_STRING; }

ALAE_API alae_status alae_check_version(uint32_t header_version_number) {
    alaei_clear_error();
    uint32_t major = header_version_number / 10000, minor = header_version_number / 100 % 100;
    uint32_t ours = ALAE_VERSION_NUMBER;
    /* In 0.x every minor is its own ABI; from 1.0 the major alone decides. A program built
     * against newer headers than the library may call functions the library lacks. */
    int same_abi = major == ALAE_VERSION_MAJOR && (major != 0 || minor == ALAE_VERSION_MINOR);
    if (!same_abi || header_version_number > ours)
        return alaei_fail(ALAE_E_VERSION, __func__,
                          "headers of version %u.%u.%u need a compatible library, but %s is loaded",
                          major, minor, header_version_number % 100, ALAE_VERSION_STRING);
    return ALAE_OK;
}
