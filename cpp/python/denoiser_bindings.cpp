#include <string>

#include "bindings.h"
#include "rtvoice/denoiser.h"

namespace rtvoice_py {

namespace {
using rtvoice::Denoiser;
using rtvoice::DenoiserConfig;

// Chunks above this many samples release the GIL while they are processed.
constexpr py::ssize_t kReleaseGilSamples = 2048;

py::array_t<float> Process(Denoiser &d, const py::handle &chunk) {
  py::array arr = py::array::ensure(chunk);
  if (!arr || arr.dtype().kind() != 'f')
    throw py::type_error("chunk must be a float32 or float64 array of samples in [-1, 1], got " +
                         (arr ? "dtype " + std::string(py::str(arr.dtype())) : std::string(py::str(py::type::of(chunk)))) +
                         " (convert int16 with x / 32768)");
  auto samples = AsMonoFloat32(arr, "chunk");
  const auto n = static_cast<std::size_t>(samples.size());
  py::array_t<float> out(samples.size());
  if (samples.size() >= kReleaseGilSamples) {
    py::gil_scoped_release release;
    d.Process(samples.data(), n, out.mutable_data());
  } else {
    d.Process(samples.data(), n, out.mutable_data());
  }
  return out;
}
}  // namespace

void BindDenoiser(py::module_ &m) {
  py::class_<DenoiserConfig>(m, "DenoiserConfig", "Denoiser settings (see Denoiser for their meaning).")
      .def(py::init<>())
      .def_readwrite("sample_rate", &DenoiserConfig::sample_rate, "Sample rate (Hz): 16000 or 48000.")
      .def_readwrite("window_ms", &DenoiserConfig::window_ms, "Analysis window (ms): 20, 30 or 40.")
      .def_readwrite("gain_floor_db", &DenoiserConfig::gain_floor_db, "Gain where speech is absent, in noise (dB).")
      .def_readwrite("min_apriori_snr_db", &DenoiserConfig::min_apriori_snr_db,
                     "Lower bound of the a-priori SNR (dB).")
      .def_readwrite("dd_alpha", &DenoiserConfig::dd_alpha, "Decision-directed smoothing factor (0..1).")
      .def_readwrite("min_search_s", &DenoiserConfig::min_search_s, "Minimum-statistics search window (s).")
      .def_readwrite("low_cut_hz", &DenoiserConfig::low_cut_hz, "Bins below this get the floor gain (Hz).")
      .def_readwrite("clean_snr_lo_db", &DenoiserConfig::clean_snr_lo_db,
                     "Long-term SNR (dB) up to which suppression is full.")
      .def_readwrite("clean_snr_hi_db", &DenoiserConfig::clean_snr_hi_db,
                     "Long-term SNR (dB) from which the input passes unchanged.")
      .def("validate", &DenoiserConfig::Validate)
      .def("__repr__", &DenoiserConfig::ToString);

  const DenoiserConfig d;
  py::class_<Denoiser>(m, "Denoiser", R"doc(
Streaming single-channel speech enhancement (OM-LSA gain, minima-controlled noise tracking), 10 ms hop.

``process(chunk)`` takes any number of float samples in [-1, 1] and returns as many, delayed by
``latency_samples`` (one analysis window minus one sample: 639 at 16 kHz with the default 40 ms
window). The output does not depend on how the input is cut into chunks.

Args:
    sample_rate: 16000 or 48000 (Hz).
    window_ms: analysis window, 20, 30 or 40 ms (the latency is one window).
    gain_floor_db: gain where speech is absent, in noise (dB, < 0).
    min_apriori_snr_db: lower bound of the decision-directed a-priori SNR (dB).
    dd_alpha: decision-directed smoothing factor (0..1).
    min_search_s: minimum-statistics search window (s); a rise in noise level is followed within
        about 1.1 times this.
    low_cut_hz: frequency bins below this get the floor gain (Hz; 0 turns it off).
    clean_snr_lo_db, clean_snr_hi_db: long-term SNR range (dB) over which suppression fades out, so
        that clean speech passes unchanged.
)doc")
      .def(py::init([](int sample_rate, int window_ms, float gain_floor_db, float min_apriori_snr_db, float dd_alpha,
                       float min_search_s, float low_cut_hz, float clean_snr_lo_db, float clean_snr_hi_db) {
             DenoiserConfig c;
             c.sample_rate = sample_rate;
             c.window_ms = window_ms;
             c.gain_floor_db = gain_floor_db;
             c.min_apriori_snr_db = min_apriori_snr_db;
             c.dd_alpha = dd_alpha;
             c.min_search_s = min_search_s;
             c.low_cut_hz = low_cut_hz;
             c.clean_snr_lo_db = clean_snr_lo_db;
             c.clean_snr_hi_db = clean_snr_hi_db;
             return new Denoiser(c);
           }),
           py::arg("sample_rate") = d.sample_rate, py::kw_only(), py::arg("window_ms") = d.window_ms,
           py::arg("gain_floor_db") = d.gain_floor_db, py::arg("min_apriori_snr_db") = d.min_apriori_snr_db,
           py::arg("dd_alpha") = d.dd_alpha, py::arg("min_search_s") = d.min_search_s,
           py::arg("low_cut_hz") = d.low_cut_hz, py::arg("clean_snr_lo_db") = d.clean_snr_lo_db,
           py::arg("clean_snr_hi_db") = d.clean_snr_hi_db)
      .def(py::init([](const DenoiserConfig &c) { return new Denoiser(c); }), py::arg("config"))
      .def("process", &Process, py::arg("chunk"),
           "Enhance the next chunk (1-D float32 or float64, any length, samples in [-1, 1]); returns float32 "
           "of the same length, delayed by latency_samples.")
      .def("reset", &Denoiser::Reset, "Forget the stream: back to the state right after construction.")
      .def_property_readonly("latency_samples", &Denoiser::LatencySamples,
                             "Output delay (samples): output[t] is the enhanced input[t - latency_samples].")
      .def_property_readonly("hop_samples", &Denoiser::HopSamples, "Frame hop (samples; 10 ms).")
      .def_property_readonly("window_samples", &Denoiser::WindowSamples, "Analysis window (samples).")
      .def_property_readonly("sample_rate", [](const Denoiser &dn) { return dn.Config().sample_rate; }, "Hz.")
      .def_property_readonly("frames_processed", &Denoiser::FramesProcessed, "Frames since construction/reset.")
      .def_property_readonly("long_term_snr_db", &Denoiser::LongTermSnrDb,
                             "Long-term SNR estimate (dB) as of the last frame.")
      .def_property_readonly("floor_gain_db", &Denoiser::FloorGainDb,
                             "Floor gain in use (dB): gain_floor_db in noise, up to 0 dB for clean speech.")
      .def_property_readonly("config", &Denoiser::Config)
      .def("__repr__", [](const Denoiser &dn) { return "Denoiser(" + dn.Config().ToString() + ")"; });
}

}  // namespace rtvoice_py
