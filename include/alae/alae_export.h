/* libalae: export and attribute macros. */
#ifndef ALAE_EXPORT_H
#define ALAE_EXPORT_H

/* ALAE_API marks every public function. Define ALAE_STATIC when linking the static library
 * (the CMake target alae_static and the pkg-config --static flags do this for you). */
#if defined(ALAE_STATIC)
#  define ALAE_API
#elif defined(_WIN32)
#  if defined(ALAE_BUILDING_LIBRARY)
#    define ALAE_API __declspec(dllexport)
#  else
#    define ALAE_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define ALAE_API __attribute__((visibility("default")))
#else
#  define ALAE_API
#endif

#if defined(ALAE_DISABLE_DEPRECATION_WARNINGS)
#  define ALAE_DEPRECATED(msg)
#elif defined(__GNUC__) || defined(__clang__)
#  define ALAE_DEPRECATED(msg) __attribute__((deprecated(msg)))
#elif defined(_MSC_VER)
#  define ALAE_DEPRECATED(msg) __declspec(deprecated(msg))
#else
#  define ALAE_DEPRECATED(msg)
#endif

#if defined(__GNUC__) || defined(__clang__)
#  define ALAE_NODISCARD __attribute__((warn_unused_result))
#else
#  define ALAE_NODISCARD
#endif

#endif /* ALAE_EXPORT_H */
