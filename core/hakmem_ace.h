/* What the allocator core calls of ACE (implemented in the hakmem_ace_*.c files). */
#ifndef HAK_ACE_H
#define HAK_ACE_H

/* Called from the allocator's slow path after a thread's heap is set up, outside
 * every allocator lock.  Starts ACE's thread once if HAKMEM_ACE_ENABLED=1
 * (re-entry guarded: pthread_create allocates).  Cheap when already started/off. */
void hak_ace_maybe_start(void);
/* Called in a forked child (atfork child handler): the parent's ACE thread does
 * not exist there; the next hak_ace_maybe_start() starts a new one. */
void hak_ace_atfork_child(void);

#endif
