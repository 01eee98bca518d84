# rtvoice: `make run` and `make test` set up everything on a fresh Linux machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .stamps
JOBS ?= $(shell nproc)
DEV_BUILD := build/dev
ASAN_BUILD := build/asan
TSAN_BUILD := build/tsan
GPU ?= 0
FUZZ_SECONDS ?= 10

APT_PACKAGES := build-essential cmake pkg-config libfftw3-dev libportaudio2 portaudio19-dev libsndfile1 \
	pulseaudio pulseaudio-utils libasound2-plugins libspeexdsp1 pocketsphinx-testdata \
	chromium chromium-driver \
	apertium apertium-eng-spa apertium-eng-cat apertium-en-gl rubberband-cli ffmpeg \
	gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
	gstreamer1.0-plugins-ugly gstreamer1.0-libav
NATIVE_SOURCES := $(shell find cpp -name '*.cpp' -o -name '*.h') CMakeLists.txt

.PHONY: all setup build run test test-fast test-isa sanitize asan tsan fuzz fuzz-smoke soak bench bench-smoke clean distclean help

all: build

help:
	@echo "make run       build and run the main job on the bundled defaults"
	@echo "make test      build and run the whole test suite (sanitizers and short fuzzing included)"
	@echo "make test-isa  the speech-decoding tests once per CPU instruction set (GENERIC, AVX, AVX2, AVX512, AVX512_VNNI)"
	@echo "make bench     run the benchmarks and write bench/results/"
	@echo "make sanitize  ASan+UBSan suite and TSan native tests"
	@echo "make fuzz      fuzz every byte-parsing entry point for longer (FUZZ_SECONDS=$(FUZZ_SECONDS))"
	@echo "make soak      one hour of audio through the whole chain: memory, threads and fds stay flat"

# --- system packages --------------------------------------------------------------------------
$(STAMPS)/apt: scripts/ensure_system_packages.sh Makefile
	@mkdir -p $(STAMPS)
	@bash scripts/step.sh "system packages (apt)" build/logs/apt.log \
		bash scripts/ensure_system_packages.sh $(APT_PACKAGES)
	@touch $@

# --- Python environment -----------------------------------------------------------------------
$(STAMPS)/venv: requirements/runtime.txt requirements/dev.txt requirements/nodeps.txt scripts/setup_venv.sh $(STAMPS)/apt
	@mkdir -p $(STAMPS)
	@bash scripts/step.sh "Python packages ($(VENV))" build/logs/venv.log \
		bash scripts/setup_venv.sh $(PYTHON) $(VENV) $(GPU)
	@touch $@

# --- Kokoro voices from the npm registry (models/kokoro-v1-voices.json), into the venv -------------
$(STAMPS)/npm-voices: scripts/setup_npm_voices.sh models/kokoro-v1-voices.json $(STAMPS)/venv
	@mkdir -p $(STAMPS)
	@bash scripts/step.sh "Kokoro voices (npm kokoro-js)" build/logs/npm-voices.log \
		bash scripts/setup_npm_voices.sh $(VENV)
	@touch $@

# --- hls.js from the npm registry (requirements/npm-hlsjs.json), into the venv: the HLS subtitle test's player --
$(STAMPS)/npm-hlsjs: scripts/setup_npm_hlsjs.sh scripts/setup_npm_voices.sh requirements/npm-hlsjs.json $(STAMPS)/venv
	@mkdir -p $(STAMPS)
	@bash scripts/step.sh "hls.js player (npm hls.js)" build/logs/npm-hlsjs.log \
		bash scripts/setup_npm_hlsjs.sh $(VENV)
	@touch $@

# --- native build (in place, so the checkout is importable) --------------------------------------
build: $(STAMPS)/venv $(STAMPS)/npm-voices
	@bash scripts/step.sh "native core (cmake, $(JOBS) jobs)" build/logs/native.log \
		bash scripts/build_native.sh $(PY) $(DEV_BUILD) $(JOBS)

setup: build

# --- the main job -----------------------------------------------------------------------------
run: build
	@PYTHONPATH=$(CURDIR) $(VENV)/bin/rtvoice demo

# --- tests ------------------------------------------------------------------------------------
test: build $(STAMPS)/npm-hlsjs sanitize fuzz-smoke bench-smoke
	@PYTHONPATH=$(CURDIR) $(PY) -m pytest tests -q -p no:cacheprovider --durations=25; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

test-fast: build $(STAMPS)/npm-hlsjs
	@PYTHONPATH=$(CURDIR) $(PY) -m pytest tests -q -x -p no:cacheprovider -m "not slow"

# The tests that decode speech, once per CPU instruction set this CPU runs (CTranslate2 and oneDNN forced
# to each level in turn: another machine's rounding, reproduced here; scripts/test_isa.py).
test-isa: build
	@PYTHONPATH=$(CURDIR) $(PY) scripts/test_isa.py

# --- sanitizers -------------------------------------------------------------------------------
sanitize: asan tsan

asan: $(STAMPS)/venv
	@bash scripts/sanitize.sh asan $(PY) $(ASAN_BUILD) $(JOBS)

tsan: $(STAMPS)/venv
	@bash scripts/sanitize.sh tsan $(PY) $(TSAN_BUILD) $(JOBS)

# --- fuzzing ----------------------------------------------------------------------------------
fuzz-smoke: build
	@bash scripts/fuzz.sh $(PY) 3

soak: build
	@RTVOICE_SOAK_PASSES=$${RTVOICE_SOAK_PASSES:-68} PYTHONPATH=$(CURDIR) $(PY) -m pytest tests/test_soak.py -q -p no:cacheprovider

fuzz: build
	@bash scripts/fuzz.sh $(PY) $(FUZZ_SECONDS)

# --- benchmarks -------------------------------------------------------------------------------
# CI runs every benchmark once, untimed, so the benchmark code never rots (absolute times are not gated).
bench-smoke: build
	@echo "== benchmark smoke (each benchmark once, untimed)"
	@PYTHONPATH=$(CURDIR) $(PY) -m pytest bench -q -p no:cacheprovider --benchmark-disable -x

bench: build
	@PYTHONPATH=$(CURDIR) $(PY) -m pytest bench -q -p no:cacheprovider --benchmark-only \
		--benchmark-json=bench/results/latest.json
	@PYTHONPATH=$(CURDIR) $(PY) -m bench.report bench/results/latest.json bench/results/latest.md
	@PYTHONPATH=$(CURDIR) $(PY) -m bench.denoise_quality --out bench/results/denoise_quality.md

clean:
	rm -rf build $(STAMPS) rtvoice/_core*.so

distclean: clean
	rm -rf $(VENV)
