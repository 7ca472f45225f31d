# llmkit's commands. `make demo` and `make test` are the two set-up commands in the README.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
# Built llama-cpp-python wheels are kept per user, so every later install (and CI on this machine) reuses them.
WHEELS ?= $(HOME)/.cache/llmkit/wheels
LLAMA_CPP_VERSION := 0.3.36
TORCH_VERSION ?= 2.13.0
# x86-64: GGML_NATIVE=OFF with AVX2/FMA/F16C/BMI2 switched on explicitly. The native build enables AMX on
# CPUs that have it and segfaulted in decode there; AVX2 runs on every x86-64-v3 CPU and measured as fast
# as the native build for SmolLM2 (see README, "Why these llama.cpp build flags").
ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_CURL=OFF
else
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_CURL=OFF
endif
DEMO := examples/demo
# The embedded 135M model is fragile: on the Intel machine of session 10, asked "How long is the warranty on
# the Acme Widget 3000?" over the same four passages, it answered "1. [1] 2. [2] ..." (this question: "3 years").
QUESTION ?= How long is the warranty?
PYTEST_ARGS ?=

.PHONY: help install dev llama-wheel models demo test test-fast lint format bench clean

help:
	@echo "make demo   - install, pull the embedded models, ingest the sample documents, answer a question"
	@echo "make test   - install the dev dependencies and run the whole test suite"
	@echo "make test-fast | lint | format | bench | models | clean"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

llama-wheel: $(BIN)/python
	@mkdir -p $(WHEELS)
	@if ls $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1; then \
		echo "llama-cpp-python $(LLAMA_CPP_VERSION): reusing the wheel in $(WHEELS)"; \
	else \
		echo "llama-cpp-python $(LLAMA_CPP_VERSION): building from source once (about 6-10 minutes) ..."; \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
			$(PIP) wheel -q --no-deps -w $(WHEELS) llama-cpp-python==$(LLAMA_CPP_VERSION); \
	fi

install: llama-wheel
	$(PIP) install -q --find-links $(WHEELS) --only-binary llama-cpp-python \
		"llama-cpp-python==$(LLAMA_CPP_VERSION)" -e '.[local]'

# torch first, pinned to the CPU wheel (on disk here): the finetune extra's range then installs nothing more.
dev: llama-wheel
	$(PIP) install -q "torch==$(TORCH_VERSION)"
	$(PIP) install -q --find-links $(WHEELS) --only-binary llama-cpp-python \
		"llama-cpp-python==$(LLAMA_CPP_VERSION)" -e '.[local,dev]'

models: $(BIN)/python
	$(BIN)/llmkit models pull smollm2-135m-instruct all-minilm-l6-v2 all-minilm-l6-v2-q8

demo: install models
	$(BIN)/llmkit -C $(DEMO) ingest $(DEMO)/docs
	$(BIN)/llmkit -C $(DEMO) ask "$(QUESTION)"

test: dev models
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: dev
	$(BIN)/python -m pytest -m "not integration and not slow" $(PYTEST_ARGS)

lint: dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: dev
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: dev models
	$(BIN)/python bench/retrieval_beir.py
	$(BIN)/python bench/overhead.py
	$(BIN)/python bench/decode.py

clean:
	rm -rf $(VENV) $(DEMO)/.llmkit .pytest_cache .ruff_cache
