// tinymlkit-generated sha256=8d0dcc2aad18c3aaffd0536b43c7dfea70f113929650aa8080d36ec0dd8c4e63 (by tinymlkit 0.1.0; regenerate, do not edit: `tinymlkit export` or `tinymlkit check-sketch --fix`)
// Generated from model_int8.tflite and its config.json.
#ifndef TINYMLKIT_MODEL_DATA_H_
#define TINYMLKIT_MODEL_DATA_H_

// 10912 bytes, SHA-256 483005803fa742b5d4118d3b00d9f53a473ba2039c1ff472c072884b7a5ef338
extern const unsigned char g_model[];
extern const unsigned int g_model_len;

#endif  // TINYMLKIT_MODEL_DATA_H_
