# Netloom's two everyday commands: `make run` and `make test` (plus build and benchmarks).
# Each installs missing Debian packages first, then configures and builds with CMake/Ninja.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: all deps configure build run test bench bench-train clean

all: build

deps:
	@bash tools/install-deps.sh

configure: deps
	@if [ ! -f $(BUILD_DIR)/build.ninja ]; then \
	  cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE); \
	fi

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Netloom's main job: with a display, the main window on the shapes CNN example; without
# one, the headless run: train it with a progress bar (outputs in build/shapes_cnn-run/).
EXAMPLE ?= resources/examples/shapes_cnn.netloom
run: build
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
	  $(BUILD_DIR)/app/netloom $(EXAMPLE); \
	else \
	  $(BUILD_DIR)/app/netloom train $(EXAMPLE) --out $(BUILD_DIR)/$(basename $(notdir $(EXAMPLE)))-run; \
	fi

test: build
	@bash tools/install-test-oracles.sh
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

bench: build
	@bash tests/benchmarks/run.sh $(BUILD_DIR)

# Training steps side by side with PyTorch (needs Debian's python3-torch).
bench-train: build
	@bash tests/benchmarks/run_train.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
