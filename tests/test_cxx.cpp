// C++ through the allocator: new/delete, new[]/delete[], aligned new, STL
// containers, and a failing new of an impossible size must throw
// std::bad_alloc (libstdc++'s operator new calls malloc, which must return
// NULL with ENOMEM).  Run under LD_PRELOAD=build/libhakmem.so.
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <new>
#include <map>
#include <string>
#include <vector>
#include <memory>
#include <thread>
#include <unordered_map>
#include <dlfcn.h>

#include <atomic>
static std::atomic<int> failures;
#define CHECK(c) do { if (!(c)) { std::fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); failures++; } } while (0)

struct Obj { uint64_t a[5]; Obj() { for (int i = 0; i < 5; i++) a[i] = (uintptr_t)this + i; } ~Obj() { for (int i = 0; i < 5; i++) if (a[i] != (uintptr_t)this + i) failures++; } };
struct alignas(256) Big { char c[300]; };

int main()
{
    const char *req = std::getenv("HAKTEST_REQUIRE_HAKMEM");
    if (req && *req == '1' && !dlsym(RTLD_DEFAULT, "hak_malloc")) {
        std::fprintf(stderr, "FAIL: hakmem not active\n");
        return 2;
    }
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
    std::fprintf(stderr, "test_cxx: %s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
