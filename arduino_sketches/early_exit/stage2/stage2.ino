// stage2.ino: the early-exit sketch's second model on its own, to time it on the board.
//
// Runs the model once a second on an all-zero-point input and prints the time Invoke took. The
// two-stage sketch one folder up compiles this folder's generated files (model_data.cc,
// model_settings.h, model_ops.h) through its stage2_runner.cpp; keeping them here, with their own
// export manifest, lets `tinymlkit check-sketch arduino_sketches/early_exit/stage2` check them.
#include <Chirale_TensorFlowLite.h>

#include "kit_interpreter.h"
#include "kit_status.h"

#include "model_data.h"
#include "model_ops.h"
#include "model_settings.h"

namespace {
alignas(16) uint8_t tensor_arena[kTensorArenaSize];
ModelOpResolver g_resolver;
tflite::MicroInterpreter* g_interpreter = nullptr;
}  // namespace

void setup() {
  kit_led_begin();
  kit_serial_begin(3000);
  if (RegisterModelOps(g_resolver) != kTfLiteOk) kit_fail("op resolver: re-export (model_ops.h)");
  const char* problem = kit_interpreter_begin(g_model, g_resolver, tensor_arena, kTensorArenaSize,
                                              kInputElementCount, &g_interpreter);
  if (problem != nullptr) kit_fail(problem);
  memset(g_interpreter->input(0)->data.int8, kInputZeroPoint, kInputElementCount);
}

void loop() {
  const uint32_t t = micros();
  const bool ok = g_interpreter->Invoke() == kTfLiteOk;
  const uint32_t us = micros() - t;
  Serial.print(ok ? "stage 2 inference " : "ERROR Invoke failed after ");
  Serial.print(us);
  Serial.println(" us");
  delay(1000);
}
