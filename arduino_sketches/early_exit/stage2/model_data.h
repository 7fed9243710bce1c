// tinymlkit-generated sha256=a3b4a95bd9b9ed9c740e8b68a9c630a58037193eea7673278b8afdfd66bc6849 (by tinymlkit 0.1.0; regenerate, do not edit: `tinymlkit export` or `tinymlkit check-sketch --fix`)
// Generated from stage2_int8.tflite and its config.json.
#ifndef TINYMLKIT_MODEL_DATA_H_
#define TINYMLKIT_MODEL_DATA_H_

// 42208 bytes, SHA-256 06b9c5381d22c18eaacd9e50ac722c511fd26519026485b6c63b0c899ff3d92e
extern const unsigned char g_model[];
extern const unsigned int g_model_len;

#endif  // TINYMLKIT_MODEL_DATA_H_
