// kws.ino: keyword spotting on the Arduino Nano 33 BLE Sense with the kit's exported model.
//
// 16 kHz PDM audio -> ring buffer -> TFLM micro frontend every 20 ms (settings from the generated
// model_settings.h) -> int8 features (the model's own scale and zero point): all in kit_audio.h of the
// TinyMLKitBoard library -> the last kFeatureCount frames (feature_window.h) -> inference every
// kRecognizerInferenceEveryFrames frames -> command recognizer -> RGB LED (kit_status.h) and a line
// on Serial. Nothing here is model-specific: run `tinymlkit export` and rebuild.
// `tinymlkit bench --port PORT` asks it to time its next inferences and feature frames (kit_bench.h).
#include <Chirale_TensorFlowLite.h>

#include "feature_window.h"
#include "kit_audio.h"
#include "kit_bench.h"
#include "kit_interpreter.h"
#include "kit_status.h"
#include "recognize_commands.h"

#include "model_data.h"
#include "model_ops.h"
#include "model_settings.h"

static_assert(kNumLabels <= KIT_RECOGNIZER_MAX_LABELS, "more labels than the recognizer holds");
static_assert(kFeatureElementCount == kInputElementCount, "features and model input differ: re-export");

namespace {

// ---- Features (kit_audio.h feeds them): the last kFeatureCount frames, oldest first, already int8.
const KitAudioSettings g_audio = {kAudioSampleRate, kFeatureSize, kAudioFeatureScaleNumerator,
                                  kAudioFeatureScaleDenominator, kInputScale, kInputZeroPoint,
                                  "raise inference_every_frames"};
int8_t g_features[kFeatureCount * kFeatureSize];
KitFeatureWindow g_window;

// ---- Model
alignas(16) uint8_t tensor_arena[kTensorArenaSize];
ModelOpResolver g_resolver;
tflite::MicroInterpreter* g_interpreter = nullptr;
TfLiteTensor* g_input = nullptr;
TfLiteTensor* g_output = nullptr;
KitRecognizer g_recognizer;
KitBench g_bench;

void on_frame(const int8_t* frame, uint32_t step_us) {
  kit_window_push(&g_window, frame);
  kit_bench_step(&g_bench, step_us);
}

}  // namespace

void setup() {
  kit_led_begin();
  kit_serial_begin(3000);

  if (RegisterModelOps(g_resolver) != kTfLiteOk) kit_fail("op resolver: re-export (model_ops.h)");
  const char* problem = kit_interpreter_begin(g_model, g_resolver, tensor_arena, kTensorArenaSize,
                                              kInputElementCount, &g_interpreter);
  if (problem != nullptr) kit_fail(problem);
  g_input = g_interpreter->input(0);
  g_output = g_interpreter->output(0);
  kit_bench_begin(&g_bench, KIT_STEP_FEATURES, "one audio frame: micro frontend + int8");
  kit_window_init(&g_window, g_features, kFeatureCount, kFeatureSize, kInputZeroPoint);

  KitRecognizerSettings rs = {kRecognizerAverageWindowMs, kRecognizerDetectionThreshold, kRecognizerSuppressionMs,
                              kRecognizerMinimumCount};
  const uint32_t ignore = (1u << kSilenceIndex) | (1u << kUnknownIndex);
  if (kit_recognizer_init(&g_recognizer, &rs, kNumLabels, ignore) != KIT_RECOGNIZER_OK) kit_fail("recognizer settings");

  problem = kit_audio_begin(g_audio, KitFillFrontendConfig<FrontendConfig>);  // settings training used
  if (problem != nullptr) kit_fail(problem);
  Serial.print("kws ready: ");
  for (int i = 0; i < kNumLabels; ++i) {
    Serial.print(kLabels[i]);
    Serial.print(i + 1 < kNumLabels ? "," : "\n");
  }
}

void loop() {
  kit_bench_poll(&g_bench);
  kit_audio_poll(on_frame);
  if (!kit_window_ready(&g_window, kRecognizerInferenceEveryFrames)) return;
  memcpy(g_input->data.int8, g_features, kFeatureElementCount);
  const uint32_t t_start = micros();
  if (g_interpreter->Invoke() != kTfLiteOk) {
    Serial.println("ERROR Invoke failed");
    return;
  }
  const uint32_t latency_us = micros() - t_start;
  kit_bench_inference(&g_bench, latency_us);
  KitDecision d;
  kit_recognizer_process_int8(&g_recognizer, millis(), g_output->data.int8, &d);
  if (d.is_new) {
    kit_led_label(d.top_index, kSilenceIndex, kUnknownIndex);
    // One line per command: "heard <label> score <0..255> at <ms> ms (inference <us> us)"
    Serial.print("heard ");
    Serial.print(kLabels[d.top_index]);
    Serial.print(" score ");
    Serial.print(d.top_score);
    Serial.print(" at ");
    Serial.print(d.time_ms);
    Serial.print(" ms (inference ");
    Serial.print(latency_us);
    Serial.println(" us)");
  } else if (d.top_index == kSilenceIndex) {
    kit_led_label(-1, kSilenceIndex, kUnknownIndex);
  }
}
