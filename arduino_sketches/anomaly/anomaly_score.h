// anomaly_score.h: the autoencoder's reconstruction error and its running average, as the notebook computes them.
//
// Plain C++ with no Arduino headers, so the host can compile it and check it against Python
// (tinymlkit.anomaly.scoring.int8_window_error): both int8 tensors are turned back into real values
// with their own scale and zero point, in double precision, and the error is the mean of the squared
// differences. The alarm compares the mean of the last N errors with the generated threshold.
#ifndef TINYMLKIT_ANOMALY_SCORE_H_
#define TINYMLKIT_ANOMALY_SCORE_H_

#include <stddef.h>
#include <stdint.h>

inline double kit_reconstruction_error(const int8_t* input, float in_scale, int in_zero, const int8_t* output,
                                       float out_scale, int out_zero, size_t count) {
  double sum = 0.0;
  for (size_t i = 0; i < count; ++i) {
    const double x = ((double)input[i] - (double)in_zero) * (double)in_scale;
    const double y = ((double)output[i] - (double)out_zero) * (double)out_scale;
    sum += (x - y) * (x - y);
  }
  return sum / (double)count;
}

// Mean of the last `capacity` errors (at most 256), kept in a ring.
struct KitErrorAverage {
  double values[256];
  int capacity;
  int count;
  int next;
  double sum;
};

inline bool kit_average_init(KitErrorAverage* a, int capacity) {
  if (capacity < 1 || capacity > 256) return false;
  a->capacity = capacity;
  a->count = 0;
  a->next = 0;
  a->sum = 0.0;
  return true;
}

// Adds one error; returns true once the window is full, with the mean in *mean.
inline bool kit_average_add(KitErrorAverage* a, double error, double* mean) {
  if (a->count == a->capacity) a->sum -= a->values[a->next];
  else a->count++;
  a->values[a->next] = error;
  a->sum += error;
  a->next = (a->next + 1) % a->capacity;
  *mean = a->sum / (double)a->count;
  return a->count == a->capacity;
}

#endif  // TINYMLKIT_ANOMALY_SCORE_H_
