// stage2_runner.cpp: stage 2's interpreter. Its generated headers and model array come from stage2/,
// renamed here (g_model -> g_stage2_model, constants in namespace stage2) so both stages link together.
#include <Chirale_TensorFlowLite.h>

#include <string.h>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

#include "stage2_runner.h"

#define g_model g_stage2_model
#define g_model_len g_stage2_model_len
namespace stage2 {
#include "stage2/model_settings.h"
#include "stage2/model_ops.h"
}  // namespace stage2
#include "stage2/model_data.h"
// The Arduino builder compiles only the sketch folder and src/, so stage 2's array is compiled here.
#include "stage2/model_data.cc"
#undef g_model
#undef g_model_len

namespace {
alignas(16) uint8_t stage2_arena[stage2::kTensorArenaSize];
stage2::ModelOpResolver stage2_resolver;
tflite::MicroInterpreter* stage2_interpreter = nullptr;
}  // namespace

bool stage2_begin(const char** reason) {
  const tflite::Model* model = tflite::GetModel(g_stage2_model);
  if (model->version() != TFLITE_SCHEMA_VERSION) {
    *reason = "stage 2 model schema version differs from the library's";
    return false;
  }
  if (stage2::RegisterModelOps(stage2_resolver) != kTfLiteOk) {
    *reason = "stage 2 op resolver: re-export (stage2/model_ops.h)";
    return false;
  }
  static tflite::MicroInterpreter interpreter(model, stage2_resolver, stage2_arena, stage2::kTensorArenaSize);
  stage2_interpreter = &interpreter;
  if (stage2_interpreter->AllocateTensors() != kTfLiteOk) {
    *reason = "stage 2 AllocateTensors: the arena is too small; re-export";
    return false;
  }
  if (stage2_interpreter->input(0)->bytes != (size_t)stage2::kInputElementCount) {
    *reason = "stage 2 input tensor is not the exported shape: re-export";
    return false;
  }
  return true;
}

bool stage2_run(const int8_t* input, int8_t* scores) {
  memcpy(stage2_interpreter->input(0)->data.int8, input, stage2::kInputElementCount);
  if (stage2_interpreter->Invoke() != kTfLiteOk) return false;
  memcpy(scores, stage2_interpreter->output(0)->data.int8, stage2::kOutputElementCount);
  return true;
}

size_t stage2_input_bytes() { return stage2::kInputElementCount; }
int stage2_output_count() { return stage2::kOutputElementCount; }
