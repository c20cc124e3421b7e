// C++ mismatch: memory from operator new released with free().
#include "catch.h"

struct Obj {
    long v[8];
};

int main()
{
    Obj *o = new Obj;
    o->v[0] = 1;
    free(o);
    for (int i = 0; i < 16; i++)
        delete new Obj;
    churn(sizeof(Obj), 1);
    not_caught();
}
