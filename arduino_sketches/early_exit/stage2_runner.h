// stage2_runner.h: the second (large) model of the two-stage keyword spotter, behind a small interface.
//
// Stage 2's generated files live in stage2/ (a sketch of their own, so `tinymlkit check-sketch` checks
// them against their own model); stage2_runner.cpp compiles them in a namespace so their constants and
// model array do not collide with stage 1's.
#ifndef EARLY_EXIT_STAGE2_RUNNER_H_
#define EARLY_EXIT_STAGE2_RUNNER_H_

#include <stddef.h>
#include <stdint.h>

// Sets up stage 2's interpreter; false (and a reason) when it cannot.
bool stage2_begin(const char** reason);
// Runs stage 2 on one int8 input of stage2_input_bytes() values; writes stage2_output_count() int8 scores.
bool stage2_run(const int8_t* input, int8_t* scores);
size_t stage2_input_bytes();
int stage2_output_count();

#endif  // EARLY_EXIT_STAGE2_RUNNER_H_
