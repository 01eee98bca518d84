// Producer and consumer threads move sequence-numbered frames through a RingBuffer: no loss, no
// duplicate, no reordering, correct wraparound. Built as a plain program so it runs under TSan.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "rtvoice/ring_buffer.h"

namespace {

int RunOnce(std::size_t capacity, std::size_t channels, std::uint64_t total_frames, unsigned seed) {
  rtvoice::RingBufferConfig config;
  config.capacity_frames = capacity;
  config.channels = channels;
  rtvoice::RingBuffer rb(config);
  std::atomic<bool> failed{false};

  // Frame k carries (k mod 2^18) + channel/16: exact in float32, and 2^18 is far more than any
  // capacity here, so a lost, repeated or reordered frame always shows.
  auto value = [](std::uint64_t k, std::size_t c) { return static_cast<float>(k % (1u << 18)) + static_cast<float>(c) / 16.0f; };

  std::thread producer([&] {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<std::size_t> size(1, capacity + capacity / 2);
    std::vector<float> block((capacity * 2) * channels);
    std::uint64_t next = 0;
    while (next < total_frames) {
      const std::size_t n = std::min<std::uint64_t>(size(rng), total_frames - next);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t c = 0; c < channels; ++c) block[i * channels + c] = value(next + i, c);
      std::size_t done = 0;
      while (done < n) {  // a worker retries; only audio callbacks must not
        const std::size_t wrote = rb.Write(block.data() + done * channels, n - done);
        done += wrote;
        if (wrote == 0) std::this_thread::yield();
      }
      next += n;
    }
  });

  std::thread consumer([&] {
    std::mt19937 rng(seed + 1);
    std::uniform_int_distribution<std::size_t> size(1, capacity);
    std::vector<float> block(capacity * channels);
    std::uint64_t expected = 0;
    while (expected < total_frames && !failed.load()) {
      const std::size_t got = rb.Read(block.data(), size(rng));
      if (got == 0) std::this_thread::yield();
      for (std::size_t i = 0; i < got; ++i) {
        for (std::size_t c = 0; c < channels; ++c) {
          if (block[i * channels + c] != value(expected, c)) {
            std::fprintf(stderr, "frame %llu channel %zu: got %f, expected %f\n",
                         static_cast<unsigned long long>(expected), c, block[i * channels + c], value(expected, c));
            failed.store(true);
            return;
          }
        }
        ++expected;
      }
    }
  });

  producer.join();
  consumer.join();
  if (failed.load()) return 1;
  if (rb.Available() != 0 || rb.FramesWritten() != total_frames || rb.FramesRead() != total_frames) {
    std::fprintf(stderr, "counters wrong: available=%zu written=%llu read=%llu\n", rb.Available(),
                 static_cast<unsigned long long>(rb.FramesWritten()), static_cast<unsigned long long>(rb.FramesRead()));
    return 1;
  }
  if (rb.OverflowFrames() == 0) {
    std::fprintf(stderr, "expected the producer to hit a full buffer at least once\n");
    return 1;
  }
  return 0;
}

int OverflowIsExact() {
  rtvoice::RingBufferConfig config;
  config.capacity_frames = 100;  // rounds up to 128
  rtvoice::RingBuffer rb(config);
  std::vector<float> data(300, 1.0f);
  if (rb.Capacity() != 128) return 1;
  if (rb.Write(data.data(), 300) != 128 || rb.OverflowFrames() != 172) return 1;
  if (rb.Write(data.data(), 5) != 0 || rb.OverflowFrames() != 177) return 1;
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  // Frame count: 10^7 by default (fast in a release build); sanitizer runs pass a smaller one.
  const std::uint64_t frames = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10000000ull;
  int failures = OverflowIsExact();
  failures += RunOnce(1024, 1, frames, 1);
  failures += RunOnce(256, 2, frames / 4, 2);
  failures += RunOnce(64, 6, frames / 16, 3);
  if (failures) {
    std::fprintf(stderr, "test_ring_buffer_threads: %d failure(s)\n", failures);
    return 1;
  }
  std::printf("test_ring_buffer_threads: ok (%llu frames mono, wraparound and overflow checked)\n",
              static_cast<unsigned long long>(frames));
  return 0;
}
