/* Locks of the slow paths.  Contended acquisitions are counted with the time
 * waited (lock_waits, lock_wait_ns): ACE's mutex-wait metric. */
#ifndef HAK_LOCK_H
#define HAK_LOCK_H

#include <pthread.h>
#include <sched.h>
#include "hakmem_os.h"
#include "hakmem_counters.h"

typedef struct hak_lock { pthread_mutex_t m; } hak_lock_t;
#define HAK_LOCK_INIT { PTHREAD_MUTEX_INITIALIZER }

static inline void hak_lock(hak_lock_t *l, hak_counters_t *cnt)
{
    if (HAK_LIKELY(pthread_mutex_trylock(&l->m) == 0))
        return;
    uint64_t t0 = hak_now_ns();
    pthread_mutex_lock(&l->m);
    hak_cnt_add(cnt, &cnt->lock_waits, 1);
    hak_cnt_add(cnt, &cnt->lock_wait_ns, hak_now_ns() - t0);
}
static inline int  hak_trylock(hak_lock_t *l) { return pthread_mutex_trylock(&l->m) == 0; }
static inline void hak_unlock(hak_lock_t *l) { pthread_mutex_unlock(&l->m); }
static inline void hak_lock_reinit(hak_lock_t *l) { pthread_mutex_init(&l->m, NULL); }

/* A heap's own lock: its owner takes it on every slow path, ACE's scavenge
 * rarely, so it is almost never contended. */
typedef struct hak_spin { int v; } hak_spin_t;

static inline int hak_spin_try(hak_spin_t *s)
{
    return __atomic_load_n(&s->v, __ATOMIC_RELAXED) == 0 && __atomic_exchange_n(&s->v, 1, __ATOMIC_ACQUIRE) == 0;
}
static inline void hak_spin_lock(hak_spin_t *s, hak_counters_t *cnt)
{
    if (HAK_LIKELY(hak_spin_try(s)))
        return;
    uint64_t t0 = hak_now_ns();
    for (unsigned i = 0; !hak_spin_try(s); i++) {
        if (i < 64)
            __builtin_ia32_pause();
        else
            sched_yield();
    }
    hak_cnt_add(cnt, &cnt->lock_waits, 1);
    hak_cnt_add(cnt, &cnt->lock_wait_ns, hak_now_ns() - t0);
}
static inline void hak_spin_unlock(hak_spin_t *s) { __atomic_store_n(&s->v, 0, __ATOMIC_RELEASE); }

#endif
