/* startup.c: bare-metal start of the kit's C++ test drivers on QEMU's mps2-an386 (Cortex-M4F).
 *
 * Reset: switch the FPU on (the drivers are built for the board's float ABI and use VFP instructions),
 * clear .bss, open newlib's semihosting file handles (stdin, stdout, stderr and fopen() go to the host
 * through QEMU), run C++ constructors, take argv from QEMU (-semihosting-config arg=...), call main()
 * and exit with its status. A fault reports itself and exits with a failure, so a test never hangs.
 * Linked with -nostartfiles and newlib's rdimon library (see tests/test_qemu_m4.py). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

extern uint32_t __stack_top;
extern uint32_t __bss_start__;
extern uint32_t __bss_end__;
extern void __libc_init_array(void);
extern void initialise_monitor_handles(void);
extern int main(int argc, char** argv);

enum { SYS_WRITE0 = 0x04, SYS_GET_CMDLINE = 0x15, SYS_EXIT = 0x18 };
enum { ADP_STOPPED_RUNTIME_ERROR = 0x20023 };

static int semihost(int op, void* arg) {
  register int r0 __asm__("r0") = op;
  register void* r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

/* What crti/crtn and crtbegin would give (not linked with -nostartfiles): newlib's __libc_init_array
   calls _init/_fini, and libstdc++ registers destructors against __dso_handle. */
void _init(void) {}
void _fini(void) {}
void* __dso_handle = &__dso_handle;

static char g_cmdline[8192];
static char* g_argv[128];

static int split_cmdline(void) {
  struct {
    char* buffer;
    int length;
  } block = {g_cmdline, (int)sizeof g_cmdline - 1};
  if (semihost(SYS_GET_CMDLINE, &block) != 0) return 0;
  g_cmdline[block.length] = '\0';
  int argc = 0;
  char* p = g_cmdline;
  while (*p && argc < (int)(sizeof g_argv / sizeof g_argv[0]) - 1) {
    while (*p == ' ') *p++ = '\0';
    if (!*p) break;
    g_argv[argc++] = p;
    while (*p && *p != ' ') ++p;
  }
  g_argv[argc] = 0;
  return argc;
}

void Reset_Handler(void) {
  *(volatile uint32_t*)0xE000ED88u |= 0xFu << 20; /* CPACR: full access to CP10 and CP11 (the FPU) */
  __asm__ volatile("dsb\n\tisb");
  memset(&__bss_start__, 0, (size_t)((char*)&__bss_end__ - (char*)&__bss_start__));
  initialise_monitor_handles();
  __libc_init_array();
  const int argc = split_cmdline();
  exit(main(argc, g_argv));
}

static void Fault_Handler(void) {
  semihost(SYS_WRITE0, (void*)"FAULT: the program crashed on the emulated Cortex-M4\n");
  struct {
    int reason;
    int code;
  } stop = {ADP_STOPPED_RUNTIME_ERROR, 1};
  semihost(SYS_EXIT, (void*)(uintptr_t)stop.reason); /* 32-bit semihosting: the reason is the argument */
  for (;;) {
  }
}

/* Cortex-M vector table: initial stack pointer, then the reset and fault handlers. */
__attribute__((section(".vectors"), used)) static void* const g_vectors[16] = {
    &__stack_top, (void*)Reset_Handler, (void*)Fault_Handler, (void*)Fault_Handler, (void*)Fault_Handler,
    (void*)Fault_Handler, (void*)Fault_Handler, 0, 0, 0, 0, (void*)Fault_Handler, (void*)Fault_Handler, 0,
    (void*)Fault_Handler, (void*)Fault_Handler,
};
