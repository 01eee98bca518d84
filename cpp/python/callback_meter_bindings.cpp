#include <string>

#include "bindings.h"
#include "rtvoice/callback_meter.h"
#include "rtvoice/ring_buffer.h"

namespace rtvoice_py {

namespace {
using rtvoice::CallbackMeter;
using rtvoice::RingBuffer;

// `data` as float32 C-contiguous frames of the ring's channel count; returns the frame count. The
// callback forms never convert (a conversion would allocate in the audio callback): a wrong array is an
// error.
py::ssize_t CallbackFrames(const RingBuffer &ring, const py::array &data, bool writeable) {
  if (data.dtype().kind() != 'f' || data.itemsize() != 4)
    throw py::type_error("audio block must be a float32 array, got dtype " + std::string(py::str(data.dtype())));
  if (!(data.flags() & py::array::c_style) || (writeable && !data.writeable()))
    throw py::value_error(writeable ? "audio block must be a writeable C-contiguous array"
                                    : "audio block must be C-contiguous");
  const auto channels = static_cast<py::ssize_t>(ring.Channels());
  if (data.ndim() == 1 && channels == 1) return data.shape(0);
  if (data.ndim() == 2 && data.shape(1) == channels) return data.shape(0);
  throw py::value_error("audio block must have shape (frames, " + std::to_string(channels) + ")" +
                        (channels == 1 ? " or (frames,)" : "") + ", got " +
                        std::string(py::str(py::tuple(data.attr("shape")))));
}

py::dict ReadingDict(const rtvoice::CallbackMeterReading &r) {
  py::dict d;
  d["count"] = r.count;
  d["overflow"] = r.overflow;
  d["invalid"] = r.invalid;
  d["from_entry"] = r.from_entry;
  d["mean_s"] = r.mean_s;
  d["p50_s"] = r.p50_s;
  d["p99_s"] = r.p99_s;
  d["max_s"] = r.max_s;
  return d;
}
}  // namespace

void BindCallbackMeter(py::module_ &m) {
  py::class_<rtvoice::CallbackMeterConfig>(m, "CallbackMeterConfig", "Options of a CallbackMeter.")
      .def(py::init([](double bucket_us, double range_ms) {
             rtvoice::CallbackMeterConfig c;
             c.bucket_us = bucket_us;
             c.range_ms = range_ms;
             c.Validate();
             return c;
           }),
           py::arg("bucket_us") = 1.0, py::arg("range_ms") = 20.0)
      .def_readonly("bucket_us", &rtvoice::CallbackMeterConfig::bucket_us, "Bucket width (microseconds).")
      .def_readonly("range_ms", &rtvoice::CallbackMeterConfig::range_ms,
                    "End of the linear buckets (milliseconds); longer durations overflow (max stays exact).")
      .def("__repr__", &rtvoice::CallbackMeterConfig::ToString);

  py::class_<CallbackMeter>(m, "CallbackMeter", R"doc(
Duration histogram of an audio callback, recorded from inside it (lock-free, one writer, any reader).

The callback forms ``write`` and ``read_or_silence_into`` do the callback's ring-buffer operation and
record how long the callback took: from ``started`` (PortAudio's ``time_info.currentTime``, seconds)
to the end of the ring operation. On Linux/ALSA that timestamp is CLOCK_REALTIME (``time.time()``), taken
by PortAudio just before it calls into Python, so the figure includes the dispatch through sounddevice and
the wait for the GIL. A timestamp on no known clock (0, or another epoch) is replaced by the time of
native entry, and counted in ``from_entry``. They never release the GIL (re-acquiring it could block).

Args:
    config: a CallbackMeterConfig (default: 1 us buckets up to 20 ms).
)doc")
      .def(py::init([](const rtvoice::CallbackMeterConfig &config) { return new CallbackMeter(config); }),
           py::arg("config") = rtvoice::CallbackMeterConfig())
      .def(
          "write",
          [](CallbackMeter &meter, RingBuffer &ring, const py::array &data, double started) {
            const py::ssize_t frames = CallbackFrames(ring, data, false);
            const rtvoice::CallbackSpan span = meter.Begin(started);
            const std::size_t n = ring.Write(static_cast<const float *>(data.data()), static_cast<std::size_t>(frames));
            meter.End(span);
            return n;
          },
          py::arg("ring"), py::arg("data"), py::arg("started"),
          "Capture callback: ring.write(data) and record the duration since `started` (s). Returns frames written.")
      .def(
          "read_or_silence_into",
          [](CallbackMeter &meter, RingBuffer &ring, py::array &out, double started, bool discard) {
            const py::ssize_t frames = CallbackFrames(ring, out, true);
            const rtvoice::CallbackSpan span = meter.Begin(started);
            if (discard) ring.Discard();
            const std::size_t n = ring.ReadOrSilence(static_cast<float *>(out.mutable_data()), static_cast<std::size_t>(frames));
            meter.End(span);
            return n;
          },
          py::arg("ring"), py::arg("out"), py::arg("started"), py::arg("discard") = false,
          "Playback callback: (first dropping everything queued, if `discard`) ring.read_or_silence_into(out), "
          "and record the duration since `started` (s). Returns frames of real audio read.")
      .def("record", &CallbackMeter::Record, py::arg("seconds"),
           "Record one duration (seconds) directly; negative or non-finite ones are counted as invalid.")
      .def("percentile", &CallbackMeter::Percentile, py::arg("q"),
           "Nearest-rank percentile (q in [0, 1]) in seconds: the upper edge of its bucket, capped at the exact max.")
      .def("reading", [](const CallbackMeter &meter) { return ReadingDict(meter.Read()); },
           "dict: count, overflow, invalid, from_entry, mean_s, p50_s, p99_s, max_s (seconds).")
      .def_property_readonly("count", &CallbackMeter::Count, "Durations recorded.")
      .def_property_readonly("max_s", &CallbackMeter::MaxSeconds, "Longest duration recorded (s, exact).")
      .def_property("enabled", &CallbackMeter::Enabled, &CallbackMeter::SetEnabled,
                    "While False the callback forms still do their ring operation but record nothing.")
      .def_property_readonly("config", &CallbackMeter::Config)
      .def("reset", &CallbackMeter::Reset, "Zero everything. NOT safe while a callback records.");

  m.def("monotonic_seconds", &rtvoice::MonotonicSeconds, "The native monotonic clock (s), as time.monotonic().");
  m.def("wall_seconds", &rtvoice::WallSeconds, "The native wall clock (s), as time.time().");
}

}  // namespace rtvoice_py
