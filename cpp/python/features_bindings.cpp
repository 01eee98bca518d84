#include <stdexcept>
#include <vector>

#include "bindings.h"
#include "rtvoice/features.h"
#include "rtvoice/framer.h"
#include "rtvoice/mel.h"

namespace rtvoice_py {

namespace {
using namespace rtvoice;

py::array_t<float> ToMatrix(std::vector<float> &&values, std::size_t cols) {
  const auto rows = static_cast<py::ssize_t>(cols ? values.size() / cols : 0);
  py::array_t<float> out({rows, static_cast<py::ssize_t>(cols)});
  std::copy(values.begin(), values.end(), out.mutable_data());
  return out;
}

template <typename Computer>
py::array_t<float> PopAll(Computer &c) {
  std::vector<float> values;
  {
    py::gil_scoped_release release;
    c.PopFrames(&values);
  }
  return ToMatrix(std::move(values), c.Dim());
}

template <typename Computer>
void Accept(Computer &c, const py::handle &chunk) {
  auto samples = AsMonoFloat32(chunk, "waveform");
  py::gil_scoped_release release;
  c.AcceptWaveform(samples.data(), static_cast<std::size_t>(samples.size()));
}

// Same frames as the streaming form, from a fresh computer so the streaming state is untouched.
template <typename Computer, typename Options>
py::array_t<float> ComputeAll(const Options &opts, const py::handle &waveform) {
  auto samples = AsMonoFloat32(waveform, "waveform");
  std::vector<float> values;
  std::size_t dim;
  {
    py::gil_scoped_release release;
    Computer c(opts);
    c.AcceptWaveform(samples.data(), static_cast<std::size_t>(samples.size()));
    c.InputFinished();
    c.PopFrames(&values);
    dim = c.Dim();
  }
  return ToMatrix(std::move(values), dim);
}

template <typename Computer, typename Options>
void BindComputer(py::module_ &m, const char *name, const char *doc) {
  py::class_<Computer>(m, name, doc)
      .def(py::init([](const Options &opts) {
             return new Computer(opts);
           }),
           py::arg("opts"))
      .def_property_readonly("dim", &Computer::Dim, "Values per frame.")
      .def_property_readonly("opts", &Computer::Options)
      .def(
          "compute",
          [](const Computer &self, const py::handle &waveform) {
            return ComputeAll<Computer, Options>(self.Options(), waveform);
          },
          py::arg("waveform"), "Features of a whole waveform: float32 array (frames, dim).")
      .def("accept_waveform", &Accept<Computer>, py::arg("chunk"), "Feed the next chunk of samples (any size).")
      .def("input_finished", &Computer::InputFinished, "No more samples: the last frames become ready.")
      .def_property_readonly("num_frames_ready", &Computer::NumFramesReady, "Frames pop_frames() would return now.")
      .def("pop_frames", &PopAll<Computer>, "Features of every frame ready so far: array (frames, dim).")
      .def("reset", &Computer::Reset, "Forget all input, start a new stream.");
}
}  // namespace

void BindFeatures(py::module_ &m) {
  py::class_<FrameExtractionOptions>(m, "FrameExtractionOptions", "Kaldi frame extraction options.")
      .def(py::init<>())
      .def_readwrite("samp_freq", &FrameExtractionOptions::samp_freq, "Sample rate (Hz).")
      .def_readwrite("frame_shift_ms", &FrameExtractionOptions::frame_shift_ms, "Hop (ms).")
      .def_readwrite("frame_length_ms", &FrameExtractionOptions::frame_length_ms, "Frame length (ms).")
      .def_readwrite("dither", &FrameExtractionOptions::dither, "Gaussian dither amplitude (0 = off).")
      .def_readwrite("preemph_coeff", &FrameExtractionOptions::preemph_coeff)
      .def_readwrite("remove_dc_offset", &FrameExtractionOptions::remove_dc_offset)
      .def_readwrite("window_type", &FrameExtractionOptions::window_type,
                     "hann (or hanning), hamming, povey, rectangular, blackman.")
      .def_readwrite("round_to_power_of_two", &FrameExtractionOptions::round_to_power_of_two)
      .def_readwrite("blackman_coeff", &FrameExtractionOptions::blackman_coeff)
      .def_readwrite("snip_edges", &FrameExtractionOptions::snip_edges)
      .def_property_readonly("window_shift", &FrameExtractionOptions::WindowShift, "Hop (samples).")
      .def_property_readonly("window_size", &FrameExtractionOptions::WindowSize, "Frame length (samples).")
      .def_property_readonly("padded_window_size", &FrameExtractionOptions::PaddedWindowSize, "FFT size (samples).")
      .def("validate", &FrameExtractionOptions::Validate)
      .def("__str__", &FrameExtractionOptions::ToString)
      .def("__repr__", &FrameExtractionOptions::ToString);

  py::class_<MelBanksOptions>(m, "MelBanksOptions", "Kaldi mel filter bank options.")
      .def(py::init<>())
      .def_readwrite("num_bins", &MelBanksOptions::num_bins, "Number of mel filters.")
      .def_readwrite("low_freq", &MelBanksOptions::low_freq, "Lowest frequency (Hz).")
      .def_readwrite("high_freq", &MelBanksOptions::high_freq, "Highest frequency (Hz); <= 0 means Nyquist + value.")
      .def("__str__", &MelBanksOptions::ToString)
      .def("__repr__", &MelBanksOptions::ToString);

  py::class_<FbankOptions>(m, "FbankOptions", "Kaldi fbank options (names as in kaldi-native-fbank).")
      .def(py::init<>())
      .def_readwrite("frame_opts", &FbankOptions::frame_opts)
      .def_readwrite("mel_opts", &FbankOptions::mel_opts)
      .def_readwrite("use_energy", &FbankOptions::use_energy)
      .def_readwrite("energy_floor", &FbankOptions::energy_floor)
      .def_readwrite("raw_energy", &FbankOptions::raw_energy)
      .def_readwrite("htk_compat", &FbankOptions::htk_compat)
      .def_readwrite("use_log_fbank", &FbankOptions::use_log_fbank)
      .def_readwrite("use_power", &FbankOptions::use_power)
      .def("validate", &FbankOptions::Validate)
      .def("__str__", &FbankOptions::ToString)
      .def("__repr__", &FbankOptions::ToString);

  py::class_<MfccOptions>(m, "MfccOptions", "Kaldi MFCC options (names as in kaldi-native-fbank).")
      .def(py::init<>())
      .def_readwrite("frame_opts", &MfccOptions::frame_opts)
      .def_readwrite("mel_opts", &MfccOptions::mel_opts)
      .def_readwrite("num_ceps", &MfccOptions::num_ceps)
      .def_readwrite("use_energy", &MfccOptions::use_energy)
      .def_readwrite("energy_floor", &MfccOptions::energy_floor)
      .def_readwrite("raw_energy", &MfccOptions::raw_energy)
      .def_readwrite("cepstral_lifter", &MfccOptions::cepstral_lifter)
      .def_readwrite("htk_compat", &MfccOptions::htk_compat)
      .def("validate", &MfccOptions::Validate)
      .def("__str__", &MfccOptions::ToString)
      .def("__repr__", &MfccOptions::ToString);

  BindComputer<Fbank, FbankOptions>(m, "Fbank", "Kaldi log mel filter-bank features, streaming or whole.");
  BindComputer<Mfcc, MfccOptions>(m, "Mfcc", "Kaldi MFCC features, streaming or whole.");

  py::class_<Framer>(m, "Framer", "Streaming framer: identical frames whatever the input chunking.")
      .def(py::init([](std::size_t frame_length, std::size_t frame_shift, const std::string &window, bool snip_edges) {
             FramerConfig c;
               c.frame_length = frame_length;
               c.frame_shift = frame_shift;
               c.window = ParseWindowType(window);
               c.snip_edges = snip_edges;
               return new Framer(c);
           }),
           py::arg("frame_length"), py::arg("frame_shift"), py::arg("window") = "hann", py::arg("snip_edges") = true)
      .def("accept_waveform", &Accept<Framer>, py::arg("chunk"))
      .def("input_finished", &Framer::InputFinished)
      .def(
          "pop_frames",
          [](Framer &f) {
            const std::size_t len = f.Config().frame_length;
            std::vector<float> values;
            {
              py::gil_scoped_release release;
              std::vector<float> frame(len);
              while (f.PopFrame(frame.data())) values.insert(values.end(), frame.begin(), frame.end());
            }
            return ToMatrix(std::move(values), len);
          },
          "Every frame ready so far, windowed: array (frames, frame_length).")
      .def("reset", &Framer::Reset)
      .def_property_readonly("frame_length", [](const Framer &f) { return f.Config().frame_length; })
      .def_property_readonly("frame_shift", [](const Framer &f) { return f.Config().frame_shift; })
      .def("__repr__", [](const Framer &f) { return f.Config().ToString(); });

  py::class_<WhisperLogMel>(m, "WhisperLogMel", "Whisper's log-mel spectrogram.")
      .def(py::init([](int n_mels) {
             WhisperLogMelConfig c;
               c.n_mels = n_mels;
               return new WhisperLogMel(c);
           }),
           py::arg("n_mels") = 80)
      .def_property_readonly("n_mels", [](const WhisperLogMel &w) { return w.Config().n_mels; })
      .def(
          "compute",
          [](WhisperLogMel &w, const py::handle &audio) {
            auto samples = AsMonoFloat32(audio, "audio");
            const auto n = static_cast<std::size_t>(samples.size());
            const auto frames = static_cast<py::ssize_t>(w.NumFrames(n));
            py::array_t<float> out({static_cast<py::ssize_t>(w.Config().n_mels), frames});
            {
              py::gil_scoped_release release;
              w.Compute(samples.data(), n, out.mutable_data());
            }
            return out;
          },
          py::arg("audio"), "Log-mel of 16 kHz float32 audio: array (n_mels, len(audio) // 160).")
      .def_property_readonly("mel_filters", [](const WhisperLogMel &w) {
        return ToMatrix(w.Bank().Dense(), w.Bank().NumFftBins());
      });

  m.def(
      "slaney_mel_filters",
      [](float sample_rate, std::size_t n_fft, std::size_t n_mels, double fmin, double fmax) {
        MelBank bank = SlaneyMelBank(sample_rate, n_fft, n_mels, fmin, fmax);
          return ToMatrix(bank.Dense(), bank.NumFftBins());
      },
      py::arg("sample_rate"), py::arg("n_fft"), py::arg("n_mels"), py::arg("fmin") = 0.0, py::arg("fmax") = -1.0,
      "librosa.filters.mel(htk=False, norm='slaney') equivalent: array (n_mels, n_fft // 2 + 1).");
  m.def(
      "kaldi_mel_filters",
      [](const MelBanksOptions &opts, float sample_rate, std::size_t padded_window_size) {
        MelBank bank = KaldiMelBank(opts, sample_rate, padded_window_size);
          return ToMatrix(bank.Dense(), bank.NumFftBins());
      },
      py::arg("opts"), py::arg("sample_rate"), py::arg("padded_window_size"),
      "Kaldi's triangular mel banks: array (num_bins, padded_window_size // 2 + 1).");
}

}  // namespace rtvoice_py
