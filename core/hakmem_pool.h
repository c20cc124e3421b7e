/* Mid (1 KiB - 256 KiB) slow paths: central free lists per class and shard,
 * bundles, release (see hakmem_pool.c). */
#ifndef HAK_POOL_H
#define HAK_POOL_H

#include "hakmem_tcache.h"

void hak_pool_init(void);
void hak_pool_refill(hak_heap_t *h, int c);
void hak_pool_flush(hak_heap_t *h, int c, hak_batch_t b);
int  hak_pool_maintain(uint32_t shard, uint64_t deadline, hak_counters_t *cnt);
void hak_pool_free_direct(hak_span_t *sp, void *p);
void hak_pool_lock_all(void);
void hak_pool_unlock_all(void);
void hak_pool_reinit_locks(void);
size_t hak_pool_release(int empty_only, uint32_t pages_per_span, uint64_t deadline);

#endif
