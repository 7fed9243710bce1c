// kit_timing.cpp: see kit_timing.h.
#include "kit_timing.h"

#include <string.h>

void kit_timing_reset(KitTiming* t) {
  memset(t, 0, sizeof *t);
}

void kit_timing_add(KitTiming* t, uint32_t us) {
  if (t->runs < KIT_TIMING_MAX_SAMPLES) t->samples[t->runs] = us;
  if (t->runs == 0 || us < t->min_us) t->min_us = us;
  if (t->runs == 0 || us > t->max_us) t->max_us = us;
  t->total_us += us;
  if (t->runs < UINT32_MAX) ++t->runs;
}

bool kit_timing_summarize(const KitTiming* t, KitTimingSummary* s) {
  memset(s, 0, sizeof *s);
  if (t->runs == 0) return false;
  const uint32_t n = t->runs < KIT_TIMING_MAX_SAMPLES ? t->runs : KIT_TIMING_MAX_SAMPLES;
  // Insertion sort of at most 64 values: a few thousand cycles once per BENCH answer.
  uint32_t sorted[KIT_TIMING_MAX_SAMPLES];
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t v = t->samples[i], j = i;
    while (j > 0 && sorted[j - 1] > v) {
      sorted[j] = sorted[j - 1];
      --j;
    }
    sorted[j] = v;
  }
  s->runs = t->runs;
  s->min_us = t->min_us;
  s->max_us = t->max_us;
  s->median_us = sorted[(n - 1) / 2];
  s->mean_us = static_cast<uint32_t>(t->total_us / t->runs);
  return true;
}
