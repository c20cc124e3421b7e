// C++ through hakmem's operator new and delete (core/hakmem_new.cc), one
// subtest per argument (none: all but the bad_* ones):
//   basic            new/delete, new[], aligned new, STL containers in threads,
//                    an impossible new throws std::bad_alloc
//   route            (preload) every operator new/delete resolves into libhakmem.so
//   forms            each of the 20 operators (plain, array, nothrow, aligned,
//                    aligned nothrow; delete also sized and sized aligned) and
//                    new-expressions whose delete is sized (array cookies,
//                    over-aligned types): alignment, usable size, contents
//   sized_boundaries sized delete (plain, array, aligned) of the smallest and
//                    largest size of every class and of Large sizes passes
//   bad_alloc        impossible sizes and alignments that are not powers of two
//                    throw std::bad_alloc; the nothrow forms return NULL
//   new_handler      a handler is called on each failure until it uninstalls
//                    itself (then bad_alloc) or throws (that exception comes
//                    out); nothrow forms call it too and return NULL
//   new_handler_retry a handler that makes memory available (raises
//                    RLIMIT_AS): the retried new returns a block
//   bad_delete_*     a sized delete whose size cannot be the block's aborts
//                    (child process) with exactly the line computed beforehand
// Run under LD_PRELOAD=build/libhakmem.so (test_cxx) or linked with
// libhakmem.a, statically (test_cxx_static: g++ -static; and
// test_cxx_static_libstdcxx: -static-libstdc++), HAKTEST_STATIC defined.
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <cstdarg>
#include <new>
#include <map>
#include <string>
#include <vector>
#include <memory>
#include <thread>
#include <unordered_map>
#include <atomic>
#include <malloc.h>
#include <signal.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "child.h"
#ifndef HAKTEST_STATIC
#include <dlfcn.h>
#endif

extern "C" void *hak_malloc(size_t) __attribute__((weak));   // set when hakmem is the allocator

static std::atomic<int> failures;
#define CHECK(c) do { if (!(c)) { std::fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); failures++; } } while (0)
#define CHECKF(c, ...) do { if (!(c)) { std::fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #c); \
        std::fprintf(stderr, __VA_ARGS__); std::fputc('\n', stderr); failures++; } } while (0)

struct Obj { uint64_t a[5]; Obj() { for (int i = 0; i < 5; i++) a[i] = (uintptr_t)this + i; } ~Obj() { for (int i = 0; i < 5; i++) if (a[i] != (uintptr_t)this + i) failures++; } };
struct alignas(256) Big { char c[300]; };
struct alignas(128) BigD { char c[200]; ~BigD() { c[0] = 0; } };   // a cookie: sized aligned delete[]

static volatile size_t huge_v = SIZE_MAX / 2;
static volatile void *sink;

