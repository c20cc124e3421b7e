/* Large blocks: mmap, a registry of live mappings, a cache of freed ones. */
#define _GNU_SOURCE
#include "hakmem_large.h"
#include "hakmem_lock.h"
#include <errno.h>

#define CACHE_SLOTS 8

typedef struct { uintptr_t ptr; size_t len; } entry_t;

static hak_lock_t large_lock = HAK_LOCK_INIT;
static entry_t *table;            /* open addressing, linear probing, 0 = empty */
static size_t table_cap, table_n;
static entry_t cache[CACHE_SLOTS];
uint64_t hak_large_live_bytes;

static size_t slot_of(uintptr_t p, size_t cap) { return (size_t)((p >> 12) * 0x9E3779B97F4A7C15ull >> 7) & (cap - 1); }

static int table_grow(void)
{
    size_t ncap = table_cap ? table_cap * 2 : 1024;
    entry_t *nt = hak_os_map(ncap * sizeof(entry_t));
    if (!nt)
        return 0;
    for (size_t i = 0; i < table_cap; i++)
        if (table[i].ptr) {
            size_t j = slot_of(table[i].ptr, ncap);
            while (nt[j].ptr)
                j = (j + 1) & (ncap - 1);
            nt[j] = table[i];
        }
    if (table)
        hak_os_unmap(table, table_cap * sizeof(entry_t));
    table = nt;
    table_cap = ncap;
    return 1;
}

static int table_insert(uintptr_t p, size_t len)
{
    if ((table_n + 1) * 2 > table_cap && !table_grow())
        return 0;
    size_t j = slot_of(p, table_cap);
    while (table[j].ptr)
        j = (j + 1) & (table_cap - 1);
    table[j].ptr = p;
    table[j].len = len;
    table_n++;
    return 1;
}

static entry_t *table_find(uintptr_t p)
{
    if (!table_cap)
        return NULL;
    for (size_t j = slot_of(p, table_cap);; j = (j + 1) & (table_cap - 1)) {
        if (table[j].ptr == p)
            return &table[j];
        if (!table[j].ptr)
            return NULL;
    }
}

/* backward-shift deletion keeps probe chains intact */
static void table_remove(entry_t *e)
{
    size_t i = (size_t)(e - table);
    table[i].ptr = 0;
    table_n--;
    for (size_t j = (i + 1) & (table_cap - 1); table[j].ptr; j = (j + 1) & (table_cap - 1)) {
        size_t home = slot_of(table[j].ptr, table_cap);
        if (((j - home) & (table_cap - 1)) >= ((j - i) & (table_cap - 1))) {
            table[i] = table[j];
            table[j].ptr = 0;
            i = j;
        }
    }
}

/* Unmap every cached mapping (large_lock held); pages of address space dropped. */
static size_t cache_drop(uint64_t deadline)
{
    size_t pages = 0;
    for (int i = 0; i < CACHE_SLOTS && hak_now_ns() < deadline; i++)
        if (cache[i].ptr) {
            hak_os_unmap((void *)cache[i].ptr, cache[i].len);
            pages += cache[i].len / HAK_OS_PAGE;
            cache[i].ptr = 0;
        }
    return pages;
}

/* A new mapping.  When the OS refuses it (RLIMIT_AS, the commit limit), the
 * cached mappings, which still hold address space and commit charge, go
 * first and the mapping is tried once more. */
static void *large_map(size_t len, size_t align)
{
    void *p = align > HAK_OS_PAGE ? hak_os_map_aligned(len, align) : hak_os_map(len);
    if (!p && hak_large_release_cache(UINT64_MAX))
        p = align > HAK_OS_PAGE ? hak_os_map_aligned(len, align) : hak_os_map(len);
    return p;
}

static size_t page_round(size_t n) { return (n + HAK_OS_PAGE - 1) & ~(size_t)(HAK_OS_PAGE - 1); }

