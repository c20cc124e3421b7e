// C++ operator new and delete in every form (libhakmem.so and libhakmem.a;
// libhakmem_api.a leaves this file out): plain, array, nothrow, aligned
// (std::align_val_t) and sized.
//
//   new       malloc's path (aligned: memalign's); on failure the new handler
//             is called and the allocation tried again while there is one,
//             then std::bad_alloc is thrown (nothrow forms: NULL, also when
//             the handler throws).  An alignment that is not a power of two
//             fails as in libstdc++.
//   delete    free's path; the sized forms check the size against the block
//             (hak_free_checked: a size the block cannot have aborts with one
//             line, "hakmem: operator delete(): size ... does not match ...").
//
// Only this file needs libstdc++ (std::bad_alloc, the new handler), and
// nothing in the core calls into it: hakmem's own allocations never reach
// C++.  One object: a static link that takes one operator from libhakmem.a
// takes all of them (and, through hak_op_new, the archive's malloc), so no
// operator of libstdc++.a is linked next to them.
#include <new>
#include <cstddef>
#include "hakmem_sized.h"

#define EXPORT __attribute__((visibility("default")))

namespace {

// A failed allocation (align: 0, or a power of two): the new handler while
// there is one, then std::bad_alloc.
__attribute__((noinline, cold)) void *retry(std::size_t n, std::size_t align)
{
    for (;;) {
        std::new_handler h = std::get_new_handler();
        if (!h)
            throw std::bad_alloc();
        h();
        void *p = align ? hak_op_new_aligned(align, n) : hak_op_new(n);
        if (p)
            return p;
    }
}

// The same for the nothrow forms: NULL where the others throw.
__attribute__((noinline, cold)) void *retry_nothrow(std::size_t n, std::size_t align) noexcept
{
    for (;;) {
        std::new_handler h = std::get_new_handler();
        if (!h)
            return nullptr;
        try {
            h();
        } catch (...) {
            return nullptr;
        }
        void *p = align ? hak_op_new_aligned(align, n) : hak_op_new(n);
        if (p)
            return p;
    }
}

inline bool bad_align(std::size_t a) { return a == 0 || (a & (a - 1)) != 0; }

inline void *alloc(std::size_t n)
{
    void *p = hak_op_new(n);
    return __builtin_expect(p != nullptr, 1) ? p : retry(n, 0);
}

inline void *alloc_nothrow(std::size_t n) noexcept
{
    void *p = hak_op_new(n);
    return __builtin_expect(p != nullptr, 1) ? p : retry_nothrow(n, 0);
}

inline void *alloc_aligned(std::size_t n, std::align_val_t al)
{
    std::size_t a = static_cast<std::size_t>(al);
    if (__builtin_expect(bad_align(a), 0))
        throw std::bad_alloc();
    void *p = hak_op_new_aligned(a, n);
    return __builtin_expect(p != nullptr, 1) ? p : retry(n, a);
}

inline void *alloc_aligned_nothrow(std::size_t n, std::align_val_t al) noexcept
{
    std::size_t a = static_cast<std::size_t>(al);
    if (__builtin_expect(bad_align(a), 0))
        return nullptr;
    void *p = hak_op_new_aligned(a, n);
    return __builtin_expect(p != nullptr, 1) ? p : retry_nothrow(n, a);
}

}  // namespace

EXPORT void *operator new(std::size_t n) { return alloc(n); }
EXPORT void *operator new[](std::size_t n) { return alloc(n); }
EXPORT void *operator new(std::size_t n, const std::nothrow_t &) noexcept { return alloc_nothrow(n); }
EXPORT void *operator new[](std::size_t n, const std::nothrow_t &) noexcept { return alloc_nothrow(n); }
EXPORT void *operator new(std::size_t n, std::align_val_t a) { return alloc_aligned(n, a); }
EXPORT void *operator new[](std::size_t n, std::align_val_t a) { return alloc_aligned(n, a); }
EXPORT void *operator new(std::size_t n, std::align_val_t a, const std::nothrow_t &) noexcept
{
    return alloc_aligned_nothrow(n, a);
}
EXPORT void *operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t &) noexcept
{
    return alloc_aligned_nothrow(n, a);
}

EXPORT void operator delete(void *p) noexcept { hak_op_delete(p); }
EXPORT void operator delete[](void *p) noexcept { hak_op_delete(p); }
EXPORT void operator delete(void *p, const std::nothrow_t &) noexcept { hak_op_delete(p); }
EXPORT void operator delete[](void *p, const std::nothrow_t &) noexcept { hak_op_delete(p); }
EXPORT void operator delete(void *p, std::align_val_t) noexcept { hak_op_delete(p); }
EXPORT void operator delete[](void *p, std::align_val_t) noexcept { hak_op_delete(p); }
EXPORT void operator delete(void *p, std::align_val_t, const std::nothrow_t &) noexcept { hak_op_delete(p); }
EXPORT void operator delete[](void *p, std::align_val_t, const std::nothrow_t &) noexcept { hak_op_delete(p); }

EXPORT void operator delete(void *p, std::size_t n) noexcept { hak_free_checked(p, n, 0, 0, "operator delete()"); }
EXPORT void operator delete[](void *p, std::size_t n) noexcept { hak_free_checked(p, n, 0, 0, "operator delete[]()"); }
EXPORT void operator delete(void *p, std::size_t n, std::align_val_t a) noexcept
{
    hak_free_checked(p, n, static_cast<std::size_t>(a), 0, "operator delete()");
}
EXPORT void operator delete[](void *p, std::size_t n, std::align_val_t a) noexcept
{
    hak_free_checked(p, n, static_cast<std::size_t>(a), 0, "operator delete[]()");
}