static void test_basic()
{
    // plain objects and arrays
    std::vector<Obj *> objs;
    for (int i = 0; i < 10000; i++) objs.push_back(new Obj);
    for (Obj *o : objs) delete o;
    for (int i = 0; i < 1000; i++) {
        Obj *arr = new Obj[i % 50 + 1];
        delete[] arr;
        char *c = new char[i * 97 + 1];
        std::memset(c, 'x', i * 97 + 1);
        delete[] c;
    }
    // over-aligned new (operator new(size_t, align_val_t) -> aligned_alloc)
    for (int i = 0; i < 1000; i++) {
        Big *b = new Big;
        CHECK(((uintptr_t)b & 255) == 0);
        std::memset(b->c, 1, sizeof b->c);
        delete b;
        Big *bs = new Big[i % 7 + 1];
        CHECK(((uintptr_t)bs & 255) == 0);
        delete[] bs;
    }
    // STL across threads
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; t++)
        ts.emplace_back([t] {
            std::map<std::string, std::vector<int>> m;
            std::unordered_map<int, std::string> u;
            for (int i = 0; i < 20000; i++) {
                m[std::to_string(i * 31 + t)].push_back(i);
                u[i] = std::string(i % 300, (char)('a' + i % 26));
            }
            long sum = 0;
            for (auto &kv : m) sum += kv.second[0];
            for (auto &kv : u) sum += kv.second.size();
            if (sum <= 0) failures++;
        });
    for (auto &t : ts) t.join();
    // an impossible new throws std::bad_alloc
    volatile size_t huge = SIZE_MAX / 2;
    bool threw = false;
    try {
        void *p = ::operator new(huge);
        ::operator delete(p);
    } catch (const std::bad_alloc &) { threw = true; }
    CHECK(threw);
    threw = false;
    try {
        volatile size_t n = (size_t)1 << 50;
        char *p = new char[n];
        delete[] p;
    } catch (const std::bad_alloc &) { threw = true; }
    CHECK(threw);
    threw = false;
    try {
        void *p = ::operator new(huge, std::align_val_t(64));
        ::operator delete(p, std::align_val_t(64));
    } catch (const std::bad_alloc &) { threw = true; }
    CHECK(threw);
    // nothrow new returns nullptr
    char *np = new (std::nothrow) char[(size_t)huge];
    CHECK(np == nullptr);
    delete[] np;
    // still works afterwards
    std::unique_ptr<std::string> s(new std::string(100000, 'z'));
    CHECK(s->size() == 100000);
}

#ifndef HAKTEST_STATIC
static void test_route()
{
    static const char *ops[] = {
        "_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t", "_ZnwmSt11align_val_t",
        "_ZnamSt11align_val_t", "_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t",
        "_ZdlPv", "_ZdaPv", "_ZdlPvm", "_ZdaPvm", "_ZdlPvRKSt9nothrow_t", "_ZdaPvRKSt9nothrow_t",
        "_ZdlPvSt11align_val_t", "_ZdaPvSt11align_val_t", "_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t",
        "_ZdlPvSt11align_val_tRKSt9nothrow_t", "_ZdaPvSt11align_val_tRKSt9nothrow_t" };
    for (const char *op : ops) {
        void *f = dlsym(RTLD_DEFAULT, op);
        Dl_info info;
        CHECKF(f && dladdr(f, &info) && info.dli_fname && std::strstr(info.dli_fname, "libhakmem"),
               "%s resolves to %s", op, f && dladdr(f, &info) && info.dli_fname ? info.dli_fname : "nothing");
    }
}
#endif

