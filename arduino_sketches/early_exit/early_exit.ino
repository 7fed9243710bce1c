// early_exit.ino: two-stage keyword spotting on the Nano 33 BLE Sense: a small model answers first, the
// big one runs only when the small one is unsure.
//
// Audio and features as in the kws sketch, from the same kit_audio.h (PDM at 16 kHz, TFLM micro frontend
// every 20 ms, int8 with the model's own scale and zero point). Each inference runs stage 1 (model_data.cc,
// model_settings.h); when its top int8 score is at least kExitThresholdInt8 (generated into early_exit.h
// from validation data) its answer stands, otherwise stage 2 (stage2/, through stage2_runner.cpp) runs on
// the same features.
// Serial shows which stage answered and the time each took.
#include <Chirale_TensorFlowLite.h>

#include "feature_window.h"
#include "kit_audio.h"
#include "kit_interpreter.h"
#include "kit_status.h"
#include "recognize_commands.h"

#include "model_data.h"
#include "model_ops.h"
#include "model_settings.h"
#include "early_exit.h"
#include "stage2_runner.h"

static_assert(kNumLabels <= KIT_RECOGNIZER_MAX_LABELS, "more labels than the recognizer holds");
static_assert(kFeatureElementCount == kInputElementCount, "features and model input differ: re-export");
static_assert(kNumLabels <= 16, "more labels than the score buffer holds");

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
int8_t g_scores[16];
uint32_t g_inferences = 0;
uint32_t g_exits = 0;

void on_frame(const int8_t* frame, uint32_t) { kit_window_push(&g_window, frame); }

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
  const char* why = "";
  if (!stage2_begin(&why)) kit_fail(why);
  if (stage2_input_bytes() != (size_t)kInputElementCount || stage2_output_count() != kNumLabels) {
    kit_fail("stage 2 does not take the same input or give the same labels as stage 1: export both again");
  }
  kit_window_init(&g_window, g_features, kFeatureCount, kFeatureSize, kInputZeroPoint);

  KitRecognizerSettings rs = {kRecognizerAverageWindowMs, kRecognizerDetectionThreshold, kRecognizerSuppressionMs,
                              kRecognizerMinimumCount};
  const uint32_t ignore = (1u << kSilenceIndex) | (1u << kUnknownIndex);
  if (kit_recognizer_init(&g_recognizer, &rs, kNumLabels, ignore) != KIT_RECOGNIZER_OK) kit_fail("recognizer settings");

  problem = kit_audio_begin(g_audio, KitFillFrontendConfig<FrontendConfig>);  // settings training used
  if (problem != nullptr) kit_fail(problem);
  Serial.print("early_exit ready: ");
  for (int i = 0; i < kNumLabels; ++i) {
    Serial.print(kLabels[i]);
    Serial.print(i + 1 < kNumLabels ? "," : "\n");
  }
}

void loop() {
  kit_audio_poll(on_frame);
  if (!kit_window_ready(&g_window, kRecognizerInferenceEveryFrames)) return;
  memcpy(g_input->data.int8, g_features, kFeatureElementCount);
  const uint32_t t_start = micros();
  if (g_interpreter->Invoke() != kTfLiteOk) {
    Serial.println("ERROR Invoke failed");
    return;
  }
  int best = 0;
  const bool exited = ExitAtStage1(g_output->data.int8, kNumLabels, &best);
  const int8_t* scores = g_output->data.int8;
  if (!exited) {  // stage 1 is unsure: the big model decides
    if (!stage2_run(g_features, g_scores)) {
      Serial.println("ERROR stage 2 Invoke failed");
      return;
    }
    scores = g_scores;
  }
  const uint32_t latency_us = micros() - t_start;
  g_inferences++;
  if (exited) g_exits++;
  KitDecision d;
  kit_recognizer_process_int8(&g_recognizer, millis(), scores, &d);
  if (d.is_new) {
    kit_led_label(d.top_index, kSilenceIndex, kUnknownIndex);
    // One line per command: "heard <label> score <0..255> at <ms> ms (<stage>, <us> us; stage 1 answered N of M)"
    Serial.print("heard ");
    Serial.print(kLabels[d.top_index]);
    Serial.print(" score ");
    Serial.print(d.top_score);
    Serial.print(" at ");
    Serial.print(d.time_ms);
    Serial.print(" ms (");
    Serial.print(exited ? "stage 1" : "stages 1+2");
    Serial.print(", ");
    Serial.print(latency_us);
    Serial.print(" us; stage 1 answered ");
    Serial.print(g_exits);
    Serial.print(" of ");
    Serial.print(g_inferences);
    Serial.println(")");
  } else if (d.top_index == kSilenceIndex) {
    kit_led_label(-1, kSilenceIndex, kUnknownIndex);
  }
}
