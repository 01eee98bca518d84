#include "rtvoice/ring_buffer.h"

#include <algorithm>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace rtvoice {

namespace {
constexpr std::size_t kMaxCapacityFrames = std::size_t{1} << 30;
constexpr std::size_t kMaxChannels = 64;

std::size_t NextPowerOfTwo(std::size_t n) {
  std::size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}
}  // namespace

void RingBufferConfig::Validate() const {
  if (capacity_frames == 0) throw std::invalid_argument("RingBuffer capacity_frames must be > 0");
  if (capacity_frames > kMaxCapacityFrames)
    throw std::invalid_argument("RingBuffer capacity_frames must be <= 2^30, got " + std::to_string(capacity_frames));
  if (channels == 0 || channels > kMaxChannels)
    throw std::invalid_argument("RingBuffer channels must be in [1, 64], got " + std::to_string(channels));
}

std::string RingBufferConfig::ToString() const {
  std::ostringstream os;
  os << "RingBufferConfig(capacity_frames=" << capacity_frames << ", channels=" << channels << ")";
  return os.str();
}

RingBuffer::RingBuffer(const RingBufferConfig &config) {
  config.Validate();
  capacity_ = NextPowerOfTwo(config.capacity_frames);
  mask_ = capacity_ - 1;
  channels_ = config.channels;
  storage_.reset(new float[capacity_ * channels_]());
}

std::size_t RingBuffer::Write(const float *data, std::size_t frames) noexcept {
  const std::uint64_t w = write_pos_.load(std::memory_order_relaxed);
  const std::uint64_t r = read_pos_.load(std::memory_order_acquire);
  const std::size_t space = capacity_ - static_cast<std::size_t>(w - r);
  const std::size_t n = std::min(frames, space);
  if (n > 0) {
    const std::size_t start = static_cast<std::size_t>(w) & mask_;
    const std::size_t first = std::min(n, capacity_ - start);
    std::memcpy(storage_.get() + start * channels_, data, first * channels_ * sizeof(float));
    if (n > first) std::memcpy(storage_.get(), data + first * channels_, (n - first) * channels_ * sizeof(float));
    write_pos_.store(w + n, std::memory_order_release);
  }
  if (n < frames) overflow_frames_.fetch_add(frames - n, std::memory_order_relaxed);
  return n;
}

std::size_t RingBuffer::Read(float *out, std::size_t frames) noexcept {
  const std::uint64_t r = read_pos_.load(std::memory_order_relaxed);
  const std::uint64_t w = write_pos_.load(std::memory_order_acquire);
  const std::size_t n = std::min(frames, static_cast<std::size_t>(w - r));
  if (n > 0) {
    const std::size_t start = static_cast<std::size_t>(r) & mask_;
    const std::size_t first = std::min(n, capacity_ - start);
    std::memcpy(out, storage_.get() + start * channels_, first * channels_ * sizeof(float));
    if (n > first) std::memcpy(out + first * channels_, storage_.get(), (n - first) * channels_ * sizeof(float));
    read_pos_.store(r + n, std::memory_order_release);
  }
  if (n < frames) underflow_reads_.fetch_add(1, std::memory_order_relaxed);
  return n;
}

std::size_t RingBuffer::ReadOrSilence(float *out, std::size_t frames) noexcept {
  const std::size_t n = Read(out, frames);
  if (n < frames) std::memset(out + n * channels_, 0, (frames - n) * channels_ * sizeof(float));
  return n;
}

std::size_t RingBuffer::Discard() noexcept {
  const std::uint64_t r = read_pos_.load(std::memory_order_relaxed);
  const std::uint64_t w = write_pos_.load(std::memory_order_acquire);
  if (w != r) read_pos_.store(w, std::memory_order_release);
  return static_cast<std::size_t>(w - r);
}

std::size_t RingBuffer::Available() const noexcept {
  const std::uint64_t w = write_pos_.load(std::memory_order_acquire);
  const std::uint64_t r = read_pos_.load(std::memory_order_acquire);
  return static_cast<std::size_t>(w - r);
}

std::size_t RingBuffer::Space() const noexcept { return capacity_ - Available(); }

void RingBuffer::Reset() noexcept {
  write_pos_.store(0, std::memory_order_relaxed);
  read_pos_.store(0, std::memory_order_relaxed);
  overflow_frames_.store(0, std::memory_order_relaxed);
  underflow_reads_.store(0, std::memory_order_relaxed);
}

}  // namespace rtvoice
