// Denoiser::Process from C++ (the front-end thread's view): it never allocates after construction,
// works in place (in == out), gives the same output whatever the chunking, and replaces non-finite
// input by 0 while counting it. Plain program (exit status), so it also runs under the sanitizers.
// Usage: test_denoiser_native [samples per configuration, default 400000]
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <random>
#include <vector>

#include "rtvoice/denoiser.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

void *operator new(std::size_t size) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void *p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void *operator new[](std::size_t size) { return operator new(size); }
void operator delete(void *p) noexcept { std::free(p); }
void operator delete[](void *p) noexcept { std::free(p); }
void operator delete(void *p, std::size_t) noexcept { std::free(p); }
void operator delete[](void *p, std::size_t) noexcept { std::free(p); }

namespace {

int failures = 0;

void Check(bool ok, const char *what, int sample_rate, int window_ms) {
  if (!ok) {
    std::fprintf(stderr, "FAILED (%d Hz, %d ms): %s\n", sample_rate, window_ms, what);
    ++failures;
  }
}

void RunConfig(int sample_rate, int window_ms, std::size_t samples, unsigned seed) {
  rtvoice::DenoiserConfig config;
  config.sample_rate = sample_rate;
  config.window_ms = window_ms;

  // Noise with a tone switching on and off, so every code path (speech present / absent) runs.
  std::mt19937 rng(seed);
  std::normal_distribution<float> gauss(0.0f, 0.03f);
  std::vector<float> x(samples);
  for (std::size_t i = 0; i < samples; ++i) {
    const double t = static_cast<double>(i) / sample_rate;
    const bool on = static_cast<long>(t * 3) % 2 == 1;
    x[i] = gauss(rng) + (on ? 0.3f * static_cast<float>(std::sin(2 * M_PI * 440 * t)) : 0.0f);
  }

  rtvoice::Denoiser whole(config);
  std::vector<float> expected(samples);
  whole.Process(x.data(), samples, expected.data());

  rtvoice::Denoiser streamed(config);
  std::vector<float> buffer = x;  // processed in place, chunk by chunk
  std::uniform_int_distribution<std::size_t> chunk(0, 3 * static_cast<std::size_t>(sample_rate) / 100);
  g_allocations = 0;
  g_counting = true;
  for (std::size_t pos = 0; pos < samples;) {
    const std::size_t n = std::min(chunk(rng), samples - pos);
    streamed.Process(buffer.data() + pos, n, buffer.data() + pos);
    pos += n;
  }
  g_counting = false;
  Check(g_allocations.load() == 0, "Process allocated", sample_rate, window_ms);
  bool same = true;
  for (std::size_t i = 0; i < samples; ++i) same = same && buffer[i] == expected[i];
  Check(same, "in-place chunked output differs from one call", sample_rate, window_ms);

  // Non-finite samples: replaced by 0 (the output stays finite) and counted.
  rtvoice::Denoiser guarded(config);
  std::vector<float> bad(static_cast<std::size_t>(sample_rate) / 10, 0.01f), out(bad.size());
  bad[5] = NAN;
  bad[17] = INFINITY;
  guarded.Process(bad.data(), bad.size(), out.data());
  bool finite = true;
  for (float v : out) finite = finite && std::isfinite(v);
  Check(finite && guarded.NonFiniteSamples() == 2, "non-finite input not replaced and counted", sample_rate,
        window_ms);
  guarded.Reset();
  Check(guarded.NonFiniteSamples() == 0 && guarded.FramesProcessed() == 0, "Reset kept counters", sample_rate,
        window_ms);
}

}  // namespace

int main(int argc, char **argv) {
  const std::size_t samples = argc > 1 ? static_cast<std::size_t>(std::strtoul(argv[1], nullptr, 10)) : 400000;
  unsigned seed = 1;
  for (int rate : {16000, 48000})
    for (int window : {20, 30, 40}) RunConfig(rate, window, samples / (rate == 48000 ? 2 : 1), seed++);
  if (failures) return 1;
  std::printf("test_denoiser_native: ok\n");
  return 0;
}
