// recognize_commands.cpp: see recognize_commands.h for the rule.
#include "recognize_commands.h"

KitRecognizerStatus kit_recognizer_init(KitRecognizer* r, const KitRecognizerSettings* settings,
                                        int num_labels, uint32_t ignore_mask) {
  if (num_labels < 1 || num_labels > KIT_RECOGNIZER_MAX_LABELS || num_labels > 32) {
    return KIT_RECOGNIZER_BAD_SETTINGS;
  }
  if (settings->minimum_count < 1 || settings->minimum_count > KIT_RECOGNIZER_MAX_ENTRIES) {
    return KIT_RECOGNIZER_BAD_SETTINGS;
  }
  r->settings = *settings;
  r->num_labels = num_labels;
  r->ignore_mask = ignore_mask;
  kit_recognizer_reset(r);
  return KIT_RECOGNIZER_OK;
}

void kit_recognizer_reset(KitRecognizer* r) {
  r->head = 0;
  r->count = 0;
  r->have_time = false;
  r->last_time_ms = 0;
  r->have_report = false;
  r->last_report_ms = 0;
}

static KitRecognizerStatus process(KitRecognizer* r, uint32_t time_ms, const uint8_t* scores, KitDecision* out) {
  if (r->have_time && time_ms < r->last_time_ms) return KIT_RECOGNIZER_TIME_BACKWARDS;
  r->have_time = true;
  r->last_time_ms = time_ms;

  // Append; when the buffer is full the oldest result makes room.
  if (r->count == KIT_RECOGNIZER_MAX_ENTRIES) {
    r->head = (r->head + 1) % KIT_RECOGNIZER_MAX_ENTRIES;
    r->count--;
  }
  const int slot = (r->head + r->count) % KIT_RECOGNIZER_MAX_ENTRIES;
  r->times[slot] = time_ms;
  for (int i = 0; i < r->num_labels; ++i) r->scores[slot][i] = scores[i];
  r->count++;
  // Drop results that have left the averaging window.
  while (r->count > 0 &&
         (int64_t)time_ms - (int64_t)r->times[r->head] >= (int64_t)r->settings.average_window_ms) {
    r->head = (r->head + 1) % KIT_RECOGNIZER_MAX_ENTRIES;
    r->count--;
  }

  out->time_ms = time_ms;
  out->count = r->count;
  out->is_new = false;
  if (r->count < r->settings.minimum_count) {
    out->top_index = -1;
    out->top_score = 0;
    return KIT_RECOGNIZER_OK;
  }
  int top = 0;
  uint32_t top_avg = 0;
  for (int i = 0; i < r->num_labels; ++i) {
    uint32_t sum = 0;
    for (int k = 0; k < r->count; ++k) sum += r->scores[(r->head + k) % KIT_RECOGNIZER_MAX_ENTRIES][i];
    const uint32_t avg = sum / (uint32_t)r->count;
    if (i == 0 || avg > top_avg) {
      top = i;
      top_avg = avg;
    }
  }
  out->top_index = top;
  out->top_score = (uint8_t)top_avg;
  const bool quiet = r->have_report &&
                     (int64_t)time_ms - (int64_t)r->last_report_ms < (int64_t)r->settings.suppression_ms;
  const bool ignored = (r->ignore_mask >> top) & 1u;
  if (!ignored && (int32_t)top_avg >= r->settings.detection_threshold && !quiet) {
    out->is_new = true;
    r->have_report = true;
    r->last_report_ms = time_ms;
  }
  return KIT_RECOGNIZER_OK;
}

KitRecognizerStatus kit_recognizer_process_uint8(KitRecognizer* r, uint32_t time_ms, const uint8_t* scores,
                                                 KitDecision* out) {
  return process(r, time_ms, scores, out);
}

KitRecognizerStatus kit_recognizer_process_int8(KitRecognizer* r, uint32_t time_ms, const int8_t* scores,
                                                KitDecision* out) {
  uint8_t u[KIT_RECOGNIZER_MAX_LABELS];
  for (int i = 0; i < r->num_labels; ++i) u[i] = (uint8_t)((int)scores[i] + 128);
  return process(r, time_ms, u, out);
}
