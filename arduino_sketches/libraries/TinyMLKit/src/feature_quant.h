// feature_quant.h: the micro frontend's uint16 output straight to the keyword model's int8 input.
//
// Plain C++ with no Arduino headers. The same rule as tinymlkit.audio.features.frontend_to_int8, in
// the same order of double-precision operations, so the two agree bit for bit (checked on real
// clips by tests/test_sketches_cpp.py):
//   q = floor((v * numerator / denominator) / scale + 0.5) + zero_point, saturated to -128..127,
// where scale is the model's float32 input scale promoted to double.
#ifndef TINYMLKIT_FEATURE_QUANT_H_
#define TINYMLKIT_FEATURE_QUANT_H_

#include <math.h>
#include <stddef.h>
#include <stdint.h>

inline int8_t kit_feature_to_int8(uint16_t value, int numerator, int denominator, float scale, int zero_point) {
  const double f = (double)value * (double)numerator / (double)denominator;
  double q = floor(f / (double)scale + 0.5) + (double)zero_point;
  if (q < -128.0) q = -128.0;
  if (q > 127.0) q = 127.0;
  return (int8_t)q;
}

// Converts `count` frontend values (one frame: kFeatureSize of them) into `out`.
inline void kit_features_to_int8(const uint16_t* values, size_t count, int numerator, int denominator, float scale,
                                 int zero_point, int8_t* out) {
  for (size_t i = 0; i < count; ++i) {
    out[i] = kit_feature_to_int8(values[i], numerator, denominator, scale, zero_point);
  }
}

#endif  // TINYMLKIT_FEATURE_QUANT_H_
