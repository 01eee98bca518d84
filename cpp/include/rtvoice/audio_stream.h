// PortAudio streams whose callbacks are native code only: no Python, no GIL in PortAudio's thread.
//
// CaptureStream's callback copies the device's float32 frames into a RingBuffer; PlaybackStream's callback
// copies frames out of one (zero-filling what is missing) and can drop everything queued on request
// (barge-in). Each callback times itself into a CallbackMeter. Inside the callbacks: no allocation, no
// lock, no logging, no syscall (the clocks are read through the vDSO), only relaxed/acquire atomics.
//
// The RingBuffer and the CallbackMeters belong to the caller and must outlive the stream (or its Close()).
// Each stream holds one reference on PortAudio (Pa_Initialize is reference-counted), released by Close().
// Device indices are PortAudio's, the same as python-sounddevice's when both use the same libportaudio.
//
// When rtvoice is built without PortAudio, NativeAudioAvailable() is false and constructing a stream throws
// AudioStreamError.
#ifndef RTVOICE_AUDIO_STREAM_H_
#define RTVOICE_AUDIO_STREAM_H_

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "rtvoice/callback_meter.h"
#include "rtvoice/ring_buffer.h"

namespace rtvoice {

// True when this build links PortAudio (the stream classes work).
bool NativeAudioAvailable() noexcept;

// A PortAudio failure (with Pa_GetErrorText's message), or a stream used in the wrong state.
class AudioStreamError : public std::runtime_error {
 public:
  AudioStreamError(const std::string &what, int pa_error) : std::runtime_error(what), pa_error_(pa_error) {}
  int PaErrorCode() const noexcept { return pa_error_; }  // 0 when not from PortAudio

 private:
  int pa_error_;
};

struct AudioStreamConfig {
  // PortAudio device index; -1: the default device for the stream's direction.
  int device = -1;
  // Interleaved channels (the ring buffer must have as many).
  int channels = 1;
  // Hz.
  double sample_rate = 48000.0;
  // Frames per callback; 0: PortAudio chooses (paFramesPerBufferUnspecified).
  int frames_per_buffer = 0;
  // Suggested device latency in seconds; < 0: the device's default low latency.
  double suggested_latency_s = -1.0;
  // Ask PortAudio's ALSA host API to run the callback thread SCHED_FIFO (ignored on other host APIs; when
  // the process may not, Start() falls back to normal scheduling).
  bool realtime = false;

  void Validate() const;  // throws std::invalid_argument
  std::string ToString() const;
};
using CaptureStreamConfig = AudioStreamConfig;
using PlaybackStreamConfig = AudioStreamConfig;

// What a stream's callbacks saw (each a count since the stream was opened; read from any thread).
struct AudioStreamCounters {
  std::uint64_t callbacks = 0;          // callbacks run
  std::uint64_t frames = 0;             // frames delivered (capture: received from the device; playback: handed to it)
  std::uint64_t status_callbacks = 0;   // callbacks PortAudio flagged with any status (an xrun)
  std::uint64_t input_overflows = 0;    // of which paInputOverflow (input lost before it reached the callback)
  std::uint64_t input_underflows = 0;   // paInputUnderflow
  std::uint64_t output_underflows = 0;  // paOutputUnderflow (the device played a gap PortAudio inserted)
  std::uint64_t output_overflows = 0;   // paOutputOverflow
  std::uint64_t ring_refused_frames = 0;  // capture: frames the full ring refused
  std::uint64_t silence_frames = 0;     // playback: frames zero-filled because the ring ran short
  std::uint64_t discards = 0;           // playback: discard requests served
  std::uint64_t discarded_frames = 0;   // playback: frames those dropped
};

// Base: opening, starting, stopping and closing one PortAudio stream; the callbacks are the subclasses'.
class AudioStream {
 public:
  AudioStream(const AudioStream &) = delete;
  AudioStream &operator=(const AudioStream &) = delete;
  virtual ~AudioStream();

  // Start (again, after Stop) the callbacks. Throws AudioStreamError.
  void Start();
  // Stop: returns once the last callback has run (Pa_StopStream). No-op when stopped or closed.
  void Stop();
  // Abort if running (Pa_AbortStream: does not wait for a stalled device) and close the stream, and release
  // this stream's reference on PortAudio. Idempotent.
  void Close();

