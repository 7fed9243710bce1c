// tinymlkit-generated sha256=575639b93bddba69d1a3163866062f11879bc1ded9dede2efc86dacbf9fceff9 (by tinymlkit 0.1.0; regenerate, do not edit: `tinymlkit export` or `tinymlkit check-sketch --fix`)
// Generated from model_int8.tflite and its config.json.
#ifndef TINYMLKIT_MODEL_DATA_H_
#define TINYMLKIT_MODEL_DATA_H_

// 19736 bytes, SHA-256 a3581da39c55cfe793b7601a87762c6ed3754c8cd86e7b801057d86748d88166
extern const unsigned char g_model[];
extern const unsigned int g_model_len;

#endif  // TINYMLKIT_MODEL_DATA_H_