void *hak_large_alloc(size_t size, size_t align)
{
    size_t len = page_round(size);
    if (len < size || len > ((size_t)1 << 47)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = NULL;
    hak_lock(&large_lock, &hak_global_counters);
    if (align <= HAK_OS_PAGE) {
        int best = -1;
        for (int i = 0; i < CACHE_SLOTS; i++)
            if (cache[i].ptr && cache[i].len >= len && cache[i].len / 2 <= len &&
                (best < 0 || cache[i].len < cache[best].len))
                best = i;
        if (best >= 0) {
            p = (void *)cache[best].ptr;
            len = cache[best].len;
            cache[best].ptr = 0;
        }
    }
    hak_unlock(&large_lock);
    if (!p)
        p = large_map(len, align);
    if (!p) {
        errno = ENOMEM;
        return NULL;
    }
    hak_lock(&large_lock, &hak_global_counters);
    int ok = table_insert((uintptr_t)p, len);
    hak_unlock(&large_lock);
    if (!ok) {
        hak_os_unmap(p, len);
        errno = ENOMEM;
        return NULL;
    }
    __atomic_fetch_add(&hak_large_live_bytes, len, __ATOMIC_RELAXED);
    __atomic_fetch_add(&hak_global_counters.large_allocs, 1, __ATOMIC_RELAXED);
    return p;
}

int hak_large_free(void *p)
{
    hak_lock(&large_lock, &hak_global_counters);
    entry_t *e = table_find((uintptr_t)p);
    if (!e) {
        hak_unlock(&large_lock);
        return 0;
    }
    size_t len = e->len;
    table_remove(e);
    hak_unlock(&large_lock);
    /* pages go back before the mapping is visible in the cache: once there,
     * another thread may reuse it at once */
    hak_os_release(p, len);
    hak_lock(&large_lock, &hak_global_counters);
    int slot = -1;
    for (int i = 0; i < CACHE_SLOTS && slot < 0; i++)
        if (!cache[i].ptr)
            slot = i;
    if (slot >= 0) {
        cache[slot].ptr = (uintptr_t)p;
        cache[slot].len = len;
    }
    hak_unlock(&large_lock);
    if (slot < 0)
        hak_os_unmap(p, len);
    __atomic_fetch_sub(&hak_large_live_bytes, len, __ATOMIC_RELAXED);
    __atomic_fetch_add(&hak_global_counters.large_frees, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&hak_global_counters.pages_released, len / HAK_OS_PAGE, __ATOMIC_RELAXED);
    return 1;
}

size_t hak_large_usable(const void *p)
{
    hak_lock(&large_lock, &hak_global_counters);
    entry_t *e = table_find((uintptr_t)p);
    size_t len = e ? e->len : 0;
    hak_unlock(&large_lock);
    return len;
}

void *hak_large_resize(void *p, size_t size)
{
    size_t len = page_round(size);
    if (len < size) {
        errno = ENOMEM;
        return NULL;
    }
    hak_lock(&large_lock, &hak_global_counters);
    entry_t *e = table_find((uintptr_t)p);
    size_t old = e ? e->len : 0;
    if (e && len != old) {
        /* the registry lock is held across mremap so no one sees a stale entry */
        void *q = hak_os_remap(p, old, len);
        if (!q && len > old && cache_drop(UINT64_MAX))   /* as in large_map */
            q = hak_os_remap(p, old, len);
        if (!q) {
            hak_unlock(&large_lock);
            errno = ENOMEM;
            return NULL;
        }
        table_remove(e);
        table_insert((uintptr_t)q, len);   /* cannot fail: one entry out, one in */
        p = q;
    }
    hak_unlock(&large_lock);
    if (!e)
        return NULL;
    if (len > old)
        __atomic_fetch_add(&hak_large_live_bytes, len - old, __ATOMIC_RELAXED);
    else
        __atomic_fetch_sub(&hak_large_live_bytes, old - len, __ATOMIC_RELAXED);
    return p;
}

size_t hak_large_release_cache(uint64_t deadline)
{
    hak_lock(&large_lock, &hak_global_counters);
    size_t pages = cache_drop(deadline);
    hak_unlock(&large_lock);
    return pages;
}

void hak_large_lock_all(void) { pthread_mutex_lock(&large_lock.m); }
void hak_large_unlock_all(void) { pthread_mutex_unlock(&large_lock.m); }
void hak_large_reinit_locks(void) { hak_lock_reinit(&large_lock); }
