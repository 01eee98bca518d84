#include "rtvoice/callback_meter.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace rtvoice {

void CallbackMeterConfig::Validate() const {
  if (!(bucket_us > 0.0) || !std::isfinite(bucket_us))
    throw std::invalid_argument("CallbackMeterConfig.bucket_us must be > 0 microseconds, got " + std::to_string(bucket_us));
  if (!(range_ms > 0.0) || !std::isfinite(range_ms))
    throw std::invalid_argument("CallbackMeterConfig.range_ms must be > 0 milliseconds, got " + std::to_string(range_ms));
  const double buckets = range_ms * 1e3 / bucket_us;
  if (buckets < 1.0 || buckets > 1e6)
    throw std::invalid_argument("CallbackMeterConfig: range_ms / bucket_us must give 1 to 1000000 buckets, got " +
                                std::to_string(buckets));
}

std::string CallbackMeterConfig::ToString() const {
  std::ostringstream os;
  os << "CallbackMeterConfig(bucket_us=" << bucket_us << ", range_ms=" << range_ms << ")";
  return os.str();
}

double MonotonicSeconds() noexcept {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double WallSeconds() noexcept {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

StartClock ClassifyStart(double started, double wall_now, double monotonic_now) noexcept {
  // A little slack below zero: PortAudio's timestamp and ours are read from the same clock, but rounded
  // (gettimeofday gives microseconds).
  const double wall = wall_now - started, mono = monotonic_now - started;
  if (wall >= -1e-5 && wall < kMaxCallbackSpanS) return StartClock::kWall;
  if (mono >= -1e-5 && mono < kMaxCallbackSpanS) return StartClock::kMonotonic;
  return StartClock::kEntry;
}

CallbackMeter::CallbackMeter(const CallbackMeterConfig &config) : config_(config) {
  config_.Validate();
  bucket_ns_ = config_.bucket_us * 1e3;
  buckets_ = static_cast<std::size_t>(std::ceil(config_.range_ms * 1e6 / bucket_ns_ - 1e-9));
  counts_.reset(new std::atomic<std::uint64_t>[buckets_ + 1]);
  Reset();
}

void CallbackMeter::Record(double seconds) noexcept {
  if (!(seconds >= 0.0) || !std::isfinite(seconds)) {
    invalid_.store(invalid_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return;
  }
  const double ns = seconds * 1e9;
  const double index = std::floor(ns / bucket_ns_);
  const std::size_t i = index < static_cast<double>(buckets_) ? static_cast<std::size_t>(index) : buckets_;
  // Single writer: plain load + store instead of read-modify-write (no lock prefix in the callback).
  counts_[i].store(counts_[i].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  const auto whole = ns < 1.8e19 ? static_cast<std::uint64_t>(ns) : UINT64_C(18000000000000000000);
  if (whole > max_ns_.load(std::memory_order_relaxed)) max_ns_.store(whole, std::memory_order_relaxed);
  sum_ns_.store(sum_ns_.load(std::memory_order_relaxed) + whole, std::memory_order_relaxed);
}

CallbackSpan CallbackMeter::Begin(double started) const noexcept {
  const double wall = WallSeconds(), mono = MonotonicSeconds();
  switch (ClassifyStart(started, wall, mono)) {
    case StartClock::kWall: return {started, StartClock::kWall};
    case StartClock::kMonotonic: return {started, StartClock::kMonotonic};
    case StartClock::kEntry: break;
  }
  return {mono, StartClock::kEntry};
}

void CallbackMeter::End(const CallbackSpan &span) noexcept {
  if (!Enabled()) return;
  const double now = span.clock == StartClock::kWall ? WallSeconds() : MonotonicSeconds();
  if (span.clock == StartClock::kEntry)
    from_entry_.store(from_entry_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  // Rounding of a microsecond timestamp can put `now` a hair before it: that is a zero duration.
  const double d = now - span.begin_s;
  Record(d < 0.0 && d >= -1e-5 ? 0.0 : d);
}

std::uint64_t CallbackMeter::Count() const noexcept {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i <= buckets_; ++i) n += counts_[i].load(std::memory_order_relaxed);
  return n;
}

double CallbackMeter::PercentileOf(double q, std::uint64_t count) const noexcept {
  if (count == 0) return 0.0;
  const double max_s = MaxSeconds();
  q = std::min(1.0, std::max(0.0, q));
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count) - 1e-9)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets_; ++i) {
    seen += counts_[i].load(std::memory_order_relaxed);
    if (seen >= rank) return std::min(max_s, static_cast<double>(i + 1) * bucket_ns_ * 1e-9);
  }
  return max_s;  // in the overflow bucket (or counted after `count` was taken)
}

double CallbackMeter::Percentile(double q) const noexcept { return PercentileOf(q, Count()); }

CallbackMeterReading CallbackMeter::Read() const noexcept {
  CallbackMeterReading r;
  r.count = Count();
  r.overflow = counts_[buckets_].load(std::memory_order_relaxed);
  r.invalid = invalid_.load(std::memory_order_relaxed);
  r.from_entry = from_entry_.load(std::memory_order_relaxed);
  r.max_s = MaxSeconds();
  r.mean_s = r.count ? static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) * 1e-9 / static_cast<double>(r.count) : 0.0;
  r.p50_s = PercentileOf(0.50, r.count);
  r.p99_s = PercentileOf(0.99, r.count);
  return r;
}

void CallbackMeter::Reset() noexcept {
  for (std::size_t i = 0; i <= buckets_; ++i) counts_[i].store(0, std::memory_order_relaxed);
  max_ns_.store(0, std::memory_order_relaxed);
  sum_ns_.store(0, std::memory_order_relaxed);
  invalid_.store(0, std::memory_order_relaxed);
  from_entry_.store(0, std::memory_order_relaxed);
}

}  // namespace rtvoice