  bool IsOpen() const noexcept { return stream_ != nullptr; }
  // Pa_IsStreamActive: callbacks are running (False once PortAudio ended the stream, e.g. the device died).
  bool IsActive() const noexcept;
  // The finished callback ran (Pa_SetStreamFinishedCallback) since the last Start(): the stream became
  // inactive, by Stop() or because PortAudio ended it.
  bool Finished() const noexcept { return finished_.load(std::memory_order_acquire); }
  // Latency PortAudio reports for the open stream (s; Pa_GetStreamInfo), 0 when closed.
  double LatencySeconds() const noexcept;
  // The rate the stream runs at (Hz; Pa_GetStreamInfo), 0 when closed.
  double SampleRate() const noexcept;
  int Device() const noexcept { return device_; }
  // SCHED_FIFO was requested from PortAudio (config.realtime on the ALSA host API). PortAudio itself falls
  // back to normal scheduling when the process may not have it (no CAP_SYS_NICE, RLIMIT_RTPRIO 0): whether
  // it got it shows in the thread's policy (rtvoice.audio.native.realtime_threads).
  bool Realtime() const noexcept { return realtime_; }

  std::uint64_t Frames() const noexcept { return frames_.load(std::memory_order_relaxed); }
  AudioStreamCounters Counters() const noexcept;
  const AudioStreamConfig &Config() const noexcept { return config_; }
  CallbackMeter &Meter() const noexcept { return *meter_; }

 protected:
  // `meter`: each callback's duration from PortAudio's timeInfo->currentTime when that is on a clock the
  // meter knows (on ALSA it is CLOCK_REALTIME), else from native entry (CallbackMeter::Begin).
  // `entry_meter` (may be null): from native entry to exit on steady_clock, recorded while `meter` is enabled.
  AudioStream(const AudioStreamConfig &config, RingBuffer *ring, CallbackMeter *meter, CallbackMeter *entry_meter);
  // Opens the stream: input (capture callback) or output (playback callback), `this` as user data.
  void Open(bool input);

  // Callback-thread helpers (single writer: plain load + store, no read-modify-write).
  static void Bump(std::atomic<std::uint64_t> &counter, std::uint64_t by = 1) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
  void CountStatus(unsigned long flags) noexcept;

  AudioStreamConfig config_;
  RingBuffer *ring_;
  CallbackMeter *meter_;
  CallbackMeter *entry_meter_;
  int device_ = -1;

  std::atomic<std::uint64_t> callbacks_{0};
  std::atomic<std::uint64_t> frames_{0};
  std::atomic<std::uint64_t> status_callbacks_{0};
  std::atomic<std::uint64_t> input_overflows_{0};
  std::atomic<std::uint64_t> input_underflows_{0};
  std::atomic<std::uint64_t> output_underflows_{0};
  std::atomic<std::uint64_t> output_overflows_{0};
  std::atomic<std::uint64_t> ring_refused_frames_{0};
  std::atomic<std::uint64_t> silence_frames_{0};
  std::atomic<std::uint64_t> discards_{0};
  std::atomic<std::uint64_t> discarded_frames_{0};
  std::atomic<bool> finished_{false};

 private:
  friend struct AudioStreamCallbacks;  // the PortAudio callbacks (audio_stream.cpp)
  void *stream_ = nullptr;   // PaStream*
  bool realtime_ = false;
  bool initialized_ = false;  // holds a Pa_Initialize reference
};

// Microphone: each callback writes the device's interleaved float32 frames into `ring` (its channel count
// must match); what does not fit is counted (ring.OverflowFrames() and ring_refused_frames), never waited for.
class CaptureStream : public AudioStream {
 public:
  CaptureStream(const CaptureStreamConfig &config, RingBuffer *ring, CallbackMeter *meter,
                CallbackMeter *entry_meter = nullptr);

 private:
  friend struct AudioStreamCallbacks;
};

// Speaker: each callback reads frames from `ring` (its channel count must match), zero-filling what is
// missing (ring.UnderflowReads() and silence_frames count it). RequestDiscard(), from any thread, makes the
// next callback drop everything queued before it reads (O(1), no copy).
class PlaybackStream : public AudioStream {
 public:
  PlaybackStream(const PlaybackStreamConfig &config, RingBuffer *ring, CallbackMeter *meter,
                 CallbackMeter *entry_meter = nullptr);

  void RequestDiscard() noexcept { discard_requests_.fetch_add(1, std::memory_order_release); }

 private:
  friend struct AudioStreamCallbacks;
  std::atomic<std::uint64_t> discard_requests_{0};
  std::uint64_t discard_seen_ = 0;  // callback thread only
};

}  // namespace rtvoice

#endif  // RTVOICE_AUDIO_STREAM_H_
