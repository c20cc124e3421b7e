// C++ mismatch: memory from malloc() released with delete.
#include "catch.h"

struct Obj {
    long v[8];
};

int main()
{
    Obj *o = static_cast<Obj *>(malloc(sizeof(Obj)));
    if (!o)
        case_error("malloc failed");
    o->v[0] = 1;
    delete o;
    for (int i = 0; i < 16; i++)
        delete new Obj;
    churn(sizeof(Obj), 1);
    not_caught();
}