static bool aligned(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

// a block of n bytes from one of the operators: aligned, hakmem's, writable
static void use(void *p, size_t n, size_t align, const char *what)
{
    CHECKF(p != nullptr, "%s(%zu, align %zu)", what, n, align);
    if (!p)
        return;
    CHECKF(aligned(p, align < 16 ? (align ? align : 16) : align), "%s(%zu, align %zu) = %p", what, n, align, p);
    CHECKF(malloc_usable_size(p) >= n, "%s(%zu): usable %zu", what, n, malloc_usable_size(p));
    std::memset(p, 0x5a, n);
}

static void test_forms()
{
    size_t sizes[] = { 0, 1, 16, 17, 100, 1024, 1025, 5000, 65536, 262144, 262145, 1 << 20 };
    for (size_t n : sizes) {
        void *p;
        p = ::operator new(n); use(p, n, 0, "new"); ::operator delete(p);
        p = ::operator new[](n); use(p, n, 0, "new[]"); ::operator delete[](p);
        p = ::operator new(n); use(p, n, 0, "new"); ::operator delete(p, n);
        p = ::operator new[](n); use(p, n, 0, "new[]"); ::operator delete[](p, n);
        p = ::operator new(n, std::nothrow); use(p, n, 0, "new nothrow"); ::operator delete(p, std::nothrow);
        p = ::operator new[](n, std::nothrow); use(p, n, 0, "new[] nothrow"); ::operator delete[](p, std::nothrow);
        for (size_t a = 1; a <= (1 << 20); a <<= 1) {
            std::align_val_t al = std::align_val_t(a);
            p = ::operator new(n, al); use(p, n, a, "new aligned"); ::operator delete(p, al);
            p = ::operator new[](n, al); use(p, n, a, "new[] aligned"); ::operator delete[](p, al);
            p = ::operator new(n, al); use(p, n, a, "new aligned"); ::operator delete(p, n, al);
            p = ::operator new[](n, al); use(p, n, a, "new[] aligned"); ::operator delete[](p, n, al);
            p = ::operator new(n, al, std::nothrow); use(p, n, a, "new aligned nothrow");
            ::operator delete(p, al, std::nothrow);
            p = ::operator new[](n, al, std::nothrow); use(p, n, a, "new[] aligned nothrow");
            ::operator delete[](p, al, std::nothrow);
        }
    }
    // NULL to every delete
    ::operator delete(nullptr); ::operator delete[](nullptr); ::operator delete(nullptr, 16);
    ::operator delete[](nullptr, 16); ::operator delete(nullptr, std::nothrow); ::operator delete[](nullptr, std::nothrow);
    ::operator delete(nullptr, std::align_val_t(64)); ::operator delete[](nullptr, std::align_val_t(64));
    ::operator delete(nullptr, 16, std::align_val_t(64)); ::operator delete[](nullptr, 16, std::align_val_t(64));
    ::operator delete(nullptr, std::align_val_t(64), std::nothrow);
    ::operator delete[](nullptr, std::align_val_t(64), std::nothrow);
    // new-expressions: sized delete of objects, sized delete[] with a cookie,
    // aligned sized delete[] of an over-aligned type with a destructor
    for (int i = 1; i < 300; i++) {
        Obj *o = new Obj;
        delete o;
        Obj *arr = new Obj[i];
        delete[] arr;
        BigD *b = new BigD[i % 9 + 1];
        CHECK(aligned(b, 128));
        delete[] b;
        Big *g = new Big;
        CHECK(aligned(g, 256));
        delete g;
        std::string *s = new std::string((size_t)i * 37, 'q');
        delete s;
    }
}

// the class sizes: 16-byte steps to 128, then four per power of two to 256 KiB
static std::vector<size_t> boundary_sizes()
{
    std::vector<size_t> cls, v{0};
    for (size_t c = 16; c <= 128; c += 16) cls.push_back(c);
    for (size_t b = 128; b < 262144; b *= 2)
        for (size_t k = 5; k <= 8; k++) cls.push_back(b * k / 4);
    CHECK(cls.size() == 52);
    size_t prev = 0;
    for (size_t c : cls) {
        v.push_back(prev + 1);
        v.push_back(c);
        prev = c;
    }
    for (size_t n : { (size_t)262145, (size_t)300000, (size_t)1 << 20, ((size_t)8 << 20) + 1 }) v.push_back(n);
    return v;
}

static void test_sized_boundaries()
{
    for (size_t n : boundary_sizes()) {
        void *p = ::operator new(n);
        ::operator delete(p, n);
        p = ::operator new[](n);
        ::operator delete[](p, n);
        for (size_t a = 1; a <= (1 << 20); a <<= 1) {
            std::align_val_t al = std::align_val_t(a);
            p = ::operator new(n, al);
            CHECK(aligned(p, a));
            ::operator delete(p, n, al);
            p = ::operator new[](n, al, std::nothrow);
            CHECK(p && aligned(p, a));
            ::operator delete[](p, n, al);
        }
    }
}

template <class F> static bool throws_bad_alloc(F f)
{
    try {
        f();
    } catch (const std::bad_alloc &) {
        return true;
    }
    return false;
}

static void test_bad_alloc()
{
    CHECK(throws_bad_alloc([] { sink = ::operator new(huge_v); }));
    CHECK(throws_bad_alloc([] { sink = ::operator new[](huge_v); }));
    CHECK(throws_bad_alloc([] { sink = ::operator new(huge_v, std::align_val_t(64)); }));
    CHECK(throws_bad_alloc([] { sink = ::operator new[](huge_v, std::align_val_t(4096)); }));
    CHECK(throws_bad_alloc([] { volatile size_t n = (size_t)1 << 50; sink = new char[n]; }));
    CHECK(throws_bad_alloc([] { sink = ::operator new(64, std::align_val_t(48)); }));   // not a power of two
    CHECK(throws_bad_alloc([] { sink = ::operator new[](64, std::align_val_t(0)); }));
    CHECK(::operator new(huge_v, std::nothrow) == nullptr);
    CHECK(::operator new[](huge_v, std::nothrow) == nullptr);
    CHECK(::operator new(huge_v, std::align_val_t(64), std::nothrow) == nullptr);
    CHECK(::operator new[](huge_v, std::align_val_t(64), std::nothrow) == nullptr);
    CHECK(::operator new(64, std::align_val_t(48), std::nothrow) == nullptr);
    CHECK(new (std::nothrow) char[(size_t)huge_v] == nullptr);
    // still works afterwards
    std::unique_ptr<std::string> s(new std::string(100000, 'z'));
    CHECK(s->size() == 100000);
}

static int handler_calls, handler_limit;
struct Custom {};
static void handler_uninstall()   // gives up after handler_limit calls
{
    if (++handler_calls == handler_limit)
        std::set_new_handler(nullptr);
}
static void handler_throw_custom()
{
    if (++handler_calls == handler_limit)
        throw Custom();
}
static void handler_throw_bad_alloc()
{
    if (++handler_calls == handler_limit)
        throw std::bad_alloc();
}

static void test_new_handler()
{
    // each throwing form: the handler until it uninstalls itself, then bad_alloc
    for (int form = 0; form < 4; form++) {
        handler_calls = 0;
        handler_limit = 3;
        std::set_new_handler(handler_uninstall);
        bool threw = throws_bad_alloc([form] {
            switch (form) {
            case 0: sink = ::operator new(huge_v); break;
            case 1: sink = ::operator new[](huge_v); break;
            case 2: sink = ::operator new(huge_v, std::align_val_t(128)); break;
            default: sink = ::operator new[](huge_v, std::align_val_t(1 << 16)); break;
            }
        });
        CHECKF(threw && handler_calls == 3, "form %d: threw %d, handler called %d times", form, threw, handler_calls);
        CHECK(std::get_new_handler() == nullptr);
    }
    // a handler that throws: its exception comes out of new
    handler_calls = 0;
    handler_limit = 2;
    std::set_new_handler(handler_throw_custom);
    bool custom = false;
    try {
        sink = ::operator new(huge_v);
    } catch (const Custom &) {
        custom = true;
    }
    CHECKF(custom && handler_calls == 2, "custom %d, handler called %d times", custom, handler_calls);
    // nothrow forms call the handler too: NULL once it throws bad_alloc or is gone
    handler_calls = 0;
    handler_limit = 2;
    std::set_new_handler(handler_throw_bad_alloc);
    CHECK(::operator new(huge_v, std::nothrow) == nullptr);
    CHECKF(handler_calls == 2, "nothrow: handler called %d times", handler_calls);
    handler_calls = 0;
    CHECK(::operator new[](huge_v, std::align_val_t(256), std::nothrow) == nullptr);
    CHECKF(handler_calls == 2, "aligned nothrow: handler called %d times", handler_calls);
    handler_calls = 0;
    handler_limit = 4;
    std::set_new_handler(handler_uninstall);
    CHECK(::operator new[](huge_v, std::nothrow) == nullptr);
    CHECKF(handler_calls == 4, "nothrow, uninstalled: handler called %d times", handler_calls);
    // no handler: nothing called, bad_alloc
    handler_calls = 0;
    std::set_new_handler(nullptr);
    CHECK(throws_bad_alloc([] { sink = ::operator new(huge_v); }));
    CHECK(handler_calls == 0);
    // a block of a possible size is unaffected by a handler
    std::set_new_handler(handler_uninstall);
    void *p = ::operator new(1000);
    CHECK(p != nullptr && handler_calls == 0);
    ::operator delete(p, 1000);
    std::set_new_handler(nullptr);
}

// The handler makes memory available: the allocation is retried and succeeds.
static struct rlimit saved_as;
static void handler_raise_limit()
{
    handler_calls++;
    setrlimit(RLIMIT_AS, &saved_as);
}

static size_t vm_size()
{
    FILE *f = std::fopen("/proc/self/status", "r");
    char line[256];
    size_t kb = 0;
    while (f && std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "VmSize: %zu kB", &kb) == 1)
            break;
    if (f)
        std::fclose(f);
    return kb << 10;
}

