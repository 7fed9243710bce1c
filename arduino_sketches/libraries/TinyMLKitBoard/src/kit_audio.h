// kit_audio.h: the microphone half of the kit's audio sketches (kws, early_exit, anomaly), written once.
//
// Board code: the Arduino core, its PDM library and the TFLM micro frontend of Chirale_TensorFLowLite.
// 16 kHz PDM audio -> a ring of KIT_AUDIO_RING_SAMPLES (the PDM callback writes, loop() reads) -> the
// micro frontend, set up by the sketch's generated KitFillFrontendConfig() -> each finished frame to int8
// with the model's own scale and zero point (feature_quant.h) -> the sketch's callback, which usually
// shifts it into its KitFeatureWindow (feature_window.h). A library header cannot include the sketch's
// model_settings.h, so the sketch hands its generated constants over in a KitAudioSettings.
#ifndef KIT_AUDIO_H_
#define KIT_AUDIO_H_

#include <Arduino.h>
#include <PDM.h>

#include "tensorflow/lite/experimental/microfrontend/lib/frontend.h"
#include "tensorflow/lite/experimental/microfrontend/lib/frontend_util.h"

#include "feature_quant.h"

#ifndef KIT_AUDIO_RING_SAMPLES
#define KIT_AUDIO_RING_SAMPLES 8192  // 512 ms of slack at 16 kHz
#endif
#ifndef KIT_AUDIO_MAX_FEATURE_SIZE
#define KIT_AUDIO_MAX_FEATURE_SIZE 256  // values per frame the int8 conversion holds
#endif

// The generated constants (model_settings.h) the audio side needs.
struct KitAudioSettings {
  int sample_rate;           // kAudioSampleRate
  int feature_size;          // kFeatureSize: values per frame
  int scale_numerator;       // kAudioFeatureScaleNumerator
  int scale_denominator;     // kAudioFeatureScaleDenominator
  float input_scale;         // kInputScale
  int input_zero_point;      // kInputZeroPoint
  const char* overrun_hint;  // what to do when inference cannot keep up, printed with the warning
};

// The sketch's generated KitFillFrontendConfig<FrontendConfig>.
typedef void (*KitFillFrontend)(FrontendConfig* config);
// Called with each new int8 frame (feature_size values) and the micros() its frontend + int8 step took.
typedef void (*KitAudioFrame)(const int8_t* frame, uint32_t step_us);

static int16_t g_kit_ring[KIT_AUDIO_RING_SAMPLES];
static volatile uint32_t g_kit_written = 0;  // samples written since start (wraps after 74 hours)
static uint32_t g_kit_read = 0;              // samples given to the frontend
static int16_t g_kit_pdm_chunk[512];
static FrontendState g_kit_frontend;
static KitAudioSettings g_kit_audio;

// The PDM callback: copies what the microphone has into the ring.
inline void kit_audio_on_pdm() {
  int bytes = PDM.available();
  if (bytes > (int)sizeof g_kit_pdm_chunk) bytes = (int)sizeof g_kit_pdm_chunk;
  const int n = PDM.read(g_kit_pdm_chunk, bytes) / 2;
  const uint32_t w = g_kit_written;
  for (int i = 0; i < n; ++i) g_kit_ring[(w + i) % KIT_AUDIO_RING_SAMPLES] = g_kit_pdm_chunk[i];
  g_kit_written = w + n;
}

// Starts the micro frontend (the library's defaults, then `fill`, the generated settings training used)
// and the microphone. Returns nullptr, or what failed (for kit_fail()).
inline const char* kit_audio_begin(const KitAudioSettings& settings, KitFillFrontend fill) {
  if (settings.feature_size < 1 || settings.feature_size > KIT_AUDIO_MAX_FEATURE_SIZE) {
    return "feature size out of range: raise KIT_AUDIO_MAX_FEATURE_SIZE";
  }
  g_kit_audio = settings;
  FrontendConfig c;
  FrontendFillConfigWithDefaults(&c);
  fill(&c);
  if (!FrontendPopulateState(&c, &g_kit_frontend, settings.sample_rate)) return "micro frontend: out of memory";
  PDM.onReceive(kit_audio_on_pdm);
  PDM.setBufferSize(sizeof g_kit_pdm_chunk);
  if (!PDM.begin(1, settings.sample_rate)) return "PDM microphone did not start";
  return nullptr;
}

// Feeds the audio that arrived since the last call to the frontend and calls `on_frame` with each
// finished frame, oldest first. Returns how many frames there were.
inline int kit_audio_poll(KitAudioFrame on_frame) {
  int frames = 0;
  while (g_kit_read != g_kit_written) {
    const uint32_t w = g_kit_written;
    if (w - g_kit_read > KIT_AUDIO_RING_SAMPLES) {  // fell behind by a whole ring: restart from the newest audio
      Serial.print("WARN audio overrun: inference is slower than the audio; ");
      Serial.println(g_kit_audio.overrun_hint);
      g_kit_read = w;
      continue;
    }
    uint32_t n = w - g_kit_read;
    const uint32_t pos = g_kit_read % KIT_AUDIO_RING_SAMPLES;
    if (pos + n > KIT_AUDIO_RING_SAMPLES) n = KIT_AUDIO_RING_SAMPLES - pos;  // to the ring's end, the rest next
    size_t used = 0;
    const uint32_t t0 = micros();
    FrontendOutput out = FrontendProcessSamples(&g_kit_frontend, &g_kit_ring[pos], n, &used);
    g_kit_read += used;
    if (out.size == (size_t)g_kit_audio.feature_size) {
      int8_t frame[KIT_AUDIO_MAX_FEATURE_SIZE];
      kit_features_to_int8(out.values, out.size, g_kit_audio.scale_numerator, g_kit_audio.scale_denominator,
                           g_kit_audio.input_scale, g_kit_audio.input_zero_point, frame);
      on_frame(frame, micros() - t0);
      frames++;
    }
    if (used == 0) break;
  }
  return frames;
}

#endif  // KIT_AUDIO_H_
