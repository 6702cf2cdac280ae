# eenn: the Makefile only wires the pipeline's steps together; the work is in host/eenn.
SHELL := /bin/bash
VENV ?= .venv
PYTHON := $(VENV)/bin/python
EENN := $(VENV)/bin/eenn
BOARD ?= nrf52
NAME ?= default
PROJECT ?=
OBJECTIVE ?= macs
APT_PACKAGES := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm postgresql
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PROJECT_FLAG := $(if $(PROJECT),--project $(PROJECT),)
REPLAY ?=
SPLIT ?=
LINK ?=
MAX_LATENCY_MS ?=
IMAGE_FLAGS := $(if $(REPLAY),--replay $(REPLAY),) $(if $(SPLIT),--split $(SPLIT),) $(if $(LINK),--link $(LINK),) \
	$(if $(MAX_LATENCY_MS),--max-latency-ms $(MAX_LATENCY_MS),)
LOG ?= generated/$(NAME)/monitor.jsonl

.PHONY: setup apt-packages test test-models install-check build generate firmware emulate flash validate monitor edge partition robot search costs augment-study bench clean

## setup: Debian packages and the virtual environment (idempotent; quick when done)
setup: apt-packages $(VENV)/.installed

apt-packages:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(VENV)/.installed: requirements.lock pyproject.toml
	@[ -x $(PYTHON) ] || python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --disable-pip-version-check -r requirements.lock
	$(PYTHON) -m pip install -q --disable-pip-version-check --no-deps -e .
	@touch $@

## test: the whole suite on 2 workers (pytest-xdist; TEST_WORKERS=0 for one process), the 15 slowest tests
## listed (pytest's "no tests collected" exits 5 and fails the target)
TEST_WORKERS ?= 2
test: setup
	$(PYTHON) -m pytest -n $(TEST_WORKERS) --dist loadscope --durations=15 -m "not models" tests

## test-models: models from keras.applications (MobileNetV2, MobileNetV3Small with and without minimalistic,
## MobileNet) end to end on the emulated board, every record identical to TFLM (about 2 minutes; .ci/run runs it)
test-models: setup
	$(PYTHON) -m pytest -n $(TEST_WORKERS) --dist load -m models tests

## install-check: the wheel, installed with the locked dependencies into a fresh virtual environment, builds,
## generates, makes nrf52 firmware and emulates in an empty directory (a few minutes; .ci/run runs it)
INSTALL_CHECK := generated/install-check
install-check: setup
	rm -rf $(INSTALL_CHECK) && mkdir -p $(INSTALL_CHECK)/empty
	$(PYTHON) -m pip wheel -q --disable-pip-version-check --no-deps . -w $(INSTALL_CHECK)
	python3 -m venv $(INSTALL_CHECK)/venv
	$(INSTALL_CHECK)/venv/bin/pip install -q --disable-pip-version-check -r requirements.lock
	$(INSTALL_CHECK)/venv/bin/pip install -q --disable-pip-version-check --no-deps $(INSTALL_CHECK)/eenn-*.whl
	cd $(INSTALL_CHECK)/empty && PATH=$(CURDIR)/$(INSTALL_CHECK)/venv/bin:$$PATH && eenn build --quiet && eenn generate \
		&& eenn firmware --board nrf52 && eenn emulate --board nrf52 --samples 100 --quiet

OUT := generated/$(NAME)
MANIFEST := $(OUT)/manifest.json
SOURCES_DONE := $(OUT)/src/code.json
HOST_FILES := $(shell find host/eenn -name '*.py') pyproject.toml requirements.lock $(PROJECT)
TEMPLATE_FILES := $(wildcard firmware_templates/*.j2 firmware_templates/kernels/*.h firmware_templates/kernels/*/*.c)

## build: train, quantize and split the EENN into int8 stages (redone only when its inputs change)
build: apt-packages $(MANIFEST)

$(MANIFEST): $(VENV)/.installed $(HOST_FILES)
	$(EENN) build --name $(NAME) $(PROJECT_FLAG)

## generate: the C sources of every stage, bit-exact with TFLM, in generated/NAME/src/
generate: build $(SOURCES_DONE)

$(SOURCES_DONE): $(MANIFEST) $(TEMPLATE_FILES)
	$(EENN) generate --name $(NAME)

