// C++ mismatch: scalar new freed with delete[].  delete[] reads an element
// count from the 8 bytes in front of the object (allocator metadata or a
// neighbour) and passes a pointer 8 bytes before the block to the allocator.
#include "catch.h"

struct Obj {
    long v;
    ~Obj() { v = 0; }
};

int main()
{
    Obj *o = new Obj;
    o->v = 42;
    delete[] o;
    for (int i = 0; i < 16; i++)
        delete new Obj;
    churn(sizeof(Obj), 1);
    not_caught();
}
