#!/bin/bash
# Builds mimalloc-bench (daanx/mimalloc-bench @ ce5784f, its sources in $PEERS/src/mimalloc-bench)
# test programs into $PEERS/bin (PEERS defaults to /work/peers), outside the repository,
# with the same flags as bench/CMakeLists.txt in Release mode (-O3 -DNDEBUG + its warning
# switches). Direct gcc instead of CMake because upstream's CMakeLists refuses to generate
# without the shbench sources (downloaded from microquill.com by build-bench-env.sh, not
# available here), so sh6bench/sh8bench are not built.
set -e
PEERS=${PEERS:-/work/peers}
S=$PEERS/src/mimalloc-bench/bench
B=$PEERS/bin
mkdir -p "$B"
W="-w -Wno-implicit-function-declaration -Wno-implicit-int -Wno-int-conversion -Wno-incompatible-pointer-types"
CF="-O3 -DNDEBUG $W"
CXF="-O3 -DNDEBUG -std=c++17 $W"
cd "$S"
set -x
gcc $CF -std=gnu89 -DNOMEMOPT=1 -o $B/cfrac $(for f in cfrac.c pops.c pconst.c pio.c pabs.c pneg.c pcmp.c podd.c phalf.c padd.c psub.c pmul.c pdivmod.c psqrt.c ppowmod.c atop.c ptoa.c itop.c utop.c ptou.c errorp.c pfloat.c pidiv.c pimod.c picmp.c primes.c pcfrac.c pgcd.c; do echo cfrac/$f; done) -lm
gcc $CF -std=gnu89 -o $B/espresso $(for f in cofactor.c cols.c compl.c contain.c cubestr.c cvrin.c cvrm.c cvrmisc.c cvrout.c dominate.c equiv.c espresso.c essen.c exact.c expand.c gasp.c getopt.c gimpel.c globals.c hack.c indep.c irred.c main.c map.c matrix.c mincov.c opo.c pair.c part.c primes.c reduce.c rows.c set.c setc.c sharp.c sminterf.c solution.c sparse.c unate.c utility.c verify.c; do echo espresso/$f; done) -lm
gcc $CF -std=gnu89 -o $B/barnes barnes/code.c barnes/code_io.c barnes/load.c barnes/grav.c barnes/getparam.c barnes/util.c -lm
g++ $CXF -Wno-unused-result -DCPP=1 -o $B/larson larson/larson.cpp -lpthread
g++ $CXF -Wno-unused-result -fsized-deallocation -DCPP=1 -DSIZED=1 -o $B/larson-sized larson/larson.cpp -lpthread
g++ $CXF -DBENCH=4 -o $B/alloc-test alloc-test/test_common.cpp alloc-test/allocator_tester.cpp -lpthread
g++ $CXF -o $B/cache-scratch cache-scratch/cache-scratch.cpp -lpthread
g++ $CXF -o $B/cache-thrash cache-thrash/cache-thrash.cpp -lpthread
gcc $CF -o $B/xmalloc-test xmalloc-test/xmalloc-test.c -lpthread
gcc $CF -o $B/mstress mstress/mstress.c -lpthread
gcc $CF -o $B/mleak mleak/mleak.c -lpthread
gcc $CF -Irptest -o $B/rptest rptest/rptest.c rptest/thread.c rptest/timer.c -lpthread -lm
gcc $CF -o $B/glibc-simple glibc-bench/bench-malloc-simple.c -lpthread
gcc $CF -o $B/glibc-thread glibc-bench/bench-malloc-thread.c -lpthread