static void test_new_handler_retry()
{
    const size_t n = (size_t)512 << 20;
    CHECK(getrlimit(RLIMIT_AS, &saved_as) == 0);
    for (int aligned_form = 0; aligned_form < 2; aligned_form++) {
        struct rlimit lim = saved_as;
        lim.rlim_cur = vm_size() + ((size_t)64 << 20);
        if (saved_as.rlim_cur != RLIM_INFINITY && saved_as.rlim_cur < lim.rlim_cur)
            lim.rlim_cur = saved_as.rlim_cur;
        CHECK(setrlimit(RLIMIT_AS, &lim) == 0);
        handler_calls = 0;
        std::set_new_handler(handler_raise_limit);
        void *p = nullptr;
        try {
            p = aligned_form ? ::operator new(n, std::align_val_t(1 << 21)) : ::operator new(n);
        } catch (const std::bad_alloc &) {
            CHECKF(false, "bad_alloc although the handler raised the limit");
        }
        std::set_new_handler(nullptr);
        setrlimit(RLIMIT_AS, &saved_as);
        CHECKF(p != nullptr && handler_calls >= 1, "form %d: %p, handler called %d times", aligned_form, p, handler_calls);
        if (p) {
            CHECK(!aligned_form || aligned(p, 1 << 21));
            ((char *)p)[0] = 1;
            ((char *)p)[n - 1] = 1;
            if (aligned_form)
                ::operator delete(p, n, std::align_val_t(1 << 21));
            else
                ::operator delete(p, n);
        }
    }
}

