// kit_interpreter.h: bring up the TFLM interpreter for the kit's exported model, the same way in every
// model sketch (kws, person_detection, and any sketch built on `tinymlkit export`).
//
// Board code: needs the Chirale_TensorFLowLite library (TFLM with CMSIS-NN) in the sketch's profile.
// The sketch owns the model bytes (model_data.cc), the arena (kTensorArenaSize from model_settings.h)
// and the op resolver filled by the generated RegisterModelOps(); this helper checks each step and says
// what to do when one fails, so a sketch only prints the message.
#ifndef KIT_INTERPRETER_H_
#define KIT_INTERPRETER_H_

#include <Chirale_TensorFlowLite.h>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/schema/schema_generated.h"

// Starts the interpreter once; returns nullptr and sets *out on success, or the reason it failed.
// `input_bytes` is the exported input size (kInputElementCount): a model that does not match the
// generated headers is refused here rather than fed the wrong bytes.
inline const char* kit_interpreter_begin(const unsigned char* model_data, tflite::MicroOpResolver& resolver,
                                         uint8_t* arena, size_t arena_size, size_t input_bytes,
                                         tflite::MicroInterpreter** out) {
  const tflite::Model* model = tflite::GetModel(model_data);
  if (model->version() != TFLITE_SCHEMA_VERSION) return "model schema version differs from the library's";
  // One interpreter per sketch: constructed on the first call, never destroyed.
  static tflite::MicroInterpreter interpreter(model, resolver, arena, arena_size);
  if (interpreter.AllocateTensors() != kTfLiteOk) return "AllocateTensors: the arena is too small; re-export";
  const TfLiteTensor* input = interpreter.input(0);
  if (input == nullptr || input->bytes != input_bytes || input->type != kTfLiteInt8) {
    return "input tensor is not the exported shape/type: re-export";
  }
  const TfLiteTensor* output = interpreter.output(0);
  if (output == nullptr || output->type != kTfLiteInt8) return "output tensor is not int8: re-export";
  *out = &interpreter;
  return nullptr;
}

#endif  // KIT_INTERPRETER_H_
