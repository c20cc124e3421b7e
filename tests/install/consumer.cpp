// A C++ program built against an installed hakmem (tests/install.sh):
//   consumer_cxx shared LIBFILE   new goes to libhakmem.so (LIBFILE mapped)
//   consumer_cxx static           new goes to the linked-in libhakmem.a
#include <hakmem.h>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

static unsigned long long allocs()
{
    hak_public_stats_t s;
    hak_get_stats(&s);
    return s.allocs;
}

int main(int argc, char **argv)
{
    std::string mode = argc > 1 ? argv[1] : "";
    if (std::strcmp(hak_version(), HAKMEM_VERSION_STRING)) {
        std::printf("FAIL: hak_version() %s, header %s\n", hak_version(), HAKMEM_VERSION_STRING);
        return 1;
    }
    if (mode == "shared" && argc == 3) {
        std::ifstream maps("/proc/self/maps");
        std::string line;
        bool found = false;
        while (std::getline(maps, line))
            found = found || line.find(argv[2]) != std::string::npos;
        if (!found) {
            std::printf("FAIL: %s not in /proc/self/maps\n", argv[2]);
            return 1;
        }
    }
    const int n = 1000;
    unsigned long long before = allocs();
    std::vector<std::unique_ptr<std::string>> v;
    v.reserve(n);
    for (int i = 0; i < n; i++)
        v.emplace_back(new std::string(100 + i % 50, 'x'));
    unsigned long long counted = allocs() - before;
    if (counted < (unsigned long long)n) {
        std::printf("FAIL: %s: hakmem counted %llu of %d news\n", mode.c_str(), counted, n);
        return 1;
    }
    std::printf("ok %s: hakmem %s, %llu allocations for %d news\n", mode.c_str(), hak_version(), counted, n);
    return 0;
}
