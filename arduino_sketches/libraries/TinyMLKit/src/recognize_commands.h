// recognize_commands.h: turn a stream of keyword scores into commands (average, threshold, suppression).
//
// Plain C++ with no Arduino headers. The rule is the one in tinymlkit/recognizer.py, which the host
// tests compare this file with, decision for decision (tests/test_sketches_cpp.py):
//   - int8 scores are shifted by +128 so every score is 0..255;
//   - results older than the averaging window (now - t >= window) are dropped, and at most
//     KIT_RECOGNIZER_MAX_ENTRIES are kept;
//   - with fewer than minimum_count results nothing is decided; otherwise each label's average is
//     sum / count (integer division) and the top label is the first with the highest average;
//   - a new command is reported when the top label is not ignored (silence, unknown), its average
//     reaches the threshold (>=), and suppression_ms have passed since the last report.
#ifndef TINYMLKIT_RECOGNIZE_COMMANDS_H_
#define TINYMLKIT_RECOGNIZE_COMMANDS_H_

#include <stddef.h>
#include <stdint.h>

#ifndef KIT_RECOGNIZER_MAX_ENTRIES
#define KIT_RECOGNIZER_MAX_ENTRIES 64
#endif
#ifndef KIT_RECOGNIZER_MAX_LABELS
#define KIT_RECOGNIZER_MAX_LABELS 16
#endif

struct KitRecognizerSettings {
  int32_t average_window_ms;
  int32_t detection_threshold;  // 0..255
  int32_t suppression_ms;
  int32_t minimum_count;
};

struct KitDecision {
  uint32_t time_ms;
  int top_index;      // -1 when too few results are in the window
  uint8_t top_score;  // average, 0..255
  bool is_new;        // this result reports a new command
  int count;          // results in the window
};

enum KitRecognizerStatus {
  KIT_RECOGNIZER_OK = 0,
  KIT_RECOGNIZER_BAD_SETTINGS = 1,  // label count or minimum count out of range
  KIT_RECOGNIZER_TIME_BACKWARDS = 2,
};

struct KitRecognizer {
  KitRecognizerSettings settings;
  int num_labels;
  uint32_t ignore_mask;  // bit i set: label i is never reported
  uint32_t times[KIT_RECOGNIZER_MAX_ENTRIES];
  uint8_t scores[KIT_RECOGNIZER_MAX_ENTRIES][KIT_RECOGNIZER_MAX_LABELS];
  int head;   // index of the oldest entry
  int count;  // entries held
  bool have_time;
  uint32_t last_time_ms;
  bool have_report;
  uint32_t last_report_ms;
};

// Returns KIT_RECOGNIZER_BAD_SETTINGS if num_labels is not 1..KIT_RECOGNIZER_MAX_LABELS (at most 32)
// or minimum_count is not 1..KIT_RECOGNIZER_MAX_ENTRIES.
KitRecognizerStatus kit_recognizer_init(KitRecognizer* r, const KitRecognizerSettings* settings,
                                        int num_labels, uint32_t ignore_mask);
void kit_recognizer_reset(KitRecognizer* r);
// Adds one inference's scores (int8 model output, or uint8) and decides.
KitRecognizerStatus kit_recognizer_process_int8(KitRecognizer* r, uint32_t time_ms, const int8_t* scores,
                                                KitDecision* out);
KitRecognizerStatus kit_recognizer_process_uint8(KitRecognizer* r, uint32_t time_ms, const uint8_t* scores,
                                                 KitDecision* out);

#endif  // TINYMLKIT_RECOGNIZE_COMMANDS_H_