// ---- bad sized deletes: a child per case ----

static void expect_size(const char *call, const void *p, size_t n, size_t align, bool large)
{
    char al[64] = "";
    if (align)
        std::snprintf(al, sizeof al, ", alignment %zu", align);
    t_expect("hakmem: %s: size %zu%s does not match the block at %p (%s %zu %s)\n", call, n, al, p,
           large ? "a Large block of" : "class of", malloc_usable_size((void *)p), large ? "usable bytes" : "bytes");
}

struct Base { long a; ~Base() { sink = this; } };        // no virtual destructor
struct Derived : Base { char more[200]; };

static void bad_case(const char *name)
{
    void *p;
    if (!std::strcmp(name, "bad_delete_tiny")) {
        p = ::operator new(32);
        expect_size("operator delete()", p, 48, 0, false);
        ::operator delete(p, 48);
    } else if (!std::strcmp(name, "bad_delete_near")) {   // free_sized would take 48 (realloc), delete does not
        p = ::operator new(64);
        expect_size("operator delete()", p, 48, 0, false);
        ::operator delete(p, 48);
    } else if (!std::strcmp(name, "bad_delete_array")) {
        p = ::operator new[](100);
        expect_size("operator delete[]()", p, 200, 0, false);
        ::operator delete[](p, 200);
    } else if (!std::strcmp(name, "bad_delete_mid")) {
        p = ::operator new(20000);
        expect_size("operator delete()", p, 30000, 0, false);
        ::operator delete(p, 30000);
    } else if (!std::strcmp(name, "bad_delete_large")) {
        p = ::operator new(1 << 20);
        expect_size("operator delete()", p, 1000, 0, true);
        ::operator delete(p, 1000);
    } else if (!std::strcmp(name, "bad_delete_large_mid")) {   // a Mid size for a Large block
        p = ::operator new(1 << 20);
        expect_size("operator delete()", p, 100000, 0, true);
        ::operator delete(p, 100000);
    } else if (!std::strcmp(name, "bad_delete_aligned")) {   // (64, 100): class 128; (64, 200): 256
        p = ::operator new(100, std::align_val_t(64));
        expect_size("operator delete()", p, 200, 64, false);
        ::operator delete(p, 200, std::align_val_t(64));
    } else if (!std::strcmp(name, "bad_delete_aligned_array")) {   // Large; alignment 16 would be a class
        p = ::operator new[](100, std::align_val_t(1 << 20));
        expect_size("operator delete[]()", p, 100, 16, true);
        ::operator delete[](p, 100, std::align_val_t(16));
    } else if (!std::strcmp(name, "bad_delete_base")) {   // delete through a base without a virtual destructor
        Base *b = new Derived;
        sink = b;
        expect_size("operator delete()", b, sizeof(Base), 0, false);
        delete b;
    } else if (!std::strcmp(name, "bad_delete_double")) {
        p = ::operator new(64);
        ::operator delete(p);
        t_expect("hakmem: operator delete(): double free of %p (the block is already free)\n", p);
        ::operator delete(p, 64);
    } else {
        std::fprintf(stderr, "unknown case %s\n", name);
        _exit(92);
    }
    _exit(0);   // reached only when the bad delete was not detected
}

