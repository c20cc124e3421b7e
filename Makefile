# hakmem: build the library, run the tests, run the benchmark comparison.
CC      ?= gcc
CXX     ?= g++
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
HAK_CFLAGS = $(CFLAGS) -std=gnu11 -fPIC -fvisibility=hidden -ftls-model=initial-exec \
             -fno-plt -fno-semantic-interposition -Wall -Wextra -Wno-unused-parameter \
             -Iinclude -Icore -pthread
# the C++ operators (core/hakmem_new.cc): the core's flags, with exceptions
HAK_CXXFLAGS = $(CFLAGS) -std=gnu++17 -fPIC -fvisibility=hidden -fno-plt -fno-semantic-interposition \
             -Wall -Wextra -Wno-unused-parameter -Icore -pthread
LDLIBS  = -pthread -lm

CORE_SRCS = $(filter-out core/hakmem_override.c core/hakmem_guard.c,$(wildcard core/*.c))
CORE_OBJS = $(patsubst core/%.c,build/obj/%.o,$(CORE_SRCS))
OVR_OBJ   = build/obj/hakmem_override.o
NEW_OBJ   = build/obj/hakmem_new.o
HEADERS   = $(wildcard core/*.h include/*.h)

# The version is set in include/hakmem.h alone (HAKMEM_VERSION_MAJOR/MINOR/PATCH).
version_part = $(shell awk '$$2 == "HAKMEM_VERSION_$(1)" { print $$3 }' include/hakmem.h)
VERSION_MAJOR := $(call version_part,MAJOR)
VERSION := $(VERSION_MAJOR).$(call version_part,MINOR).$(call version_part,PATCH)
SONAME  := libhakmem.so.$(VERSION_MAJOR)
SEC_SONAME := libhakmem-secure.so.$(VERSION_MAJOR)

# make install PREFIX=... DESTDIR=...: the layout under PREFIX is fixed
# (lib, include, bin, share/man), which the CMake package relies on.
PREFIX  = /usr/local
DESTDIR =

.PHONY: all docs install uninstall test bench bench-quick bench-long bench-sweep bench-ace bench-real bench-catch clean
all: build/libhakmem.so build/libhakmem-secure.so build/libhakmem.a build/libhakmem_api.a bench_fragment_stress_hakx \
     build/gen_options build/hakmem build/man/hakmem.1 build/man/hakmem.3

build/obj/%.o: core/%.c $(HEADERS) | build/obj
	$(CC) $(HAK_CFLAGS) -c $< -o $@

$(NEW_OBJ): core/hakmem_new.cc core/hakmem_sized.h | build/obj
	$(CXX) $(HAK_CXXFLAGS) -c $< -o $@

build/obj build/obj-secure:
	mkdir -p $@

# The secure build (docs/SECURITY.md): the same sources with HAK_SECURE=1,
# plus the guarded copies of hakmem_guard.c.
build/obj-secure/%.o: core/%.c $(HEADERS) | build/obj-secure
	$(CC) $(HAK_CFLAGS) -DHAK_SECURE=1 -c $< -o $@
# the copies call glibc's __*_chk, which gcc would otherwise fold back into
# calls of the guarded names
build/obj-secure/hakmem_guard.o: HAK_CFLAGS += -fno-builtin
SEC_OBJS = $(patsubst core/%.c,build/obj-secure/%.o,$(CORE_SRCS)) build/obj-secure/hakmem_override.o \
           build/obj-secure/hakmem_guard.o

# The core as one relocatable object: an archive member nothing references is
# not linked, and ACE is referenced by nothing (it hooks itself in).
CORE_OBJ = build/obj/hakmem_core.o
$(CORE_OBJ): $(CORE_OBJS)
	$(LD) -r -o $@ $^

# LD_PRELOAD library: exports malloc/free/..., operator new/delete and the
# hak_ API, nothing else (core/libhakmem.map).  Needs libstdc++ for
# std::bad_alloc and the new handler.  Installed as libhakmem.so.$(VERSION).
build/libhakmem.so: $(CORE_OBJS) $(OVR_OBJ) $(NEW_OBJ) core/libhakmem.map
	$(CC) -shared -Wl,-z,now -Wl,-z,defs -Wl,-soname,$(SONAME) -Wl,--version-script=core/libhakmem.map \
	    -o $@ $(CORE_OBJS) $(OVR_OBJ) $(NEW_OBJ) -lstdc++ $(LDLIBS)

build/libhakmem-secure.so: $(SEC_OBJS) $(NEW_OBJ) core/libhakmem.map
	$(CC) -shared -Wl,-z,now -Wl,-z,defs -Wl,-soname,$(SEC_SONAME) \
	    -Wl,--version-script=core/libhakmem.map -o $@ $(SEC_OBJS) $(NEW_OBJ) -lstdc++ $(LDLIBS)

# Static library that replaces malloc in the program it is linked into; the
# operators are a member of their own, linked only into C++ programs.
build/libhakmem.a: $(CORE_OBJ) $(OVR_OBJ) $(NEW_OBJ)
	rm -f $@ && ar rcs $@ $^

# Static library with the hak_ API only: the program keeps the system malloc.
build/libhakmem_api.a: $(CORE_OBJ)
	rm -f $@ && ar rcs $@ $^

# The seed's A/B binary: the fragmentation workload with libhakmem.a linked in
# (`HAKMEM_ACE_ENABLED=0 ./bench_fragment_stress_hakx > baseline.txt`).
bench_fragment_stress_hakx: build/libhakmem.a benchmarks/fragment_stress.c benchmarks/bench_common.h
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra -pthread -DBENCH_STATIC_ALLOCATOR='"hakmem-static(libhakmem.a)"' \
	    -o $@ benchmarks/fragment_stress.c build/libhakmem.a -pthread -lm

# The option table printed for the docs (docs/OPTIONS.md, hakmem(3), the
# launcher's knob list); run without the caller's HAKMEM_* variables.
build/gen_options: scripts/gen_options.c build/libhakmem_api.a
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra -Iinclude -Icore -o $@ $< build/libhakmem_api.a $(LDLIBS)
GEN_OPTIONS = env -i build/gen_options

# The launcher from scripts/hakmem.in: $(call launcher,LIBRARY,SECURE,OUT)
# with LIBRARY the path it preloads and SECURE the one --secure preloads
# (empty: libhakmem.so, libhakmem-secure.so next to it).
launcher = sed -e 's|@VERSION@|$(VERSION)|' -e 's|@LIB@|$(1)|' -e 's|@SECLIB@|$(2)|' \
    -e "s|@KNOBS@|$$(echo $$($(GEN_OPTIONS) names))|" scripts/hakmem.in > $(3) && chmod 755 $(3)
build/hakmem: scripts/hakmem.in build/gen_options
	$(call launcher,,,$@)

# Man pages; the OPTIONS section of hakmem(3) is the option table.
build/man/hakmem.1: docs/man/hakmem.1.in include/hakmem.h
	mkdir -p build/man && sed 's|@VERSION@|$(VERSION)|' $< > $@
build/man/hakmem.3: docs/man/hakmem.3.in include/hakmem.h build/gen_options
	mkdir -p build/man && $(GEN_OPTIONS) roff > build/man/options.roff
	sed -e 's|@VERSION@|$(VERSION)|' -e '/^@OPTIONS@$$/{r build/man/options.roff' -e 'd;}' $< > $@

# docs/OPTIONS.md and the result tables are committed; the tests docs.options
# and docs.results_tables fail when they are stale.
docs: build/gen_options
	$(GEN_OPTIONS) md > docs/OPTIONS.md
	python3 benchmarks/scripts/results_tables.py

# What make install puts under PREFIX; make uninstall removes exactly these
# and the one directory of hakmem's own, lib/cmake/hakmem.
INSTALLED = bin/hakmem include/hakmem.h lib/libhakmem.so.$(VERSION) lib/$(SONAME) lib/libhakmem.so \
    lib/libhakmem-secure.so.$(VERSION) lib/$(SEC_SONAME) lib/libhakmem-secure.so \
    lib/libhakmem.a lib/libhakmem_api.a lib/pkgconfig/hakmem.pc lib/pkgconfig/hakmem-api.pc \
    lib/pkgconfig/hakmem-secure.pc \
    lib/cmake/hakmem/hakmem-config.cmake lib/cmake/hakmem/hakmem-config-version.cmake \
    share/man/man1/hakmem.1 share/man/man3/hakmem.3
DEST = $(DESTDIR)$(PREFIX)
pkg_subst = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' \
    -e 's|@VERSION_MAJOR@|$(VERSION_MAJOR)|g' -e 's|@SONAME@|$(SONAME)|g'

install: all
	install -d $(DEST)/bin $(DEST)/include $(DEST)/lib/pkgconfig $(DEST)/lib/cmake/hakmem \
	    $(DEST)/share/man/man1 $(DEST)/share/man/man3
	install -m 755 build/libhakmem.so $(DEST)/lib/libhakmem.so.$(VERSION)
	ln -sf libhakmem.so.$(VERSION) $(DEST)/lib/$(SONAME)
	ln -sf $(SONAME) $(DEST)/lib/libhakmem.so
	install -m 755 build/libhakmem-secure.so $(DEST)/lib/libhakmem-secure.so.$(VERSION)
	ln -sf libhakmem-secure.so.$(VERSION) $(DEST)/lib/$(SEC_SONAME)
	ln -sf $(SEC_SONAME) $(DEST)/lib/libhakmem-secure.so
	install -m 644 build/libhakmem.a build/libhakmem_api.a $(DEST)/lib
	install -m 644 include/hakmem.h $(DEST)/include
	install -m 644 build/man/hakmem.1 $(DEST)/share/man/man1
	install -m 644 build/man/hakmem.3 $(DEST)/share/man/man3
	for f in hakmem.pc hakmem-api.pc hakmem-secure.pc; do $(pkg_subst) scripts/pkg/$$f.in > $(DEST)/lib/pkgconfig/$$f; done
	for f in hakmem-config.cmake hakmem-config-version.cmake; do \
	    $(pkg_subst) scripts/pkg/$$f.in > $(DEST)/lib/cmake/hakmem/$$f; done
	$(call launcher,$(PREFIX)/lib/$(SONAME),$(PREFIX)/lib/$(SEC_SONAME),$(DEST)/bin/hakmem)

uninstall:
	rm -f $(addprefix $(DEST)/,$(INSTALLED))
	[ ! -d $(DEST)/lib/cmake/hakmem ] || rmdir --ignore-fail-on-non-empty $(DEST)/lib/cmake/hakmem

test: all
	$(MAKE) -C tests run

bench: all
	$(MAKE) -C benchmarks run real

bench-quick: all
	$(MAKE) -C benchmarks run MODE=quick

bench-long: all
	$(MAKE) -C benchmarks run MODE=long

bench-sweep: all
	$(MAKE) -C benchmarks sweep

bench-ace: all
	$(MAKE) -C benchmarks ace

bench-real: all
	$(MAKE) -C benchmarks real

bench-catch: all
	$(MAKE) -C benchmarks catch

clean:
	rm -rf build bench_fragment_stress_hakx
	-$(MAKE) -C tests clean
	-$(MAKE) -C benchmarks clean
