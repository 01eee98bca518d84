// CallbackMeter: percentiles of known durations, and one writer recording while a reader takes readings
// (built as a plain program so the TSan stage runs it: the writer's relaxed stores and the reader's loads
// must be race-free, and a reading must never count more than was recorded).
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "rtvoice/callback_meter.h"

namespace {

int Check(bool ok, const char *what) {
  if (!ok) std::fprintf(stderr, "FAILED: %s\n", what);
  return ok ? 0 : 1;
}

int KnownDurations() {
  rtvoice::CallbackMeter meter(rtvoice::CallbackMeterConfig{});  // 1 us buckets up to 20 ms
  int f = 0;
  f += Check(meter.Percentile(0.5) == 0.0 && meter.Read().count == 0, "empty meter reads 0");
  // 1..100 us, each once: nearest-rank p50 is the 50th (50 us, bucket [50, 51) us -> upper edge 51 us).
  for (int us = 1; us <= 100; ++us) meter.Record((us + 0.5) * 1e-6);
  const auto r = meter.Read();
  f += Check(r.count == 100, "count");
  f += Check(std::fabs(r.p50_s - 51e-6) < 1e-9, "p50 is the 50th duration's bucket upper edge");
  f += Check(std::fabs(r.p99_s - 100e-6) < 1e-9, "p99 is the 99th duration's bucket upper edge");
  f += Check(std::fabs(r.max_s - 100.5e-6) < 2e-9, "max is exact (to the nanosecond)");
  // One duration past the range: overflow, exact max, and p100 is that max.
  meter.Record(0.05);
  f += Check(meter.Read().overflow == 1 && std::fabs(meter.MaxSeconds() - 0.05) < 1e-9, "overflow keeps max exact");
  f += Check(std::fabs(meter.Percentile(1.0) - 0.05) < 1e-9, "p100 in the overflow bucket is the max");
  meter.Record(-1.0);
  meter.Record(std::nan(""));
  f += Check(meter.Read().invalid == 2 && meter.Count() == 101, "invalid durations are counted apart");
  // Timing: a wall-clock start 1 ms ago is read as such; a start of 0 falls back to native entry.
  meter.Reset();
  const double wall = rtvoice::WallSeconds();
  meter.End(meter.Begin(wall - 0.001));
  f += Check(meter.MaxSeconds() >= 0.001 && meter.MaxSeconds() < 0.5, "wall-clock start");
  meter.End(meter.Begin(rtvoice::MonotonicSeconds() - 0.002));
  f += Check(meter.MaxSeconds() >= 0.002 && meter.MaxSeconds() < 0.5 && meter.Read().from_entry == 0,
             "monotonic start");
  meter.End(meter.Begin(0.0));
  f += Check(meter.Read().from_entry == 1 && meter.Count() == 3, "a start on no clock is timed from entry");
  meter.SetEnabled(false);
  meter.End(meter.Begin(wall));
  f += Check(meter.Count() == 3, "a disabled meter records no span");
  meter.SetEnabled(true);
  bool threw = false;
  try {
    rtvoice::CallbackMeterConfig bad;
    bad.bucket_us = 0;
    bad.Validate();
  } catch (const std::invalid_argument &) {
    threw = true;
  }
  f += Check(threw, "Validate rejects bucket_us = 0");
  return f;
}

int WriterAndReader(std::uint64_t n) {
  rtvoice::CallbackMeterConfig config;
  config.range_ms = 1.0;
  rtvoice::CallbackMeter meter(config);
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::thread reader([&] {
    std::uint64_t last = 0;
    while (!done.load(std::memory_order_acquire)) {
      const auto r = meter.Read();
      // Counts only grow, never past what was written; percentiles stay within what was recorded.
      if (r.count < last || r.count > n || r.p99_s > 1.5e-3 || r.p50_s > 1.5e-3) failures.fetch_add(1);
      last = r.count;
    }
  });
  std::thread writer([&] {
    for (std::uint64_t i = 0; i < n; ++i) meter.Record(static_cast<double>(i % 1500) * 1e-6);  // 0..1.499 ms
    done.store(true, std::memory_order_release);
  });
  writer.join();
  reader.join();
  const auto r = meter.Read();
  int f = Check(failures.load() == 0, "readings during writes are consistent");
  f += Check(r.count == n, "every duration counted");
  f += Check(std::fabs(r.max_s - 1.499e-3) < 2e-9, "max");
  return f;
}

}  // namespace

int main(int argc, char **argv) {
  const std::uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 5000000ull;
  const int failures = KnownDurations() + WriterAndReader(n);
  if (failures) {
    std::fprintf(stderr, "test_callback_meter_threads: %d failure(s)\n", failures);
    return 1;
  }
  std::printf("test_callback_meter_threads: ok (%llu durations recorded beside a reader)\n",
              static_cast<unsigned long long>(n));
  return 0;
}
