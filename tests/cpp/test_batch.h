// test_batch.h: run many driver commands in one process (tests/cpp/*_main.cpp).
//
// On the emulated Cortex-M4 (tests/test_qemu_m4.py) each process start costs QEMU's boot, so the test
// writes every case into one script and the driver runs them in turn:
//   driver batch SCRIPT RESULTS
// SCRIPT: one command per line, words separated by spaces; "<FILE" reads stdin from FILE and
// ">FILE" writes stdout to FILE for that command. RESULTS gets each command's exit status, one a line.
// Paths must not contain spaces (the test makes them).
#ifndef TINYMLKIT_TEST_BATCH_H_
#define TINYMLKIT_TEST_BATCH_H_

#include <stdio.h>
#include <string.h>

#include <string>
#include <vector>

typedef int (*TestCommandFn)(int argc, char** argv);  // argv[0] is the command name

inline int test_run_batch(const char* script_path, const char* results_path, TestCommandFn run) {
  FILE* script = fopen(script_path, "r");
  if (!script) {
    fprintf(stderr, "cannot open %s\n", script_path);
    return 2;
  }
  FILE* results = fopen(results_path, "w");
  if (!results) {
    fprintf(stderr, "cannot write %s\n", results_path);
    fclose(script);
    return 2;
  }
  std::string line;
  int c;
  bool more = true;
  while (more) {
    line.clear();
    while ((c = fgetc(script)) != EOF && c != '\n') line.push_back(static_cast<char>(c));
    more = c != EOF;
    if (line.empty()) continue;
    std::vector<std::string> words;
    size_t pos = 0;
    while (pos < line.size()) {
      const size_t end = line.find(' ', pos);
      const size_t stop = end == std::string::npos ? line.size() : end;
      if (stop > pos) words.push_back(line.substr(pos, stop - pos));
      pos = stop + 1;
    }
    std::vector<char*> argv;
    int status = 0;
    for (std::string& w : words) {
      if (w[0] == '<') {
        if (!freopen(w.c_str() + 1, "rb", stdin)) status = 90;
      } else if (w[0] == '>') {
        fflush(stdout);
        if (!freopen(w.c_str() + 1, "wb", stdout)) status = 91;
      } else {
        argv.push_back(&w[0]);
      }
    }
    argv.push_back(nullptr);
    if (status == 0) status = run(static_cast<int>(argv.size()) - 1, argv.data());
    fflush(stdout);
    fprintf(results, "%d\n", status);
  }
  fclose(script);
  fclose(results);
  return 0;
}

#endif  // TINYMLKIT_TEST_BATCH_H_
