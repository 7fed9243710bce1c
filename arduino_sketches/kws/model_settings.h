// tinymlkit-generated sha256=398074c1d540aed1cd6a1cb66eedd264d731a421e79848481265ed68218249ff (by tinymlkit 0.1.0; regenerate, do not edit: `tinymlkit export` or `tinymlkit check-sketch --fix`)
// Generated from model_int8.tflite and its config.json.
#ifndef TINYMLKIT_MODEL_SETTINGS_H_
#define TINYMLKIT_MODEL_SETTINGS_H_

#include <stdint.h>

// ---- The model file these settings were generated from
constexpr char kModelFile[] = "model_int8.tflite";
constexpr int kModelBytes = 10912;
constexpr char kModelSha256[] = "483005803fa742b5d4118d3b00d9f53a473ba2039c1ff472c072884b7a5ef338";
constexpr char kModelKind[] = "kws";

// ---- Labels, in the model's output order
constexpr int kNumLabels = 4;
constexpr const char* kLabels[kNumLabels] = {"silence", "unknown", "yes", "no"};

// ---- Input tensor
constexpr int kInputDims = 3;
constexpr int kInputShape[kInputDims] = {1, 49, 40};
constexpr int kInputElementCount = 1960;
constexpr char kInputType[] = "int8";
constexpr bool kInputQuantized = true;
constexpr float kInputScale = 0.10217524f;
constexpr int kInputZeroPoint = -128;

// ---- Output tensor
constexpr int kOutputElementCount = 4;
constexpr char kOutputType[] = "int8";
constexpr bool kOutputQuantized = true;
constexpr float kOutputScale = 0.00390625f;
constexpr int kOutputZeroPoint = -128;

// ---- Audio front end (TFLM micro frontend), as in training
constexpr int kAudioSampleRate = 16000;
constexpr int kAudioClipDurationMs = 1000;
constexpr int kAudioWindowSizeMs = 30;
constexpr int kAudioWindowStrideMs = 20;
constexpr int kAudioFeatureBins = 40;
constexpr float kAudioLowerBandLimit = 125.0f;
constexpr float kAudioUpperBandLimit = 7500.0f;
constexpr int kAudioSmoothingBits = 10;
constexpr float kAudioEvenSmoothing = 0.025f;
constexpr float kAudioOddSmoothing = 0.06f;
constexpr float kAudioMinSignalRemaining = 0.05f;
constexpr bool kAudioEnablePcan = true;
constexpr float kAudioPcanStrength = 0.95f;
constexpr float kAudioPcanOffset = 80.0f;
constexpr int kAudioGainBits = 21;
constexpr bool kAudioEnableLog = true;
constexpr int kAudioScaleShift = 6;
constexpr int kAudioFeatureScaleNumerator = 10;
constexpr int kAudioFeatureScaleDenominator = 256;
constexpr int kAudioClipSamples = 16000;
constexpr int kAudioWindowSamples = 480;
constexpr int kAudioStrideSamples = 320;
constexpr int kFeatureCount = 49;  // frames per clip
constexpr int kFeatureSize = 40;  // channels per frame
constexpr int kFeatureElementCount = 1960;
constexpr int kSilenceIndex = 0;
constexpr int kUnknownIndex = 1;

// Sets the board's audio frontend exactly as training ran TF's audio_microfrontend op
// (one table, config.FRONTEND_FIELDS, drives both). The sample rate goes to
// FrontendPopulateState(&config, &state, kAudioSampleRate).
template <typename FrontendConfigT>
inline void KitFillFrontendConfig(FrontendConfigT* config) {
  config->window.size_ms = kAudioWindowSizeMs;
  config->window.step_size_ms = kAudioWindowStrideMs;
  config->filterbank.num_channels = kAudioFeatureBins;
  config->filterbank.lower_band_limit = kAudioLowerBandLimit;
  config->filterbank.upper_band_limit = kAudioUpperBandLimit;
  config->noise_reduction.smoothing_bits = kAudioSmoothingBits;
  config->noise_reduction.even_smoothing = kAudioEvenSmoothing;
  config->noise_reduction.odd_smoothing = kAudioOddSmoothing;
  config->noise_reduction.min_signal_remaining = kAudioMinSignalRemaining;
  config->pcan_gain_control.enable_pcan = kAudioEnablePcan;
  config->pcan_gain_control.strength = kAudioPcanStrength;
  config->pcan_gain_control.offset = kAudioPcanOffset;
  config->pcan_gain_control.gain_bits = kAudioGainBits;
  config->log_scale.enable_log = kAudioEnableLog;
  config->log_scale.scale_shift = kAudioScaleShift;
}

// ---- Command recognizer
constexpr int kRecognizerAverageWindowMs = 1000;
constexpr int kRecognizerDetectionThreshold = 200;
constexpr int kRecognizerSuppressionMs = 1500;
constexpr int kRecognizerMinimumCount = 3;
constexpr int kRecognizerInferenceEveryFrames = 2;

// ---- Tensor arena
constexpr int kTensorArenaMeasured = 9040;  // TFLM on a 64-bit host
// Headroom: 10 % of the measurement, at least 1024 bytes, rounded up to 16.
constexpr int kTensorArenaSize = 10064;

#endif  // TINYMLKIT_MODEL_SETTINGS_H_
