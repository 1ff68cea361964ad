# Everything a fresh machine needs goes through these targets: `make demo` and `make test` set up .venv first.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.cube_nb-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: venv demo test check-nbdev nbtest pytest browser postgres kernel lab docs bench readme jargon-data

$(STAMP): requirements.lock setup.py settings.ini
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(PIP) install torch==2.13.0          # the CPU wheel on disk; first, so nothing pulls a CUDA build
	$(PIP) install -r requirements.lock   # every other package, pinned
	$(PIP) install --no-build-isolation --no-deps -e . >/dev/null 2>&1 || $(PIP) install --no-build-isolation --no-deps -e .
	touch $@

venv: $(STAMP)

demo: venv
	$(BIN)/cube_train --out runs/demo --force
	$(BIN)/cube_eval --run runs/demo
	$(BIN)/cube_ask --run runs/demo "What is a hacker?"
	$(BIN)/cube_ask --run runs/demo "What does it mean to grok something?"

# The notebooks' tests (one at a time) and pytest run side by side, each target's output printed whole when it ends:
# pytest waits on processes, servers and browsers much of the time (2 cores: ~345 s one after the other, 247 s so).
test: venv browser postgres check-nbdev
	$(MAKE) --no-print-directory -j2 --output-sync=target nbtest pytest NB_WORKERS=1

check-nbdev: venv
	bash .ci/check_nbdev.sh $(BIN)

# One torch thread per test process: notebooks and tests run beside each other and start trainings beside themselves;
# with torch's default (a thread per core) they contend for the same cores (2 cores: nbdev_test 173 s -> 119 s).
NB_WORKERS ?= 2
nbtest: venv
	OMP_NUM_THREADS=1 $(BIN)/nbdev_test --n_workers $(NB_WORKERS)

pytest: venv
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q tests/; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 5 ]

# headless Chromium (Debian packages) for the browser tests of the docs site and JupyterLab; needs root or sudo
browser:
	@{ command -v chromium && command -v chromedriver; } >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null; }

# PostgreSQL's server programs (Debian package) for the test of several cube_tune workers sharing one study; needs root or sudo
postgres:
	@command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; }

kernel: venv
	$(BIN)/python -m ipykernel install --sys-prefix --name cube_nb --display-name "cube_nb (.venv)" >/dev/null

# JupyterLab on the notebooks with the project's venv as the kernel; LAB_ARGS adds options (the tests run it headless)
lab: kernel
	$(BIN)/jupyter lab --notebook-dir=nbs $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(LAB_ARGS)

# the documentation site, offline, into DOCS_OUT (nbdev_docs builds the Quarto site where Quarto is installed);
# the builder keeps nbs/sidebar.yml in step with the notebooks itself, in the site's order (a clean tree stays clean)
DOCS_OUT ?= _docs
docs: venv
	$(BIN)/python tools/build_docs.py --out $(DOCS_OUT)

bench: venv
	$(BIN)/cube_bench

readme: venv
	rm -rf README_files && $(BIN)/python tools/build_readme.py

jargon-data: venv
	tmp=$$(mktemp -d) && cd $$tmp && apt-get download dict-jargon && dpkg -x dict-jargon_*.deb x && cd - >/dev/null && \
	$(BIN)/python -c "import sys, gzip, json; from cube_nb.data import parse_jargon, DATA_DIR; \
	ps = parse_jargon(sys.argv[1] + '/jargon.index', sys.argv[1] + '/jargon.dict.dz'); \
	f = gzip.GzipFile(DATA_DIR / 'jargon_pairs.jsonl.gz', 'wb', mtime=0); f.write(''.join(json.dumps(p, ensure_ascii=False) + '\n' for p in ps).encode()); f.close(); \
	print(len(ps), 'pairs')" $$tmp/x/usr/share/dictd && rm -rf $$tmp