## firmware: the main job: firmware for BOARD in generated/NAME/BOARD/ (.elf, .hex, .bin, size report);
## REPLAY=<n>|all: an image that replays n test samples forever instead of serving a host (for make monitor);
## SPLIT=<stage>: stages from <stage> on run on an edge host (make edge); LINK=<link> [MAX_LATENCY_MS=<ms>]
## instead: the split chosen for the least device energy over that link (boards/links/)
firmware: generate
	$(EENN) firmware --board $(BOARD) --name $(NAME) $(IMAGE_FLAGS)

## emulate: BOARD's firmware under QEMU on the test split, every record checked against the host
emulate: generate
	$(EENN) emulate --board $(BOARD) --name $(NAME)

## flash: program BOARD with its firmware (pyocd, or the tool its board file names); PROBE=<id> picks a probe
flash: generate
	$(EENN) flash --board $(BOARD) --name $(NAME) $(IMAGE_FLAGS) $(if $(PROBE),--probe $(PROBE),)

## validate: the test split through the board on PORT, every record checked against the host
validate: generate
	$(if $(PORT),,$(error set PORT to the board's serial port, e.g. PORT=/dev/ttyACM0))
	$(EENN) validate --board $(BOARD) --name $(NAME) --port $(PORT)

## edge: the edge host of a split build (SPLIT=<stage>) on PORT: runs the stages the device offloads, logs records
edge: generate
	$(if $(PORT),,$(error set PORT to the board's serial port, e.g. PORT=/dev/ttyACM0))
	$(EENN) edge --port $(PORT) --board $(BOARD) --name $(NAME) --log $(LOG)

## partition: device energy and latency of each split between BOARD and an edge host over each link (LINK=<name>
## for one), and the split to choose (MAX_LATENCY_MS=<ms> bounds a sample's latency)
partition: generate
	$(EENN) partition --board $(BOARD) --name $(NAME) $(if $(LINK),--link $(LINK),) $(if $(MAX_LATENCY_MS),--max-latency-ms $(MAX_LATENCY_MS),)

## monitor: collect what the board on PORT sends (live summary, JSON-lines log in LOG); Ctrl-C stops
monitor: setup
	$(if $(PORT),,$(error set PORT to the board's serial port, e.g. PORT=/dev/ttyACM0))
	$(EENN) monitor --port $(PORT) --board $(BOARD) --log $(LOG) $(if $(wildcard $(MANIFEST)),--name $(NAME),)

## robot: the Robot Framework suites of tests/robot/ on BOARD under QEMU, or on the board on PORT (each image
## flashed through PROBE); output.xml, log.html and report.html in generated/robot/. FUZZ_FRAMES=<n> corrupted
## frames (10000), MIN_ACCURACY=<fraction> the least accuracy (by default the host simulator's on the same samples)
ROBOT_OUT := generated/robot
robot: generate
	$(PYTHON) -m robot --outputdir $(ROBOT_OUT) --variable BOARD:$(BOARD) --variable NAME:$(NAME) \
		--variable EENN:$(CURDIR)/$(EENN) $(if $(PORT),--variable PORT:$(PORT),) $(if $(PROBE),--variable PROBE:$(PROBE),) \
		$(if $(FUZZ_FRAMES),--variable FUZZ_FRAMES:$(FUZZ_FRAMES),) \
		$(if $(MIN_ACCURACY),--variable MIN_ACCURACY:$(MIN_ACCURACY),) tests/robot

## search: where to put exits and how big their heads are, under BOARD's budget (Pareto front, chosen project);
## OBJECTIVE=macs, cycles or energy is the expected cost it minimizes
search: setup
	$(EENN) search --name $(NAME) --board $(BOARD) --objective $(OBJECTIVE) $(PROJECT_FLAG)

## augment-study: the automatic design (exits "auto") against the best of a 40-trial eenn search on digits-cnn,
## mnist1d-cnn and two user-style Keras models: docs/augment.md and docs/augment.png (about an hour)
augment-study: setup
	$(PYTHON) -m eenn.studies.augmentation

## bench: instructions per MAC, arena and flash of single layers and zoo models on M4, M7, M55 and M0 under QEMU
bench: setup
	$(EENN) bench

## costs: time single layers on every emulated CPU and refit the cost tables in boards/cpus/ (after kernel changes)
costs: setup
	$(EENN) costs --plot docs/costs.png

clean:
	rm -rf generated/*/ generated/.cache generated/.*.pid*.tmp*
