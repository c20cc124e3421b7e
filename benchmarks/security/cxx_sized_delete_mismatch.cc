// C++ mismatch: sized delete with the wrong size.  A Derived (4 KiB and a
// bit) is deleted through a Base pointer without a virtual destructor, so
// the compiler calls operator delete(void *, sizeof(Base)) = 8 bytes.
#include "catch.h"

struct Base {
    long tag;
    ~Base() {}
};
struct Derived : Base {
    char payload[4096];
};

int main()
{
    Base *b = new Derived;
    b->tag = 1;
    delete b;
    for (int i = 0; i < 16; i++)
        delete new Derived;
    churn(sizeof(Derived), 1);
    not_caught();
}
