/*
 * C reference for the latency suite's ring-thread-spin: ping-pong between two threads of one process
 * through two single-producer single-consumer rings in ordinary memory, one record in flight each
 * way, both sides spinning (never parking). Built with the system compiler at bench time
 * (bench/native/build.mjs); bench/suites/latency.mjs runs it as the contender `c-thread-spin`.
 *
 * Each ring is the shape of a shmring ring reduced to fixed-size slots: a producer position (tail)
 * and a consumer position (head), 64-bit, on their own cache lines; a record is an 8-byte header
 * (u32 length, u32 type) and the payload. The producer copies the record in and publishes with a
 * store-release of tail; the consumer sees it with a load-acquire of tail, reads it, and frees the
 * slot with a store-release of head. The echo thread copies each ping into the pong ring, as the
 * Node echo does.
 *
 * usage: pingpong SIZE COUNT WARMUP
 * Prints one JSON line: {"count":N,"elapsedNs":E,"latencyNs":[round trip of each timed ping],"rssBytes":R}.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define CACHE_LINE 64
#define SLOTS 64 /* power of two; one record is in flight, so the ring never fills */
#define RECORD_HEADER 8

struct ring {
  _Alignas(CACHE_LINE) _Atomic uint64_t tail; /* producer position: records published */
  _Alignas(CACHE_LINE) _Atomic uint64_t head; /* consumer position: records released */
  _Alignas(CACHE_LINE) size_t slot_length;
  unsigned char *slots;
};

struct run {
  struct ring ping;
  struct ring pong;
  size_t size;
  uint64_t total; /* warm-up plus timed pings */
};

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int ring_init(struct ring *ring, size_t size) {
  ring->slot_length = (RECORD_HEADER + size + CACHE_LINE - 1) & ~(size_t)(CACHE_LINE - 1);
  ring->slots = aligned_alloc(CACHE_LINE, ring->slot_length * SLOTS);
  if (!ring->slots) return -1;
  memset(ring->slots, 0, ring->slot_length * SLOTS);
  atomic_init(&ring->tail, 0);
  atomic_init(&ring->head, 0);
  return 0;
}

/* Producer: copy the record into the next slot, then publish it (release: the bytes before tail). */
static void ring_write(struct ring *ring, const unsigned char *record, size_t length) {
  uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
  while (tail - atomic_load_explicit(&ring->head, memory_order_acquire) >= SLOTS) {
  }
  memcpy(ring->slots + (tail & (SLOTS - 1)) * ring->slot_length, record, length);
  atomic_store_explicit(&ring->tail, tail + 1, memory_order_release);
}

/* Consumer: spin until a record is published (acquire pairs with the producer's release). */
static unsigned char *ring_wait(struct ring *ring) {
  uint64_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
  while (atomic_load_explicit(&ring->tail, memory_order_acquire) == head) {
  }
  return ring->slots + (head & (SLOTS - 1)) * ring->slot_length;
}

/* Consumer: the slot may be reused once head passes it (release: our reads happen before). */
static void ring_release(struct ring *ring) {
  uint64_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
  atomic_store_explicit(&ring->head, head + 1, memory_order_release);
}

static void *echo(void *argument) {
  struct run *run = argument;
  size_t length = RECORD_HEADER + run->size;
  for (uint64_t i = 0; i < run->total; i++) {
    unsigned char *record = ring_wait(&run->ping);
    ring_write(&run->pong, record, length);
    ring_release(&run->ping);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: pingpong SIZE COUNT WARMUP\n");
    return 2;
  }
  struct run run;
  run.size = strtoull(argv[1], NULL, 10);
  uint64_t count = strtoull(argv[2], NULL, 10);
  uint64_t warmup = strtoull(argv[3], NULL, 10);
  if (run.size == 0 || run.size > (1u << 24) || count == 0 || count > (1ull << 28)) return 2;
  run.total = warmup + count;
  if (ring_init(&run.ping, run.size) || ring_init(&run.pong, run.size)) return 1;
  size_t length = RECORD_HEADER + run.size;
  unsigned char *record = malloc(length);
  double *latency = malloc(count * sizeof(double));
  if (!record || !latency) return 1;
  uint32_t header[2] = {(uint32_t)run.size, 1};
  memcpy(record, header, RECORD_HEADER);
  for (size_t i = 0; i < run.size; i++) record[RECORD_HEADER + i] = (unsigned char)(i * 31 + 7);

  pthread_t echo_thread;
  if (pthread_create(&echo_thread, NULL, echo, &run) != 0) return 1;
  unsigned check = 0;
  double start = 0;
  for (uint64_t i = 0; i < run.total; i++) {
    if (i == warmup) start = now_ns();
    double sent = now_ns();
    ring_write(&run.ping, record, length);
    unsigned char *reply = ring_wait(&run.pong);
    check += reply[RECORD_HEADER];
    ring_release(&run.pong);
    if (i >= warmup) latency[i - warmup] = now_ns() - sent;
  }
  double elapsed = now_ns() - start;
  pthread_join(echo_thread, NULL);

  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  printf("{\"count\":%llu,\"elapsedNs\":%.0f,\"check\":%u,\"rssBytes\":%ld,\"latencyNs\":[", (unsigned long long)count, elapsed, check, usage.ru_maxrss * 1024L);
  for (uint64_t i = 0; i < count; i++) printf("%s%.0f", i ? "," : "", latency[i]);
  printf("]}\n");
  return 0;
}
