/* The counters of work done outside any heap (see hakmem_counters.h). */
#include "hakmem_counters.h"

hak_counters_t hak_global_counters;
