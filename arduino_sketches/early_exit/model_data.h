// tinymlkit-generated sha256=95cd1588d6805e20b7007ddeaf2b579480655d231eb374ad34b6cf4ccac29548 (by tinymlkit 0.1.0; regenerate, do not edit: `tinymlkit export` or `tinymlkit check-sketch --fix`)
// Generated from stage1_int8.tflite and its config.json.
#ifndef TINYMLKIT_MODEL_DATA_H_
#define TINYMLKIT_MODEL_DATA_H_

// 18784 bytes, SHA-256 518495169862cd9a996b405ef49ff7df1d67151839d5cdc9c4bbc148f536c1d5
extern const unsigned char g_model[];
extern const unsigned int g_model_len;

#endif  // TINYMLKIT_MODEL_DATA_H_
