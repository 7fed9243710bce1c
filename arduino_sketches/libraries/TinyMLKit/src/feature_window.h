// feature_window.h: the last N int8 feature frames, oldest first, as the audio models take them.
//
// Plain C++ with no Arduino headers (checked against numpy by tests/test_sketches_cpp.py, on the host and
// on the emulated Cortex-M4). The window starts filled with the model's zero point; each new frame is
// shifted in at the end. kit_window_ready() says when to run the model: first when the window is full of
// real frames, then every `every` frames, the windows tinymlkit.streaming.window_ends() scores.
#ifndef TINYMLKIT_FEATURE_WINDOW_H_
#define TINYMLKIT_FEATURE_WINDOW_H_

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct KitFeatureWindow {
  int8_t* data;           // frames * size values, row-major, the sketch's buffer (the model input's size)
  int frames;             // kFeatureCount
  int size;               // kFeatureSize
  int new_frames;         // frames shifted in since the last kit_window_ready() that said true
  uint32_t total_frames;  // frames shifted in since kit_window_init()
  bool started;           // kit_window_ready() has said true once
};

// `data` holds frames * size int8 values; every value starts as `zero_point` (the model's zero).
inline void kit_window_init(KitFeatureWindow* w, int8_t* data, int frames, int size, int zero_point) {
  w->data = data;
  w->frames = frames;
  w->size = size;
  w->new_frames = 0;
  w->total_frames = 0;
  w->started = false;
  memset(data, zero_point, (size_t)frames * (size_t)size);
}

// Drops the oldest frame and appends `frame` (size values).
inline void kit_window_push(KitFeatureWindow* w, const int8_t* frame) {
  const size_t row = (size_t)w->size;
  memmove(w->data, w->data + row, ((size_t)w->frames - 1) * row);
  memcpy(w->data + ((size_t)w->frames - 1) * row, frame, row);
  w->new_frames++;
  w->total_frames++;
}

// True when the window first holds only real frames, and after that each time `every` new frames have
// arrived since the last true.
inline bool kit_window_ready(KitFeatureWindow* w, int every) {
  if (w->total_frames < (uint32_t)w->frames || (w->started && w->new_frames < every)) return false;
  w->started = true;
  w->new_frames = 0;
  return true;
}

#endif  // TINYMLKIT_FEATURE_WINDOW_H_