static void run_bad(const char *name)
{
    t_child_t c;
    t_run_child(bad_case, name, &c);
    CHECKF(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGABRT, "%s: %s %d, want SIGABRT", name,
           WIFSIGNALED(c.status) ? "signal" : "exit", WIFSIGNALED(c.status) ? WTERMSIG(c.status) : WEXITSTATUS(c.status));
    CHECKF(c.want[0] && !std::strcmp(c.out, c.want), "%s: stderr is not exactly the line %s", name, c.want);
    std::fprintf(stderr, "%s: child stderr: %s", name, c.out[0] ? c.out : "(empty)\n");
}

struct test { const char *name; void (*fn)(); };
static const struct test tests[] = {
    { "basic", test_basic },
#ifndef HAKTEST_STATIC
    { "route", test_route },
#endif
    { "forms", test_forms },
    { "sized_boundaries", test_sized_boundaries },
    { "bad_alloc", test_bad_alloc },
    { "new_handler", test_new_handler },
    { "new_handler_retry", test_new_handler_retry },
};

int main(int argc, char **argv)
{
    const char *req = std::getenv("HAKTEST_REQUIRE_HAKMEM");
    if (req && *req == '1' && !hak_malloc) {
        std::fprintf(stderr, "FAIL: hakmem not active\n");
        return 2;
    }
    const char *want = argc > 1 ? argv[1] : nullptr;
    int ran = 0;
    if (want && !std::strncmp(want, "bad_delete_", 11)) {
        run_bad(want);
        ran = 1;
    } else {
        for (const test &t : tests) {
            if (want && std::strcmp(want, t.name))
                continue;
            int before = failures;
            t.fn();
            ran++;
            std::fprintf(stderr, "  %s: %s\n", t.name, failures != before ? "FAILED" : "ok");
        }
    }
    if (!ran) {
        std::fprintf(stderr, "unknown subtest %s\n", want);
        return 2;
    }
    std::fprintf(stderr, "test_cxx: %s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
