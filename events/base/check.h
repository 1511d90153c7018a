#pragma once
// Invariant checks for programmer errors, never for input.
// AE_CHECK logs and aborts in every build; AE_DCHECK only in debug builds.

#include <cstdio>
#include <cstdlib>

#define AE_CHECK(cond)                                                            \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                               \
    }                                                                             \
  } while (0)

#ifdef NDEBUG
#define AE_DCHECK(cond) \
  do {                  \
  } while (0)
#else
#define AE_DCHECK(cond) AE_CHECK(cond)
#endif
