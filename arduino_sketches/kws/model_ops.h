// tinymlkit-generated sha256=cd5a1481241d6fe05faa7f937ed807f18028c53d21316c327da14fb7b28e5f44 (by tinymlkit 0.1.0; regenerate, do not edit: `tinymlkit export` or `tinymlkit check-sketch --fix`)
// Generated from model_int8.tflite and its config.json.
#ifndef TINYMLKIT_MODEL_OPS_H_
#define TINYMLKIT_MODEL_OPS_H_

#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"

// Op versions in the model: CONV_2D v3, DEPTHWISE_CONV_2D v3, FULLY_CONNECTED v4, MEAN v2, RESHAPE v1, SOFTMAX v2
constexpr int kModelOpCount = 6;
using ModelOpResolver = tflite::MicroMutableOpResolver<kModelOpCount>;

// Registers exactly the ops the model uses (smaller code than AllOpsResolver).
inline TfLiteStatus RegisterModelOps(ModelOpResolver& resolver) {
  if (resolver.AddConv2D() != kTfLiteOk) return kTfLiteError;  // CONV_2D
  if (resolver.AddDepthwiseConv2D() != kTfLiteOk) return kTfLiteError;  // DEPTHWISE_CONV_2D
  if (resolver.AddFullyConnected() != kTfLiteOk) return kTfLiteError;  // FULLY_CONNECTED
  if (resolver.AddMean() != kTfLiteOk) return kTfLiteError;  // MEAN
  if (resolver.AddReshape() != kTfLiteOk) return kTfLiteError;  // RESHAPE
  if (resolver.AddSoftmax() != kTfLiteOk) return kTfLiteError;  // SOFTMAX
  return kTfLiteOk;
}

#endif  // TINYMLKIT_MODEL_OPS_H_
