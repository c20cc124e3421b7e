// C++ mismatch: new[] freed with scalar delete.  The element type has a
// destructor, so new[] stores an element count in front of the array and
// scalar delete hands the allocator a pointer 8 bytes into its block.
#include "catch.h"

struct Obj {
    long v;
    ~Obj() { v = 0; }
};

int main()
{
    Obj *a = new Obj[16];
    delete a;
    for (int i = 0; i < 16; i++)
        delete[] new Obj[16];
    churn(16 * sizeof(Obj) + 8, 1);
    not_caught();
}
