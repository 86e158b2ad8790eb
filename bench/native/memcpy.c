/*
 * Single-core memcpy reference for bench/suites/inproc.mjs: copies of `size` bytes from one source
 * buffer into consecutive slots of a target of `target_length` bytes (wrapping, L2-resident when
 * small), timed with CLOCK_MONOTONIC. The count is calibrated so one round lasts about `target_ms`;
 * then `rounds` rounds are timed. Prints one JSON line: {"count":N,"elapsedNs":[...],"rssBytes":N}.
 * The copy goes through a volatile function pointer so the compiler cannot turn it into something
 * that is not a memcpy call.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static void *(*volatile copy_fn)(void *, const void *, size_t) = memcpy;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double copies(unsigned char *target, const unsigned char *source, size_t size, size_t wrap, uint64_t count) {
  double start = now_ns();
  size_t at = 0;
  for (uint64_t i = 0; i < count; i++) {
    copy_fn(target + at, source, size);
    at += size;
    if (at > wrap) at = 0;
  }
  return now_ns() - start;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: memcpy SIZE TARGET_LENGTH TARGET_MS ROUNDS\n");
    return 2;
  }
  size_t size = strtoull(argv[1], NULL, 10);
  size_t target_length = strtoull(argv[2], NULL, 10);
  double target_ns = strtod(argv[3], NULL) * 1e6;
  int rounds = atoi(argv[4]);
  if (size == 0 || target_length < size || rounds < 1 || rounds > 1000) return 2;
  unsigned char *source = aligned_alloc(64, (size + 63) & ~(size_t)63);
  unsigned char *target = aligned_alloc(64, (target_length + 63) & ~(size_t)63);
  if (!source || !target) return 1;
  for (size_t i = 0; i < size; i++) source[i] = (unsigned char)(i * 31 + 7);
  memset(target, 0, target_length);
  size_t wrap = target_length - size;
  uint64_t count = 16;
  for (;;) {
    double elapsed = copies(target, source, size, wrap, count);
    if (elapsed >= target_ns / 4 || count > (1ull << 40)) {
      double scaled = (double)count * target_ns / (elapsed > 1 ? elapsed : 1);
      count = scaled < 16 ? 16 : (uint64_t)scaled;
      break;
    }
    count *= 4;
  }
  printf("{\"count\":%llu,\"elapsedNs\":[", (unsigned long long)count);
  for (int r = 0; r < rounds; r++) printf("%s%.0f", r ? "," : "", copies(target, source, size, wrap, count));
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  printf("],\"rssBytes\":%ld,\"check\":%u}\n", usage.ru_maxrss * 1024L, target[0]);
  return 0;
}
