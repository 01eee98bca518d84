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
  py::class_<DenoiserConfig>(m, "DenoiserConfig", "Denoiser settings; see Denoiser for their meaning.")
      .def(py::init<>())
      .def_readwrite("sample_rate", &DenoiserConfig::sample_rate, "Sample rate (Hz): 16000 or 48000.")
      .def_readwrite("window_ms", &DenoiserConfig::window_ms, "Analysis window (ms): 20, 30 or 40.")
      .def_readwrite("gain_floor_db", &DenoiserConfig::gain_floor_db, "Gain where speech is absent (dB).")
      .def_readwrite("min_apriori_snr_db", &DenoiserConfig::min_apriori_snr_db, "Lower bound of the a-priori SNR (dB).")
      .def_readwrite("dd_alpha", &DenoiserConfig::dd_alpha, "Decision-directed smoothing factor (0..1).")
      .def_readwrite("noise_overestimate", &DenoiserConfig::noise_overestimate, "Noise power bias factor (>= 1).")
      .def_readwrite("min_search_s", &DenoiserConfig::min_search_s, "Minimum-statistics window (s).")
      .def_readwrite("min_floor", &DenoiserConfig::min_floor)
      .def_readwrite("low_cut_hz", &DenoiserConfig::low_cut_hz)
      .def_readwrite("noise_mode", &DenoiserConfig::noise_mode)
      .def_readwrite("gh_xi_db", &DenoiserConfig::gh_xi_db)
      .def_readwrite("gh_alpha", &DenoiserConfig::gh_alpha)
      .def_readwrite("lf_gate_hz", &DenoiserConfig::lf_gate_hz)
      .def_readwrite("band_lo_hz", &DenoiserConfig::band_lo_hz)
      .def_readwrite("band_hi_hz", &DenoiserConfig::band_hi_hz)
      .def_readwrite("gate_release", &DenoiserConfig::gate_release)
      .def_readwrite("gate_lo", &DenoiserConfig::gate_lo)
      .def_readwrite("gate_hi", &DenoiserConfig::gate_hi)
      .def_readwrite("gate_all", &DenoiserConfig::gate_all)
      .def_readwrite("init_on_silence", &DenoiserConfig::init_on_silence)
      .def_readwrite("clean_snr_db", &DenoiserConfig::clean_snr_db)
      .def_readwrite("level_attack", &DenoiserConfig::level_attack)
      .def_readwrite("level_release_db", &DenoiserConfig::level_release_db)
      .def_readwrite("alpha_s", &DenoiserConfig::alpha_s)
      .def_readwrite("alpha_s_down", &DenoiserConfig::alpha_s_down)
      .def_readwrite("bmin", &DenoiserConfig::bmin)
      .def_readwrite("alpha_d", &DenoiserConfig::alpha_d)
      .def_readwrite("noise_cap", &DenoiserConfig::noise_cap)
      .def_readwrite("start_silent", &DenoiserConfig::start_silent)
      .def_readwrite("startup_frames", &DenoiserConfig::startup_frames)
      .def_readwrite("clean_snr_hi_db", &DenoiserConfig::clean_snr_hi_db)
      .def_readwrite("snr_ref_min", &DenoiserConfig::snr_ref_min)
      .def_readwrite("noise_cap_clean", &DenoiserConfig::noise_cap_clean)
      .def_readwrite("no_floor_relax", &DenoiserConfig::no_floor_relax)
      .def_readwrite("presence_mode", &DenoiserConfig::presence_mode)
      .def_readwrite("frame_lo_hz", &DenoiserConfig::frame_lo_hz)
      .def_readwrite("frame_hi_hz", &DenoiserConfig::frame_hi_hz)
      .def_readwrite("global_hz", &DenoiserConfig::global_hz)
      .def_readwrite("zeta_min_db", &DenoiserConfig::zeta_min_db)
      .def_readwrite("zeta_max_db", &DenoiserConfig::zeta_max_db)
      .def("validate", &DenoiserConfig::Validate)
      .def("__repr__", &DenoiserConfig::ToString);

  const DenoiserConfig defaults;
  py::class_<Denoiser>(m, "Denoiser", R"doc(
Streaming single-channel speech enhancement (OM-LSA gain, IMCRA noise tracking), 10 ms hop.

``process(chunk)`` takes any number of float samples in [-1, 1] and returns as many, delayed by
``latency_samples`` (one analysis window minus one sample: 319 at 16 kHz with the 20 ms window).
The output does not depend on how the input is cut into chunks.

Args:
    sample_rate: 16000 or 48000 (Hz).
    window_ms: analysis window length, 20, 30 or 40 ms (latency grows with it).
    gain_floor_db: attenuation where speech is absent (dB, < 0).
    min_apriori_snr_db: lower bound of the decision-directed a-priori SNR (dB).
    dd_alpha: decision-directed smoothing factor (0..1).
    noise_overestimate: IMCRA bias factor on the noise power (>= 1).
    min_search_s: minimum-statistics search window (s); a rise in noise is tracked within about
        1.1 times this.
)doc")
      .def(py::init([](int sample_rate, int window_ms, float gain_floor_db, float min_apriori_snr_db, float dd_alpha,
                       float noise_overestimate, float min_search_s) {
             DenoiserConfig c;
             c.sample_rate = sample_rate;
             c.window_ms = window_ms;
             c.gain_floor_db = gain_floor_db;
             c.min_apriori_snr_db = min_apriori_snr_db;
             c.dd_alpha = dd_alpha;
             c.noise_overestimate = noise_overestimate;
             c.min_search_s = min_search_s;
             return new Denoiser(c);
           }),
           py::arg("sample_rate") = defaults.sample_rate, py::kw_only(), py::arg("window_ms") = defaults.window_ms,
           py::arg("gain_floor_db") = defaults.gain_floor_db,
           py::arg("min_apriori_snr_db") = defaults.min_apriori_snr_db, py::arg("dd_alpha") = defaults.dd_alpha,
           py::arg("noise_overestimate") = defaults.noise_overestimate,
           py::arg("min_search_s") = defaults.min_search_s)
      .def(py::init([](const DenoiserConfig &c) { return new Denoiser(c); }), py::arg("config"))
      .def("process", &Process, py::arg("chunk"),
           "Enhance the next chunk (1-D float32/float64, any length); returns float32 of the same length, "
           "delayed by latency_samples.")
      .def("_debug", [](const Denoiser &d, int w) { auto v = d.DebugState(w); return py::array_t<float>(v.size(), v.data()); })
      .def_property_readonly("_floor_db", &Denoiser::FloorDb)
      .def_property_readonly("_snr_db", &Denoiser::SnrDb)
      .def_property_readonly("_speech_db", &Denoiser::SpeechDb)
      .def("reset", &Denoiser::Reset, "Forget the stream: back to the state right after construction.")
      .def_property_readonly("latency_samples", &Denoiser::LatencySamples,
                             "Output delay (samples): output[t] is the enhanced input[t - latency_samples].")
      .def_property_readonly("hop_samples", &Denoiser::HopSamples, "Frame hop (samples, 10 ms).")
      .def_property_readonly("window_samples", &Denoiser::WindowSamples, "Analysis window (samples).")
      .def_property_readonly("sample_rate", [](const Denoiser &d) { return d.Config().sample_rate; }, "Hz.")
      .def_property_readonly("frames_processed", &Denoiser::FramesProcessed, "Frames since construction/reset.")
      .def_property_readonly("config", [](const Denoiser &d) { return d.Config(); })
      .def("__repr__", [](const Denoiser &d) { return "Denoiser(" + d.Config().ToString() + ")"; });
}

}  // namespace rtvoice_py
